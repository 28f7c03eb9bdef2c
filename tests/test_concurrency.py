"""Writers at once into one archive, values no database stores as they are, and pages that
claim another site's URLs: on a SQLite file and on PostgreSQL alike."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import traceback
from collections import Counter
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import func, inspect, select, text

from archive.db import alembic_config, open_archive, session_factory
from archive.models import Article, ArticleUrl, CrawlFailure, CrawlRun, Site
from archive.store import (
    MAX_URL_BYTES,
    ArchiveWriter,
    ArticleRejected,
    FetchFailure,
    Outcome,
    RunCounts,
    archive_url_key,
)
from pipelines.article import ExtractedArticle
from pipelines.dedup import content_hash, minhash_signature

WRITERS = 4
REPETITIONS = 3
ARTICLES = 5
FETCHED = dt.datetime(2026, 11, 25, 8, 0, tzinfo=dt.UTC)
# Fresh processes, forked from one that has imported this module already.
PROCESSES = multiprocessing.get_context("forkserver")
PROCESSES.set_forkserver_preload([__name__])
BARRIER_TIMEOUT = 60


def news_item(site: str, url: str, title: str, text: str, **extra) -> ExtractedArticle:
    fields = {"canonical_url": url, "lang": "ru", "published": dt.date(2026, 11, 25)} | extra
    if "minhash" not in fields:
        fields["minhash"] = minhash_signature(text)
    return ExtractedArticle(
        url=url,
        site=site,
        fetched_at=FETCHED,
        title=title,
        text=text,
        content_hash=content_hash(title, text),
        **fields,
    )


def body(number: int, edition: int) -> str:
    return (
        f"Новость номер {number}, редакция {edition}. Компания построит в особой экономической "
        f"зоне завод номер {number}, инвестиции составят {number + edition} миллиардов рублей, "
        "на предприятии будет создано триста рабочих мест, первую продукцию выпустят в конце "
        "следующего года, а местные поставщики получат новые заказы."
    )


def portal_item(repetition: int, number: int, edition: int, writer: int) -> ExtractedArticle:
    """One of the articles every writer saves: reached by its canonical URL or by its id,
    and through a shortlink of the writer's own."""
    canonical = f"https://portal.example/news/{repetition}/item-{number}/"
    by_id = f"https://portal.example/news/?rep={repetition}&id={number}"
    return news_item(
        f"portal-{repetition}",
        canonical if writer % 2 else by_id,
        f"Завод {number}",
        body(number, edition),
        canonical_url=canonical,
        requested_urls=(f"https://clck.example/{repetition}-{number}-{writer}",),
    )


def crawl_at_once(db_url: str, writer: int, batched: bool, barrier, results) -> None:
    """Every writer saves the same articles at the same moment, twice per repetition: the
    first edition, then, after all have saved it, the second. Batched, each edition is one
    batch, in the opposite order for every other writer."""
    try:
        archive = ArchiveWriter(open_archive(db_url))
        for repetition in range(REPETITIONS):
            barrier.wait(BARRIER_TIMEOUT)
            run_id = archive.start_run([f"portal-{repetition}"])
            outcomes = Counter()
            for edition in (1, 2):
                numbers = range(ARTICLES)[:: -1 if writer % 2 else 1]
                items = [portal_item(repetition, n, edition, writer) for n in numbers]
                if batched:
                    outcomes.update(archive.save_many(items, run_id))
                else:
                    outcomes.update(archive.save(item, run_id) for item in items)
                archive.update_run_counts(run_id, RunCounts(pages_fetched=sum(outcomes.values())))
                barrier.wait(BARRIER_TIMEOUT)
            archive.record_failures(
                run_id, [FetchFailure(url=f"https://portal.example/{writer}", reason="HTTP 404")]
            )
            counts = RunCounts(
                pages_fetched=2 * ARTICLES,
                articles_new=outcomes[Outcome.NEW],
                articles_updated=outcomes[Outcome.UPDATED],
                articles_unchanged=outcomes[Outcome.UNCHANGED],
                errors=1,
            )
            archive.finish_run(run_id, "finished", counts)
            results.put((writer, repetition, run_id, dict(outcomes)))
    except BaseException:
        barrier.abort()
        results.put((writer, None, None, traceback.format_exc()))


