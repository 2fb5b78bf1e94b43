"""Shared pytest fixtures.

``realdata`` tests read the real annotation files in ``../shared/realdata``
(or ``$DIAR_REALDATA``); they are skipped when that folder is absent, so the
default suite passes on a fresh clone.
"""

import os
import subprocess
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
REALDATA = Path(os.environ.get("DIAR_REALDATA", REPO.parent / "shared" / "realdata"))


@pytest.fixture(scope="session")
def realdata() -> Path:
    if not REALDATA.is_dir():
        pytest.skip(f"real annotations not found at {REALDATA}")
    return REALDATA


class _RangeHandler:
    """Factory for a handler serving files under a directory, honouring ``Range`` (206)."""

    @staticmethod
    def make(root: Path, log: list, auth=None):
        import base64
        from http.server import BaseHTTPRequestHandler

        expected = None if auth is None else "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                log.append((self.path, self.headers.get("Range")))
                if expected is not None and self.headers.get("Authorization") != expected:
                    self.send_response(401)  # as the VGG server answers without (valid) credentials
                    self.send_header("WWW-Authenticate", 'Basic realm="data"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                path = (root / self.path.lstrip("/").split("?")[0]).resolve()
                if root.resolve() not in path.parents or not path.is_file():
                    self.send_error(404)
                    return
                data = path.read_bytes()
                start = 0
                rng = self.headers.get("Range")
                if rng:
                    start = int(rng.split("=")[1].split("-")[0])
                    if start >= len(data):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(data)}")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(data) - start))
                self.end_headers()
                self.wfile.write(data[start:])

        return Handler


@pytest.fixture
def http_server():
    """``serve(directory) -> (base_url, request_log)``: a local HTTP server with Range support.

    Every file under ``directory`` is served at ``base_url/<relative path>``;
    ``request_log`` collects ``(path, Range header)`` per request; ``serve(directory,
    auth=(user, password))`` answers 401 to requests without that Basic authentication. Tests never
    touch the network: corpus download code is pointed at this URL instead.
    """
    import threading
    from http.server import ThreadingHTTPServer

    servers = []

    def serve(directory, auth=None):
        log = []
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), _RangeHandler.make(Path(directory), log, auth))
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        servers.append(httpd)
        return f"http://127.0.0.1:{httpd.server_address[1]}", log

    yield serve
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def mount_point(tmp_path):
    """``mount(options)``: a tmpfs at a fresh directory (needs privileges; skips otherwise)."""
    mounted = []

    def mount(options):
        target = tmp_path / f"mnt-{uuid.uuid4().hex[:6]}"
        target.mkdir()
        res = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(target)], capture_output=True)
        if res.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {res.stderr.decode().strip()}")
        mounted.append(target)
        return target

    yield mount
    for target in mounted:
        subprocess.run(["umount", str(target)], capture_output=True)
