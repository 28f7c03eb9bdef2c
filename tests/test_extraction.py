"""The per-page stages on the sample portal's pages, without Scrapy."""

from __future__ import annotations

import pytest
from trafilatura.utils import load_html

from archive.cli import DEMO_PORTAL
from pipelines.classify import read_page_signals
from pipelines.language import detect_language
from pipelines.page import Page, SiteOptions, extract_page, process_page

BASE = "http://portal.example"


def page(path: str) -> str:
    return (DEMO_PORTAL / path.strip("/") / "index.html").read_text(encoding="utf-8")


def test_english_article_on_a_page_marked_lang_ru() -> None:
    item, rejection = extract_page(
        page("/en/news/new-sez-resident/"), BASE + "/en/news/new-sez-resident/"
    )
    assert rejection is None
    assert item.lang == "en"
    assert item.title.startswith("EcoPolymer becomes a resident")
    assert item.published.isoformat() == "2026-11-18"
    assert item.canonical_url == BASE + "/en/news/new-sez-resident/"
    assert item.alternates["ru"] == BASE + "/news/novyy-rezident-oez-zarechye/"
    assert "согласие" not in item.text
    assert len(item.content_hash) == 64


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/about/", "og:type is 'website'"),
        ("/news/", "a listing: 2 teaser cards"),
        ("/", "og:type is 'website'"),
        ("/en/about/", "og:type is 'website'"),
    ],
)
def test_non_articles_are_rejected_with_a_reason(path: str, reason: str) -> None:
    _, rejection = extract_page(page(path), BASE + path)
    assert rejection is not None and reason in rejection


def test_the_processor_gives_the_article_with_what_the_crawl_needs() -> None:
    result = process_page(Page(BASE + "/news/", page("/news/").encode(), "text/html"))
    assert result.rejection is not None and result.rejection.startswith("a listing: ")
    assert BASE + "/news/investitsionnyy-forum-2026/" in result.links.pages
    assert result.listing_dates[BASE + "/news/investitsionnyy-forum-2026/"].year == 2026
    assert result.blocks
    url = BASE + "/news/investitsionnyy-forum-2026/"
    result = process_page(Page(url, page("/news/investitsionnyy-forum-2026/")), SiteOptions("demo"))
    assert result.rejection is None
    assert result.article.title.startswith("На Заречном инвестиционном форуме")
    assert (result.article.site, result.article.lang) == ("demo", "ru")


def test_pages_outside_the_article_url_pattern_are_no_articles() -> None:
    url = BASE + "/news/investitsionnyy-forum-2026/"
    site = SiteOptions("demo", article_url_pattern="/stories/")
    result = process_page(Page(url, page("/news/investitsionnyy-forum-2026/")), site)
    assert "article_url_pattern" in result.rejection
    assert result.links.pages


@pytest.mark.parametrize("html", ["", "\x00\x01\x02binary", "<html><body></body></html>"])
def test_empty_or_binary_pages_are_skipped(html: str) -> None:
    item, rejection = extract_page(html, BASE + "/x/")
    assert rejection and not item.text


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("Губернатор открыл новый завод в индустриальном парке.", "ru"),
        ("The governor opened a new plant in the industrial park.", "en"),
        ("", "und"),
        ("2026 — 24.11 / 100 500", "und"),
    ],
)
def test_detect_language(text: str, lang: str) -> None:
    assert detect_language(text) == lang


def test_language_switcher_to_an_article_is_a_translation_but_to_a_home_is_not() -> None:
    html = (
        "<html><head></head><body>"
        '<a href="/en/news/plant/">EN</a> <a href="/">RU</a> <a href="/de/" hreflang="de">DE</a>'
        "</body></html>"
    )
    signals = read_page_signals(load_html(html), BASE + "/news/zavod/")
    assert signals.alternates == {"en": BASE + "/en/news/plant/"}


def signals_of(head: str, url: str = BASE + "/news/zavod/"):
    html = f"<html><head>{head}</head><body><p>Текст новости.</p></body></html>"
    return read_page_signals(load_html(html), url)


@pytest.mark.parametrize(
    ("href", "canonical"),
    [
        ("/news/zavod-2/?utm_source=feed", BASE + "/news/zavod-2/"),
        ("https://www.portal.example/news/zavod-2/", "https://www.portal.example/news/zavod-2/"),
        ("http://other.example/news/zavod/", BASE + "/news/zavod/"),
        ("http://portal.example:8080/news/zavod/", BASE + "/news/zavod/"),
        ("ftp://portal.example/news/zavod/", BASE + "/news/zavod/"),
        ("/news/" + "x" * 2000, BASE + "/news/zavod/"),
        ("http://portal.example:99999999/", BASE + "/news/zavod/"),
        ("http://[::1/", BASE + "/news/zavod/"),
    ],
)
def test_only_a_usable_canonical_link_on_the_fetched_host_counts(href, canonical) -> None:
    assert signals_of(f'<link rel="canonical" href="{href}">').canonical_url == canonical


def test_alternates_with_malformed_urls_are_skipped() -> None:
    head = (
        '<link rel="alternate" hreflang="en" href="http://[::1/">'
        '<link rel="alternate" hreflang="de" href="/de/news/werk/">'
    )
    assert signals_of(head).alternates == {"de": BASE + "/de/news/werk/"}


@pytest.mark.parametrize(
    "json_ld",
    [
        "[" * 100_000,
        '{"@graph": ' * 50_000,
        '[{"@type": "NewsArticle", "about": "' + "x" * 300_000 + '"}]',
        '{"@type": "WebPage", "@graph": 5}',
    ],
)
def test_hostile_json_ld_names_no_type(json_ld) -> None:
    head = f'<script type="application/ld+json">{json_ld}</script>'
    assert signals_of(head).schema_types == frozenset({"webpage"} if "WebPage" in json_ld else ())


def test_json_ld_graph_types_are_read() -> None:
    head = (
        '<script type="application/ld+json">'
        '{"@graph": [{"@type": "WebPage"}, {"@type": ["NewsArticle", 3]}]}</script>'
    )
    assert signals_of(head).schema_types == {"webpage", "newsarticle"}
