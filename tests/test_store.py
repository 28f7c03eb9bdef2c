"""Storing articles: new, unchanged, updated with history, duplicates, translations."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import create_engine, event, make_url, select, text

from archive.db import open_archive, session_factory
from archive.export import iter_export_records
from archive.models import Article, ArticleBand, ArticleVersion, CrawlRun
from archive.store import (
    ArchiveUnreachable,
    ArchiveWriter,
    ArticleRejected,
    Outcome,
    RunCounts,
    archive_url_key,
)
from crawler.items import ArticleItem, FetchFailure
from pipelines.dedup import content_hash, minhash_signature

FETCHED = dt.datetime(2026, 11, 24, 9, 30, tzinfo=dt.UTC)


def make_item(url: str, title: str, text: str, lang: str = "ru", **extra) -> ArticleItem:
    return ArticleItem(
        url=url,
        html="",
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


def test_duplicate_lookups_are_index_range_scans(db_url: str) -> None:
    engine = open_archive(db_url)
    exact = (
        select(Article.id)
        .where(Article.content_hash == "ab" * 32, Article.id < 1000)
        .order_by(Article.id)
        .limit(1)
    )
    band = (
        select(ArticleBand.article_id)
        .where(ArticleBand.band_key == "00" + "f" * 16, ArticleBand.article_id < 1000)
        .order_by(ArticleBand.article_id)
        .limit(8)
    )
    with engine.begin() as connection:
        exact_plan, band_plan = _plan(connection, exact), _plan(connection, band)
    assert "ix_articles_content_hash_id" in exact_plan
    assert "ix_article_bands_band_key_article_id" in band_plan
    for plan in (exact_plan, band_plan):
        assert "TEMP B-TREE" not in plan and "Sort" not in plan and "SCAN" not in plan
