"""The crawl's page processor: worker processes that return what the crawl needs, and a
page that may not hold up the crawl."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from pathlib import Path

from archive.cli import DEMO_PORTAL
from crawler.processing import PageProcessor
from pipelines.boilerplate import SiteTemplate
from pipelines.page import Page, SiteOptions

URL = "https://zarechye.example/news/novyy-rezident-oez-zarechye/"
ARTICLE = DEMO_PORTAL / "news" / "novyy-rezident-oez-zarechye" / "index.html"
SITE = SiteOptions("zarechye.example")


def _page() -> Page:
    return Page(URL, ARTICLE.read_bytes(), "text/html; charset=utf-8")


def test_a_page_over_the_time_budget_is_skipped_and_its_worker_replaced() -> None:
    processor = PageProcessor(workers=1, time_budget=1e-6)
    template = SiteTemplate()

    async def process() -> tuple:
        processor.open()
        first_pool = processor.pool
        skipped = await processor.process(_page(), SITE, template)
        replaced = processor.pool is not first_pool
        processor.time_budget = 60
        return skipped, replaced, await processor.process(_page(), SITE, template)

    try:
        skipped, replaced, result = asyncio.run(process())
    finally:
        processor.close()
    assert skipped.article is None
    assert skipped.rejection == "its extraction took over 1e-06 s"
    assert replaced
    assert result.rejection is None
    assert result.article.title == "Компания «ЭкоПолимер» стала резидентом ОЭЗ «Заречье»"
    assert result.article.lang == "ru"
    assert result.links.pages and result.blocks
    assert template.view(URL).new_page is False


def test_workers_never_run_the_main_module_of_the_caller(tmp_path: Path) -> None:
    """A script that starts page workers without an `if __name__ == "__main__":` guard must
    not run again in each worker."""
    script = tmp_path / "unguarded.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import asyncio
            from crawler.processing import PageProcessor
            from pipelines.boilerplate import SiteTemplate
            from pipelines.page import Page, SiteOptions
            from pipelines.workers import start_fork_server

            print("main module runs")
            start_fork_server()
            processor = PageProcessor(workers=2)
            processor.open()
            page = Page({URL!r}, open({str(ARTICLE)!r}, "rb").read(), "text/html")
            result = asyncio.run(processor.process(page, SiteOptions(), SiteTemplate()))
            processor.close()
            print("title:", result.article.title)
            """
        )
    )
    run = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).parents[1],
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.count("main module runs") == 1
    assert "title: Компания «ЭкоПолимер»" in run.stdout
