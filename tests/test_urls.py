"""URL helpers take any string: unparseable URLs are no page URLs and never raise."""

import pytest

from pipelines.urls import (
    MAX_URL_CHARS,
    canonical_url,
    is_http_url,
    is_within_domains,
    linked_url,
    site_name_for,
    url_key,
)

MALFORMED = [
    "http://host:abc/",
    "http://host:99999999/x",
    "http://[::1/",
    "http://[zz]/",
    "http://exa\u2100mple.com/",
    "http://ho\x00st/page",
    "http://ho st/page",
    "http://example.com/" + "x" * MAX_URL_CHARS,
]


@pytest.mark.parametrize("url", MALFORMED)
def test_malformed_urls_are_no_page_urls(url):
    assert not is_http_url(url)
    assert not is_within_domains(url, ["host", "example.com", "exa\u2100mple.com"])
    assert canonical_url(url) == url
    assert url_key(url) == url
    assert site_name_for(url) == ""


@pytest.mark.parametrize("href", MALFORMED)
def test_links_to_malformed_urls_lead_nowhere(href):
    assert linked_url("http://example.com/news/", href) is None


def test_links_resolve_to_canonical_urls():
    base = "http://example.com/news/"
    assert linked_url(base, "2026/zavod/?utm_source=x#top") == "http://example.com/news/2026/zavod/"
    assert (
        linked_url(base, "/новости/")
        == "http://example.com/%D0%BD%D0%BE%D0%B2%D0%BE%D1%81%D1%82%D0%B8/"
    )
    assert linked_url("http://[::1/", "page") is None


def test_well_formed_urls_keep_their_identity():
    url = "https://www.example.com:8080/news/index.html?utm_medium=a&id=7#x"
    assert is_http_url(url)
    assert is_within_domains(url, ["example.com"])
    assert site_name_for(url) == "example.com:8080"
    assert canonical_url(url) == "https://www.example.com:8080/news/index.html?id=7"
    assert url_key(url) == "example.com:8080/news?id=7"
    assert url_key("http://example.com:443/news/") == url_key("https://example.com/news")


def test_non_http_urls_are_no_page_urls():
    assert not is_http_url("mailto:press@example.com")
    assert not is_http_url("ftp://example.com/file")
    assert not is_http_url("http:///path-only")
