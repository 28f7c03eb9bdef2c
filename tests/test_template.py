"""Site templates: blocks that repeat across a site's pages are removed from its articles."""

from __future__ import annotations

import json
from pathlib import Path

from archive.localsite import LocalSite
from pipelines.page import extract_page
from tests.conftest import FAST_CRAWL, run_cli

HOTLINE = (
    "Investor hotline of the regional agency: 8 800 555 35 35, weekdays from nine to six, "
    "ask for the duty project manager"
)
STORIES = ("a glass plant", "a logistics hub", "a dairy farm", "a solar park", "a paper mill")
PROSE = (
    "The regional government and the investor signed the agreement on Tuesday, and the "
    "company will hire local staff trained at the regional college. "
)


def _page(title: str, body: str) -> str:
    """A page of a site whose hotline widget has no class name that gives it away."""
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
    <title>{title} | Agency</title></head><body>
    <div class="header"><a href="/">Agency</a> <a href="/about/">About</a></div>
    <div class="main"><h1>{title}</h1>{body}<div class="hotline"><p>{HOTLINE}</p></div></div>
    </body></html>"""


def _story(number: int, story: str) -> str:
    return (
        f'<time datetime="2026-11-{10 + number}">{10 + number} November 2026</time>'
        f"<p>The investor will build {story} for {number + 2} billion rubles. {PROSE}</p>"
        f"<p>Construction of {story} starts next spring. {PROSE * 2}</p>"
        f"<p>{story.capitalize()} will open in 2028. {PROSE}</p>"
    )


def _build_site(root: Path) -> dict[str, str]:
    """The site's pages; returns the path and lead of each article."""
    leads, links = {}, []
    for number, story in enumerate(STORIES):
        path = f"/news/story-{number}/"
        title = f"Investor opens {story} in the Northern district"
        links.append(f'<li><a href="{path}">{title}</a></li>')
        leads[path] = f"The investor will build {story} for {number + 2} billion rubles."
        (root / path.strip("/")).mkdir(parents=True)
        (root / path.strip("/") / "index.html").write_text(_page(title, _story(number, story)))
    (root / "about").mkdir()
    about = _page("About the agency", "<p>The agency helps investors.</p>")
    (root / "about" / "index.html").write_text(about)
    (root / "index.html").write_text(_page("News", f"<ul>{''.join(links)}</ul>"))
    return leads


def _texts(db_url: str) -> dict[str, str]:
    result = run_cli("export", "--db", db_url)
    assert result.returncode == 0, result.stderr
    records = (json.loads(line) for line in result.stdout.splitlines())
    return {record["url"]: record["text"] for record in records}


def test_crawl_and_reprocess_remove_a_widget_that_repeats_on_every_page(tmp_path: Path) -> None:
    root = tmp_path / "site"
    leads = _build_site(root)
    alone, _ = extract_page((root / "news/story-0/index.html").read_text(), "http://x/news/0/")
    assert HOTLINE in alone.text, "on a page of its own the widget looks like article text"

    db_url = f"sqlite:///{tmp_path / 'archive.db'}"
    with LocalSite(root) as site:
        crawl = run_cli("crawl", "--start-url", site.base_url + "/", "--db", db_url, *FAST_CRAWL)
        assert crawl.returncode == 0, crawl.stderr
        base = site.base_url
    texts = _texts(db_url)
    assert set(texts) == {base + path for path in leads}
    # The template is learned during the crawl: the first pages of a site pass before it is.
    assert sum(HOTLINE in text for text in texts.values()) <= 2

    reprocessed = run_cli("reprocess", "--db", db_url)
    assert reprocessed.returncode == 0, reprocessed.stderr
    for path, lead in leads.items():
        text = _texts(db_url)[base + path]
        assert HOTLINE not in text
        assert text.startswith(lead), "the lead paragraph stays"
        assert text.count("\n") == 2
