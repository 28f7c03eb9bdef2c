"""URL normalisation shared by the crawler and the archive."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from urllib.parse import urlsplit

from w3lib.url import canonicalize_url as w3lib_canonicalize_url
from w3lib.url import url_query_cleaner

NOISE_PARAMETERS = ("replytocom", "fbclid", "gclid", "yclid", "_openstat", "from", "ref")


def _is_noise_parameter(name: str) -> bool:
    return name.startswith("utm_") or name in NOISE_PARAMETERS


@lru_cache(maxsize=65536)
def canonical_url(url: str) -> str:
    """The form of `url` that identifies one document: no tracking noise, no fragment.

    Cached: the pages of a site link to the same menu and listing URLs over and over."""
    query = urlsplit(url).query
    if query:
        names = {pair.split("=", 1)[0] for pair in query.split("&")}
        url = url_query_cleaner(url, [n for n in names if _is_noise_parameter(n)], remove=True)
    return w3lib_canonicalize_url(url)


def is_http_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def site_name_for(url: str) -> str:
    """A site name for a URL without a profile: its host, without `www.`."""
    parts = urlsplit(url)
    host = parts.netloc.lower()
    return host.removeprefix("www.")


def is_within_domains(url: str, domains: Iterable[str]) -> bool:
    """Whether the host of `url` is one of `domains` or a subdomain of one (ports ignored)."""
    host = (urlsplit(url).hostname or "").lower()
    return any(host == domain or host.endswith("." + domain) for domain in domains)


def url_key(url: str) -> str:
    """The identity of a document's URL: variants that serve the same page share one key.

    Scheme, `www.`, a trailing slash, an index file name, tracking parameters and the
    fragment make no difference.
    """
    parts = urlsplit(canonical_url(url))
    host = (parts.hostname or "").removeprefix("www.")
    if parts.port and parts.port not in (80, 443):
        host = f"{host}:{parts.port}"
    path = parts.path
    for index in ("index.html", "index.htm", "index.php"):
        path = path.removesuffix("/" + index)
    path = path.rstrip("/")
    return f"{host}{path}?{parts.query}" if parts.query else f"{host}{path}"
