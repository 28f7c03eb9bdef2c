"""Storing articles: new, unchanged, updated with history, duplicates, translations."""

from __future__ import annotations

import dataclasses
import datetime as dt
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import create_engine, event, func, insert, make_url, select, text

from archive.db import open_archive, session_factory
from archive.export import iter_export_records
from archive.models import Article, ArticleBand, ArticleVersion, CrawlRun, Site
from archive.search import search
from archive.store import (
    ArchiveUnreachable,
    ArchiveWriter,
    ArticleRejected,
    FetchFailure,
    Outcome,
    RunCounts,
    archive_url_key,
    duplicate_lookup,
)
from pipelines.article import ExtractedArticle
from pipelines.dedup import BANDS, band_keys, content_hash, minhash_signature

FETCHED = dt.datetime(2026, 11, 24, 9, 30, tzinfo=dt.UTC)


def make_item(url: str, title: str, text: str, lang: str = "ru", **extra) -> ExtractedArticle:
    return ExtractedArticle(
        url=url,
        site="example",
        fetched_at=FETCHED,
        canonical_url=url,
        title=title,
        text=text,
        lang=lang,
        published=dt.date(2026, 11, 24),
        content_hash=content_hash(title, text),
        minhash=minhash_signature(text),
        **extra,
    )


def test_new_unchanged_and_updated_article_keeps_every_version(db_url: str) -> None:
    engine = open_archive(db_url)
    writer = ArchiveWriter(engine)
    run_id = writer.start_run(["example"])
    url = "https://example.ru/news/1/"
    assert writer.save(make_item(url, "Завод", "Первый текст."), run_id) is Outcome.NEW
    assert writer.save(make_item(url, "Завод", "Первый  текст."), run_id) is Outcome.UNCHANGED
    assert writer.save(make_item(url, "Завод", "Второй текст."), run_id) is Outcome.UPDATED
    writer.finish_run(run_id, "finished", RunCounts(pages_fetched=3, articles_new=1))

    with session_factory(engine)() as session:
        article = session.scalars(select(Article)).one()
        assert article.text == "Второй текст."
        assert article.first_seen == FETCHED
        versions = session.scalars(select(ArticleVersion).order_by(ArticleVersion.version)).all()
        assert [(v.version, v.text) for v in versions] == [
            (1, "Первый текст."),
            (2, "Второй текст."),
        ]
        assert {v.crawl_run_id for v in versions} == {run_id}
        run = session.get(CrawlRun, run_id)
        assert (run.status, run.pages_fetched, run.articles_new) == ("finished", 3, 1)
        assert run.finished_at is not None and run.finished_at.tzinfo is not None


def test_export_links_translations_both_ways_and_flags_exact_duplicates(db_url: str) -> None:
    engine = open_archive(db_url)
    writer = ArchiveWriter(engine)
    ru = "https://example.ru/news/zavod/"
    en = "https://example.ru/en/news/plant/"
    copy = "https://other.ru/news/zavod-copy/"
    writer.save(make_item(ru, "Завод", "Открылся завод.", alternates={"en": en, "ru": ru}))
    writer.save(make_item(en, "Plant", "A plant opened.", lang="en"))
    writer.save(make_item(copy, "Завод", "Открылся завод."))

    records = {r["canonical_url"]: r for r in iter_export_records(engine)}
    assert records[ru]["translations"] == [en]
    assert records[en]["translations"] == [ru]
    assert records[copy]["translations"] == []
    assert records[copy]["duplicate_of"] == ru
    assert records[ru]["duplicate_of"] is None
    assert records[ru]["published"] == "2026-11-24"
    assert records[ru]["fetched_at"] == "2026-11-24T09:30:00+00:00"
    assert records[en]["lang"] == "en"


