"""The fixture server itself: routing, charsets, pagination, redirects, validators, overlay."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path

import pytest

from tests.sites.server import FixtureServer

SITES = Path(__file__).parent
BITRIX_ARTICLE = "/press-center/news/zavod-steklotary-v-oez-velibor/"
WP_RETRY_ARTICLE = "/2026/11/lnokombinat-vozobnovil-rabotu/"


@pytest.fixture
def bitrix() -> Iterator[FixtureServer]:
    with FixtureServer(SITES / "bitrix") as server:
        yield server


@pytest.fixture
def wordpress() -> Iterator[FixtureServer]:
    with FixtureServer(SITES / "wordpress") as server:
        yield server


@pytest.fixture
def modern() -> Iterator[FixtureServer]:
    with FixtureServer(SITES / "modern") as server:
        yield server


def test_base_url_is_a_free_port_on_localhost(bitrix: FixtureServer) -> None:
    assert bitrix.base_url.startswith("http://127.0.0.1:")
    assert bitrix.url("/about/") == bitrix.base_url + "/about/"


@pytest.mark.parametrize(
    ("site", "path", "content_type"),
    [
        ("bitrix", "/", "text/html; charset=utf-8"),
        ("bitrix", "/robots.txt", "text/plain; charset=utf-8"),
        ("bitrix", "/upload/report-2026.pdf", "application/pdf"),
        ("bitrix", "/upload/iblock/8e2/otkrytie-1.jpg", "image/jpeg"),
        ("wordpress", "/feed/", "application/rss+xml; charset=windows-1251"),
        ("modern", "/sitemap_index.xml", "application/xml; charset=utf-8"),
        ("modern", "/atom.xml", "application/atom+xml; charset=utf-8"),
        ("modern", "/api/news.json", "application/json"),
    ],
)
def test_content_types(site: str, path: str, content_type: str) -> None:
    with FixtureServer(SITES / site) as server:
        response = server.fetch(path)
    assert response.status == 200
    assert response.header("Content-Type") == content_type
    magic = {"application/pdf": b"%PDF-", "image/jpeg": b"\xff\xd8\xff"}
    assert response.body.startswith(magic.get(content_type, b""))


def test_directory_url_serves_its_index(bitrix: FixtureServer) -> None:
    on_disk = (SITES / "bitrix" / BITRIX_ARTICLE.lstrip("/") / "index.html").read_bytes()
    assert bitrix.fetch(BITRIX_ARTICLE).body == on_disk


@pytest.mark.parametrize(
    ("path", "header", "encoding"),
    [
        ("/2026/11/novyy-korpus-zoryanskmash/", "text/html; charset=windows-1251", "cp1251"),
        ("/2026/11/fermery-poluchili-granty/", "text/html", "cp1251"),
        ("/2026/11/most-cherez-zoryu-otkryt/", "text/html", "cp1251"),
        ("/2026/11/kolledzh-novye-spetsialnosti/", "text/html; charset=KOI8-R", "koi8-r"),
    ],
)
def test_charset_headers_and_stored_bytes(
    wordpress: FixtureServer, path: str, header: str, encoding: str
) -> None:
    response = wordpress.fetch(path)
    assert response.header("Content-Type") == header
    with pytest.raises(UnicodeDecodeError):
        response.body.decode("utf-8")
    assert "Зорянский вестник" in response.body.decode(encoding)


def test_pagen_past_the_end_serves_the_last_page(bitrix: FixtureServer) -> None:
    pages = {n: bitrix.fetch(f"/press-center/news/?PAGEN_1={n}").body for n in (1, 2, 3, 4, 99)}
    assert pages[1] == bitrix.fetch("/press-center/news/").body
    assert len({pages[1], pages[2], pages[3]}) == 3
    assert pages[4] == pages[99] == pages[3]
    assert "Новости — страница 3".encode() in pages[99]


def test_query_pages_by_value(bitrix: FixtureServer) -> None:
    tag = bitrix.fetch("/press-center/news/?tags=%D1%8D%D0%BA%D1%81%D0%BF%D0%BE%D1%80%D1%82")
    assert tag.status == 200
    assert "Новости по тегу «экспорт»" in tag.body.decode()
    assert bitrix.fetch("/press-center/news/?tags=unknown").status == 404


def test_other_query_strings_are_ignored(bitrix: FixtureServer, wordpress: FixtureServer) -> None:
    utm = f"{BITRIX_ARTICLE}?utm_source=telegram&utm_medium=social"
    assert bitrix.fetch(utm).body == bitrix.fetch(BITRIX_ARTICLE).body
    post = "/2026/11/novyy-korpus-zoryanskmash/"
    assert wordpress.fetch(post + "?replytocom=345").body == wordpress.fetch(post).body


def test_directory_without_slash_redirects_keeping_the_query(modern: FixtureServer) -> None:
    response = modern.fetch("/news/port-krutogorsk-modernizatsiya?utm_source=x")
    assert (response.status, response.header("Location")) == (
        301,
        "/news/port-krutogorsk-modernizatsiya/?utm_source=x",
    )


def test_if_none_match_gives_304_without_body(bitrix: FixtureServer) -> None:
    first = bitrix.fetch(BITRIX_ARTICLE)
    etag = first.header("ETag")
    assert etag and first.header("Last-Modified")
    again = bitrix.fetch(BITRIX_ARTICLE, {"If-None-Match": etag})
    assert (again.status, again.body, again.header("ETag")) == (304, b"", etag)
    assert bitrix.fetch(BITRIX_ARTICLE, {"If-None-Match": '"other"'}).status == 200


def test_if_modified_since(bitrix: FixtureServer) -> None:
    last_modified = bitrix.fetch(BITRIX_ARTICLE).header("Last-Modified")
    assert bitrix.fetch(BITRIX_ARTICLE, {"If-Modified-Since": last_modified}).status == 304
    earlier = format_datetime(parsedate_to_datetime(last_modified).replace(year=2020), usegmt=True)
    assert bitrix.fetch(BITRIX_ARTICLE, {"If-Modified-Since": earlier}).status == 200


def test_last_modified_from_site_toml(bitrix: FixtureServer) -> None:
    response = bitrix.fetch("/press-center/news/lgotnye-zaymy-fonda-razvitiya/")
    assert response.header("Last-Modified") == "Sat, 21 Nov 2026 08:15:00 GMT"


def test_shortlink_redirects_to_the_post(wordpress: FixtureServer) -> None:
    response = wordpress.fetch("/?p=2101")
    assert (response.status, response.header("Location")) == (
        301,
        "/2026/11/novyy-korpus-zoryanskmash/",
    )
    assert wordpress.fetch("/?p=1").status == 404


def test_fail_first_request_then_succeed(wordpress: FixtureServer) -> None:
    statuses = [wordpress.fetch(WP_RETRY_ARTICLE).status for _ in range(3)]
    assert statuses == [500, 200, 200]


def test_status_rule_with_body(modern: FixtureServer) -> None:
    gone = modern.fetch("/news/forum-malogo-biznesa-perenos/")
    assert gone.status == 410
    assert "Материал удалён" in gone.body.decode()
    assert modern.fetch("/news/no-such-article/").status == 404


def test_status_rule_with_headers(modern: FixtureServer) -> None:
    for _ in range(2):
        unavailable = modern.fetch("/events/")
        assert (unavailable.status, unavailable.header("Retry-After")) == (503, "120")


def test_redirect_loop(modern: FixtureServer) -> None:
    a, b = modern.fetch("/loop-a/"), modern.fetch("/loop-b/")
    assert (a.status, a.header("Location")) == (302, "/loop-b/")
    assert (b.status, b.header("Location")) == (301, "/loop-a/")


def test_origin_is_rewritten_to_the_server(modern: FixtureServer) -> None:
    sitemap = modern.fetch("/sitemap_index.xml").body.decode()
    assert f"<loc>{modern.base_url}/sitemap-news.xml</loc>" in sitemap
    assert "invest-krutogorsk.example" not in sitemap


def test_path_outside_the_site_is_not_served(bitrix: FixtureServer) -> None:
    assert bitrix.fetch("/../bitrix/site.toml").status == 404
    assert bitrix.fetch("/press-center/../../server.py").status == 404


def test_delay(modern: FixtureServer) -> None:
    started = time.monotonic()
    assert modern.fetch("/projects/").status == 200
    assert time.monotonic() - started >= 0.5


def test_mutate_changes_body_etag_and_last_modified(bitrix: FixtureServer) -> None:
    before = bitrix.fetch(BITRIX_ARTICLE)
    bitrix.mutate(BITRIX_ARTICLE, before.body.replace("310 рабочих мест".encode(), b"333"))
    after = bitrix.fetch(BITRIX_ARTICLE)
    assert b"333" in after.body and after.body != before.body
    assert after.header("ETag") != before.header("ETag")
    assert parsedate_to_datetime(after.header("Last-Modified")) > parsedate_to_datetime(
        before.header("Last-Modified")
    )
    assert bitrix.fetch(BITRIX_ARTICLE, {"If-None-Match": before.header("ETag")}).status == 200
    assert (SITES / "bitrix" / BITRIX_ARTICLE.lstrip("/") / "index.html").read_bytes() == (
        before.body
    )


def test_mutate_a_pagination_page(bitrix: FixtureServer) -> None:
    bitrix.mutate("/press-center/news/?PAGEN_1=2", b"<html>page two</html>")
    assert bitrix.fetch("/press-center/news/?PAGEN_1=2").body == b"<html>page two</html>"
    assert bitrix.fetch("/press-center/news/").body != b"<html>page two</html>"


def test_add_serves_a_new_page(bitrix: FixtureServer) -> None:
    assert bitrix.fetch("/press-center/news/new-article/").status == 404
    bitrix.add("/press-center/news/new-article/", b"<html>new</html>")
    response = bitrix.fetch("/press-center/news/new-article/")
    assert (response.status, response.body) == (200, b"<html>new</html>")
    assert response.header("ETag") and response.header("Last-Modified")
    with pytest.raises(FileExistsError):
        bitrix.add(BITRIX_ARTICLE, b"")
    with pytest.raises(FileNotFoundError):
        bitrix.mutate("/press-center/news/missing/", b"")


def test_requests_are_recorded(bitrix: FixtureServer) -> None:
    bitrix.fetch("/robots.txt", {"User-Agent": "newsarchive-test"})
    etag = bitrix.fetch(BITRIX_ARTICLE + "?utm_source=x").header("ETag")
    bitrix.fetch(BITRIX_ARTICLE, {"If-None-Match": etag})
    robots, first, second = bitrix.requests
    assert (robots.method, robots.path, robots.status, robots.user_agent) == (
        "GET",
        "/robots.txt",
        200,
        "newsarchive-test",
    )
    assert (first.path, first.status) == (BITRIX_ARTICLE + "?utm_source=x", 200)
    assert (second.status, second.if_none_match) == (304, etag)
    bitrix.reset_requests()
    assert bitrix.requests == []


def test_concurrent_requests_are_all_recorded(bitrix: FixtureServer) -> None:
    paths = [f"/press-center/news/?PAGEN_1={n % 5}" for n in range(40)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda path: bitrix.fetch(path).status, paths))
    assert statuses == [200] * 40
    assert sorted(record.path for record in bitrix.requests) == sorted(paths)
