"""A fixture web server for crawler tests: a static portal with the routing traps of real ones.

A site directory holds the pages as files (stored in the encoding they are served in) and a
`site.toml` with the routing rules; README.md in this directory describes its format.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import http.client
import threading
import time
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import format_datetime, parsedate_to_datetime
from fnmatch import fnmatchcase
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from archive.localsite import LocalHTTPServer

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".xml": "application/xml; charset=utf-8",
    ".rss": "application/rss+xml; charset=utf-8",
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
    ".pdf": "application/pdf",
    ".jpg": "image/jpeg",
}
INDEX_FILES = ("index.html", "index.rss", "index.xml")


def _utc(value: dt.datetime | dt.date) -> dt.datetime:
    """A TOML date or datetime as an aware UTC datetime (naive values are taken as UTC)."""
    if not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time())
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


@dataclass(frozen=True)
class RequestRecord:
    """One request as the server saw it, with the status it answered."""

    method: str
    path: str
    headers: Mapping[str, str]
    status: int

    def header(self, name: str) -> str | None:
        """A request header by case-insensitive name."""
        return self.headers.get(name.lower())

    @property
    def user_agent(self) -> str | None:
        return self.header("User-Agent")

    @property
    def if_none_match(self) -> str | None:
        return self.header("If-None-Match")

    @property
    def if_modified_since(self) -> str | None:
        return self.header("If-Modified-Since")


@dataclass(frozen=True)
class Fetched:
    """A response as a client received it (see `FixtureServer.fetch`)."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        """A response header by case-insensitive name."""
        return self.headers.get(name.lower())


@dataclass(frozen=True)
class Rule:
    """Settings for the URL paths that `match` (an exact path or an fnmatch glob)."""

    match: str
    headers: Mapping[str, str] = field(default_factory=dict)
    status: int | None = None
    body: str | None = None
    fail_first: int = 0
    fail_status: int = 500
    delay: float = 0.0
    last_modified: dt.datetime | None = None

    @classmethod
    def from_toml(cls, table: dict[str, Any]) -> Rule:
        last_modified = table.get("last_modified")
        return cls(
            match=table["match"],
            headers=dict(table.get("headers", {})),
            status=table.get("status"),
            body=table.get("body"),
            fail_first=table.get("fail_first", 0),
            fail_status=table.get("fail_status", 500),
            delay=float(table.get("delay", 0.0)),
            last_modified=_utc(last_modified) if last_modified else None,
        )

    def matches(self, path: str) -> bool:
        return path == self.match or fnmatchcase(path, self.match)


@dataclass(frozen=True)
class Settings:
    """The merged effect of every rule matching one path; later rules win."""

    headers: dict[str, str] = field(default_factory=dict)
    status: int | None = None
    body: str | None = None
    fail_first: int = 0
    fail_status: int = 500
    delay: float = 0.0
    last_modified: dt.datetime | None = None

    @classmethod
    def merge(cls, rules: list[Rule]) -> Settings:
        settings = cls()
        for rule in rules:
            settings = cls(
                headers={**settings.headers, **rule.headers},
                status=rule.status or settings.status,
                body=rule.body or settings.body,
                fail_first=rule.fail_first or settings.fail_first,
                fail_status=rule.fail_status if rule.fail_first else settings.fail_status,
                delay=rule.delay or settings.delay,
                last_modified=rule.last_modified or settings.last_modified,
            )
        return settings


@dataclass(frozen=True)
class Pagination:
    """Bitrix-style `?PAGEN_1=N`: page N of `pages`; past the end, the last page again."""

    path: str
    param: str
    pages: tuple[str, ...]

    def page_file(self, value: str) -> str:
        number = int(value) if value.isdigit() else 1
        return self.pages[min(max(number, 1), len(self.pages)) - 1]


@dataclass(frozen=True)
class QueryPages:
    """`path?param=value` served from the file mapped to `value` (404 for other values)."""

    path: str
    param: str
    files: Mapping[str, str]


@dataclass(frozen=True)
class Shortlinks:
    """WordPress-style `/?p=ID`: a redirect to the post with that ID (404 for other IDs)."""

    path: str
    param: str
    status: int
    targets: Mapping[str, str]


@dataclass(frozen=True)
class SiteConfig:
    """The routing rules of a site directory, read from its `site.toml`."""

    origin: str | None = None
    rules: tuple[Rule, ...] = ()
    redirects: Mapping[str, tuple[int, str]] = field(default_factory=dict)
    pagination: tuple[Pagination, ...] = ()
    query_pages: tuple[QueryPages, ...] = ()
    shortlinks: Shortlinks | None = None

    @classmethod
    def load(cls, site_dir: Path) -> SiteConfig:
        config_file = site_dir / "site.toml"
        if not config_file.exists():
            return cls()
        data = tomllib.loads(config_file.read_text(encoding="utf-8"))
        shortlinks = data.get("shortlinks")
        return cls(
            origin=data.get("origin"),
            rules=tuple(Rule.from_toml(table) for table in data.get("rules", [])),
            redirects={
                r["from"]: (r.get("status", 301), r["to"]) for r in data.get("redirects", [])
            },
            pagination=tuple(
                Pagination(p["path"], p.get("param", "PAGEN_1"), tuple(p["pages"]))
                for p in data.get("pagination", [])
            ),
            query_pages=tuple(
                QueryPages(q["path"], q["param"], dict(q["files"]))
                for q in data.get("query_pages", [])
            ),
            shortlinks=Shortlinks(
                shortlinks.get("path", "/"),
                shortlinks.get("param", "p"),
                shortlinks.get("status", 301),
                dict(shortlinks["targets"]),
            )
            if shortlinks
            else None,
        )

    def settings_for(self, path: str) -> Settings:
        return Settings.merge([rule for rule in self.rules if rule.matches(path)])


@dataclass(frozen=True)
class Reply:
    """What the server answers to one request."""

    status: int
    headers: dict[str, str]
    body: bytes = b""
    delay: float = 0.0


@dataclass(frozen=True)
class _Version:
    """The current content of one file of the site, and when it last changed."""

    data: bytes
    modified: dt.datetime


class _Missing(Exception):
    """The URL names no file of the site."""


class _Redirect(Exception):
    """The URL names a directory without its trailing slash."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


