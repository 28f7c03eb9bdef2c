"""Feeds (RSS 0.9x, 1.0 and 2.0, Atom, JSON Feed), gzip sitemaps and the bounds on both."""

from __future__ import annotations

import datetime as dt
import gzip
import time
import zlib
from pathlib import Path

import lxml.html
import pytest

from crawler.discovery import (
    MAX_FEED_TAGS,
    FeedEntry,
    feed_entries,
    is_feed,
    sitemap_content,
)
from pipelines.links import page_links

SITES = Path(__file__).parent / "sites"
FEED_URL = "https://invest.example/news/feed/"
NOV_23 = dt.datetime(2026, 11, 23, 6, 40, tzinfo=dt.UTC)

RSS_20 = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>News</title><link>https://invest.example/</link>
<item><title>A</title><link>https://invest.example/news/a/?utm_source=rss</link>
<pubDate>Mon, 23 Nov 2026 09:40:00 +0300</pubDate></item>
<item><title>B</title><link>/news/b/</link></item>
<item><title>C</title><guid>https://invest.example/news/c/</guid></item>
<item><title>D</title><link>javascript:void(0)</link></item>
<item><title>E</title><link>mailto:press@invest.example</link></item>
</channel></rss>"""

RSS_10 = b"""<?xml version="1.0" encoding="utf-8"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
         xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel rdf:about="https://invest.example/"><title>News</title>
<link>https://invest.example/</link>
<items><rdf:Seq><rdf:li rdf:resource="https://invest.example/news/a/"/></rdf:Seq></items>
</channel>
<item rdf:about="https://invest.example/news/a/"><title>A</title>
<link>https://invest.example/news/a/</link><dc:date>2026-11-23T09:40:00+03:00</dc:date></item>
<item rdf:about="https://invest.example/news/b/"><title>B</title><dc:date>2026-11-23</dc:date>
</item>
</rdf:RDF>"""

RSS_091 = b"""<?xml version="1.0" encoding="ISO-8859-1"?>
<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN"
 "http://my.netscape.com/publish/formats/rss-0.91.dtd">
<rss version="0.91"><channel><title>News</title><link>https://invest.example/</link>
<item><title>A</title><link>https://invest.example/news/a/</link></item>
</channel></rss>"""

RSS_090 = b"""<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
         xmlns="http://my.netscape.com/rdf/simple/0.9/">