RELEASE = (
    "Правительство Велиборской области и компания «Кварц-Пак» подписали соглашение о "
    "строительстве завода стеклотары в особой экономической зоне. Инвестиции в проект "
    "составят 6,4 миллиарда рублей, на предприятии будет создано 310 рабочих мест. "
    "Мощность завода составит 120 тысяч тонн стеклянной тары в год, первую продукцию "
    "планируется выпустить в конце следующего года. По словам губернатора, проект станет "
    "крупнейшим в истории экономической зоны и даст заказы местным поставщикам песка."
)


def test_republished_press_release_is_a_near_duplicate_and_other_news_is_not(
    db_url: str,
) -> None:
    engine = open_archive(db_url)
    writer = ArchiveWriter(engine)
    original = "https://velibor-invest.example/news/steklotara/"
    copy = "https://krutogorsk.example/news/kvarts-pak/"
    other = "https://krutogorsk.example/news/most/"
    english = "https://velibor-invest.example/en/news/glass/"
    edited = RELEASE.replace("По словам губернатора,", "Как отметил губернатор области,")
    writer.save(make_item(original, "Завод стеклотары", RELEASE))
    writer.save(make_item(copy, "«Кварц-Пак» построит завод", "Крутогорск. " + edited))
    bridge = (
        "В Крутогорске открыли новый мост через реку Зорю. Его строительство заняло два года "
        "и обошлось краевому бюджету в 3,1 миллиарда рублей. Длина моста составляет 640 "
        "метров, по нему проходят четыре полосы движения и велосипедная дорожка. Старый мост "
        "закроют на капитальный ремонт, который продлится до конца следующего года."
    )
    writer.save(make_item(other, "Мост", bridge))
    writer.save(
        make_item(
            english,
            "Glass plant",
            "The region and Kvarts-Pak signed an agreement "
            "to build a glass container plant worth 6.4 billion rubles with 310 jobs "
            "in the special economic zone, the governor said on Monday.",
            lang="en",
        )
    )
    records = {r["canonical_url"]: r for r in iter_export_records(engine)}
    assert records[copy]["duplicate_of"] == original
    assert records[original]["duplicate_of"] is None
    assert records[other]["duplicate_of"] is None
    assert records[english]["duplicate_of"] is None


def test_an_article_reached_by_keys_of_two_articles_is_the_canonical_keys(db_url: str) -> None:
    engine = open_archive(db_url)
    writer = ArchiveWriter(engine)
    first = "https://example.ru/news/1/"
    second = "https://example.ru/news/2/"
    writer.save(make_item(first, "Первая", "Первый текст."))
    writer.save(make_item(second, "Вторая", "Второй текст."))
    moved = make_item(second, "Первая", "Первый текст, исправленный.")
    moved.canonical_url = first
    assert writer.save(moved) is Outcome.UPDATED
    with session_factory(engine)() as session:
        articles = session.scalars(select(Article).order_by(Article.id)).all()
        assert [(a.text, {u.url_key for u in a.urls}) for a in articles] == [
            ("Первый текст, исправленный.", {archive_url_key(first)}),
            ("Второй текст.", {archive_url_key(second)}),
        ]


def test_running_counts_are_written_until_the_run_finishes(db_url: str) -> None:
    engine = open_archive(db_url)
    writer = ArchiveWriter(engine)
    run_id = writer.start_run(["example"])
    writer.update_run_counts(run_id, RunCounts(pages_fetched=5, articles_new=2), "a.warc.gz")
    with session_factory(engine)() as session:
        run = session.get(CrawlRun, run_id)
        assert (run.status, run.pages_fetched, run.articles_new, run.warc_path) == (
            "running",
            5,
            2,
            "a.warc.gz",
        )
        assert run.finished_at is None
    writer.finish_run(run_id, "finished", RunCounts(pages_fetched=9, articles_new=3))
    writer.update_run_counts(run_id, RunCounts(pages_fetched=6, articles_new=2))
    with session_factory(engine)() as session:
        run = session.get(CrawlRun, run_id)
        assert (run.status, run.pages_fetched, run.articles_new) == ("finished", 9, 3)


