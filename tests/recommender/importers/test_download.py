"""`data download-msd` against a small HTTP server on 127.0.0.1 that can cut connections.

The server serves files from memory, honours ``Range: bytes=N-`` (unless told to ignore it) and
can be told to stop sending after some bytes on given requests, which is what a dropped
connection looks like to the client. Every download here uses few retries, no back-off and a
short timeout, so the tests stay fast and bounded.
"""

from __future__ import annotations

import io
import logging
import re
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from environment import write_config

from recommender.cli.main import main as cli_main
from recommender.importers.download import DownloadError, download_file, download_msd

TRACKS = "".join(f"TR{i:06d}<SEP>SO{i:06d}<SEP>Artist {i}<SEP>Title {i}\n" for i in range(400)).encode()
TRIPLETS = "".join(f"{'ab' * 20}\tSO{i:06d}\t{i % 7 + 1}\n" for i in range(300)).encode()


def zipped(name: str, data: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, data)
    return out.getvalue()


class Handler(BaseHTTPRequestHandler):
    server: FileServer

    def do_GET(self):
        server = self.server
        name = self.path.lstrip("/")
        asked = self.headers.get("Range")
        server.requests.append((name, asked))
        statuses = server.statuses.get(name)
        if statuses:
            self.send_error(statuses.pop(0))
            return
        data = server.files.get(name)
        if data is None:
            self.send_error(404)
            return
        start = 0
        if asked and not server.ignore_range:
            start = int(re.fullmatch(r"bytes=(\d+)-", asked).group(1))
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
        cuts = server.cuts.get(name)
        if cuts:
            body = body[: cuts.pop(0)]  # then the connection closes: a dropped transfer
        self.wfile.write(body)

    def log_message(self, *args):  # keep test output quiet
        pass


class FileServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.files: dict[str, bytes] = {}
        self.requests: list[tuple[str, str | None]] = []
        self.cuts: dict[str, list[int]] = {}  # name -> bytes to send on each next request
        self.statuses: dict[str, list[int]] = {}  # name -> error statuses for the next requests
        self.ignore_range = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/"


@pytest.fixture
def server():
    httpd = FileServer()
    httpd.files = {"unique_tracks.txt": TRACKS, "train_triplets.txt.zip": zipped("train_triplets.txt", TRIPLETS)}
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


FAST = {"timeout": 5.0, "backoff": 0.0, "progress": False}


def test_downloads_both_files_and_unzips_the_triplets(tmp_path, server):
    files = download_msd(tmp_path, base_url=server.url, retries=0, **FAST)
    assert [p.name for p in files] == ["unique_tracks.txt", "train_triplets.txt"]
    assert (tmp_path / "unique_tracks.txt").read_bytes() == TRACKS
    assert (tmp_path / "train_triplets.txt").read_bytes() == TRIPLETS
    assert not list(tmp_path.glob("*.part")) and not list(tmp_path.glob("*.unzipping"))
    # A second run finds the files there and asks the server nothing.
    served = len(server.requests)
    download_msd(tmp_path, base_url=server.url, retries=0, **FAST)
    assert len(server.requests) == served


def test_a_cut_connection_is_resumed_with_a_range_request(tmp_path, server):
    server.cuts["unique_tracks.txt"] = [1000]
    path = download_file(server.url + "unique_tracks.txt", tmp_path / "tracks.txt", retries=2, **FAST)
    assert path.read_bytes() == TRACKS
    assert server.requests == [("unique_tracks.txt", None), ("unique_tracks.txt", "bytes=1000-")]


def test_a_part_left_by_an_earlier_run_is_resumed(tmp_path, server):
    (tmp_path / "tracks.txt.part").write_bytes(TRACKS[:777])
    download_file(server.url + "unique_tracks.txt", tmp_path / "tracks.txt", retries=0, **FAST)
    assert (tmp_path / "tracks.txt").read_bytes() == TRACKS
    assert server.requests == [("unique_tracks.txt", "bytes=777-")]


