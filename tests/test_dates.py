"""Publication dates from markup, visible text and listing cards."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import lxml.html
import pytest
from lxml.html import HtmlElement

from archive.cli import DEMO_PORTAL
from pipelines.dates import MOSCOW, date_from_text, listing_dates, published_date

DAY = dt.date(2025, 11, 24)
BASE = "http://portal.example/news/"


def page(body: str = "", head: str = "") -> HtmlElement:
    return lxml.html.document_fromstring(
        f"<html><head><meta charset='utf-8'>{head}</head><body>{body}</body></html>"
    )


def json_ld(data: object) -> str:
    return f'<script type="application/ld+json">{json.dumps(data)}</script>'


def moscow_today() -> dt.date:
    return dt.datetime.now(MOSCOW).date()


# JSON-LD


@pytest.mark.parametrize(
    "data",
    [
        {"@context": "https://schema.org", "@type": "NewsArticle", "datePublished": "2025-11-24"},
        {"@type": "http://schema.org/BlogPosting", "datePublished": "2025-11-24T10:00:00+03:00"},
        {"@type": ["Article", "Thing"], "datePublished": ["2025-11-24T10:00:00"]},
        [
            {"@type": "Organization", "name": "АИР"},
            {"@type": "Article", "datePublished": "2025-11-24"},
        ],
        {
            "@context": "https://schema.org",
            "@graph": [
                {"@type": "WebPage", "datePublished": "2025-01-01"},
                {"@type": "NewsArticle", "datePublished": "2025-11-24T09:00:00+03:00"},
            ],
        },
        {"@type": "WebPage", "mainEntity": {"@type": "NewsArticle", "datePublished": "2025-11-24"}},
    ],
    ids=[
        "plain",
        "type-url",
        "type-list",
        "top-level-list",
        "graph-article-over-webpage",
        "nested",
    ],
)
def test_json_ld_date_published(data: object) -> None:
    assert published_date(page(head=json_ld(data))) == DAY


def test_json_ld_of_a_web_page_when_no_article_has_one() -> None:
    data = {"@graph": [{"@type": "WebPage", "datePublished": "2025-11-24"}, {"@type": "Article"}]}
    assert published_date(page(head=json_ld(data))) == DAY


def test_invalid_json_ld_still_gives_its_date() -> None:
    trailing_comma = '{"@type": "NewsArticle", "datePublished": "2025-11-24",}'
    script = f'<script type="application/ld+json">{trailing_comma}</script>'
    assert published_date(page(head=script)) == DAY


# Meta tags


@pytest.mark.parametrize(
    "meta",
    [
        '<meta property="article:published_time" content="2025-11-24T10:00:00+03:00">',
        '<meta property="og:published_time" content="2025-11-24T10:00:00+03:00">',
        '<meta name="pubdate" content="2025-11-24">',
        '<meta name="publishdate" content="2025-11-24">',
        '<meta name="date" content="24.11.2025">',
        '<meta name="DC.date.issued" content="2025-11-24">',
        '<meta name="sailthru.date" content="Mon, 24 Nov 2025 10:00:00 +0300">',
        '<meta itemprop="datePublished" content="2025-11-24">',
    ],
)
def test_meta_tags(meta: str) -> None:
    assert published_date(page(head=meta)) == DAY


def test_article_meta_outranks_generic_date_meta() -> None:
    head = (
        '<meta name="date" content="2025-11-20">'
        '<meta property="article:published_time" content="2025-11-24T10:00:00+03:00">'
    )
    assert published_date(page(head=head)) == DAY


def test_json_ld_outranks_meta() -> None:
    head = '<meta property="article:published_time" content="2025-11-20">' + json_ld(
        {"@type": "NewsArticle", "datePublished": "2025-11-24"}
    )
    assert published_date(page(head=head)) == DAY


def test_microdata_of_a_related_article_is_ignored() -> None:
    body = (
        '<h1>Заголовок</h1><div class="news-detail"><p>24 ноября 2025</p></div>'
        '<div class="related-news" itemscope itemtype="https://schema.org/NewsArticle">'
        '<meta itemprop="datePublished" content="2025-11-01"><a href="/other/">Другая</a></div>'
    )
    assert published_date(page(body)) == DAY


# <time>


def test_time_in_the_article() -> None:
    body = (
        '<article><h1>Title</h1><time datetime="2025-11-24T10:00:00+03:00">today</time></article>'
    )
    assert published_date(page(body)) == DAY


def test_time_marked_as_published_outranks_others() -> None:
    body = (
        "<article><h1>Title</h1>"
        '<time class="updated" datetime="2025-11-26">26 Nov</time>'
        '<p>Event on <time datetime="2025-12-01">1 December</time></p>'
        '<time itemprop="datePublished" datetime="2025-11-24">24 Nov</time></article>'
    )
    assert published_date(page(body)) == DAY


def test_modification_times_are_no_publication_times() -> None:
    body = (
        '<article><h1>Title</h1><time class="updated" datetime="2025-11-26"></time>'
        '<time itemprop="dateModified" datetime="2025-11-25"></time>'
        '<time datetime="2025-11-24"></time></article>'
    )
    assert published_date(page(body)) == DAY
    card = '<ul><li><a href="/a/">A</a><time class="updated" datetime="2025-11-26"></time>'
    card += '<time datetime="2025-11-24"></time></li><li><a href="/b/">B</a></li></ul>'
    assert listing_dates(page(card), BASE) == {"http://portal.example/a/": DAY}


def test_pubdate_attribute() -> None:
    body = (
        '<div><time datetime="2025-11-01"></time><time pubdate datetime="2025-11-24"></time></div>'
    )
    assert published_date(page(body)) == DAY


def test_time_in_the_article_outranks_one_in_a_sidebar_before_it() -> None:
    body = (
        '<aside class="sidebar"><ul><li><a href="/a/">Other</a> '
        '<time datetime="2025-11-28">28 Nov</time></li></ul></aside>'
        '<div class="related-posts"><time datetime="2025-11-27">27 Nov</time></div>'
        '<main><h1>Title</h1><time datetime="2025-11-24">24 Nov</time></main>'
    )
    assert published_date(page(body)) == DAY


def test_json_ld_outranks_a_sidebar_time_of_another_article() -> None:
    head = json_ld({"@type": "NewsArticle", "datePublished": "2025-11-24T12:00:00+03:00"})
    body = (
        '<aside><article><a href="/a/">Other</a><time datetime="2025-11-28">28 Nov</time>'
        "</article></aside><article><h1>Title</h1><p>Text</p></article>"
    )
    assert published_date(page(body, head)) == DAY


def test_page_wrapper_classed_has_sidebar_does_not_hide_the_article() -> None:
    html = (
        '<html><body class="single has-sidebar"><div class="site with-sidebar">'
        '<div class="content"><h1>Title</h1><div class="meta"><time datetime="2025-11-24">'
        '</time></div></div><div id="sidebar"><time datetime="2025-11-28"></time></div>'
        "</div></body></html>"
    )
    assert published_date(lxml.html.document_fromstring(html)) == DAY


def test_a_date_only_in_a_sidebar_is_no_publication_date() -> None:
    body = '<h1>О нас</h1><p>Текст</p><aside><time datetime="2025-11-28">28.11.2025</time></aside>'
    assert published_date(page(body)) is None


# Visible text


TEXT_FORMATS = [
    "24 ноября 2025",
    "24 ноября 2025 г.",
    "24 ноября 2025 года",
    "24 ноябрь 2025",
    "24 нояб. 2025 г.",
    "24 Ноября 2025",
    "24\xa0ноября\xa02025",
    "24.11.2025",
    "24.11.2025 10:00",
    "2025-11-24",
    "November 24, 2025",
    "24 November 2025",
    "Nov 24, 2025",
    "Nov. 24th, 2025",
    "24 Nov 2025",
]


@pytest.mark.parametrize("text", TEXT_FORMATS)
def test_date_from_text(text: str) -> None:
    assert date_from_text(f"Опубликовано: {text} | Просмотров: 120") == DAY


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 января 2025", dt.date(2025, 1, 1)),
        ("марта 3, 2025", dt.date(2025, 3, 3)),
        ("3 марта 2025", dt.date(2025, 3, 3)),
        ("15 мая 2025", dt.date(2025, 5, 15)),
        ("15 май 2025", dt.date(2025, 5, 15)),
        ("1 сентября 2025", dt.date(2025, 9, 1)),
        ("31 декабрь 2024 г.", dt.date(2024, 12, 31)),
        ("May 5, 2025", dt.date(2025, 5, 5)),
        ("5 September 2025", dt.date(2025, 9, 5)),
        ("Sept 5, 2025", dt.date(2025, 9, 5)),
    ],
)
def test_month_names(text: str, expected: dt.date | None) -> None:
    assert date_from_text(text) == expected


def test_first_possible_date_in_text_wins() -> None:
    text = "Программа на 2027–2029 годы. 31.02.2025 — ошибка; 1994-05-01; 03.11.2025; 10.11.2025"
    assert date_from_text(text) == dt.date(2025, 11, 3)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "ничего",
        "2025",
        "ноября 2025",
        "124 ноября 2025",
        "31.02.2025",
        "2025-13-01",
        "24.11.25",
        "1.24.11.2025",
        "v2.24.11.2025",
        "24 брюмера 2025",
        "24 ноября 1994",
        "телефон 8-800-2025-11-24",
        "\x00\ufffd" * 50,
    ],
)
def test_no_date_in_text(text: str) -> None:
    assert date_from_text(text) is None


def test_future_dates_beyond_tomorrow_are_ignored() -> None:
    tomorrow = moscow_today() + dt.timedelta(days=1)
    later = moscow_today() + dt.timedelta(days=2)
    assert date_from_text(f"{later:%d.%m.%Y}") is None
    assert date_from_text(f"{later:%d.%m.%Y}, {tomorrow:%d.%m.%Y}") == tomorrow
    meta = f'<meta property="article:published_time" content="{later.isoformat()}">'
    assert published_date(page(head=meta)) is None


@pytest.mark.parametrize("text", ["24 ноября 2025 г.", "November 24, 2025", "24.11.2025 10:00"])
def test_visible_date_below_the_title(text: str) -> None:
    body = (
        '<header class="header"><div class="header__date">Сегодня: 01.12.2025</div></header>'
        f'<div class="col-main"><h1 class="page-title">Заголовок</h1><div class="news-detail">'
        f'<div class="news-date-time">{text}</div><p>Итоги за 2024 год, 01.01.2025.</p></div></div>'
    )
    assert published_date(page(body)) == DAY


def test_visible_date_above_the_title() -> None:
    body = (
        '<div class="post"><span class="post__date">24.11.2025</span><h1>Заголовок</h1>'
        "<p>Инвестиционный форум Заречной области, на котором подпишут соглашения о новых"
        " производствах, пройдёт 1 декабря 2025 года.</p></div>"
    )
    assert published_date(page(body)) == DAY


def test_visible_date_right_after_the_title_in_plain_text() -> None:
    body = "<div><h1>Заголовок</h1> 24 ноября 2025 г. <p>Текст</p></div>"
    assert published_date(page(body)) == DAY


def test_the_articles_h1_is_preferred_to_a_logo_h1() -> None:
    body = (
        '<header><h1 class="logo">АИР</h1><span>01.11.2025</span></header>'
        "<article><h1>Заголовок</h1><p>24 ноября 2025</p></article>"
    )
    assert published_date(page(body)) == DAY


def test_element_classed_as_a_date_when_there_is_no_h1() -> None:
    body = '<div class="title">Заголовок</div><div class="item-date">Nov 24, 2025</div>'
    assert published_date(page(body)) == DAY


# Time zones


@pytest.mark.parametrize(
    ("timestamp", "site_tz", "expected"),
    [
        ("2025-11-23T22:30:00Z", MOSCOW, dt.date(2025, 11, 24)),
        ("2025-11-23T20:59:59Z", MOSCOW, dt.date(2025, 11, 23)),
        ("2025-11-23T21:00:00+00:00", MOSCOW, dt.date(2025, 11, 24)),
        ("2025-11-24T00:30:00+05:00", MOSCOW, dt.date(2025, 11, 23)),
        ("2025-11-24T00:30:00+0500", MOSCOW, dt.date(2025, 11, 23)),
        ("2025-11-23 22:30:00 UTC", MOSCOW, dt.date(2025, 11, 24)),
        ("2025-11-23T22:30:00.000Z", MOSCOW, dt.date(2025, 11, 24)),
        ("2025-11-23T23:30:00", MOSCOW, dt.date(2025, 11, 23)),
        ("2025-11-23", MOSCOW, dt.date(2025, 11, 23)),
        ("2025-11-23T16:00:00Z", ZoneInfo("Asia/Vladivostok"), dt.date(2025, 11, 24)),
        ("2025-11-24T01:00:00+03:00", ZoneInfo("Europe/Kaliningrad"), dt.date(2025, 11, 24)),
        ("2025-11-24T00:30:00+03:00", ZoneInfo("Europe/Kaliningrad"), dt.date(2025, 11, 23)),
        ("Mon, 24 Nov 2025 01:00:00 +0500", MOSCOW, dt.date(2025, 11, 23)),
    ],
)
def test_timestamps_are_dated_in_the_sites_zone(
    timestamp: str, site_tz: ZoneInfo, expected: dt.date
) -> None:
    head = f'<meta property="article:published_time" content="{timestamp}">'
    assert published_date(page(head=head), site_tz) == expected
    body = f'<article><time datetime="{timestamp}"></time></article>'
    assert published_date(page(body), site_tz) == expected
    data = {"@type": "NewsArticle", "datePublished": timestamp}
    assert published_date(page(head=json_ld(data)), site_tz) == expected


# Impossible and garbage input


def test_an_impossible_date_gives_way_to_the_next_source() -> None:
    head = (
        json_ld({"@type": "NewsArticle", "datePublished": "0001-01-01T00:00:00+03:00"})
        + '<meta property="article:published_time" content="1970-01-01T00:00:00Z">'
    )
    body = '<article><h1>Title</h1><time datetime="2025-11-24"></time></article>'
    assert published_date(page(body, head)) == DAY


@pytest.mark.parametrize(
    "html",
    [
        "<p>hello</p>",
        "<html><body></body></html>",
        "<html><head><title>2025</title></head><body><h1></h1></body></html>",
        '<script type="application/ld+json">{</script>',
        '<script type="application/ld+json">' + "[" * 100_000 + "</script>",
        '<script type="application/ld+json">{"@type": "Article", "datePublished": 5}</script>',
        '<script type="application/ld+json">{"@type": 7, "datePublished": null}</script>',
        '<script type="application/ld+json">"datePublished"</script>',
        '<meta property="article:published_time" content="garbage">',
        '<meta property="article:published_time" content="2025-13-45T99:99:99+99:99">',
        '<meta property="article:published_time" content="9999-12-31T23:59:59-23:59">',
        '<meta property="article:published_time" content="Mon, 99 Nov 2025 10:00:00 +0300">',
        '<meta name="date" content="">',
        "<time datetime=''></time><time>нет</time><time datetime='T10:00'></time>",
        "<h1>Заголовок</h1><!-- 24.11.2025 --><p>Без даты</p>",
        "<div class='date'>скоро</div>",
    ],
)
def test_garbage_gives_none(html: str) -> None:
    assert published_date(lxml.html.fromstring(html)) is None
    assert listing_dates(lxml.html.fromstring(html), BASE) == {}


# Listing pages


BITRIX_LISTING = """
<div class="bx-breadcrumb"><div class="bx-breadcrumb-item"><a href="/">Главная</a></div>
<div class="bx-breadcrumb-item"><span>Новости</span></div></div>
<h1>Новости</h1>
<div class="news-list">
  <div class="news-item" id="bx_1">
    <span class="news-date-time">24.11.2025</span>
    <a href="/news/zavod/"><img src="/upload/zavod.jpg"></a>
    <a class="news-item__title" href="/news/zavod/"><b>Открылся завод</b></a>
    <div class="news-item__preview">Запуск второй очереди — 1 марта 2026 года.</div>
  </div>
  <div class="news-item" id="bx_2">
    <span class="news-date-time">18 ноября 2025</span>
    <a class="news-item__title" href="/news/rezident/#comments"><b>Новый резидент</b></a>
  </div>
  <div class="news-item" id="bx_3">
    <a class="news-item__title" href="forum/"><b>Форум без даты</b></a>
  </div>
