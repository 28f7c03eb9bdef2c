"""URL normalisation shared by the crawler and the archive.

Every helper takes any string: a URL that cannot be parsed (a port that is no number or out
of range, a broken IPv6 literal, control characters or spaces in the host, more than
MAX_URL_CHARS characters) is no page URL, and never raises.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from urllib.parse import SplitResult, urljoin, urlsplit

from w3lib.url import canonicalize_url as w3lib_canonicalize_url
from w3lib.url import url_query_cleaner

NOISE_PARAMETERS = ("replytocom", "fbclid", "gclid", "yclid", "_openstat", "from", "ref")
MAX_URL_CHARS = 8192
BAD_HOST_CHARACTER = re.compile(r"[\x00-\x20\x7f<>\"{}|\\^`]")


def _is_noise_parameter(name: str) -> bool:
    return name.startswith("utm_") or name in NOISE_PARAMETERS


def split_url(url: str) -> SplitResult | None:
    """The parts of `url`, or None when it cannot be parsed."""
    if len(url) > MAX_URL_CHARS:
        return None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - urlsplit checks the port only when it is read
    except ValueError:
        return None
    if BAD_HOST_CHARACTER.search(parts.netloc):
        return None
    return parts


@lru_cache(maxsize=65536)
def _canonical(url: str) -> str | None:
    if split_url(url) is None:
        return None
    query = urlsplit(url).query
    try:
        if query:
            names = {pair.split("=", 1)[0] for pair in query.split("&")}
            noise = [n for n in names if _is_noise_parameter(n)]
            url = url_query_cleaner(url, noise, remove=True)
        canonical = w3lib_canonicalize_url(url)
    except ValueError:
        return None
    return canonical if split_url(canonical) is not None else None


def canonical_url(url: str) -> str:
    """The form of `url` that identifies one document: no tracking noise, no fragment.

    A URL that cannot be parsed comes back as it is (`is_http_url` says it is none).
    Cached: the pages of a site link to the same menu and listing URLs over and over."""
    return _canonical(url) or url


def linked_url(base: str, href: str) -> str | None:
    """The canonical URL a link `href` on the page at `base` leads to; None when the two
    make no URL that can be parsed."""
    try:
        joined = urljoin(base, href)
    except ValueError:
        return None
    return _canonical(joined)


def is_http_url(url: str) -> bool:
    parts = split_url(url)
    return parts is not None and parts.scheme in ("http", "https") and bool(parts.hostname)


def site_name_for(url: str) -> str:
    """A site name for a URL without a profile: its host, without `www.` (empty when the URL
    cannot be parsed)."""
    parts = split_url(url)
    host = parts.netloc.lower() if parts else ""
    return host.removeprefix("www.")


def is_within_domains(url: str, domains: Iterable[str]) -> bool:
    """Whether the host of `url` is one of `domains` or a subdomain of one (ports ignored)."""
    parts = split_url(url)
    host = (parts.hostname or "").lower() if parts else ""
    return bool(host) and any(host == domain or host.endswith("." + domain) for domain in domains)


def url_key(url: str) -> str:
    """The identity of a document's URL: variants that serve the same page share one key.

    Scheme, `www.`, a trailing slash, an index file name, tracking parameters and the
    fragment make no difference. A URL that cannot be parsed is its own key.
    """
    canonical = _canonical(url)
    parts = split_url(canonical) if canonical else None
    if parts is None:
        return url
    host = (parts.hostname or "").removeprefix("www.")
    if parts.port and parts.port not in (80, 443):
        host = f"{host}:{parts.port}"
    path = parts.path
    for index in ("index.html", "index.htm", "index.php"):
        path = path.removesuffix("/" + index)
    path = path.rstrip("/")
    return f"{host}{path}?{parts.query}" if parts.query else f"{host}{path}"