def run_processes(target, args_for, count: int) -> list[tuple]:
    barrier = PROCESSES.Barrier(count)
    results = PROCESSES.Queue()
    processes = [
        PROCESSES.Process(target=target, args=(*args_for(n), barrier, results))
        for n in range(count)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(120)
    reported = []
    while not results.empty():
        reported.append(results.get())
    errors = [report[-1] for report in reported if report[1] is None]
    assert not errors, "\n".join(errors)
    assert [process.exitcode for process in processes] == [0] * count
    return reported


@pytest.mark.parametrize("batched", [False, True], ids=["one by one", "in batches"])
def test_writers_of_the_same_articles_at_once_make_one_article_each(
    db_url: str, batched: bool
) -> None:
    open_archive(db_url).dispose()
    reported = run_processes(crawl_at_once, lambda writer: (db_url, writer, batched), WRITERS)
    assert len(reported) == WRITERS * REPETITIONS

    engine = open_archive(db_url)
    with session_factory(engine)() as session:
        for repetition in range(REPETITIONS):
            articles = session.scalars(
                select(Article)
                .join(Site)
                .where(Site.name == f"portal-{repetition}")
                .order_by(Article.canonical_url)
            ).all()
            assert [a.canonical_url for a in articles] == [
                f"https://portal.example/news/{repetition}/item-{n}/" for n in range(ARTICLES)
            ]
            for number, article in enumerate(articles):
                assert article.text == body(number, 2)
                assert [(v.version, v.text) for v in article.versions] == [
                    (1, body(number, 1)),
                    (2, body(number, 2)),
                ]
                assert {u.url_key for u in article.urls} == {
                    archive_url_key(f"https://portal.example/news/{repetition}/item-{number}/"),
                    archive_url_key(f"https://portal.example/news/?rep={repetition}&id={number}"),
                    *(f"clck.example/{repetition}-{number}-{w}" for w in range(WRITERS)),
                }
            outcomes = Counter()
            for _writer, rep, _run, counted in reported:
                if rep == repetition:
                    outcomes.update(counted)
            assert outcomes == {
                Outcome.NEW: ARTICLES,
                Outcome.UPDATED: ARTICLES,
                Outcome.UNCHANGED: (2 * WRITERS - 2) * ARTICLES,
            }
        runs = session.scalars(select(CrawlRun).order_by(CrawlRun.id)).all()
        assert sorted(run.id for run in runs) == sorted(run_id for _w, _r, run_id, _o in reported)
        assert {(run.status, run.pages_fetched, run.errors) for run in runs} == {
            ("finished", 2 * ARTICLES, 1)
        }
        assert session.scalar(select(func.count(CrawlFailure.id))) == WRITERS * REPETITIONS
    engine.dispose()


def open_at_once(db_url: str, opener: int, barrier, results) -> None:
    try:
        barrier.wait(BARRIER_TIMEOUT)
        engine = open_archive(db_url)
        with engine.connect() as connection:
            revision = connection.scalar(text("SELECT version_num FROM alembic_version"))
        results.put((opener, revision, None, None))
    except BaseException:
        barrier.abort()
        results.put((opener, None, None, traceback.format_exc()))


@pytest.mark.parametrize("attempt", range(2))
def test_processes_opening_a_fresh_archive_at_once_all_find_it_at_head(
    db_url: str, attempt: int
) -> None:
    reported = run_processes(open_at_once, lambda opener: (db_url, opener), 3)
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert sorted(revision for _opener, revision, _, _ in reported) == [head] * 3
    engine = open_archive(db_url)
    assert {"articles", "article_urls", "article_versions", "crawl_runs"} <= set(
        inspect(engine).get_table_names()
    )
    with engine.connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM alembic_version")) == 1
    engine.dispose()


LONG_PATH = "/news/" + "очень-длинный-адрес-" * 1000
"""20,000 characters, far over any index's limit even percent-encoded."""


def test_nul_bytes_and_overlong_urls_and_headers_are_stored_cleanly(db_url: str) -> None:
    engine = open_archive(db_url)
    writer = ArchiveWriter(engine)
    url = "https://portal.example/news/nul/"
    item = news_item(
        "portal",
        url,
        "Завод\x00 открыт",
        body(1, 1) + "\x00",
        author="Пресс-\x00служба \udc80",
        etag='W/"5f\x00a1"',
        last_modified="Tue, 24 Nov 2026 10:00:00 GMT" + " " * 2000,
        canonical_url="https://portal.example" + LONG_PATH,
        requested_urls=("https://clck.example" + LONG_PATH,),
        alternates={"en": "https://portal.example/en" + LONG_PATH, "kk\x00": url + "kk/"},
    )
    run_id = writer.start_run(["portal\x00"])
    assert writer.save(item, run_id) is Outcome.NEW
    assert writer.save(item, run_id) is Outcome.UNCHANGED
    writer.record_failures(run_id, [FetchFailure(url=url + "\x00", reason="bad\x00 gateway")])

    long_url = "https://portal.example" + LONG_PATH
    long_item = news_item("portal", long_url, "Длинный адрес", body(2, 1))
    assert writer.save(long_item) is Outcome.NEW
    assert writer.save(long_item) is Outcome.UNCHANGED

    with session_factory(engine)() as session:
        first, second = session.scalars(select(Article).order_by(Article.id)).all()
        assert (first.title, first.text, first.author) == (
            "Завод открыт",
            body(1, 1),
            "Пресс-служба \ufffd",
        )
        assert (first.etag, first.last_modified) == ('W/"5fa1"', None)
        assert first.canonical_url == url
        assert [(a.lang, a.url) for a in first.alternates] == [("kk", url + "kk/")]
        assert second.url == long_url
        assert long_url.startswith(second.canonical_url)
        assert len(second.canonical_url.encode()) <= MAX_URL_BYTES
        keys = session.scalars(select(ArticleUrl.url_key)).all()
        assert max(len(key.encode()) for key in keys) <= MAX_URL_BYTES
        assert archive_url_key(long_url) in keys
        assert archive_url_key("https://clck.example" + LONG_PATH) in keys
        failure = session.scalars(select(CrawlFailure)).one()
        assert (failure.url, failure.reason) == (url, "bad gateway")
        assert session.get(CrawlRun, run_id).sites == "portal"
    assert set(writer.known_articles("portal")) == set(keys)


def test_ten_megabyte_text_is_stored_whole(db_url: str) -> None:
    engine = open_archive(db_url)
    writer = ArchiveWriter(engine)
    paragraph = body(4, 1) + "\n"
    huge = paragraph * (10_000_000 // len(paragraph.encode()) + 1)
    assert len(huge.encode()) > 10_000_000
    url = "https://portal.example/news/huge/"
    item = news_item("portal", url, "Огромная\x00", huge + "\x00", minhash=None)
    assert writer.save(item) is Outcome.NEW
    assert writer.save(item) is Outcome.UNCHANGED
    with session_factory(engine)() as session:
        article = session.scalars(select(Article)).one()
        assert (article.title, article.text == huge) == ("Огромная", True)
        assert [v.text == huge for v in article.versions] == [True]


def test_a_page_claiming_another_sites_urls_does_not_touch_that_sites_article(
    db_url: str,
) -> None:
    engine = open_archive(db_url)
    writer = ArchiveWriter(engine)
    original = "https://agency-a.example/news/zavod/"
    assert writer.save(news_item("agency-a", original, "Завод", body(1, 1))) is Outcome.NEW

    impostor = "https://agency-b.example/news/zavod/"
    claims = news_item(
        "agency-b",
        impostor,
        "Подменённый завод",
        body(9, 9),
        canonical_url=original,
        requested_urls=(original,),
    )
    assert writer.save(claims) is Outcome.NEW
    same_url = news_item("agency-b", original, "Подменённый завод", body(9, 9))
    with pytest.raises(ArticleRejected, match="another site's article"):
        writer.save(same_url)

    with session_factory(engine)() as session:
        articles = {a.site.name: a for a in session.scalars(select(Article).order_by(Article.id))}
        assert set(articles) == {"agency-a", "agency-b"}
        a, b = articles["agency-a"], articles["agency-b"]
        assert (a.title, a.text, a.canonical_url) == ("Завод", body(1, 1), original)
        assert [(v.version, v.text) for v in a.versions] == [(1, body(1, 1))]
        assert {u.url_key for u in a.urls} == {archive_url_key(original)}
        assert (b.title, b.canonical_url) == ("Подменённый завод", impostor)
        assert {u.url_key for u in b.urls} == {archive_url_key(impostor)}
    assert set(writer.known_articles("agency-a")) == {archive_url_key(original)}


def test_a_canonical_url_on_the_pages_own_host_joins_its_article(tmp_path: Path) -> None:
    writer = ArchiveWriter(open_archive(f"sqlite:///{tmp_path / 'a.db'}"))
    canonical = "https://agency.example/news/zavod/"
    by_id = "https://www.agency.example/news/?id=5"
    assert writer.save(news_item("agency", by_id, "Завод", body(1, 1), canonical_url=canonical))
    assert writer.save(news_item("agency", canonical, "Завод", body(1, 1))) is Outcome.UNCHANGED
    assert set(writer.known_articles("agency")) == {
        archive_url_key(canonical),
        archive_url_key(by_id),
    }
