"""Weights download against a real HTTP server on 127.0.0.1: verify, rename atomically, resume."""
from __future__ import annotations

import dataclasses
import hashlib
import http.server
import re
import socket
import threading
from pathlib import Path

import numpy as np
import pytest

from squat.errors import WeightsError
from squat.pose import weights

PAYLOAD = np.random.default_rng(7).integers(0, 256, 3 * 1024 * 1024 + 123, dtype=np.uint8).tobytes()
CHUNK = 64 * 1024


class FileServer:
    """Serves PAYLOAD at /model.pth; can ignore Range, drop the connection mid-way, or 404."""

    def __init__(self) -> None:
        self.ranges: list[str | None] = []  # the Range header of every request, in order
        self.honour_range = True
        self.cut_after: int | None = None  # one-shot: send this many body bytes, then hang up
        self.missing = False
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                requested = self.headers.get("Range")
                server.ranges.append(requested)
                if server.missing:
                    self.send_error(404)
                    return
                start = 0
                if requested and server.honour_range:
                    start = int(re.fullmatch(r"bytes=(\d+)-", requested).group(1))
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(PAYLOAD) - 1}/{len(PAYLOAD)}")
                else:
                    self.send_response(200)
                body = PAYLOAD[start:]
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if server.cut_after is not None:
                    body, server.cut_after = body[: server.cut_after], None
                    self.close_connection = True
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/model.pth"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = FileServer()
    yield s
    s.close()


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


def spec_for(url: str, payload: bytes = PAYLOAD) -> weights.ModelSpec:
    return weights.ModelSpec(
        name="test_model", arch="cmu", file="model.pth", url=url, size=len(payload),
        sha256=hashlib.sha256(payload).hexdigest(), licence="test", licence_note="test",
        preprocess="bgr_caffe", shipped=False, source="test", description="test",
    )


def fetch(spec: weights.ModelSpec, weights_dir: Path, progress=None) -> Path:
    return weights.fetch(spec, weights_dir, progress=progress, chunk=CHUNK, timeout=5)


def test_good_download_appears_only_after_verification_with_no_part_left(server, tmp_path):
    final, calls = tmp_path / "model.pth", []

    def progress(done, total):
        assert not final.exists()  # never visible under its real name while incomplete
        calls.append((done, total))

    assert fetch(spec_for(server.url), tmp_path, progress) == final
    assert final.read_bytes() == PAYLOAD
    assert not (tmp_path / "model.pth.part").exists()
    assert calls[0] == (0, len(PAYLOAD)) and calls[-1] == (len(PAYLOAD), len(PAYLOAD))
    assert all(a[0] <= b[0] for a, b in zip(calls, calls[1:]))
    assert server.ranges == [None]


def test_wrong_checksum_removes_the_part_and_names_both_digests(server, tmp_path):
    spec = dataclasses.replace(spec_for(server.url), sha256="0" * 64)
    with pytest.raises(WeightsError) as err:
        fetch(spec, tmp_path)
    got = hashlib.sha256(PAYLOAD).hexdigest()
    assert "0" * 64 in str(err.value) and got in str(err.value)
    assert "weights fetch test_model" in str(err.value)
    assert list(tmp_path.iterdir()) == []


def test_interrupted_download_resumes_from_the_part_with_a_range_request(server, tmp_path):
    cut = len(PAYLOAD) // 2 + 1
    server.cut_after = cut
    with pytest.raises(WeightsError, match="interrupted after 1.6 MB.*resumes where it stopped"):
        fetch(spec_for(server.url), tmp_path)
    part = tmp_path / "model.pth.part"
    assert part.stat().st_size == cut and not (tmp_path / "model.pth").exists()

    calls = []
    path = fetch(spec_for(server.url), tmp_path, lambda done, total: calls.append((done, total)))
    assert server.ranges == [None, f"bytes={cut}-"]
    assert calls[0] == (cut, len(PAYLOAD))  # only the second half travelled
    assert path.read_bytes() == PAYLOAD and not part.exists()


def test_existing_good_file_is_not_downloaded_again(server, tmp_path):
    final = tmp_path / "model.pth"
    final.write_bytes(PAYLOAD)
    before = final.stat().st_mtime_ns
    assert fetch(spec_for(server.url), tmp_path) == final
    assert server.ranges == [] and final.stat().st_mtime_ns == before


def test_existing_file_with_other_content_is_never_overwritten(server, tmp_path):
    final = tmp_path / "model.pth"
    final.write_bytes(b"my own weights")
    with pytest.raises(WeightsError, match="sha256 differs.*delete it"):
        fetch(spec_for(server.url), tmp_path)
    assert final.read_bytes() == b"my own weights" and server.ranges == []


def test_server_ignoring_range_restarts_from_zero_instead_of_appending(server, tmp_path):
    server.honour_range = False
    (tmp_path / "model.pth.part").write_bytes(b"stale bytes that are not the file's start")
    path = fetch(spec_for(server.url), tmp_path)
    assert server.ranges == ["bytes=41-"]  # asked to resume, got the whole file (200)
    assert path.read_bytes() == PAYLOAD


def test_part_longer_than_the_file_is_discarded(server, tmp_path):
    (tmp_path / "model.pth.part").write_bytes(PAYLOAD + b"extra")
    assert fetch(spec_for(server.url), tmp_path).read_bytes() == PAYLOAD
    assert server.ranges == [None]


def test_http_error_says_what_the_server_answered(server, tmp_path):
    server.missing = True
    with pytest.raises(WeightsError, match="HTTP 404"):
        fetch(spec_for(server.url), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_unreachable_server_is_a_weights_error_that_says_to_retry(tmp_path):
    with socket.socket() as s:  # a port with nobody listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(WeightsError, match="check the connection and run `python -m squat weights fetch test_model` again"):
        fetch(spec_for(f"http://127.0.0.1:{port}/model.pth"), tmp_path)


def test_shipped_model_has_nothing_to_download(tmp_path):
    spec = weights.load_registry()["mobilenet_thin"]
    with pytest.raises(WeightsError, match="ships with the repository"):
        weights.fetch(spec, tmp_path)
