"""Downloads from a local HTTP server on 127.0.0.1: resume, retries, checksums, atomicity."""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from softreg.datasets import DownloadError, load_fashion_mnist, write_idx
from softreg.datasets import mnist as mnist_module
from softreg.datasets.download import download
from softreg.datasets.registry import FASHION_MNIST, DatasetSpec, FileSpec, SplitSpec


@pytest.fixture(autouse=True)
def private_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("SOFTREG_DATA", raising=False)
    monkeypatch.delenv("SOFTREG_MIRROR", raising=False)


class Server:
    """Serves files from a dict; honours Range; can drop the connection mid-file."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.drop_after: dict[str, int] = {}  # name -> bytes to send before dropping, once
        self.stall: dict[str, float] = {}  # name -> seconds between single bytes (a trickle)
        self.ignore_range = False
        self.requests: list[tuple[str, str | None]] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                name = self.path.rsplit("/", 1)[-1]
                rng = self.headers.get("Range")
                server.requests.append((name, rng))
                if name not in server.files:
                    self.send_error(404)
                    return
                data = server.files[name]
                start = 0
                if rng and not server.ignore_range:
                    start = int(rng.removeprefix("bytes=").rstrip("-"))
                    if start >= len(data):
                        self.send_error(416)
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(data) - start))
                self.end_headers()
                body = data[start:]
                if name in server.stall:  # one byte, then a pause, for about a second
                    with contextlib.suppress(OSError):
                        for byte in body[: int(1.0 / server.stall[name]) + 1]:
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                            time.sleep(server.stall[name])
                    self.close_connection = True
                    return
                if name in server.drop_after:
                    body = body[: server.drop_after.pop(name)]
                    self.wfile.write(body)
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/files/"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


@pytest.fixture
def server():
    with Server() as s:
        yield s


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_sha(expected: str):
    def verify(path: Path) -> None:
        if sha(path.read_bytes()) != expected:
            raise ValueError(f"{path}: checksum mismatch")

    return verify


def test_plain_download(server, tmp_path):
    payload = np.random.default_rng(0).bytes(300_000)
    server.files["a.bin"] = payload
    dest = download(
        [server.url + "a.bin"], tmp_path / "a.bin", verify=check_sha(sha(payload)), progress=False
    )
    assert dest.read_bytes() == payload
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin"]


def test_resumes_after_a_dropped_connection(server, tmp_path):
    payload = np.random.default_rng(1).bytes(500_000)
    server.files["a.bin"] = payload
    server.drop_after["a.bin"] = 123_456
    download(
        [server.url + "a.bin"],
        tmp_path / "a.bin",
        verify=check_sha(sha(payload)),
        backoff=0.0,
        progress=False,
    )
    assert (tmp_path / "a.bin").read_bytes() == payload
    assert server.requests == [("a.bin", None), ("a.bin", "bytes=123456-")]


def test_resumes_a_part_file_left_by_an_earlier_run(server, tmp_path):
    payload = np.random.default_rng(2).bytes(10_000)
    server.files["a.bin"] = payload
    (tmp_path / "a.bin.part").write_bytes(payload[:4000])
    download([server.url + "a.bin"], tmp_path / "a.bin", progress=False)
    assert (tmp_path / "a.bin").read_bytes() == payload
    assert server.requests == [("a.bin", "bytes=4000-")]


def test_server_ignoring_range_restarts(server, tmp_path):
    payload = np.random.default_rng(3).bytes(10_000)
    server.files["a.bin"] = payload
    server.ignore_range = True
    (tmp_path / "a.bin.part").write_bytes(b"x" * 4000)
    download([server.url + "a.bin"], tmp_path / "a.bin", progress=False)
    assert (tmp_path / "a.bin").read_bytes() == payload


def test_checksum_mismatch_deletes_the_part_file(server, tmp_path):
    server.files["a.bin"] = b"tampered"
    with pytest.raises(ValueError, match="checksum mismatch"):
        download(
            [server.url + "a.bin"],
            tmp_path / "a.bin",
            verify=check_sha(sha(b"good")),
            progress=False,
        )
    assert list(tmp_path.iterdir()) == []


def test_falls_back_to_the_next_mirror_and_reports_failures(server, tmp_path):
    server.files["a.bin"] = b"data"
    dest = download(
        [server.url + "missing/a.bin".replace("a.bin", "b.bin"), server.url + "a.bin"],
        tmp_path / "a.bin",
        progress=False,
    )
    assert dest.read_bytes() == b"data"
    with pytest.raises(DownloadError, match="HTTP 404"):
        download([server.url + "nothing.bin"], tmp_path / "n.bin", progress=False, backoff=0)
    assert not (tmp_path / "n.bin").exists()


def test_progress_lines_on_stderr(server, tmp_path, capsys):
    server.files["a.bin"] = b"x" * 1000
    download([server.url + "a.bin"], tmp_path / "a.bin", progress=True)
    assert "a.bin: 1000 B/1000 B (100%)" in capsys.readouterr().err
    download([server.url + "a.bin"], tmp_path / "b.bin", progress=False)
    assert capsys.readouterr().err == ""


def synthetic_dataset(tmp_path: Path):
    """Small IDX files written by the test, and a spec with their checksums."""
    rng = np.random.default_rng(7)
    folder = tmp_path / "served"
    folder.mkdir()
    arrays = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (40, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte.gz": rng.integers(0, 10, 40).astype(np.uint8),
    }
    files, specs = {}, {}
    for name, array in arrays.items():
        write_idx(folder / name, array)
        files[name] = (folder / name).read_bytes()
        content = (
            b"\x00\x00\x08"
            + bytes([array.ndim])
            + np.asarray(array.shape, ">u4").tobytes()
            + array.tobytes()
        )
        specs[name] = FileSpec(name, sha(content))
    split = SplitSpec(specs["train-images-idx3-ubyte.gz"], specs["train-labels-idx1-ubyte.gz"], 40)
    spec = DatasetSpec(FASHION_MNIST.info, {"train": split, "test": split}, (), ())
    return arrays, files, spec


def test_load_downloads_into_the_cache_once(server, tmp_path, monkeypatch):
    arrays, files, spec = synthetic_dataset(tmp_path)
    server.files.update(files)
    server.drop_after["train-images-idx3-ubyte.gz"] = 5000
    monkeypatch.setattr(mnist_module, "FASHION_MNIST", spec)
    monkeypatch.setattr("softreg.datasets.download.time.sleep", lambda s: None)
    monkeypatch.setenv("SOFTREG_MIRROR", server.url)
    images, labels = load_fashion_mnist(progress=False)
    np.testing.assert_array_equal(images, arrays["train-images-idx3-ubyte.gz"])
    np.testing.assert_array_equal(labels, arrays["train-labels-idx1-ubyte.gz"])
    cache = tmp_path / "xdg" / "softreg" / "fashion-mnist"
    assert (cache / "train-images-idx3-ubyte.gz").read_bytes() == files[
        "train-images-idx3-ubyte.gz"
    ]
    n_requests = len(server.requests)
    load_fashion_mnist(progress=False)  # offline now: found in the cache
    assert len(server.requests) == n_requests


def test_load_refuses_a_tampered_mirror(server, tmp_path, monkeypatch):
    _, files, spec = synthetic_dataset(tmp_path)
    server.files.update(files)
    server.files["train-labels-idx1-ubyte.gz"] = files["train-images-idx3-ubyte.gz"]
    monkeypatch.setattr(mnist_module, "FASHION_MNIST", spec)
    with pytest.raises(ValueError, match="checksum mismatch"):
        load_fashion_mnist(progress=False, mirrors=[server.url])
    cache = tmp_path / "xdg" / "softreg" / "fashion-mnist"
    assert list(cache.iterdir()) == []


def test_a_damaged_file_in_the_cache_is_downloaded_again(server, tmp_path, monkeypatch):
    arrays, files, spec = synthetic_dataset(tmp_path)
    server.files.update(files)
    monkeypatch.setattr(mnist_module, "FASHION_MNIST", spec)
    monkeypatch.setenv("SOFTREG_MIRROR", server.url)
    load_fashion_mnist(progress=False)
    cached = tmp_path / "xdg" / "softreg" / "fashion-mnist" / "train-images-idx3-ubyte.gz"
    write_idx(cached, np.zeros((40, 28, 28), np.uint8))  # bit rot, or a stray copy
    server.requests.clear()
    images, _ = load_fashion_mnist(progress=False)
    np.testing.assert_array_equal(images, arrays["train-images-idx3-ubyte.gz"])
    assert server.requests == [("train-images-idx3-ubyte.gz", None)]


def test_tqdm_bar_when_stderr_is_a_terminal(server, tmp_path, monkeypatch, capsys):
    pytest.importorskip("tqdm")
    server.files["a.bin"] = b"x" * 100_000
    monkeypatch.setattr("sys.stderr.isatty", lambda: True)
    download([server.url + "a.bin"], tmp_path / "a.bin", progress=True)
    err = capsys.readouterr().err
    assert "a.bin" in err
    assert "100%|" in err  # a tqdm bar, not the plain lines


@pytest.mark.parametrize("pause", [0.05, 2.0], ids=["trickle", "silence"])
def test_a_stalled_download_times_out_and_the_next_mirror_is_tried(server, tmp_path, pause):
    payload = np.random.default_rng(4).bytes(50_000)
    server.files["a.bin"] = payload
    server.files["slow/a.bin"] = payload
    server.stall["a.bin"] = pause
    # The stalling name is served at the first URL only (the handler keys on the last part).
    fast = Server()
    fast.files["a.bin"] = payload
    with fast:
        dest = download(
            [server.url + "a.bin", fast.url + "a.bin"],
            tmp_path / "a.bin",
            verify=check_sha(sha(payload)),
            timeout=0.3,
            retries=2,
            backoff=0.0,
            progress=False,
        )
    assert dest.read_bytes() == payload
    assert [name for name, _ in fast.requests] == ["a.bin"]
    with pytest.raises(DownloadError, match=r"(?s)attempt 1\): stalled: .*attempt 2\): stalled: "):
        download(
            [server.url + "a.bin"],
            tmp_path / "b.bin",
            timeout=0.3,
            retries=2,
            progress=False,
            backoff=0.0,
        )
    assert not (tmp_path / "b.bin").exists()


def test_an_unresolvable_host_is_skipped_without_retries(server, tmp_path, monkeypatch):
    slept = []
    monkeypatch.setattr("softreg.datasets.download.time.sleep", slept.append)
    server.files["a.bin"] = b"data"
    dest = download(
        ["http://softreg-test.invalid/a.bin", server.url + "a.bin"],
        tmp_path / "a.bin",
        progress=False,
    )
    assert dest.read_bytes() == b"data"
    assert slept == []  # no retry (and no back-off) for a name that does not resolve
    with pytest.raises(DownloadError, match=r"softreg-test\.invalid/a\.bin \(attempt 1\)") as info:
        download(["http://softreg-test.invalid/a.bin"], tmp_path / "b.bin", progress=False)
    assert "attempt 2" not in str(info.value)


@pytest.mark.parametrize("left", ["longer", "shorter"])
def test_a_bad_part_file_from_an_earlier_run_is_replaced(server, tmp_path, left):
    payload = np.random.default_rng(5).bytes(20_000)
    server.files["a.bin"] = payload
    garbage = np.random.default_rng(6).bytes(30_000 if left == "longer" else 5_000)
    (tmp_path / "a.bin.part").write_bytes(garbage)  # e.g. another file's, or corrupted
    download(
        [server.url + "a.bin"],
        tmp_path / "a.bin",
        verify=check_sha(sha(payload)),
        progress=False,
    )
    assert (tmp_path / "a.bin").read_bytes() == payload
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin"]
    # First the resume (Range), then, the result failing its check, a fresh download.
    assert server.requests[0] == ("a.bin", f"bytes={len(garbage)}-")
    assert server.requests[-1] == ("a.bin", None)


@pytest.mark.parametrize("leftover", ["part", "truncated"])
def test_load_never_uses_a_half_downloaded_file(server, tmp_path, monkeypatch, leftover):
    arrays, files, spec = synthetic_dataset(tmp_path)
    server.files.update(files)
    monkeypatch.setattr(mnist_module, "FASHION_MNIST", spec)
    monkeypatch.setenv("SOFTREG_MIRROR", server.url)
    cache = tmp_path / "xdg" / "softreg" / "fashion-mnist"
    cache.mkdir(parents=True)
    name = "train-images-idx3-ubyte.gz"
    half = files[name][: len(files[name]) // 2]
    # A .part left by an interrupted run (resumed), or a truncated file under the final name
    # (copied by hand, or by an older softreg): never decoded as data.
    (cache / (name + ".part" if leftover == "part" else name)).write_bytes(half)
    images, _ = load_fashion_mnist(progress=False)
    np.testing.assert_array_equal(images, arrays[name])
    assert (cache / name).read_bytes() == files[name]
    assert not (cache / (name + ".part")).exists()
    expected = ("bytes=" + str(len(half)) + "-") if leftover == "part" else None
    assert (name, expected) in server.requests
