"""Registry of the public corpora's download sources: what to fetch, from where, and what it must hash to.

Checksums are recorded where a published value is known; ``None`` means unknown, in which case the first
download that opens and extracts records its sha256 in the lock file (``<root>/.downloads/checksums.lock.json``)
and every later download must match it (trust on first use, but never silently drift, and never pin a
corrupt file).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Archive:
    """One file to download; ``extract`` archives are unpacked into the dataset root."""

    url: str
    filename: str
    sha256: str | None = None
    md5: str | None = None
    extract: bool = True
    dest: str = ""  # where a non-extracted file goes, relative to the dataset root


@dataclass(frozen=True)
class PublicDataset:
    name: str
    licence: str
    homepage: str
    archives: tuple[Archive, ...] = ()
    notes: str = ""
    manifest: Archive | None = None  # a listing from which per-file archives are derived (CREMA-D)
    extra: dict = field(default_factory=dict)


_ZENODO = "https://zenodo.org/records/1188976/files/{}?download=1"
_CREMA_MEDIA = "https://media.githubusercontent.com/media/CheyneyComputerScience/CREMA-D/master/"

PUBLIC: dict[str, PublicDataset] = {
    "ravdess": PublicDataset(
        name="ravdess",
        licence="CC BY-NC-SA 4.0",
        homepage="https://zenodo.org/records/1188976",
        archives=tuple(Archive(_ZENODO.format(f"Video_Speech_Actor_{a:02d}.zip"), f"Video_Speech_Actor_{a:02d}.zip") for a in range(1, 25))
        + (Archive(_ZENODO.format("Audio_Speech_Actors_01-24.zip"), "Audio_Speech_Actors_01-24.zip"),),
        notes="Zenodo publishes md5s on the record page; not recorded here, so the lock file pins them on first download.",
    ),
    "speech_commands": PublicDataset(
        name="speech_commands",
        licence="CC BY 4.0",
        homepage="https://www.tensorflow.org/datasets/catalog/speech_commands",
        archives=(
            Archive(
                "http://download.tensorflow.org/data/speech_commands_v0.02.tar.gz",
                "speech_commands_v0.02.tar.gz",
                sha256="af14739ee7dc311471de98f5f9d2c9191b18aedfe957f4a6ff791c709868ff58",
                md5="6b74f3901214cb2c2934e98196829835",
            ),
        ),
        notes="The tarball has no top-level folder: it unpacks the word folders directly into the root.",
    ),
    "crema_d": PublicDataset(
        name="crema_d",
        licence="Open Database License (ODbL)",
        homepage="https://github.com/CheyneyComputerScience/CREMA-D",
        manifest=Archive(
            "https://raw.githubusercontent.com/CheyneyComputerScience/CREMA-D/master/processedResults/summaryTable.csv",
            "summaryTable.csv", extract=False, dest="processedResults/summaryTable.csv",
        ),
        notes="Media live in Git LFS, one file per clip (no archive): the manifest lists the clip names "
        "(column FileName), each fetched as AudioWAV/<name>.wav and VideoFlash/<name>.flv. Do not git clone.",
        extra={"media_base": _CREMA_MEDIA},
    ),
}


def crema_d_files(manifest_text: str, media_base: str = _CREMA_MEDIA) -> list[Archive]:
    """Per-clip downloads listed by CREMA-D's summaryTable.csv (column ``FileName``)."""
    import csv
    import io

    names = sorted({row["FileName"].strip() for row in csv.DictReader(io.StringIO(manifest_text)) if row.get("FileName")})
    files = []
    for name in names:
        for folder, ext in (("AudioWAV", ".wav"), ("VideoFlash", ".flv")):
            files.append(Archive(f"{media_base}{folder}/{name}{ext}", f"{name}{ext}", extract=False, dest=f"{folder}/{name}{ext}"))
    return files
