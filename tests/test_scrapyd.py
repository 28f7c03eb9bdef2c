"""The Scrapy convention: the project deployed with `scrapyd-deploy` to a real Scrapyd, and
its `portal` spider crawling the sample portal into an archive as a Scrapyd job."""

from __future__ import annotations

import configparser
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from archive.db import open_archive, session_factory
from archive.localsite import LocalSite
from archive.models import Article, CrawlRun
from tests.conftest import _free_port
from tests.test_crawl import ARTICLES

pytest.importorskip("scrapyd", reason="scrapyd is not installed: pip install -e '.[dev]'")

ROOT = Path(__file__).parents[1]
BIN = Path(sys.executable).parent
PROJECT = "newsarchive"
TITLES = {
    "/news/novyy-zavod-v-industrialnom-parke/": (
        "В индустриальном парке «Заречный» открылся завод автокомпонентов"
    ),
    "/news/novyy-rezident-oez-zarechye/": "Компания «ЭкоПолимер» стала резидентом ОЭЗ «Заречье»",
    "/news/investitsionnyy-forum-2026/": (
        "На Заречном инвестиционном форуме подписано 14 соглашений на 47 млрд рублей"
    ),
    "/news/programma-mer-podderzhki-2027-2029/": (
        "В Заречной области утверждена программа поддержки инвесторов на 2027–2029 годы"
    ),
    "/en/news/new-plant-in-industrial-park/": (
        "Automotive components plant opens in Zarechny Industrial Park"
    ),
    "/en/news/new-sez-resident/": (
        "EcoPolymer becomes a resident of the Zarechye Special Economic Zone"
    ),
    "/en/news/investment-forum-2026/": (
        "Zarechye Investment Forum ends with 14 agreements worth 47 billion rubles"
    ),
}
# What the working tree may hold that is no part of the project's source.
NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", "__pycache__", "*.egg-info", "build", "warc", "archive.db*", ".*_cache"
)


def call(url: str, data: dict | list | None = None) -> dict:
    """A Scrapyd API call: GET, or POST of form `data`; its JSON answer."""
    body = urlencode(data).encode() if data is not None else None
    with urllib.request.urlopen(url, body, timeout=30) as response:
        return json.load(response)


class Scrapyd:
    def __init__(self, home: Path, port: int) -> None:
        self.home = home
        self.url = f"http://127.0.0.1:{port}/"
        self.log = home / "scrapyd.log"

    def wait_until_up(self, process: subprocess.Popen, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(f"scrapyd exited: {self.log.read_text()}")
            try:
                if call(self.url + "daemonstatus.json")["status"] == "ok":
                    return
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"scrapyd did not answer in {timeout} s: {self.log.read_text()}")

    def wait_for_job(self, job: str, timeout: float = 90) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            jobs = call(self.url + "listjobs.json?" + urlencode({"project": PROJECT}))
            for finished in jobs["finished"]:
                if finished["id"] == job:
                    return finished
            time.sleep(0.2)
        raise AssertionError(f"job {job} did not finish in {timeout} s: {jobs}")


@pytest.fixture
def scrapyd(tmp_path: Path) -> Iterator[Scrapyd]:
    """A Scrapyd of the test's own on 127.0.0.1, with its eggs, logs and queues in tmp_path."""
    server = Scrapyd(tmp_path / "scrapyd", _free_port())
    server.home.mkdir()
    config = configparser.ConfigParser()
    config["scrapyd"] = {
        "bind_address": "127.0.0.1",
        "http_port": server.url.rsplit(":", 1)[1].strip("/"),
        "eggs_dir": str(server.home / "eggs"),
        "logs_dir": str(server.home / "logs"),
        "dbs_dir": str(server.home / "dbs"),
        "items_dir": "",
        "poll_interval": "0.2",
    }
    with (server.home / "scrapyd.conf").open("w") as stream:
        config.write(stream)
    env = {name: value for name, value in os.environ.items() if not name.startswith("SCRAPY")}
    with server.log.open("w") as log:
        process = subprocess.Popen(
            [str(BIN / "scrapyd")], cwd=server.home, env=env, stdout=log, stderr=log
        )
    try:
        server.wait_until_up(process)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def deploy(server: Scrapyd, checkout: Path) -> dict:
    """`scrapyd-deploy` run in a copy of the project, its [deploy] target moved to `server`."""
    shutil.copytree(ROOT, checkout, ignore=NOT_SOURCE)
    config = configparser.ConfigParser()
    config.read(checkout / "scrapy.cfg")
    assert config["deploy"]["project"] == PROJECT
    config["deploy"]["url"] = server.url
    with (checkout / "scrapy.cfg").open("w") as stream:
        config.write(stream)
    result = subprocess.run(
        [str(BIN / "scrapyd-deploy")],
        cwd=checkout,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def test_scrapyd_deploy_then_a_scheduled_job_archives_the_portal(
    scrapyd: Scrapyd, demo_site: LocalSite, tmp_path: Path
) -> None:
    deployed = deploy(scrapyd, tmp_path / "checkout")
    assert (deployed["status"], deployed["project"], deployed["spiders"]) == ("ok", PROJECT, 1)
    listed = call(scrapyd.url + "listspiders.json?" + urlencode({"project": PROJECT}))
    assert listed["spiders"] == ["portal"]

    db_url = f"sqlite:///{tmp_path / 'archive.db'}"
    scheduled = call(
        scrapyd.url + "schedule.json",
        [
            ("project", PROJECT),
            ("spider", "portal"),
            ("start_urls", demo_site.base_url + "/"),
            ("site", "demo"),
            ("setting", f"NEWSARCHIVE_DB={db_url}"),
            ("setting", f"NEWSARCHIVE_WARC_DIR={tmp_path / 'warc'}"),
            ("setting", "DOWNLOAD_DELAY=0"),
            ("setting", "AUTOTHROTTLE_ENABLED=False"),
        ],
    )
    assert scheduled["status"] == "ok", scheduled
    job = scrapyd.wait_for_job(scheduled["jobid"])

    log_file = scrapyd.home / "logs" / PROJECT / "portal" / f"{job['id']}.log"
    log = log_file.read_text(encoding="utf-8")
    assert "Spider closed (finished)" in log
    assert "] ERROR:" not in log, log
    with session_factory(open_archive(db_url, create=False))() as session:
        articles = {
            article.url: (article.site.name, article.lang, article.published, article.title)
            for article in session.scalars(select(Article))
        }
        texts = list(session.scalars(select(Article.text)))
        runs = [
            (run.sites, run.status, run.articles_new) for run in session.scalars(select(CrawlRun))
        ]
    base = demo_site.base_url
    assert articles == {
        base + path: ("demo", lang, dt.date.fromisoformat(published), TITLES[path])
        for path, (lang, published) in ARTICLES.items()
    }
    assert all(len(text) > 1000 for text in texts)
    assert runs == [("demo", "finished", 7)]
    assert [path.suffix for path in (tmp_path / "warc").iterdir()] == [".gz"]
