"""Serving a folder of HTML pages on 127.0.0.1, for the demo and for local mirrors."""

from __future__ import annotations

import sys
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any


class RecordingHandler(SimpleHTTPRequestHandler):
    """Records the path of each request instead of printing a log line."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        self.server.requested_paths.append(self.path)

    def log_message(self, format: str, *args) -> None:
        """Keeps the console quiet: errors reach the client as HTTP status codes."""


class LocalHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server for which a client hanging up is no error worth a traceback."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class LocalSite:
    """A static site on a free port of 127.0.0.1, served from a thread while in a `with` block."""

    def __init__(self, root: Path, handler: type[SimpleHTTPRequestHandler] = RecordingHandler):
        self.server = LocalHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(root)))
        self.server.requested_paths = []
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def requested_paths(self) -> list[str]:
        return self.server.requested_paths

    def __enter__(self) -> LocalSite:
        self.thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()
