"""Downloads against a local HTTP server: resume, checksums, no partial file that looks complete."""

import hashlib
import io
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from recipes.download import DownloadError, download_file, extract_archive, link_or_copy_tree

PAYLOAD = bytes(range(256)) * 4000  # ~1 MB


class Server:
    """Serves PAYLOAD at /file; options: honour Range or not, cut the first reply short."""

    def __init__(self, ranges=True, cut_first_after=None):
        self.ranges, self.cut_first_after = ranges, cut_first_after
        self.requests = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                rng = self.headers.get("Range")
                outer.requests.append(rng)
                if self.path == "/missing":
                    self.send_error(404)
                    return
                start = 0
                if rng and outer.ranges:
                    start = int(rng.split("=")[1].split("-")[0])
                    if start >= len(PAYLOAD):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(PAYLOAD)}")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(PAYLOAD) - 1}/{len(PAYLOAD)}")
                else:
                    self.send_response(200)
                body = PAYLOAD[start:]
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if outer.cut_first_after is not None and len(outer.requests) == 1:
                    self.wfile.write(body[: outer.cut_first_after])
                    self.wfile.flush()
                    self.connection.shutdown(2)  # drop the connection mid-transfer
                    return
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server_factory():
    servers = []

    def make(**kw):
        servers.append(Server(**kw))
        return servers[-1]

    yield make
    for s in servers:
        s.close()


SHA = hashlib.sha256(PAYLOAD).hexdigest()


def test_download_verifies_and_renames(tmp_path, server_factory):
    srv = server_factory()
    out = download_file(f"{srv.url}/file", tmp_path / "a.bin", sha256=SHA, progress=False)
    assert out.read_bytes() == PAYLOAD and not (tmp_path / "a.bin.part").exists()
    # existing verified file is kept, no new request
    download_file(f"{srv.url}/file", tmp_path / "a.bin", sha256=SHA, progress=False)
    assert len(srv.requests) == 1


def test_interrupted_transfer_resumes_with_range(tmp_path, server_factory):
    srv = server_factory(cut_first_after=300_000)
    out = download_file(f"{srv.url}/file", tmp_path / "a.bin", sha256=SHA, progress=False)
    assert out.read_bytes() == PAYLOAD
    assert srv.requests[0] is None and srv.requests[1] == "bytes=300000-"


def test_partial_file_from_a_killed_run_is_resumed_not_trusted(tmp_path, server_factory):
    srv = server_factory()
    (tmp_path / "a.bin.part").write_bytes(PAYLOAD[:12345])
    assert not (tmp_path / "a.bin").exists()  # a partial file never has the final name
    download_file(f"{srv.url}/file", tmp_path / "a.bin", sha256=SHA, progress=False)
    assert (tmp_path / "a.bin").read_bytes() == PAYLOAD and srv.requests == ["bytes=12345-"]


def test_server_without_range_support_restarts_instead_of_appending(tmp_path, server_factory):
    # lhotse.utils.resumable_download appends the whole 200 body after the partial bytes here
    srv = server_factory(ranges=False)
    (tmp_path / "a.bin.part").write_bytes(b"garbage" * 100)
    download_file(f"{srv.url}/file", tmp_path / "a.bin", sha256=SHA, progress=False)
    assert (tmp_path / "a.bin").read_bytes() == PAYLOAD


def test_complete_part_gets_416_and_is_finalised(tmp_path, server_factory):
    srv = server_factory()
    (tmp_path / "a.bin.part").write_bytes(PAYLOAD)
    download_file(f"{srv.url}/file", tmp_path / "a.bin", sha256=SHA, progress=False)
    assert (tmp_path / "a.bin").read_bytes() == PAYLOAD


def test_checksum_mismatch_removes_the_part_and_raises(tmp_path, server_factory):
    srv = server_factory()
    with pytest.raises(DownloadError, match="sha256 mismatch"):
        download_file(f"{srv.url}/file", tmp_path / "a.bin", sha256="0" * 64, progress=False)
    assert not (tmp_path / "a.bin").exists() and not (tmp_path / "a.bin.part").exists()


def test_http_404_is_a_clear_error(tmp_path, server_factory):
    srv = server_factory()
    with pytest.raises(DownloadError, match="HTTP 404"):
        download_file(f"{srv.url}/missing", tmp_path / "m.bin", progress=False, retries=1)


def test_file_url_and_safe_extraction(tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("corpus/a.txt")
        info.size = 5
        tar.addfile(info, io.BytesIO(b"hello"))
    (tmp_path / "src.tar.gz").write_bytes(buf.getvalue())
    out = download_file((tmp_path / "src.tar.gz").as_uri(), tmp_path / "dl" / "c.tar.gz", progress=False)
    extract_archive(out, tmp_path / "x")
    assert (tmp_path / "x" / "corpus" / "a.txt").read_text() == "hello"
    assert (tmp_path / "x" / ".c.tar.gz.extracted").exists()

    evil = io.BytesIO()
    with tarfile.open(fileobj=evil, mode="w:gz") as tar:
        info = tarfile.TarInfo("../escape.txt")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    (tmp_path / "evil.tar.gz").write_bytes(evil.getvalue())
    with pytest.raises(DownloadError, match="outside"):
        extract_archive(tmp_path / "evil.tar.gz", tmp_path / "y")
    assert not (tmp_path / "escape.txt").exists()


def test_link_existing_copy(tmp_path):
    (tmp_path / "real").mkdir()
    link = link_or_copy_tree(tmp_path / "real", tmp_path / "download" / "corpus")
    assert link.is_symlink() and link.resolve() == (tmp_path / "real").resolve()
    assert link_or_copy_tree(tmp_path / "real", tmp_path / "download" / "corpus") == link  # idempotent
    with pytest.raises(FileNotFoundError):
        link_or_copy_tree(tmp_path / "nope", tmp_path / "other")
