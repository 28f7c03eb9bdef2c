"""The fixture portals agree with their expected.toml: a plain crawl over the server checks it."""

from __future__ import annotations

import datetime as dt
import difflib
import html
import re
import tomllib
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag, urljoin, urlsplit
from urllib.robotparser import RobotFileParser

import pytest

from tests.sites.server import Fetched, FixtureServer

SITES = Path(__file__).parent
NAMES = ("bitrix", "wordpress", "modern")
MONTHS_RU = "января февраля марта апреля мая июня июля августа сентября октября ноября декабря"


def expected(site: str) -> dict[str, Any]:
    return tomllib.loads((SITES / site / "expected.toml").read_text(encoding="utf-8"))


def all_articles() -> list[Any]:
    return [
        pytest.param(site, article, id=f"{site}:{article['path']}")
        for site in NAMES
        for article in expected(site)["articles"]
    ]


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href")
        if tag == "a" and href:
            self.hrefs.append(href)


def anchors(body: bytes) -> list[str]:
    """The href of every <a> (links are ASCII, so any page decodes as Latin-1 for this)."""
    parser = _Anchors()
    parser.feed(body.decode("latin-1"))
    return parser.hrefs


def local(server: FixtureServer, url: str) -> str | None:
    """The root-relative form of a URL on the server, or None for other hosts and schemes."""
    url = urldefrag(urljoin(server.base_url + "/", url)).url
    if not url.startswith(server.base_url + "/"):
        return None
    return url.removeprefix(server.base_url)


@dataclass
class Crawl:
    """What a polite breadth-first crawl from / saw: the pages fetched, every <a> target,
    and the URLs listed in the sitemaps of robots.txt (the sitemap files included)."""

    pages: dict[str, Fetched] = field(default_factory=dict)
    linked: set[str] = field(default_factory=set)
    sitemap_locs: set[str] = field(default_factory=set)


def crawl(server: FixtureServer) -> Crawl:
    robots = RobotFileParser()
    robots_txt = server.fetch("/robots.txt").body.decode()
    robots.parse(robots_txt.splitlines())
    result = Crawl()
    queue = deque(["/"])
    while queue:
        path = queue.popleft()
        if path in result.pages or not robots.can_fetch("*", server.url(path)):
            continue
        response = result.pages[path] = server.fetch(path)
        targets = []
        if location := response.header("Location"):
            targets.append(location)
        if "html" in (response.header("Content-Type") or ""):
            targets += anchors(response.body)
        for target in filter(None, (local(server, t) for t in targets)):
            result.linked.add(target)
            queue.append(target)
    sitemaps = deque(re.findall(r"^Sitemap:\s*(\S+)", robots_txt, re.MULTILINE))
    while sitemaps:
        path = local(server, sitemaps.popleft())
        assert path, "a sitemap on another host"
        response = result.pages[path] = server.fetch(path)
        result.sitemap_locs.add(path)
        for loc in re.findall(r"<loc>([^<]+)</loc>", response.body.decode()):
            target = local(server, loc)
            assert target, f"{loc} is not on the server"
            if target.endswith(".xml"):
                sitemaps.append(target)
            else:
                result.sitemap_locs.add(target)
    return result


@pytest.fixture(scope="module", params=NAMES)
def site(request: pytest.FixtureRequest) -> Iterator[tuple[str, FixtureServer, Crawl]]:
    with FixtureServer(SITES / request.param) as server:
        yield request.param, server, crawl(server)


def text_of(response: Fetched, encoding: str) -> str:
    return html.unescape(response.body.decode(encoding))


def fetch_ok(server: FixtureServer, path: str, attempts: int = 1) -> Fetched:
    for _ in range(attempts):
        response = server.fetch(path)
        if response.status == 200:
            return response
    raise AssertionError(f"{path} answered {response.status}")