</div>
<div class="bx-pagination"><ul><li><a href="/news/?PAGEN_1=2">2</a></li></ul></div>
"""

WORDPRESS_LISTING = """
<header id="masthead" class="site-header"><a href="/" rel="home">Агентство</a>
<nav><ul><li><a href="/about/">О нас</a></li><li><a href="/news/">Новости</a></li></ul></nav>
</header>
<main id="main" class="site-main">
  <article id="post-12" class="post-12 post type-post status-publish">
    <header class="entry-header">
      <h2 class="entry-title"><a href="https://portal.example/2025/11/zavod/">Завод</a></h2>
      <div class="entry-meta"><span class="posted-on"><a href="https://portal.example/2025/11/zavod/">
        <time class="entry-date published" datetime="2025-11-23T22:30:00+00:00">23.11.2025</time>
        <time class="updated" datetime="2025-11-26T10:00:00+00:00">26.11.2025</time></a></span>
        <span class="byline"><a href="https://portal.example/author/admin/">admin</a></span>
      </div>
    </header>
    <div class="entry-summary"><p>Открытие 24 декабря 2024 года перенесли.</p></div>
    <footer class="entry-footer"><span class="cat-links">
      <a href="https://portal.example/category/investments/">Инвестиции</a></span>
      <a href="https://portal.example/2025/11/zavod/#respond">Комментировать</a></footer>
  </article>
  <article id="post-11" class="post-11 post type-post status-publish">
    <header class="entry-header">
      <h2 class="entry-title"><a href="https://portal.example/2025/11/forum/">Forum</a></h2>
      <div class="entry-meta"><span class="posted-on">November 10, 2025</span>
        <span class="cat-links"><a href="https://portal.example/category/investments/">Cat</a></span>
      </div>
    </header>
  </article>
  <nav class="pagination"><a class="next" href="https://portal.example/news/page/2/">Далее</a></nav>
