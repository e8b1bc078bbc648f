"""Acquisition against a local HTTP server (127.0.0.1) serving fixture archives made in the test."""

from __future__ import annotations

import hashlib
import io
import tarfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from avssl.config.datasets import DatasetsParams
from avssl.data.acquire import (
    PUBLIC,
    AcquireError,
    ChecksumError,
    DatasetMissingError,
    ExtractConflictError,
    LockFile,
    UnsafeArchiveError,
    download,
    fetch_public,
    run_acquire,
    safe_extract,
    verify,
)
from avssl.data.acquire.sources import Archive, PublicDataset, crema_d_files


class Server:
    """Serves ``files`` (name -> bytes) with Range support; ``cut[name] = n`` drops the first response after n bytes."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.cut: dict[str, int] = {}
        self.ranges: list[str | None] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                name = self.path.lstrip("/").split("?")[0]
                if name not in outer.files:
                    self.send_error(404)
                    return
                data = outer.files[name]
                rng = self.headers.get("Range")
                outer.ranges.append(rng)
                start = int(rng.split("=")[1].split("-")[0]) if rng else 0
                self.send_response(206 if rng else 200)
                self.send_header("Content-Length", str(len(data) - start))
                self.end_headers()
                body = data[start:]
                if name in outer.cut:
                    body = body[: outer.cut.pop(name)]
                self.wfile.write(body)
                self.wfile.flush()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def test_interrupted_download_resumes(server, tmp_path):
    data = bytes(range(256)) * 400
    server.files["big.bin"] = data
    server.cut["big.bin"] = 10_000
    out = download(server.url + "big.bin", tmp_path / "big.bin", sha256=sha(data), progress=False, backoff_s=0)
    assert out.read_bytes() == data
    assert server.ranges == [None, "bytes=10000-"]
    assert not (tmp_path / "big.bin.part").exists()


def test_checksum_mismatch_leaves_nothing(server, tmp_path):
    server.files["a.zip"] = b"not what you expected"
    with pytest.raises(ChecksumError):
        download(server.url + "a.zip", tmp_path / "a.zip", sha256="0" * 64, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_lock_file_records_then_verifies(server, tmp_path):
    server.files["x.bin"] = b"first"
    lock = LockFile(tmp_path / "lock.json")
    download(server.url + "x.bin", tmp_path / "x.bin", lock=lock, progress=False)
    assert LockFile(tmp_path / "lock.json").get("x.bin") == sha(b"first")
    (tmp_path / "x.bin").unlink()
    server.files["x.bin"] = b"changed upstream"
    with pytest.raises(ChecksumError):
        download(server.url + "x.bin", tmp_path / "x.bin", lock=LockFile(tmp_path / "lock.json"), progress=False)
    assert not (tmp_path / "x.bin").exists()


def test_traversal_rejected(tmp_path):
    evil = tmp_path / "evil.zip"
    evil.write_bytes(zip_bytes({"ok/file.txt": b"1", "../evil.txt": b"2"}))
    dest = tmp_path / "dest"
    with pytest.raises(UnsafeArchiveError):
        safe_extract(evil, dest)
    assert not (tmp_path / "evil.txt").exists() and list(dest.iterdir()) == []


def test_tar_symlink_rejected(tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        info = tarfile.TarInfo("link")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tf.addfile(info)
    (tmp_path / "a.tar.gz").write_bytes(buf.getvalue())
    with pytest.raises(UnsafeArchiveError):
        safe_extract(tmp_path / "a.tar.gz", tmp_path / "d")


def test_fetch_public_ravdess_like(server, tmp_path):
    z1 = zip_bytes({"Actor_01/01-01-01-01-01-01-01.mp4": b"v"})
    z2 = zip_bytes({"Actor_01/03-01-01-01-01-01-01.wav": b"a"})
    server.files.update({"V1.zip": z1, "A.zip": z2})
    spec = PublicDataset("ravdess", "CC", "", archives=(Archive(server.url + "V1.zip", "V1.zip", sha256=sha(z1)), Archive(server.url + "A.zip", "A.zip")))
    root = tmp_path / "ravdess"
    counts = fetch_public(spec, root, progress=False)
    assert counts["archives_extracted"] == 2
    assert sorted(p.name for p in (root / "Actor_01").iterdir()) == ["01-01-01-01-01-01-01.mp4", "03-01-01-01-01-01-01.wav"]
    assert LockFile(root / ".downloads/checksums.lock.json").get("A.zip") == sha(z2)
    assert fetch_public(spec, root, progress=False)["archives_extracted"] == 0  # idempotent


def test_crema_d_manifest_to_files():
    files = crema_d_files("FileName,VoiceVote\n1001_DFA_ANG_XX,A\n1001_DFA_ANG_XX,A\n1002_IEO_HAP_HI,H\n", "http://h/")
    assert [f.dest for f in files] == [
        "AudioWAV/1001_DFA_ANG_XX.wav", "VideoFlash/1001_DFA_ANG_XX.flv", "AudioWAV/1002_IEO_HAP_HI.wav", "VideoFlash/1002_IEO_HAP_HI.flv",
    ]
    assert files[1].url == "http://h/VideoFlash/1001_DFA_ANG_XX.flv"


def test_registry_contents():
    assert len(PUBLIC["ravdess"].archives) == 25
    assert PUBLIC["speech_commands"].archives[0].sha256.startswith("af14739e")


def test_verify_licensed(tmp_path):
    with pytest.raises(DatasetMissingError, match="mmai.io|Oxford"):
        verify("lrs3", tmp_path / "lrs3")
    for sub in ("pretrain", "trainval", "test"):
        (tmp_path / "lrs3" / sub / "spk").mkdir(parents=True)
        (tmp_path / "lrs3" / sub / "spk" / "00001.mp4").write_bytes(b"x")
    mins = {"lrs3/pretrain": 1, "lrs3/trainval": 1, "lrs3/test": 1}
    assert verify("lrs3", tmp_path / "lrs3", mins) == {"pretrain": 1, "trainval": 1, "test": 1}
    params = type("P", (), {"datasets": DatasetsParams(min_files=mins)})()
    assert run_acquire(params, "lrs3", tmp_path / "lrs3")["files_test"] == 1
    with pytest.raises(DatasetMissingError, match="1 of 1321"):
        verify("lrs3", tmp_path / "lrs3", {"lrs3/pretrain": 1, "lrs3/trainval": 1})


def test_extraction_never_removes_what_is_there(tmp_path):
    """A member named like an existing folder (.downloads, Actor_01) or file must not replace it."""
    root = tmp_path / "ravdess"
    (root / ".downloads").mkdir(parents=True)
    (root / ".downloads" / "checksums.lock.json").write_text("{}")
    (root / "Actor_01").mkdir()
    (root / "Actor_01" / "mine.mp4").write_bytes(b"user's clip")
    (root / "README.txt").write_text("my notes")
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    for members in ({".downloads": b"file"}, {"Actor_01": b"file"}, {"README.txt": b"other text"},
                    {"README.txt/inner": b"folder where a file is"}):
        (tmp_path / "a.zip").write_bytes(zip_bytes({"new/ok.txt": b"1", **members}))
        with pytest.raises(ExtractConflictError, match="nothing there was changed"):
            safe_extract(tmp_path / "a.zip", root)
        assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == before
        assert not (root / "new").exists()  # fails as a whole, before the first move
    # folders merge and identical files are kept: re-extracting the same archive is fine
    (tmp_path / "b.zip").write_bytes(zip_bytes({"Actor_01/x.wav": b"a", "README.txt": b"my notes"}))
    assert safe_extract(tmp_path / "b.zip", root) == ["Actor_01", "README.txt"]
    assert safe_extract(tmp_path / "b.zip", root) == ["Actor_01", "README.txt"]
    assert (root / "Actor_01" / "mine.mp4").read_bytes() == b"user's clip" and (root / "Actor_01" / "x.wav").exists()
    elsewhere = tmp_path / "bigdisk" / "Actor_02"  # a folder the user moved to another disk and linked back
    elsewhere.mkdir(parents=True)
    (root / "Actor_02").symlink_to(elsewhere)
    (tmp_path / "c.zip").write_bytes(zip_bytes({"Actor_02/y.wav": b"b"}))
    safe_extract(tmp_path / "c.zip", root)
    assert (root / "Actor_02").is_symlink() and (elsewhere / "y.wav").read_bytes() == b"b"


def test_corrupt_resumed_archive_is_not_pinned(server, tmp_path):
    """No published checksum + a resume onto stale bytes: the archive fails to open; nothing is recorded and the
    error says which file to delete; after that the re-run downloads, extracts and records the good hash."""
    good = zip_bytes({"Actor_01/01-01-01-01-01-01-01.mp4": b"v" * 500})
    server.files["V.zip"] = good
    spec = PublicDataset("ravdess", "CC", "", archives=(Archive(server.url + "V.zip", "V.zip"),))
    root = tmp_path / "ravdess"
    (root / ".downloads").mkdir(parents=True)
    (root / ".downloads" / "V.zip.part").write_bytes(b"\0" * 100)  # stale bytes of an interrupted transfer
    with pytest.raises(AcquireError, match=r"Delete .*V\.zip and re-run") as err:
        fetch_public(spec, root, progress=False)
    assert "not recorded" in str(err.value)
    assert server.ranges == ["bytes=100-"]
    assert LockFile(root / ".downloads/checksums.lock.json").get("V.zip") is None
    assert not (root / ".downloads" / "V.zip.done").exists() and not (root / "Actor_01").exists()
    (root / ".downloads" / "V.zip").unlink()  # what the message says
    assert fetch_public(spec, root, progress=False)["archives_extracted"] == 1
    assert LockFile(root / ".downloads/checksums.lock.json").get("V.zip") == sha(good)


def test_http_network_and_disk_errors_say_what_to_do(server, tmp_path, monkeypatch):
    with pytest.raises(AcquireError, match=r"download of http://127\.0\.0\.1:\d+/missing\.zip not found \(404\)"):
        download(server.url + "missing.zip", tmp_path / "m.zip", progress=False)

    class Fail500(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            self.send_error(500)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Fail500)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/a.zip"
        with pytest.raises(AcquireError, match=r"failed after 3 attempts \(HTTP 500 .*check the network"):
            download(url, tmp_path / "a.zip", progress=False, retries=2, backoff_s=0)
    finally:
        httpd.shutdown()
        httpd.server_close()
    with pytest.raises(AcquireError, match=r"failed after 2 attempts \(network error"):  # nobody listens there
        download(url, tmp_path / "a.zip", progress=False, retries=1, backoff_s=0, timeout=5)

    import errno
    import os
    import sys

    dl = sys.modules["avssl.data.acquire.download"]  # the package re-exports the function under the same name

    def full(url, part, timeout, progress):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(part))

    monkeypatch.setattr(dl, "_fetch_once", full)
    with pytest.raises(AcquireError, match=r"disk full while writing .*b\.zip\.part; free space"):
        download(server.url + "b.zip", tmp_path / "b.zip", progress=False, backoff_s=0)


@pytest.mark.parametrize("verbose", [False, True])
def test_cli_prints_one_line_instead_of_a_traceback(server, tmp_path, monkeypatch, capsys, verbose):
    import avssl.data.acquire.run as acquire_run
    from avssl.cli import main

    spec = PublicDataset("ravdess", "CC", "", archives=(Archive(server.url + "gone.zip", "gone.zip"),))
    monkeypatch.setitem(acquire_run.PUBLIC, "ravdess", spec)
    repo = Path(__file__).resolve().parents[1]
    argv = ["acquire", "--params", str(repo / "params.yaml"), "--dataset", "ravdess", "--root", str(tmp_path / "r"),
            "--no-track"] + (["--verbose"] if verbose else [])
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "avssl acquire: error: download of " + server.url + "gone.zip not found (404)" in err
    assert ("Traceback" in err) == verbose
    if not verbose:
        assert len(err.strip().splitlines()) == 1