def _error_page(status: int) -> bytes:
    title = f"{status} {HTTPStatus(status).phrase}"
    page = f"<!DOCTYPE html>\n<html><head><title>{title}</title></head><body><h1>{title}</h1>"
    return (page + "</body></html>\n").encode()


def _relative(path: str) -> str | None:
    """The site-relative file name of a URL path, or None if it would leave the site."""
    parts = PurePosixPath(path.lstrip("/")).parts
    return None if ".." in parts else "/".join(parts)


def _etag_matches(header: str, etag: str) -> bool:
    tags = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return "*" in tags or etag in tags


def _not_modified_since(header: str, modified: dt.datetime) -> bool:
    try:
        since = parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return False
    return since.tzinfo is not None and modified <= since


class FixtureServer:
    """A site directory served on a free port of 127.0.0.1 while in a `with` block."""

    def __init__(self, site_dir: Path) -> None:
        self.site_dir = site_dir.resolve()
        self.config = SiteConfig.load(self.site_dir)
        self._lock = threading.Lock()
        self._requests: list[RequestRecord] = []
        self._hits: dict[str, int] = {}
        self._overlay: dict[str, _Version] = {}
        self._http = _HTTPServer(self)
        self._thread = threading.Thread(
            target=self._http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._http.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        """The absolute URL of a root-relative path."""
        return self.base_url + path

    def fetch(self, target: str, headers: Mapping[str, str] | None = None) -> Fetched:
        """GET `target` (a root-relative URL) over HTTP, without following redirects."""
        host, port = self._http.server_address[:2]
        connection = http.client.HTTPConnection(host, port, timeout=30)
        try:
            connection.request("GET", target, headers=dict(headers or {}))
            response = connection.getresponse()
            body = response.read()
        finally:
            connection.close()
        received = {name.lower(): value for name, value in response.getheaders()}
        return Fetched(response.status, received, body)

    @property
    def requests(self) -> list[RequestRecord]:
        """A snapshot of the requests answered so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def reset_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def mutate(self, target: str, data: bytes) -> None:
        """Replace the content served at URL `target`, in memory; ETag and Last-Modified change.

        Raises FileNotFoundError if `target` serves no file.
        """
        settings = self.config.settings_for(unquote(urlsplit(target).path))
        with self._lock:
            try:
                key = self._file_for(target)
            except (_Missing, _Redirect):
                raise FileNotFoundError(target) from None
            previous = self._version(key, settings).modified
            now = dt.datetime.now(dt.UTC).replace(microsecond=0)
            self._overlay[key] = _Version(data, max(now, previous + dt.timedelta(seconds=1)))

    def add(self, path: str, data: bytes) -> None:
        """Serve a new file at URL `path` (one ending in `/` gets an index.html), in memory.

        Raises FileExistsError if a file is already there.
        """
        key = _relative(path + ("index.html" if path.endswith("/") else ""))
        if not key:
            raise ValueError(f"not a file path inside the site: {path!r}")
        with self._lock:
            if self._exists(key):
                raise FileExistsError(path)
            self._overlay[key] = _Version(data, dt.datetime.now(dt.UTC).replace(microsecond=0))

    def respond(self, target: str, headers: Mapping[str, str]) -> Reply:
        """The reply to a request for `target` (a path with an optional query)."""
        parts = urlsplit(target)
        path = unquote(parts.path) or "/"
        settings = self.config.settings_for(path)
        extra = dict(settings.headers)
        with self._lock:
            self._hits[path] = hits = self._hits.get(path, 0) + 1
        if hits <= settings.fail_first:
            return self._error(settings.fail_status, extra, settings)
        if settings.status:
            return self._error(settings.status, extra, settings)
        if path in self.config.redirects:
            status, location = self.config.redirects[path]
            return Reply(status, {**extra, "Location": location}, delay=settings.delay)
        query = parse_qs(parts.query, keep_blank_values=True)
        links = self.config.shortlinks
        if links and path == links.path and links.param in query:
            location = links.targets.get(query[links.param][0])
            if location is None:
                return self._error(404, extra, settings)
            return Reply(links.status, {**extra, "Location": location}, delay=settings.delay)
        with self._lock:
            try:
                key = self._file_for(target)
            except _Redirect as redirect:
                return Reply(301, {**extra, "Location": redirect.location}, delay=settings.delay)
            except _Missing:
                return self._error(404, extra, settings)
            version = self._version(key, settings)
        return self._file_reply(key, version, headers, extra, settings.delay)

    def _file_reply(
        self,
        key: str,
        version: _Version,
        request_headers: Mapping[str, str],
        extra: dict[str, str],
        delay: float,
    ) -> Reply:
        data = self._localize(version.data)
        etag = '"' + hashlib.sha1(data).hexdigest()[:20] + '"'
        validators = {"ETag": etag, "Last-Modified": format_datetime(version.modified, usegmt=True)}
        if_none_match = request_headers.get("If-None-Match")
        if_modified_since = request_headers.get("If-Modified-Since")
        if (if_none_match is not None and _etag_matches(if_none_match, etag)) or (
            if_none_match is None
            and if_modified_since is not None
            and _not_modified_since(if_modified_since, version.modified)
        ):
            extra.pop("Content-Type", None)
            return Reply(304, {**extra, **validators}, delay=delay)
        content_type = CONTENT_TYPES.get(PurePosixPath(key).suffix, "application/octet-stream")
        headers = {"Content-Type": content_type, **extra, **validators}
        return Reply(200, headers, data, delay)

    def _error(self, status: int, extra: dict[str, str], settings: Settings) -> Reply:
        body = (
            self._localize((self.site_dir / settings.body).read_bytes()) if settings.body else None
        )
        headers = {"Content-Type": "text/html; charset=utf-8", **extra}
        return Reply(status, headers, body or _error_page(status), settings.delay)

    def _localize(self, data: bytes) -> bytes:
        """Absolute URLs on the site's configured origin, pointed at this server instead."""
        if not self.config.origin:
            return data
        return data.replace(self.config.origin.encode(), self.base_url.encode())

    def _exists(self, key: str) -> bool:
        return key in self._overlay or (self.site_dir / key).is_file()

    def _file_for(self, target: str) -> str:
        """The file a URL is served from; the caller holds the lock."""
        parts = urlsplit(target)
        path = unquote(parts.path) or "/"
        query = parse_qs(parts.query, keep_blank_values=True)
        for pages in self.config.pagination:
            if path == pages.path and pages.param in query:
                return pages.page_file(query[pages.param][0])
        for mapping in self.config.query_pages:
            if path == mapping.path and mapping.param in query:
                if query[mapping.param][0] not in mapping.files:
                    raise _Missing(target)
                return mapping.files[query[mapping.param][0]]
        relative = _relative(path)
        if relative is None:
            raise _Missing(target)
        if path.endswith("/"):
            for index in INDEX_FILES:
                key = f"{relative}/{index}".lstrip("/")
                if self._exists(key):
                    return key
            raise _Missing(target)
        if self._exists(relative):
            return relative
        if any(self._exists(f"{relative}/{index}") for index in INDEX_FILES):
            raise _Redirect(parts.path + "/" + (f"?{parts.query}" if parts.query else ""))
        raise _Missing(target)

    def _version(self, key: str, settings: Settings) -> _Version:
        """The current content of a file; the caller holds the lock."""
        if key in self._overlay:
            return self._overlay[key]
        file = self.site_dir / key
        modified = settings.last_modified or dt.datetime.fromtimestamp(
            int(file.stat().st_mtime), dt.UTC
        )
        return _Version(file.read_bytes(), modified)

    def record(self, record: RequestRecord) -> None:
        """Log one answered request (called by the request handler)."""
        with self._lock:
            self._requests.append(record)

    def __enter__(self) -> FixtureServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._http.shutdown()
        self._http.server_close()
        self._thread.join()


class _HTTPServer(LocalHTTPServer):
    request_queue_size = 64  # the default 5 drops connections under concurrent crawling
    block_on_close = False  # idle keep-alive connections must not delay the shutdown

    def __init__(self, fixture: FixtureServer) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fixture = fixture


class _Handler(BaseHTTPRequestHandler):
    """Answers GET and HEAD from the fixture's `respond`, and records every response."""

    server: _HTTPServer
    protocol_version = "HTTP/1.1"
    timeout = 10
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self._answer(with_body=True)

    def do_HEAD(self) -> None:
        self._answer(with_body=False)

    def _answer(self, with_body: bool) -> None:
        reply = self.server.fixture.respond(self.path, self.headers)
        if reply.delay:
            time.sleep(reply.delay)
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if reply.status != HTTPStatus.NOT_MODIFIED:
            self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if with_body and reply.status != HTTPStatus.NOT_MODIFIED:
            self.wfile.write(reply.body)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        headers = getattr(self, "headers", None) or {}
        self.server.fixture.record(
            RequestRecord(
                method=self.command or "",
                path=getattr(self, "path", ""),
                headers={name.lower(): value for name, value in headers.items()},
                status=int(code),
            )
        )

    def log_message(self, format: str, *args: Any) -> None:
        """Keeps the console quiet: the requests are in `FixtureServer.requests`."""
