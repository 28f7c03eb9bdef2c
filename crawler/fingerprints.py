"""Request fingerprints by the document a URL names, for Scrapy's duplicate filter."""

from __future__ import annotations

import hashlib
from weakref import WeakKeyDictionary

from scrapy import Request
from scrapy.crawler import Crawler

from pipelines.urls import url_key


class UrlKeyFingerprinter:
    """A REQUEST_FINGERPRINTER_CLASS that fingerprints a request by `url_key` of its URL,
    its method and its body: the variants of one page's URL (scheme, `www.`, a trailing
    slash, an index file, tracking parameters) share a fingerprint, so the duplicate filter
    lets only the first through. Cached per request, like Scrapy's default fingerprinter."""

    def __init__(self) -> None:
        self._cache: WeakKeyDictionary[Request, bytes] = WeakKeyDictionary()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> UrlKeyFingerprinter:
        return cls()

    def fingerprint(self, request: Request) -> bytes:
        fingerprint = self._cache.get(request)
        if fingerprint is None:
            digest = hashlib.sha1(usedforsecurity=False)
            for part in (request.method.encode(), url_key(request.url).encode(), request.body):
                digest.update(len(part).to_bytes(8, "big"))
                digest.update(part)
            fingerprint = self._cache[request] = digest.digest()
        return fingerprint