</main>
<aside id="secondary" class="widget-area"><section class="widget widget_recent_entries">
  <ul><li><a href="https://portal.example/2025/10/old/">Старое</a></li>
  <li><a href="https://portal.example/2025/09/older/">Ещё старее</a></li></ul></section></aside>
<footer class="site-footer">© 2025</footer>
"""


def test_listing_dates_on_a_bitrix_listing() -> None:
    assert listing_dates(page(BITRIX_LISTING), BASE) == {
        "http://portal.example/news/zavod/": DAY,
        "http://portal.example/news/rezident/#comments": dt.date(2025, 11, 18),
    }


def test_listing_dates_on_a_wordpress_listing() -> None:
    assert listing_dates(page(WORDPRESS_LISTING), BASE) == {
        "https://portal.example/2025/11/zavod/": DAY,
        "https://portal.example/2025/11/zavod/#respond": DAY,
        "https://portal.example/2025/11/forum/": dt.date(2025, 11, 10),
    }


def test_listing_dates_skips_unjoinable_links() -> None:
    body = '<ul><li><a href="http://[::1">x</a> 24.11.2025</li><li><a href="/a/">a</a></li></ul>'
    assert listing_dates(page(body), BASE) == {}


# The sample portal


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("news/investitsionnyy-forum-2026", dt.date(2026, 11, 10)),
        ("news/novyy-rezident-oez-zarechye", dt.date(2026, 11, 18)),
        ("news/novyy-zavod-v-industrialnom-parke", dt.date(2026, 11, 24)),
        ("news/programma-mer-podderzhki-2027-2029", dt.date(2026, 11, 3)),
        ("en/news/new-sez-resident", dt.date(2026, 11, 18)),
        ("about", None),
        ("en/about", None),
    ],
)
def test_sample_portal_articles(path: str, expected: dt.date | None) -> None:
    tree = lxml.html.document_fromstring((DEMO_PORTAL / path / "index.html").read_bytes())
    assert published_date(tree) == expected


@pytest.mark.parametrize("lang", ["", "en/"])
def test_sample_portal_listings(lang: str) -> None:
    tree = lxml.html.document_fromstring((DEMO_PORTAL / lang / "news/index.html").read_bytes())
    dates = listing_dates(tree, f"http://portal.example/{lang}news/")
    assert sorted(dates.values()) == [
        dt.date(2026, 11, day) for day in ((3, 10, 18, 24) if not lang else (10, 18, 24))
    ]
    assert all(url.startswith(f"http://portal.example/{lang}news/") for url in dates)