@pytest.mark.postgres
def test_value_the_database_refuses_rejects_that_article_only(postgres_url: str) -> None:
    engine = open_archive(postgres_url)
    writer = ArchiveWriter(engine)
    refused = make_item("https://example.ru/news/1/", "Завод", "Текст.")
    refused.content_hash = "x" * 65
    with pytest.raises(ArticleRejected, match="value too long") as error:
        writer.save(refused)
    assert "\n" not in str(error.value)
    assert writer.save(make_item("https://example.ru/news/2/", "Мост", "Текст.")) is Outcome.NEW
    with session_factory(engine)() as session:
        assert session.scalars(select(Article.canonical_url)).all() == [
            "https://example.ru/news/2/"
        ]


def test_sqlite_archive_locked_past_the_busy_timeout_is_unreachable(tmp_path: Path) -> None:
    path = tmp_path / "archive.db"
    engine = open_archive(f"sqlite:///{path}")
    writer = ArchiveWriter(engine)
    event.listen(engine, "connect", lambda dbapi, _: dbapi.execute("PRAGMA busy_timeout=50"))
    engine.dispose()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    item = make_item("https://example.ru/news/1/", "Завод", "Текст.")
    with pytest.raises(ArchiveUnreachable, match="database is locked"):
        writer.save(item)
    with pytest.raises(ArchiveUnreachable, match="database is locked"):
        writer.start_run(["example"])
    holder.rollback()
    holder.close()
    assert writer.save(item) is Outcome.NEW


@pytest.mark.postgres
def test_postgres_server_refusing_connections_is_unreachable(
    postgres_url: str, postgres_admin_url: str
) -> None:
    writer = ArchiveWriter(open_archive(postgres_url))
    name = make_url(postgres_url).database
    admin = create_engine(postgres_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
        connection.execute(
            text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"),
            {"name": name},
        )
    item = make_item("https://example.ru/news/1/", "Завод", "Текст.")
    try:
        with pytest.raises(ArchiveUnreachable, match="not currently accepting connections"):
            writer.save(item)
        with pytest.raises(ArchiveUnreachable):
            writer.record_failures(1, [FetchFailure(url=item.url, reason="HTTP 404")])
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
        admin.dispose()
    assert writer.save(item) is Outcome.NEW


def _plan(connection, query) -> str:
    compiled = query.compile(connection, compile_kwargs={"literal_binds": True})
    if connection.dialect.name == "postgresql":
        connection.execute(text("SET LOCAL enable_seqscan = off"))
        return "\n".join(connection.scalars(text(f"EXPLAIN {compiled}")))
    return "\n".join(row[-1] for row in connection.execute(text(f"EXPLAIN QUERY PLAN {compiled}")))


def test_the_duplicate_lookup_reads_bounded_index_ranges(db_url: str) -> None:
    """Even where 2,000 articles share a MinHash band (and 40 a text), the planner (with
    statistics) reads the first few entries of each index range, sorting nothing, and the
    candidates by primary key."""
    engine = open_archive(db_url)
    signature = minhash_signature(RELEASE)
    shared_band, shared_text = band_keys(signature)[0], "ab" * 32
    with engine.begin() as connection:
        site_id = connection.execute(
            insert(Site).values(name="example").returning(Site.id)
        ).scalar_one()
        ids = connection.scalars(
            insert(Article).returning(Article.id),
            [
                {
                    "site_id": site_id,
                    "canonical_url": f"https://example.ru/news/{n}/",
                    "url": f"https://example.ru/news/{n}/",
                    "lang": "ru",
                    "text": "",
                    "content_hash": shared_text if n % 50 == 7 else f"{n:064x}",
                }
                for n in range(2000)
            ],
        ).all()
        connection.execute(
            insert(ArticleBand),
            [{"article_id": id_, "band_key": shared_band} for id_ in ids]
            + [{"article_id": id_, "band_key": f"99{id_:016x}"} for id_ in ids],
        )
        connection.execute(text("ANALYZE"))
    for before in (None, ids[1500]):
        with engine.begin() as connection:
            query, params = duplicate_lookup(shared_text, signature, before)
            plan = _plan(connection, query.params(params))
        assert plan.count("ix_articles_content_hash_id") == 1, plan
        assert plan.count("ix_article_bands_band_key_article_id") == BANDS, plan
        slow = ("Sort", "Seq Scan", "Bitmap", "Merge", "Filter", "TEMP B-TREE", "SCAN article")
        assert not [step for step in slow if step in plan], plan


BRIDGE = (
    "В Крутогорске открыли новый мост через реку Зорю. Его строительство заняло два года "
    "и обошлось краевому бюджету в 3,1 миллиарда рублей. Длина моста составляет 640 "
    "метров, по нему проходят четыре полосы движения и велосипедная дорожка. Старый мост "
    "закроют на капитальный ремонт, который продлится до конца следующего года."
)


def _statements(engine) -> list[str]:
    """Every statement the engine sends from now on, and COMMIT for each commit."""
    sent: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: sent.append(args[2]))
    event.listen(engine, "commit", lambda _connection: sent.append("COMMIT"))
    return sent