<channel><title>News</title><link>https://invest.example/</link></channel>
<item><title>A</title><link>https://invest.example/news/a/</link></item>
</rdf:RDF>"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<!-- generated -->
<feed xmlns="http://www.w3.org/2005/Atom">
<title>News</title><id>urn:uuid:60a76c80-d399-11d9-b93C-0003939e0af6</id>
<entry><id>tag:invest.example,2026:a</id><link rel="enclosure" href="/a.mp3"/>
<link href="https://invest.example/news/a/"/><published>2026-11-23T06:40:00Z</published>
<updated>2026-11-24T06:40:00Z</updated></entry>
<entry><id>tag:invest.example,2026:b</id>
<link rel="alternate" type="text/html" href="/news/b/"/>
<updated>2026-11-23T09:40:00+03:00</updated></entry>
<entry><id>tag:invest.example,2026:c</id></entry>
</feed>"""

JSON_FEED = b"""{"version": "https://jsonfeed.org/version/1.1", "title": "News",
"items": [
 {"id": "1", "url": "https://invest.example/news/a/",
  "date_published": "2026-11-23T09:40:00+03:00"},
 {"id": "2", "external_url": "/news/b/", "date_modified": "2026-11-23T06:40:00"},
 {"id": "3", "url": "ftp://invest.example/c", "date_published": "no date"},
 "junk", {"id": "4", "url": 42}
]}"""


def test_rss_20_entries_are_resolved_http_links_with_aware_dates() -> None:
    assert feed_entries(RSS_20, FEED_URL) == [
        FeedEntry("https://invest.example/news/a/", NOV_23),
        FeedEntry("https://invest.example/news/b/"),
        FeedEntry("https://invest.example/news/c/"),
    ]
    assert feed_entries(RSS_20, FEED_URL)[0].published.utcoffset() == dt.timedelta(0)


def test_rss_10_rdf_entries_are_read_with_their_dc_dates() -> None:
    assert feed_entries(RSS_10, FEED_URL) == [
        FeedEntry("https://invest.example/news/a/", NOV_23),
        # No <link>: its rdf:about names it.
        FeedEntry("https://invest.example/news/b/", dt.datetime(2026, 11, 23, tzinfo=dt.UTC)),
    ]


@pytest.mark.parametrize("body", [RSS_091, RSS_090], ids=["rss-0.91", "rss-0.90"])
def test_rss_09x_entries_are_read(body: bytes) -> None:
    assert feed_entries(body, FEED_URL) == [FeedEntry("https://invest.example/news/a/")]


def test_atom_entries_are_their_alternate_links_published_or_else_updated() -> None:
    assert feed_entries(ATOM, FEED_URL) == [
        FeedEntry("https://invest.example/news/a/", NOV_23),
        FeedEntry("https://invest.example/news/b/", NOV_23),
    ]


def test_json_feed_entries_are_read() -> None:
    assert feed_entries(JSON_FEED, FEED_URL) == [
        FeedEntry("https://invest.example/news/a/", NOV_23),
        FeedEntry("https://invest.example/news/b/", NOV_23),
    ]


def test_a_windows_1251_feed_of_a_fixture_portal_is_read() -> None:
    body = (SITES / "wordpress" / "feed" / "index.rss").read_bytes()
    entries = feed_entries(body, "https://vestnik-zoryansk.example/feed/")
    assert len(entries) == 6
    assert entries[0] == FeedEntry(
        "https://vestnik-zoryansk.example/2026/11/novyy-korpus-zoryanskmash/",
        dt.datetime(2026, 11, 23, 6, 40, tzinfo=dt.UTC),
    )
    assert all(e.url.startswith("https://vestnik-zoryansk.example/2026/11/") for e in entries)


@pytest.mark.parametrize(
    "body", [b"", b"not a feed", b"<html><body>Hi</body></html>", b"\x00\x01\xff", b"{", b"[]"]
)
def test_what_is_no_feed_has_no_entries(body: bytes) -> None:
    assert feed_entries(body, FEED_URL) == []


def test_a_body_that_names_a_file_is_not_read_as_that_file(tmp_path: Path) -> None:
    """feedparser opens a string as a file name; a body is never taken for one."""
    path = tmp_path / "feed.xml"
    path.write_bytes(RSS_20)
    assert feed_entries(str(path).encode(), FEED_URL) == []


def test_a_cut_feed_keeps_the_entries_before_the_cut() -> None:
    cut = RSS_20[: RSS_20.index(b"<item><title>C")]
    assert [e.url for e in feed_entries(cut, FEED_URL)] == [
        "https://invest.example/news/a/",
        "https://invest.example/news/b/",
    ]


def test_a_huge_feed_is_read_to_its_first_tags_only() -> None:
    items = b"".join(
        b"<item><link>https://invest.example/news/%d/</link></item>" % i for i in range(100_000)
    )
    body = b'<?xml version="1.0"?><rss version="2.0"><channel>' + items + b"</channel></rss>"
    entries = feed_entries(body, FEED_URL)
    assert 0 < len(entries) <= MAX_FEED_TAGS // 4
    assert entries[0].url == "https://invest.example/news/0/"


@pytest.mark.parametrize(
    "body",
    [
        b"<rss><channel>" + b"<a/>" * 2_500_000 + b"</channel></rss>",
        b"<rss><channel><item><title>" + b"&amp;" * 2_000_000,
        b"<rss><channel><&>" + b"<item><<link>>" * 700_000,
    ],
    ids=["empty-tags", "entities", "broken-markup"],
)
def test_a_hostile_10_mb_feed_costs_about_a_second(body: bytes) -> None:
    started = time.monotonic()
    assert feed_entries(body, FEED_URL) == []
    assert time.monotonic() - started < 10


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"", "application/rss+xml; charset=utf-8"),
        (b"", "application/atom+xml"),
        (b"", "Application/RDF+XML"),
        (b"", "application/feed+json"),
        (RSS_20, "text/xml"),
        (RSS_20, "text/html; charset=utf-8"),
        (RSS_10, "application/xml"),
        (RSS_090, ""),
        (RSS_091, "text/xml"),
        (ATOM, "text/xml"),
        (b"\xef\xbb\xbf\n  <feed xmlns='http://www.w3.org/2005/Atom'></feed>", ""),
        (JSON_FEED, "application/json"),
    ],
)
def test_feeds_are_recognised(body: bytes, content_type: str) -> None:
    assert is_feed(body, content_type)


SITEMAP = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<url><loc>https://invest.example/news/a/</loc></url>
<url><loc>https://invest.example/news/b/</loc></url>
</urlset>"""
SITEMAP_INDEX = b"""<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<sitemap><loc>https://invest.example/sitemap-news.xml.gz</loc></sitemap>
</sitemapindex>"""


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (SITEMAP, "text/xml"),
        (b"<html><body><p>rss</p></body></html>", "text/html"),
        (b'<?xml version="1.0"?><!DOCTYPE html><html><body><feed/></body></html>', "text/xml"),
        (
            b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
            b"<rdf:Description/></rdf:RDF>",
            "application/xml",
        ),
        (b'{"items": [{"url": "https://invest.example/news/a/"}]}', "application/json"),
        (b"", ""),
    ],
)
def test_what_is_no_feed_is_not_taken_for_one(body: bytes, content_type: str) -> None:
    assert not is_feed(body, content_type)


