"""Storing articles: new, unchanged, updated with history, duplicates, translations."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from archive.db import open_archive, session_factory
from archive.export import iter_export_records
from archive.models import Article, ArticleVersion, CrawlRun
from archive.store import ArchiveWriter, Outcome, RunCounts
from crawler.items import ArticleItem
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