def _count(statements: list[str], start: str) -> int:
    return sum(statement.startswith(start) for statement in statements)


def test_a_batch_is_one_transaction_with_a_statement_per_table(db_url: str) -> None:
    engine = open_archive(db_url)
    writer = ArchiveWriter(engine)
    original = "https://example.ru/news/zavod/"
    writer.save(make_item(original, "Завод", RELEASE))
    run_id = writer.start_run(["example"])
    sent = _statements(engine)
    bridge = "https://example.ru/news/most/"
    near = "https://example.ru/news/most-2/"
    copy = "https://copies.example/zavod/"
    en = "https://example.ru/en/news/bridge/"
    items = [
        make_item(bridge, "Мост", BRIDGE),
        make_item(copy, "Завод", RELEASE),
        make_item(near, "Мост открыт", "Крутогорск. " + BRIDGE),
        make_item(bridge, "Мост", BRIDGE, requested_urls=("https://clck.example/most",)),
        make_item(bridge, "Мост", BRIDGE + " Мост освятили.", alternates={"en": en}),
    ]
    outcomes = writer.save_many(items, run_id)
    new, unchanged, updated = Outcome.NEW, Outcome.UNCHANGED, Outcome.UPDATED
    assert outcomes == [new, new, new, unchanged, updated]

    assert _count(sent, "COMMIT") == 1
    assert _count(sent, "SAVEPOINT") == 0
    # The rows beside the articles' own are written a statement per table: when the batch
    # comes back to an article it stored (the bridge, twice), and at its end. The
    # near-duplicate finds the bridge before the bridge's bands are written.
    written = {
        table: _count(sent, f"INSERT INTO {table} ")
        for table in ("article_urls", "article_bands", "article_alternates", "article_versions")
    }
    assert written == {
        "article_urls": 2,
        "article_bands": 2,
        "article_alternates": 1,
        "article_versions": 2,
    }
    if engine.dialect.name == "sqlite":
        assert sent[0] == "BEGIN IMMEDIATE"
    else:
        assert _count(sent, "SELECT count(pg_advisory_xact_lock(") == 1
    # A new article is one INSERT of its row, which knows what it duplicates; a new or
    # changed text is one duplicate lookup.
    assert _count(sent, "INSERT INTO articles ") == 3
    assert _count(sent, "UPDATE articles SET duplicate_of_id") == 0
    assert _count(sent, "SELECT articles.id, articles.content_hash, articles.minhash") == 4

    records = {r["canonical_url"]: r for r in iter_export_records(engine)}
    assert records[copy]["duplicate_of"] == original
    assert records[near]["duplicate_of"] == bridge
    assert records[bridge]["duplicate_of"] is None
    with session_factory(engine)() as session:
        article = session.scalars(select(Article).where(Article.canonical_url == bridge)).one()
        assert [(v.version, v.text) for v in article.versions] == [
            (1, BRIDGE),
            (2, BRIDGE + " Мост освятили."),
        ]
        assert {u.url_key for u in article.urls} == {
            archive_url_key(bridge),
            "clck.example/most",
        }
        assert len(article.bands) == BANDS
        assert [(a.lang, a.url) for a in article.alternates] == [("en", en)]
    assert {hit.url for hit in search(engine, "освятили")} == {bridge}


