"""Tiny fixture trees with the real names and layouts of each corpus (dummy bytes, never real media)."""

from __future__ import annotations

from pathlib import Path


def touch(root: Path, rel: str, text: str = "x") -> Path:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


def lrs3_txt(words: list[tuple[str, float, float]]) -> str:
    text = " ".join(w for w, _, _ in words)
    table = "\n".join(f"{w} {s:.2f} {e:.2f} 1.0" for w, s, e in words)
    return f"Text:  {text}\nConf:  4\nRef:   https://www.youtube.com/watch?v=abc\n\nWORD START END ASDSCORE\n{table}\n"


def make_lrs3(root: Path) -> Path:
    short = [("SO", 0.1, 0.4), ("I", 0.5, 0.6)]
    long_ = [(f"W{i}", i * 1.0, i * 1.0 + 0.8) for i in range(40)]  # 39.8 s -> 3 segments of <= 16 s
    for rel, words in [
        ("trainval/0af00UcTOSc/50001", short), ("trainval/0af00UcTOSc/50002", short),
        ("test/0Fi83BHQsMA/00002", short), ("pretrain/00j9bKdiOjk/00001", long_), ("pretrain/00j9bKdiOjk/00002", short),
    ]:
        touch(root, rel + ".mp4")
        touch(root, rel + ".txt", lrs3_txt(words))
    touch(root, "trainval/0af00UcTOSc/50003.mp4")  # missing transcript
    touch(root, "test/0Fi83BHQsMA/notes.doc")  # unknown file
    return root


def make_lrw(root: Path) -> Path:
    base = root / "lipread_mp4"
    for word in ("ABOUT", "WORLD"):
        for split in ("train", "val", "test"):
            stem = f"{word}/{split}/{word}_00001"
            touch(base, stem + ".mp4")
            touch(base, stem + ".txt", f"Text:  {word}\nConf:  6\n\nDuration: 0.330000 seconds\n")
    touch(base, "ABOUT/train/ABOUT_00002.txt", "Conf: 1\n")
    touch(base, "ABOUT/train/ABOUT_00002.mp4")  # transcript without Text: line
    touch(base, "ABOUT/train/WORLD_00003.mp4")  # malformed: word mismatch with folder
    return root


def make_voxceleb2(root: Path) -> Path:
    touch(root, "vox2_dev_mp4/dev/mp4/id00012/21Uxsk56VDQ/00001.mp4")
    touch(root, "vox2_dev_mp4/dev/mp4/id00012/21Uxsk56VDQ/00002.mp4")
    touch(root, "dev/id00015/abcdefghijk/00001.mp4")  # mirror without mp4/
    touch(root, "vox2_test_mp4/mp4/id00017/01dfn2spqyE/00001.mp4")
    touch(root, "vox2_meta.csv")
    touch(root, "vox2_dev_mp4/dev/mp4/id00012/stray.mp4")  # malformed depth
    return root


def make_crema_d(root: Path) -> Path:
    for actor in (1001, 1002, 1003, 1004, 1005):
        for emo in ("ANG", "NEU"):
            stem = f"{actor}_DFA_{emo}_XX"
            touch(root, f"AudioWAV/{stem}.wav")
            touch(root, f"VideoFlash/{stem}.flv")
    touch(root, "AudioWAV/1001_IEO_HAP_HI.wav")  # audio only
    touch(root, "AudioWAV/1001_XYZ_ANG_XX.wav")  # unknown sentence
    touch(root, "VideoFlash/1001_DFA_ANG_XX.mp4")  # wrong extension
    touch(root, "processedResults/summaryTable.csv")  # not scanned
    return root


def make_ravdess(root: Path) -> Path:
    for actor in range(1, 7):
        a = f"{actor:02d}"
        for emo, inten in ((1, 1), (5, 2)):
            fields = f"01-{emo:02d}-{inten:02d}-01-01-{a}"
            touch(root, f"Actor_{a}/01-{fields}.mp4")
            touch(root, f"Actor_{a}/02-{fields}.mp4")
            touch(root, f"Audio_Speech_Actors_01-24/Actor_{a}/03-{fields}.wav")
    touch(root, "Actor_01/01-02-03-01-01-01-01.mp4")  # song
    touch(root, "Actor_01/01-01-03-01-01-01-02.mp4")  # actor mismatch
    touch(root, "Actor_01/01-01-01-02-01-01-01.mp4")  # neutral strong
    touch(root, "Actor_01/readme.txt")
    return root


IEMOCAP_LINES = [
    ("Ses01F_impro01_F000", "neu"), ("Ses01F_impro01_M000", "exc"), ("Ses01F_impro01_F001", "fru"),
    ("Ses01F_impro01_M001", "ang"),
]


def make_iemocap(root: Path) -> Path:
    for session in range(1, 6):
        s = f"Ses{session:02d}"
        dialog = f"{s}F_impro01"
        lines = ["% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]", ""]
        for i, (turn, emo) in enumerate(IEMOCAP_LINES):
            turn = turn.replace("Ses01", s)
            lines += [f"[{i * 3 + 0.5:.4f} - {i * 3 + 2.25:.4f}]\t{turn}\t{emo}\t[2.5000, 3.0000, 3.5000]",
                      "C-E1:\tNeutral;\t()", ""]
            touch(root, f"Session{session}/sentences/wav/{dialog}/{turn}.wav")
        touch(root, f"Session{session}/dialog/EmoEvaluation/{dialog}.txt", "\n".join(lines) + "\n")
        touch(root, f"Session{session}/dialog/avi/DivX/{dialog}.avi")
    touch(root, "Session1/sentences/wav/Ses01F_impro01/Ses01F_impro01_F009.wav")  # no evaluation line
    return root


def make_speech_commands(root: Path) -> Path:
    for word in ("yes", "no"):
        for h in ("0a7c2a8d", "0b09edd3", "0c2ca723"):
            touch(root, f"{word}/{h}_nohash_0.wav")
    touch(root, "validation_list.txt", "yes/0b09edd3_nohash_0.wav\nno/0b09edd3_nohash_0.wav\n")
    touch(root, "testing_list.txt", "yes/0c2ca723_nohash_0.wav\nno/0c2ca723_nohash_0.wav\nno/ffffffff_nohash_0.wav\n")
    touch(root, "_background_noise_/white_noise.wav")
    touch(root, "_background_noise_/README.md")
    touch(root, "LICENSE")
    touch(root, "README.md")
    touch(root, "yes/bad-name.wav")
    return root
