"""Test helpers for pipeline tests: a loopback HTTP server and tiny generated JPEGs.

Kept out of conftest.py so test modules can import them by a unique module name.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from PIL import Image


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    chunked: bool = False  # send the body chunked, without a Content-Length
    drip: float = 0.0  # chunked: wait this long before each 1 KB part (a slow-drip server)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else each response stalls ~40 ms on delayed ACKs
    server: LoopbackServer

    def log_message(self, *args: object) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:
        self.server.hits.append(self.path)
        route = self.server.routes.get(self.path) or Route(b"not found", status=404)
        delay = route.delay or self.server.delay
        if delay:
            time.sleep(delay)
        try:
            self.send_response(route.status)
            for key, value in route.headers.items():
                self.send_header(key, value)
            if route.chunked:
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                step = 1024 if route.drip else 65536
                for i in range(0, len(route.body), step):
                    part = route.body[i : i + step]
                    time.sleep(route.drip)
                    self.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
                self.wfile.write(b"0\r\n\r\n")
            else:
                self.send_header("Content-Length", str(len(route.body)))
                self.end_headers()
                self.wfile.write(route.body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout tests)


class LoopbackServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.routes: dict[str, Route] = {}
        self.hits: list[str] = []
        self.delay = 0.0  # applied to every response (ingest resumability test)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    @property
    def allow(self) -> str:
        """The fetch allow-list entry for this server (a bare host would allow 80/443 only)."""
        return f"127.0.0.1:{self.server_address[1]}"


def jpeg_bytes(colour: tuple[int, int, int], size: tuple[int, int] = (48, 64)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def png_bytes(colour: tuple[int, int, int], size: tuple[int, int] = (16, 16)) -> bytes:
    """Lossless, so distinct colours always give distinct bytes (and hashes)."""
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format="PNG")
    return buf.getvalue()