def test_a_server_ignoring_range_restarts_cleanly(tmp_path, server, caplog):
    server.cuts["unique_tracks.txt"] = [1000]
    server.ignore_range = True
    with caplog.at_level(logging.WARNING):
        download_file(server.url + "unique_tracks.txt", tmp_path / "tracks.txt", retries=2, **FAST)
    assert (tmp_path / "tracks.txt").read_bytes() == TRACKS  # not the first 1000 bytes twice
    assert "does not support resuming" in caplog.text


def test_a_part_longer_than_the_file_is_discarded(tmp_path, server, caplog):
    (tmp_path / "tracks.txt.part").write_bytes(TRACKS + b"stale bytes")
    with caplog.at_level(logging.WARNING):
        download_file(server.url + "unique_tracks.txt", tmp_path / "tracks.txt", retries=1, **FAST)
    assert (tmp_path / "tracks.txt").read_bytes() == TRACKS
    assert "does not fit the server's file" in caplog.text


def test_a_transfer_that_keeps_stopping_short_is_not_accepted(tmp_path, server):
    server.cuts["unique_tracks.txt"] = [300] * 10
    with pytest.raises(DownloadError) as caught:
        download_file(server.url + "unique_tracks.txt", tmp_path / "tracks.txt", retries=2, **FAST)
    message = str(caught.value)
    assert "download incomplete after 3 attempts" in message
    assert f"stopped at 900 of {len(TRACKS):,} bytes" in message
    assert "run the command again to resume" in message
    assert len(server.requests) == 3  # bounded
    assert not (tmp_path / "tracks.txt").exists()
    assert (tmp_path / "tracks.txt.part").read_bytes() == TRACKS[:900]  # kept for the next run


def test_a_missing_file_is_an_http_error_named_at_once(tmp_path, server):
    with pytest.raises(DownloadError, match=r"/nothing\.txt: the server answered HTTP 404"):
        download_file(server.url + "nothing.txt", tmp_path / "x", retries=3, **FAST)
    assert len(server.requests) == 1  # a 404 is not retried


def test_a_busy_server_is_tried_again(tmp_path, server):
    server.statuses["unique_tracks.txt"] = [503]
    download_file(server.url + "unique_tracks.txt", tmp_path / "tracks.txt", retries=1, **FAST)
    assert (tmp_path / "tracks.txt").read_bytes() == TRACKS


def test_nobody_listening_fails_after_the_retries(tmp_path):
    idle = FileServer()  # bind a port, then close it so nothing answers there
    url = idle.url
    idle.server_close()
    with pytest.raises(DownloadError, match="download incomplete after 2 attempts: the connection failed"):
        download_file(url + "unique_tracks.txt", tmp_path / "tracks.txt", retries=1, **FAST)


def test_a_corrupt_zip_is_reported(tmp_path, server):
    server.files["train_triplets.txt.zip"] = b"PK\x03\x04 this is not a zip"
    with pytest.raises(DownloadError, match=r"train_triplets\.txt\.zip: not a valid zip file"):
        download_msd(tmp_path, base_url=server.url, retries=0, **FAST)
    assert not (tmp_path / "train_triplets.txt").exists()


def test_the_cli_downloads_into_dest(tmp_path, server, capsys):
    config = write_config(tmp_path / "env")
    dest = tmp_path / "downloads"
    assert (
        cli_main(
            [
                "--config",
                str(config),
                "data",
                "download-msd",
                "--dest",
                str(dest),
                "--base-url",
                server.url,
                "--retries",
                "0",
                "--timeout",
                "5",
                "--no-progress",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert f"ready: {dest / 'train_triplets.txt'}" in out
    assert "data import-msd --triplets" in out
    assert (dest / "train_triplets.txt").read_bytes() == TRIPLETS