@pytest.mark.parametrize(("name", "article"), all_articles())
def test_article_pages_show_what_expected_toml_says(name: str, article: dict[str, Any]) -> None:
    with FixtureServer(SITES / name) as server:
        response = fetch_ok(server, article["path"], 1 + article.get("fail_first", 0))
    text = text_of(response, article.get("charset", "utf-8"))
    assert article["lang"] in ("ru", "en")
    assert f">{article['title']}</h1>" in text
    assert article["contains"] in text
    published: dt.date = article["published"]
    shown = {
        published.strftime("%d.%m.%Y"),
        f"{published.day} {MONTHS_RU.split()[published.month - 1]} {published.year}",
        f"{published:%B} {published.day}, {published.year}",
    }
    if article.get("date_in_page", True):
        assert any(date in text for date in shown)
    else:
        assert not any(date in text for date in shown)
        assert "datetime=" not in text and "published_time" not in text


def test_every_page_is_reachable_as_expected(site: tuple[str, FixtureServer, Crawl]) -> None:
    name, _, seen = site
    spec = expected(name)
    for article in spec["articles"]:
        if article.get("sitemap_only"):
            assert article["path"] not in seen.linked
            assert article["path"] in seen.sitemap_locs
        else:
            assert article["path"] in seen.linked
    for path in spec["not_articles"]:
        assert path in seen.linked | seen.sitemap_locs | {"/"}, path
        assert seen.pages[path].status == 200, path
    for variant in spec.get("url_variants", []):
        assert variant["url"] in seen.linked, variant
    for broken in spec.get("broken", []):
        assert seen.pages[broken["path"]].status == broken["status"], broken


def test_disallowed_links_are_never_fetched(site: tuple[str, FixtureServer, Crawl]) -> None:
    name, _, seen = site
    for path in expected(name)["disallowed"]:
        assert path in seen.linked
        assert path not in seen.pages


def test_url_variants_serve_the_article(site: tuple[str, FixtureServer, Crawl]) -> None:
    name, server, _ = site
    for variant in expected(name).get("url_variants", []):
        path = variant["url"]
        for _ in range(3):
            response = server.fetch(path)
            if response.status not in (301, 302):
                break
            path = response.header("Location")
        assert response.body == server.fetch(variant["article"]).body, variant


def test_translations_are_linked_by_hreflang(site: tuple[str, FixtureServer, Crawl]) -> None:
    name, server, _ = site
    spec = expected(name)
    langs = {article["path"]: article["lang"] for article in spec["articles"]}
    for pair in spec.get("translations", []):
        assert (langs[pair["ru"]], langs[pair["en"]]) == ("ru", "en")
        for path in pair.values():
            text = server.fetch(path).body.decode()
            assert f'hreflang="ru" href="{pair["ru"]}"' in text
            assert f'hreflang="en" href="{pair["en"]}"' in text


def _body_text(response: Fetched) -> str:
    """The article's paragraphs: the long ones (those of the page chrome are short)."""
    paragraphs = re.findall(r"<p>(.*?)</p>", response.body.decode(), re.DOTALL)
    return " ".join(p for p in paragraphs if len(p) > 120)


def test_syndicated_copies_are_near_duplicates() -> None:
    for name in NAMES:
        for pair in expected(name).get("syndicated", []):
            back = [
                p for p in expected(pair["other_site"])["syndicated"] if p["other_site"] == name
            ]
            assert [(p["path"], p["other_path"]) for p in back] == [
                (pair["other_path"], pair["path"])
            ]
            with (
                FixtureServer(SITES / name) as here,
                FixtureServer(SITES / pair["other_site"]) as there,
            ):
                ours = _body_text(here.fetch(pair["path"]))
                theirs = _body_text(there.fetch(pair["other_path"]))
            assert ours != theirs
            assert difflib.SequenceMatcher(None, ours, theirs).ratio() > 0.9


def test_html_files_are_small() -> None:
    for page in SITES.glob("*/**/*.html"):
        assert page.stat().st_size <= 10 * 1024, page


def test_all_links_are_root_relative() -> None:
    for page in SITES.glob("*/**/*.html"):
        for href in anchors(page.read_bytes()):
            assert not urlsplit(href).netloc, (page, href)
