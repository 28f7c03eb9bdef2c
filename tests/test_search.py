"""Full-text search: the same queries find the same articles in the same order on SQLite and
PostgreSQL, in any word form of Russian and English."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, func, select, text

from archive.cli.search import search_command
from archive.db import create_archive_engine, open_archive, upgrade_schema
from archive.models import Article
from archive.search import SearchQueryError, index_articles, reindex_all, search
from archive.store import ArchiveWriter
from pipelines.article import ExtractedArticle
from pipelines.dedup import content_hash, minhash_signature

FETCHED = dt.datetime(2026, 11, 24, 9, 30, tzinfo=dt.UTC)
TATARSTAN = "invest-tatarstan"
KALUGA = "invest-kaluga"
ARTICLES = {
    "industry": (
        "ru",
        TATARSTAN,
        dt.date(2026, 3, 10),
        "Инвестиции в промышленность выросли",
        "Объём инвестиций в промышленность республики вырос на 12 процентов. "
        "Правительство подписало соглашение о сотрудничестве с инвесторами.",
    ),
    "plant": (
        "ru",
        KALUGA,
        dt.date(2026, 5, 20),
        "Новый завод в индустриальном парке",
        "В индустриальном парке открылся завод по производству кабеля. Проект поддержан "
        "инвестициями фонда развития. Предприятие расположено недалеко от Москвы.",
    ),
    "forum": (
        "ru",
        KALUGA,
        dt.date(2025, 11, 1),
        "Форум регионов",
        "На форуме представили проекты: завод и технопарк. Стороны обсудили соглашение и "
        "сотрудничество в сфере туризма.",
    ),
    "kazan": (
        "en",
        TATARSTAN,
        dt.date(2026, 4, 1),
        "Investment forum opens in Kazan",
        "Investors discussed new investments in the special economic zone.",
    ),
    "cable": (
        "en",
        KALUGA,
        None,
        "New plant opens",
        "The plant attracted investments of 2 billion roubles.",
    ),
}


def save(
    engine: Engine,
    key: str,
    title: str,
    text: str,
    *,
    lang: str = "ru",
    site: str = "example",
    published: dt.date | None = None,
) -> int:
    """Store an article and index it, as ArchiveWriter.save is meant to."""
    url = f"https://{site}.ru/news/{key}/"
    ArchiveWriter(engine).save(
        ExtractedArticle(
            url=url,
            site=site,
            fetched_at=FETCHED,
            canonical_url=url,
            title=title,
            text=text,
            lang=lang,
            published=published,
            content_hash=content_hash(title, text),
            minhash=minhash_signature(text),
        )
    )
    with engine.begin() as connection:
        article_id = connection.scalar(select(Article.id).where(Article.canonical_url == url))
        index_articles(connection, [(article_id, title, text, lang)])
    return article_id


@pytest.fixture
def archive(db_url: str) -> tuple[Engine, dict[str, int]]:
    """The sample articles, and their ids by key."""
    engine = open_archive(db_url)
    ids = {
        key: save(engine, key, title, text, lang=lang, site=site, published=published)
        for key, (lang, site, published, title, text) in ARTICLES.items()
    }
    return engine, ids


def keys(archive: tuple[Engine, dict[str, int]], query: str, **filters) -> list[str]:
    engine, ids = archive
    by_id = {article_id: key for key, article_id in ids.items()}
    return [by_id[hit.article_id] for hit in search(engine, query, **filters)]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("инвестиция", ["industry", "plant"]),
        ("инвестиций", ["industry", "plant"]),
        ("инвестициями", ["industry", "plant"]),
        ("investment", ["kazan", "cable"]),
        ("Investments", ["kazan", "cable"]),
        ("завод", ["plant", "forum"]),
        ("завод -москва", ["forum"]),
        ("завод -Москвы", ["forum"]),
        ("forum or форум", ["forum", "kazan"]),
        ("технопарк or кабель", ["forum", "plant"]),
        ('"новый завод"', ["plant"]),
        ('"завод новый"', []),
        ('"соглашение о сотрудничестве"', ["forum", "industry"]),
        ('промышленность -"соглашение о сотрудничестве"', []),
        ("инвесторы", ["industry"]),
    ],
)
def test_same_hits_in_same_order_on_every_database(archive, query: str, expected) -> None:
    assert keys(archive, query) == expected


def test_filters_by_language_site_and_inclusive_dates(archive) -> None:
    assert keys(archive, "завод or plant", lang="en") == ["cable"]
    assert keys(archive, "завод or plant", lang="ru") == ["plant", "forum"]
    assert keys(archive, "инвестиция", site=KALUGA) == ["plant"]
    assert keys(archive, "инвестиция", site="nowhere") == []
    day = dt.date(2026, 5, 20)
    assert keys(archive, "инвестиция", since=day, until=day) == ["plant"]
    assert keys(archive, "инвестиция", until=dt.date(2026, 5, 19)) == ["industry"]
    assert keys(archive, "investment", since=dt.date(2026, 1, 1)) == ["kazan"]
    assert keys(archive, "инвестиция", limit=1) == ["industry"]


def test_title_match_ranks_higher(db_url: str) -> None:
    engine = open_archive(db_url)
    in_text = save(engine, "a", "Новости региона", "В области построят новый технопарк.")
    in_title = save(engine, "b", "Технопарк откроют весной", "В области построят новый объект.")
    hits = search(engine, "технопарки")
    assert [hit.article_id for hit in hits] == [in_title, in_text]
    assert hits[0].score > hits[1].score > 0


def test_hit_fields_and_highlighted_snippet(archive) -> None:
    engine, ids = archive
    hits = search(engine, "инвестиция соглашение")
    assert len(hits) == 1
    hit = hits[0]
    assert (hit.article_id, hit.site, hit.lang, hit.published) == (
        ids["industry"],
        TATARSTAN,
        "ru",
        dt.date(2026, 3, 10),
    )
    assert hit.url == f"https://{TATARSTAN}.ru/news/industry/"
    assert hit.title == "Инвестиции в промышленность выросли"
    assert hit.snippet.startswith("Объём [инвестиций] в промышленность")
    assert "подписало [соглашение] о сотрудничестве" in hit.snippet
    assert search(engine, "roubles")[0].published is None


def test_snippet_of_long_text_is_an_excerpt_around_the_first_match(db_url: str) -> None:
    engine = open_archive(db_url)
    text = "Вступление. " * 40 + "Стороны подписали соглашение о поставках. " + "Итог. " * 60
    save(engine, "long", "Итоги года", text)
    (hit,) = search(engine, "соглашения")
    assert hit.snippet.startswith("… ") and hit.snippet.endswith(" …")
    assert "подписали [соглашение] о поставках" in hit.snippet
    assert len(hit.snippet) <= 210
    (hit,) = search(engine, "года")
    assert hit.snippet.startswith("Вступление. Вступление.")


def test_reindexing_after_a_text_change_forgets_the_old_words(db_url: str) -> None:
    engine = open_archive(db_url)
    article_id = save(engine, "news", "Новости", "Открылся новый завод.")
    assert [hit.article_id for hit in search(engine, "завод")] == [article_id]
    assert save(engine, "news", "Новости", "Открылся новый технопарк.") == article_id
    assert search(engine, "завод") == []
    assert [hit.article_id for hit in search(engine, "технопарка")] == [article_id]


def test_reindex_all_indexes_every_article(db_url: str) -> None:
    engine = open_archive(db_url)
    with engine.begin() as connection:
        assert reindex_all(connection) == 0
    save(engine, "a", "Завод", "Открылся завод.")
    save(engine, "b", "Plant", "A plant opened.", lang="en")
    with engine.begin() as connection:
        assert reindex_all(connection) == 2
        assert connection.scalar(select(func.count(Article.id))) == 2
    assert [hit.title for hit in search(engine, "заводы or plants")] == ["Завод", "Plant"]


def test_upgrade_to_search_indexes_the_archived_articles(db_url: str) -> None:
    engine = create_archive_engine(db_url)
    upgrade_schema(engine, "0003")
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO sites (id, name, created_at) VALUES (1, 'example', :at)"),
            {"at": FETCHED.replace(tzinfo=None)},
        )
        connection.execute(
            text(
                "INSERT INTO articles (id, site_id, canonical_url, url, lang, title, text,"
                " content_hash, first_seen, last_fetched)"
                " VALUES (7, 1, :url, :url, 'ru', 'Завод', :text, 'h', :at, :at)"
            ),
            {
                "url": "https://example.ru/1/",
                "text": "Открылись заводы.",
                "at": FETCHED.replace(tzinfo=None),
            },
        )
    upgrade_schema(engine)
    assert [hit.article_id for hit in search(engine, "завод")] == [7]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ('"новый завод', "unbalanced quotes"),
        ("-завод", "only excludes"),
        ("завод or -технопарк", "only excludes"),
        ("и в на the", "no word to search for"),
        ("* ? !", "no word to search for"),
        ("or завод", "`or` must stand between"),
        ("завод or", "`or` must stand between"),
    ],
)
def test_bad_queries_raise_a_clear_error(archive, query: str, message: str) -> None:
    with pytest.raises(SearchQueryError, match=message) as error:
        search(archive[0], query)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("'; DROP TABLE articles; --", []),
        ("title: завод", []),
        ("NEAR(завод технопарк)", []),
        ("завод*", ["plant", "forum"]),
        ("завод^ \\ (технопарк) {} :", ["forum"]),
        ("технопарк (-завод)", ["forum"]),
    ],
)
def test_query_syntax_characters_are_words_not_operators(archive, query: str, expected) -> None:
    assert keys(archive, query) == expected
    assert keys(archive, "завод") == ["plant", "forum"]


def test_search_command_prints_json_lines_and_errors(archive, db_url: str) -> None:
    runner = CliRunner()
    result = runner.invoke(
        search_command, ["инвестиция", "--db", db_url, "--json", "--since", "2026-01-01"]
    )
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [record["title"] for record in records] == [
        "Инвестиции в промышленность выросли",
        "Новый завод в индустриальном парке",
    ]
    assert set(records[0]) == {
        "article_id",
        "url",
        "title",
        "site",
        "published",
        "lang",
        "score",
        "snippet",
    }
    assert records[0]["published"] == "2026-03-10"
    assert "[инвестициями]" in records[1]["snippet"]

    result = runner.invoke(search_command, ["investment", "--db", db_url, "--lang", "en"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("1. Investment forum opens in Kazan\n")
    assert "   undated  invest-kaluga  en\n" in result.stdout

    result = runner.invoke(search_command, ['"завод', "--db", db_url])
    assert result.exit_code == 2
    assert result.stderr == "Error: unbalanced quotes in the search query '\"завод'\n"