def test_rdf_feed_links_are_feeds_of_a_page() -> None:
    tree = lxml.html.fromstring(
        '<html><head><link rel="alternate" type="application/rdf+xml" href="/index.rdf">'
        '<link rel="alternate" type="application/rss+xml" href="/feed/"></head>'
        '<body><a href="/news/a/">A</a></body></html>'
    )
    links = page_links(tree, "https://invest.example/", 100)
    assert links.feeds == ["https://invest.example/index.rdf", "https://invest.example/feed/"]
    assert links.pages == ["https://invest.example/news/a/"]


def test_gzip_sitemaps_and_sitemap_indexes_are_unpacked() -> None:
    assert sitemap_content(gzip.compress(SITEMAP), 10).pages == [
        "https://invest.example/news/a/",
        "https://invest.example/news/b/",
    ]
    assert sitemap_content(gzip.compress(SITEMAP_INDEX), 10).sitemaps == [
        "https://invest.example/sitemap-news.xml.gz"
    ]
    assert sitemap_content(SITEMAP, 10).pages == sitemap_content(gzip.compress(SITEMAP), 10).pages


def test_a_damaged_gzip_sitemap_keeps_what_comes_before_the_damage() -> None:
    packed = gzip.compress(SITEMAP)
    assert len(sitemap_content(packed[:-8], 10).pages) == 2
    assert len(sitemap_content(packed[:-8] + b"junk" * 10, 10).pages) == 2
    assert sitemap_content(b"\x1f\x8b\x08 not gzip at all", 10).pages == []


def test_a_gzip_sitemap_is_unpacked_to_max_size_only() -> None:
    many = b"".join(b"<url><loc>https://invest.example/%d/</loc></url>" % i for i in range(1000))
    body = gzip.compress(b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">' + many)
    content = sitemap_content(body, 10_000, max_size=10_000)
    assert 0 < len(content.pages) < 1000
    assert content.pages[0] == "https://invest.example/0/"
    assert content.truncated


def test_a_gzip_bomb_costs_no_more_than_its_max_size() -> None:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = b"\x00" * 2**20
    bomb = b"".join(packer.compress(zeros) for _ in range(128)) + packer.flush()  # 128 MiB
    started = time.monotonic()
    content = sitemap_content(bomb, 100)
    assert (content.pages, content.sitemaps, content.truncated) == ([], [], True)
    assert time.monotonic() - started < 10