def test_an_article_the_database_refuses_is_rolled_back_alone(db_url: str) -> None:
    engine = open_archive(db_url)
    writer = ArchiveWriter(engine)
    theirs = "https://agency.example/news/zavod/"
    writer.save(dataclasses.replace(make_item(theirs, "Завод", RELEASE), site="agency"))
    refused = make_item("https://example.ru/news/refused/", "Отказ", "Текст без хеша.")
    refused.content_hash = None
    claims = make_item(theirs, "Чужой завод", "Текст о чужом заводе.")
    urls = [f"https://example.ru/news/{n}/" for n in range(3)]
    items = [
        make_item(urls[0], "Первая", BRIDGE),
        refused,
        make_item(urls[1], "Вторая", "Вторая новость."),
        claims,
        dataclasses.replace(make_item(urls[2], "Третья", "Третья новость."), site="new-site"),
    ]
    first, not_null, second, other_site, third = writer.save_many(items)
    assert (first, second, third) == (Outcome.NEW, Outcome.NEW, Outcome.NEW)
    assert isinstance(not_null, ArticleRejected)
    assert "null" in str(not_null).lower() and "\n" not in str(not_null)
    assert isinstance(other_site, ArticleRejected)
    assert "another site's article" in str(other_site)

    records = {r["canonical_url"]: r for r in iter_export_records(engine)}
    assert set(records) == {theirs, *urls}
    assert records[theirs]["title"] == "Завод"
    assert records[urls[2]]["site"] == "new-site"
    assert {hit.url for hit in search(engine, "новость")} == {urls[1], urls[2]}
    with session_factory(engine)() as session:
        assert session.scalar(select(func.count(ArticleVersion.id))) == 4
    refused.content_hash = content_hash(refused.title, refused.text)
    assert writer.save_many([refused]) == [Outcome.NEW]


def _cut_off_after(engine, articles: int) -> None:
    """Once `articles` articles' rows are inserted, the database fails the writer for good:
    PostgreSQL ends its connection, a SQLite file can take no more pages (a full disk)."""
    inserted = []

    def cut(connection, cursor, statement, *_args) -> None:
        if not statement.startswith("INSERT INTO articles "):
            return
        inserted.append(statement)
        if len(inserted) != articles + 1:
            return
        if connection.dialect.name == "sqlite":
            (pages,) = cursor.connection.execute("PRAGMA page_count").fetchone()
            cursor.connection.execute(f"PRAGMA max_page_count = {pages}")
            return
        admin = create_engine(engine.url, isolation_level="AUTOCOMMIT")
        with admin.connect() as other:
            other.execute(
                text("SELECT pg_terminate_backend(:pid)"),
                {"pid": cursor.connection.info.backend_pid},
            )
        admin.dispose()

    event.listen(engine, "before_cursor_execute", cut)


def test_a_batch_that_loses_the_database_midway_stores_nothing(db_url: str) -> None:
    engine = open_archive(db_url)
    writer = ArchiveWriter(engine)
    items = [
        make_item(f"https://example.ru/news/{n}/", "Завод", f"{RELEASE} {n}") for n in range(5)
    ]
    _cut_off_after(engine, 2)
    with pytest.raises(ArchiveUnreachable, match="cannot store 5 articles") as error:
        writer.save_many(items)
    assert "\n" not in str(error.value)
    with session_factory(engine)() as session:
        assert session.scalar(select(func.count(Article.id))) == 0
        assert session.scalar(select(func.count(Site.id))) == 0
    engine.dispose()
    writer = ArchiveWriter(open_archive(db_url))
    assert writer.save_many(items) == [Outcome.NEW] * len(items)
