"""The request fingerprinter on url_key: Scrapy's duplicate filter drops variants of a URL."""

from __future__ import annotations

import pytest
from scrapy import Request
from scrapy.dupefilters import RFPDupeFilter
from scrapy.utils.test import get_crawler

from crawler.fingerprints import UrlKeyFingerprinter

PAGE = "https://invest.example/news/zavod/"
VARIANTS = [
    PAGE,
    "http://invest.example/news/zavod/",
    "https://www.invest.example/news/zavod/",
    "https://invest.example/news/zavod",
    "https://invest.example/news/zavod/index.html",
    "https://invest.example/news/zavod/?utm_source=telegram&utm_medium=social",
    "https://invest.example/news/zavod/#comments",
    "https://INVEST.example:443/news/zavod/",
]
OTHER_PAGES = [
    "https://invest.example/news/zavod-2/",
    "https://invest.example/news/?PAGEN_1=2",
    "https://invest.example/news/?PAGEN_1=3",
    "https://other.example/news/zavod/",
    "https://invest.example:8443/news/zavod/",
]
SETTINGS = {"REQUEST_FINGERPRINTER_CLASS": "crawler.fingerprints.UrlKeyFingerprinter"}


@pytest.fixture
def fingerprinter() -> UrlKeyFingerprinter:
    return UrlKeyFingerprinter()


def test_variants_of_a_page_url_share_one_fingerprint(fingerprinter) -> None:
    assert len({fingerprinter.fingerprint(Request(url)) for url in VARIANTS}) == 1


def test_different_pages_have_different_fingerprints(fingerprinter) -> None:
    urls = [PAGE, *OTHER_PAGES]
    assert len({fingerprinter.fingerprint(Request(url)) for url in urls}) == len(urls)


def test_method_and_body_count(fingerprinter) -> None:
    get = fingerprinter.fingerprint(Request(PAGE))
    post_a = fingerprinter.fingerprint(Request(PAGE, method="POST", body=b"q=a"))
    post_b = fingerprinter.fingerprint(Request(PAGE, method="POST", body=b"q=b"))
    again = fingerprinter.fingerprint(Request(VARIANTS[1], method="POST", body=b"q=a"))
    assert len({get, post_a, post_b}) == 3
    assert again == post_a


def test_a_fingerprint_is_cached_per_request(fingerprinter) -> None:
    request = Request(PAGE)
    first = fingerprinter.fingerprint(request)
    assert fingerprinter.fingerprint(request) is first
    assert request in fingerprinter._cache
    del request
    assert len(fingerprinter._cache) == 0


def test_scrapy_uses_it_and_its_duplicate_filter_drops_the_variants() -> None:
    crawler = get_crawler(settings_dict=SETTINGS)
    assert isinstance(crawler.request_fingerprinter, UrlKeyFingerprinter)
    dupefilter = RFPDupeFilter.from_crawler(crawler)
    seen = [dupefilter.request_seen(Request(url)) for url in [*VARIANTS, *OTHER_PAGES]]
    assert seen == [False] + [True] * (len(VARIANTS) - 1) + [False] * len(OTHER_PAGES)
