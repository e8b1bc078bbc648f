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
    ChecksumError,
    DatasetMissingError,
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
