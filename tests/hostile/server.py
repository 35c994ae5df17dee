"""A loopback HTTP server for hostile-fetch tests: redirects, slow drips, endless bodies,
lying headers, connections that never answer."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    mode: str = "plain"  # plain | drip (1 byte every `pause` s, forever) | endless | silent
    pause: float = 0.2


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: HostileServer

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.server.hits.append(self.path)
        reply = self.server.routes.get(self.path) or Reply(b"not found", status=404)
        closing = self.server.closing
        try:
            if reply.mode == "silent":  # accept, then never say anything
                closing.wait(30)
                return
            self.send_response(reply.status)
            for key, value in reply.headers.items():
                self.send_header(key, value)
            if reply.mode in ("drip", "endless"):
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                part = b"x" if reply.mode == "drip" else b"\x00" * 65536
                until = time.monotonic() + 30
                while not closing.is_set() and time.monotonic() < until:
                    self.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
                    if reply.mode == "drip":
                        closing.wait(reply.pause)
                return
            self.send_header(
                "Content-Length", reply.headers.get("Content-Length", str(len(reply.body)))
            )
            self.end_headers()
            self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up: what the tests want


class HostileServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.routes: dict[str, Reply] = {}
        self.hits: list[str] = []
        self.closing = threading.Event()

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"
