"""download_nih / download_file against a local ThreadingHTTPServer on 127.0.0.1 (never the internet)."""
from __future__ import annotations

import hashlib
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pandas as pd
import pytest

from tmvlib.data.download import NIH_IMAGE_URLS, download_file, download_nih
from tmvlib.data.errors import DataError
from tmvlib.data.prepare import prepare_nih

PAYLOAD = bytes(range(256)) * 4000  # ~1 MB, not a multiple of the chunk size used below


class Handler(BaseHTTPRequestHandler):
    """Serves ``server.files``; the first path segment picks the behaviour:
    ``/range/<name>`` honours Range (206), ``/norange/<name>`` ignores it (200),
    ``/drop/<name>`` honours Range but cuts the first response halfway."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep pytest output clean
        pass

    def do_GET(self):
        server = self.server
        server.requests.append((self.path, self.headers.get("Range")))
        mode, _, name = self.path.lstrip("/").partition("/")
        data = server.files.get(name)
        if data is None or mode not in ("range", "norange", "drop"):
            self.send_error(404, "Not Found")
            return
        start = 0
        match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
        if match and mode != "norange":
            start = int(match.group(1))
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if mode == "drop" and not server.dropped:
            server.dropped = True
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)  # peer sees EOF before Content-Length
            self.close_connection = True
            return
        self.wfile.write(body)


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.files, httpd.requests, httpd.dropped = {"x.tar.gz": PAYLOAD}, [], False
    httpd.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_default_urls_are_the_twelve_nih_parts():
    assert list(NIH_IMAGE_URLS) == [f"images_{i:03d}.tar.gz" for i in range(1, 13)]
    assert NIH_IMAGE_URLS["images_001.tar.gz"] == \
        "https://nihcc.box.com/shared/static/vfk49d74nhbxq3nqjg0900w5nvkorp5c.gz"
    assert len(set(NIH_IMAGE_URLS.values())) == 12


def test_full_download_with_checksum(server, tmp_path):
    paths = download_nih(tmp_path, urls={"x.tar.gz": f"{server.base}/range/x.tar.gz"},
                         checksums={"x.tar.gz": sha(PAYLOAD)}, progress=False, chunk_size=50_000)
    assert paths == [tmp_path / "x.tar.gz"] and paths[0].read_bytes() == PAYLOAD
    assert not (tmp_path / "x.tar.gz.part").exists()
    assert server.requests == [("/range/x.tar.gz", None)]


def test_resume_from_part_sends_range(server, tmp_path):
    (tmp_path / "x.tar.gz.part").write_bytes(PAYLOAD[:300_001])
    download_file(f"{server.base}/range/x.tar.gz", tmp_path / "x.tar.gz", sha256=sha(PAYLOAD), progress=False)
    assert (tmp_path / "x.tar.gz").read_bytes() == PAYLOAD
    assert server.requests == [("/range/x.tar.gz", "bytes=300001-")]


def test_server_ignoring_range_restarts_cleanly(server, tmp_path):
    (tmp_path / "x.tar.gz.part").write_bytes(b"garbage that must not survive")
    download_file(f"{server.base}/norange/x.tar.gz", tmp_path / "x.tar.gz", progress=False)
    assert (tmp_path / "x.tar.gz").read_bytes() == PAYLOAD
    assert server.requests[0][1] == "bytes=29-"


def test_dropped_connection_is_resumed(server, tmp_path):
    download_file(f"{server.base}/drop/x.tar.gz", tmp_path / "x.tar.gz", sha256=sha(PAYLOAD),
                  progress=False, chunk_size=64_000)
    assert (tmp_path / "x.tar.gz").read_bytes() == PAYLOAD
    assert len(server.requests) == 2 and server.requests[0][1] is None
    assert server.requests[1][1] == f"bytes={len(PAYLOAD) // 2}-"


def test_dropped_connection_without_retries_keeps_part_for_later(server, tmp_path):
    url, target = f"{server.base}/drop/x.tar.gz", tmp_path / "x.tar.gz"
    with pytest.raises(DataError, match=re.escape(url)):
        download_file(url, target, progress=False, retries=0)
    assert not target.exists() and (tmp_path / "x.tar.gz.part").stat().st_size == len(PAYLOAD) // 2
    download_file(url, target, progress=False, retries=0)
    assert target.read_bytes() == PAYLOAD


def test_complete_part_answered_416_is_accepted(server, tmp_path):
    (tmp_path / "x.tar.gz.part").write_bytes(PAYLOAD)
    download_file(f"{server.base}/range/x.tar.gz", tmp_path / "x.tar.gz", sha256=sha(PAYLOAD), progress=False)
    assert (tmp_path / "x.tar.gz").read_bytes() == PAYLOAD


def test_checksum_mismatch_raises_and_leaves_no_file(server, tmp_path):
    wrong = "0" * 64
    with pytest.raises(DataError) as info:
        download_nih(tmp_path, urls={"x.tar.gz": f"{server.base}/range/x.tar.gz"},
                     checksums={"x.tar.gz": wrong}, progress=False)
    message = str(info.value)
    assert "x.tar.gz" in message and wrong in message and sha(PAYLOAD) in message
    assert not (tmp_path / "x.tar.gz").exists() and not (tmp_path / "x.tar.gz.part").exists()


@pytest.mark.parametrize("with_checksum", [True, False])
def test_complete_file_is_skipped(server, tmp_path, with_checksum):
    (tmp_path / "x.tar.gz").write_bytes(PAYLOAD)
    checksums = {"x.tar.gz": sha(PAYLOAD)} if with_checksum else None
    paths = download_nih(tmp_path, urls={"x.tar.gz": f"{server.base}/range/x.tar.gz"},
                         checksums=checksums, progress=False)
    assert paths == [tmp_path / "x.tar.gz"] and server.requests == []


def test_complete_file_with_wrong_checksum_is_fetched_again(server, tmp_path):
    (tmp_path / "x.tar.gz").write_bytes(b"stale")
    download_nih(tmp_path, urls={"x.tar.gz": f"{server.base}/range/x.tar.gz"},
                 checksums={"x.tar.gz": sha(PAYLOAD)}, progress=False)
    assert (tmp_path / "x.tar.gz").read_bytes() == PAYLOAD and len(server.requests) == 1


def test_http_404_names_url(server, tmp_path):
    url = f"{server.base}/range/missing.tar.gz"
    with pytest.raises(DataError, match=re.escape(url) + ".*404"):
        download_nih(tmp_path, urls={"missing.tar.gz": url}, progress=False)
    assert not (tmp_path / "missing.tar.gz").exists() and not (tmp_path / "missing.tar.gz.part").exists()


def test_checksum_for_unknown_file_is_rejected(tmp_path):
    with pytest.raises(DataError, match="nope.tar.gz"):
        download_nih(tmp_path, urls={"x.tar.gz": "http://127.0.0.1:9/x"}, checksums={"nope.tar.gz": "0" * 64},
                     progress=False)


def test_download_then_prepare_end_to_end(server, fake_nih, tmp_path):
    source = fake_nih.build()
    parts = {name: (source / name).read_bytes() for name in ("images_001.tar.gz", "images_002.tar.gz")}
    server.files.update(parts)
    dest = tmp_path / "download"
    paths = download_nih(dest, urls={n: f"{server.base}/range/{n}" for n in parts},
                         checksums={n: sha(d) for n, d in parts.items()}, progress=False)
    assert [p.name for p in paths] == list(parts)
    for name in ("Data_Entry_2017_v2020.csv", "BBox_List_2017.csv"):  # fetched by hand in real use
        (dest / name).write_bytes((source / name).read_bytes())
    report = prepare_nih(dest, tmp_path / "out", progress=False)
    manifest = pd.read_csv(tmp_path / "out" / "nih14" / "manifest.csv", dtype=str, keep_default_na=False)
    assert report.written == len(fake_nih.images()) == len(manifest)
    rows = manifest.set_index("filename")
    assert rows.loc["00000005_000.jpg", "bbox_findings"] == "Infiltrate|Pneumonia"
    assert rows.loc["00000003_000.jpg", "Finding Labels"] == "Hernia|Infiltration"
    assert set(manifest["google2019_set"]) == {""}  # no Google file downloaded
    assert set(manifest["source_path"]) == {f"images/{s}.png" for s in fake_nih.images()}
