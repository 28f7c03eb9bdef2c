"""Exports for analysts and indexers: formats, cursors, filters, atomic files; stats."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from jsonschema import Draft202012Validator

from archive import export as export_module
from archive.cli.export import export_command
from archive.cli.stats import stats_command
from archive.db import open_archive
from archive.export import EXPORT_FIELDS, SCHEMA_DIR
from archive.store import ArchiveWriter, RunCounts
from pipelines.article import ExtractedArticle
from pipelines.dedup import content_hash, minhash_signature

FETCHED = dt.datetime(2026, 11, 24, 9, 30, tzinfo=dt.UTC)
REFETCHED = dt.datetime(2026, 11, 25, 8, 0, tzinfo=dt.UTC)
SCHEMA = json.loads((SCHEMA_DIR / "article.schema.json").read_text(encoding="utf-8"))
MAPPING = json.loads((SCHEMA_DIR / "opensearch-mapping.json").read_text(encoding="utf-8"))
VALIDATOR = Draft202012Validator(SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)

ZAVOD = "https://velibor.example/news/zavod/"
MOST = "https://velibor.example/news/most/"
PLANT = "https://velibor.example/en/news/plant/"
FORUM = "https://krutogorsk.example/news/forum/"
NO_DATE = "https://krutogorsk.example/news/bez-daty/"


def make_item(
    url: str,
    title: str,
    text: str,
    *,
    lang: str = "ru",
    site: str = "velibor",
    published: dt.date | None = dt.date(2026, 11, 24),
    fetched_at: dt.datetime = FETCHED,
    **extra,
) -> ExtractedArticle:
    return ExtractedArticle(
        url=url,
        site=site,
        fetched_at=fetched_at,
        canonical_url=url,
        title=title,
        text=text,
        lang=lang,
        title_lang=lang,
        published=published,
        content_hash=content_hash(title, text),
        minhash=minhash_signature(text),
        **extra,
    )


def changed_most() -> ExtractedArticle:
    return make_item(
        MOST,
        "Мост",
        "Мост открыли для движения.",
        published=dt.date(2026, 10, 1),
        fetched_at=REFETCHED,
    )


def seed(db_url: str) -> ArchiveWriter:
    """Four articles on two sites, in two languages, over two months, one without a date."""
    writer = ArchiveWriter(open_archive(db_url))
    writer.save(
        make_item(ZAVOD, "Завод", "В области открылся завод.", alternates={"en": PLANT}),
    )
    writer.save(
        make_item(MOST, "Мост", "Через реку построили мост.", published=dt.date(2026, 10, 1))
    )
    writer.save(
        make_item(
            FORUM,
            "Forum",
            "The investment forum opened on Monday.",
            lang="en",
            site="krutogorsk",
            published=dt.date(2026, 11, 30),
            author="Press office",
        )
    )
    writer.save(
        make_item(NO_DATE, "Без даты", "Новость без даты.", site="krutogorsk", published=None)
    )
    return writer


def invoke(command, *args: str) -> Result:
    return CliRunner().invoke(command, list(args), catch_exceptions=False)


def export(db_url: str, *args: str) -> tuple[str, str]:
    """The output of a successful export and the cursor it printed."""
    result = invoke(export_command, "--db", db_url, *args)
    assert result.exit_code == 0, result.stderr
    cursor = re.search(r"^cursor: (\S+)$", result.stderr, re.M)
    assert cursor, result.stderr
    return result.stdout, cursor.group(1)


def export_jsonl(db_url: str, *args: str) -> tuple[dict[str, dict], str]:
    output, cursor = export(db_url, *args)
    records = [json.loads(line) for line in output.splitlines()]
    return {record["canonical_url"]: record for record in records}, cursor


def test_since_cursor_exports_exactly_the_changed_and_the_new_article(db_url: str) -> None:
    writer = seed(db_url)
    records, cursor = export_jsonl(db_url)
    assert set(records) == {ZAVOD, MOST, FORUM, NO_DATE}
    assert re.fullmatch(r"v\d+", cursor)

    writer.save(changed_most())
    writer.save(
        make_item(
            NO_DATE,
            "Без даты",
            "Новость без даты.",
            site="krutogorsk",
            published=None,
            fetched_at=REFETCHED,
        )
    )
    added = "https://velibor.example/news/dorogi/"
    writer.save(make_item(added, "Дороги", "Отремонтировали дороги.", fetched_at=REFETCHED))

    changed, next_cursor = export_jsonl(db_url, "--since", cursor)
    assert set(changed) == {MOST, added}
    assert changed[MOST]["text"] == "Мост открыли для движения."
    assert (changed[MOST]["version"], changed[added]["version"]) == (2, 1)
    assert changed[MOST]["updated_at"] == REFETCHED.isoformat()
    assert changed[MOST]["first_seen"] == FETCHED.isoformat()
    assert changed[MOST]["id"] == records[MOST]["id"]
    assert next_cursor != cursor

    output, same_cursor = export(db_url, "--since", next_cursor)
    assert output == ""
    assert same_cursor == next_cursor


def test_new_translation_exports_its_counterpart_whose_translations_changed(
    db_url: str,
) -> None:
    writer = seed(db_url)
    records, cursor = export_jsonl(db_url)
    assert records[ZAVOD]["translations"] == []

    writer.save(make_item(PLANT, "Plant", "A plant opened in the region.", lang="en"))
    changed, _ = export_jsonl(db_url, "--since", cursor)
    assert set(changed) == {ZAVOD, PLANT}
    assert changed[ZAVOD]["translations"] == [PLANT]
    assert changed[PLANT]["translations"] == [ZAVOD]
    assert changed[ZAVOD]["version"] == 1


def test_jsonl_and_bulk_documents_validate_against_the_schema(db_url: str) -> None:
    writer = seed(db_url)
    writer.save(make_item(PLANT, "Plant", "A plant opened in the region.", lang="en"))
    writer.save(make_item("https://other.example/zavod/", "Завод", "В области открылся завод."))
    records, _ = export_jsonl(db_url)
    bulk, _ = export(db_url, "--format", "bulk")
    documents = [json.loads(line) for line in bulk.splitlines()[1::2]]
    assert len(records) == len(documents) == 6
    assert any(r["duplicate_of"] == ZAVOD for r in records.values())
    assert any(r["translations"] for r in records.values())
    assert any(r["published"] is None for r in records.values())
    for document in [*records.values(), *documents]:
        VALIDATOR.validate(document)
        assert list(document) == list(EXPORT_FIELDS)


def test_schema_rejects_unknown_fields_and_bad_values() -> None:
    assert set(SCHEMA["required"]) == set(SCHEMA["properties"]) == set(EXPORT_FIELDS)
    assert SCHEMA["additionalProperties"] is False
    Draft202012Validator.check_schema(SCHEMA)
    record = {
        "id": 1,
        "url": ZAVOD,
        "canonical_url": ZAVOD,
        "site": "velibor",
        "title": "Завод",
        "text": "Текст.",
        "lang": "ru",
        "title_lang": "ru",
        "published": "2026-11-24",
        "author": None,
        "fetched_at": FETCHED.isoformat(),
        "first_seen": FETCHED.isoformat(),
        "version": 1,
        "updated_at": FETCHED.isoformat(),
        "translations": [],
        "duplicate_of": None,
        "content_hash": "0" * 64,
    }
    VALIDATOR.validate(record)
    for bad in ({"extra": 1}, {"published": "24.11.2026"}, {"version": 0}, {"translations": ""}):
        assert not VALIDATOR.is_valid({**record, **bad}), bad


def test_bulk_alternates_actions_and_documents_with_stable_ids(db_url: str) -> None:
    writer = seed(db_url)
    first, _ = export(db_url, "--format", "bulk", "--index", "news-test")
    lines = [json.loads(line) for line in first.splitlines()]
    assert len(lines) == 8
    actions, documents = lines[0::2], lines[1::2]
    for action, document in zip(actions, documents, strict=True):
        assert list(action) == ["index"]
        assert action["index"]["_index"] == "news-test"
        assert action["index"]["_id"] == str(document["id"])
        assert "index" not in document
    ids = {d["canonical_url"]: a["index"]["_id"] for a, d in zip(actions, documents, strict=True)}
    assert len(set(ids.values())) == 4

    writer.save(changed_most())
    again, _ = export(db_url, "--format", "bulk")
    lines = [json.loads(line) for line in again.splitlines()]
    pairs = zip(lines[0::2], lines[1::2], strict=True)
    assert {d["canonical_url"]: a["index"]["_id"] for a, d in pairs} == ids
    assert {a["index"]["_index"] for a in lines[0::2]} == {"newsarchive"}


def test_csv_round_trips_with_dict_reader(db_url: str) -> None:
    writer = seed(db_url)
    writer.save(make_item(PLANT, "Plant", "A plant opened.\nIn the region.", lang="en"))
    records, _ = export_jsonl(db_url)
    output, _ = export(db_url, "--format", "csv")
    reader = csv.DictReader(io.StringIO(output, newline=""))
    assert tuple(reader.fieldnames or ()) == EXPORT_FIELDS
    rows = {row["canonical_url"]: row for row in reader}
    assert set(rows) == set(records)
    for url, record in records.items():
        expected = {
            name: " ".join(value)
            if isinstance(value, list)
            else ""
            if value is None
            else str(value)
            for name, value in record.items()
        }
        assert rows[url] == expected
    assert rows[PLANT]["text"] == "A plant opened.\nIn the region."
    assert rows[ZAVOD]["translations"] == PLANT


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--lang", "en"), {FORUM}),
        (("--lang", "ru", "--lang", "en"), {ZAVOD, MOST, FORUM, NO_DATE}),
        (("--site", "krutogorsk"), {FORUM, NO_DATE}),
        (("--from", "2026-11-24"), {ZAVOD, FORUM}),
        (("--until", "2026-11-24"), {ZAVOD, MOST}),
        (("--from", "2026-11-24", "--until", "2026-11-24"), {ZAVOD}),
        (("--site", "velibor", "--from", "2026-11-01", "--lang", "ru"), {ZAVOD}),
        (("--site", "nowhere"), set()),
    ],
)
def test_filters(db_url: str, args: tuple[str, ...], expected: set[str]) -> None:
    seed(db_url)
    records, _ = export_jsonl(db_url, *args)
    assert set(records) == expected


def test_filters_apply_to_incremental_exports(db_url: str) -> None:
    writer = seed(db_url)
    _, cursor = export_jsonl(db_url)
    writer.save(changed_most())
    writer.save(make_item(FORUM, "Forum", "The forum closed.", lang="en", site="krutogorsk"))
    changed, next_cursor = export_jsonl(db_url, "--since", cursor, "--site", "krutogorsk")
    assert set(changed) == {FORUM}
    _, unfiltered_cursor = export(db_url, "--since", cursor)
    assert next_cursor == unfiltered_cursor


def test_output_file_is_replaced_only_by_a_complete_export(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(db_url)
    target = tmp_path / "out" / "articles.jsonl"
    target.parent.mkdir()
    target.write_text("previous export\n", encoding="utf-8")
    records = list(export_module.iter_export_records(open_archive(db_url)))

    def failing_records(*args, **kwargs) -> Iterator[dict]:
        yield records[0]
        raise RuntimeError("database went away mid-export")

    monkeypatch.setattr(export_module, "iter_export_records", failing_records)
    result = CliRunner().invoke(export_command, ["--db", db_url, "-o", str(target)])
    assert isinstance(result.exception, RuntimeError)
    assert target.read_text(encoding="utf-8") == "previous export\n"
    assert [path.name for path in target.parent.iterdir()] == ["articles.jsonl"]
    assert "cursor:" not in result.stderr

    monkeypatch.undo()
    result = invoke(export_command, "--db", db_url, "--format", "csv", "-o", str(target))
    assert "exported 4 articles" in result.stderr
    assert len(list(csv.DictReader(target.open(encoding="utf-8", newline="")))) == 4
    assert [path.name for path in target.parent.iterdir()] == ["articles.jsonl"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--since", "42"), "bad cursor '42'"),
        (("--since", "v-1"), "bad cursor"),
        (("--since", "v99999"), "cursor v99999 is ahead of this archive, whose latest is v4"),
        (("--from", "2026-12-01", "--until", "2026-11-01"), "--from is after --until"),
    ],
)
def test_bad_cursor_is_one_line_and_exit_code_2(
    db_url: str, args: tuple[str, ...], message: str
) -> None:
    seed(db_url)
    result = CliRunner().invoke(export_command, ["--db", db_url, *args])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith("Error: ")
    assert message in result.stderr


def test_a_missing_archive_is_one_line_and_exit_code_2(tmp_path: Path) -> None:
    for command in (export_command, stats_command):
        result = CliRunner().invoke(command, ["--db", f"sqlite:///{tmp_path}/missing/a.db"])
        assert result.exit_code == 2
        assert result.stderr.startswith(f"Error: no archive at {tmp_path}/missing/a.db: ")
        assert len(result.stderr.strip().splitlines()) == 1
        assert not (tmp_path / "missing").exists()


def test_empty_archive_exports_nothing_from_cursor_v0(db_url: str) -> None:
    open_archive(db_url).dispose()
    assert export(db_url) == ("", "v0")
    assert export(db_url, "--since", "v0") == ("", "v0")


def test_mapping_analyzes_text_in_russian_and_english_and_covers_every_field() -> None:
    properties = MAPPING["mappings"]["properties"]
    assert "settings" in MAPPING
    assert set(properties) == set(EXPORT_FIELDS)
    for field in ("text", "title"):
        assert properties[field]["type"] == "text"
        assert properties[field]["analyzer"] == "russian"
        assert properties[field]["fields"]["english"] == {"type": "text", "analyzer": "english"}
    for field in (
        "url",
        "canonical_url",
        "site",
        "lang",
        "title_lang",
        "content_hash",
        "duplicate_of",
        "translations",
    ):
        assert properties[field]["type"] == "keyword", field
    for field in ("published", "fetched_at", "first_seen", "updated_at"):
        assert properties[field]["type"] == "date", field


def test_stats_json_counts_sites_languages_months_and_runs(db_url: str) -> None:
    writer = ArchiveWriter(open_archive(db_url))
    for number in range(6):
        run_id = writer.start_run(["velibor"])
        writer.finish_run(run_id, "finished", RunCounts(pages_fetched=number, articles_new=1))
    seed(db_url)
    writer.save(changed_most())

    document = json.loads(invoke(stats_command, "--db", db_url, "--json").stdout)
    assert document["totals"] == {
        "articles": 4,
        "sites": 2,
        "languages": 2,
        "versions": 5,
        "runs": 6,
    }
    assert document["by_site_lang"] == [
        {"site": "krutogorsk", "lang": "en", "articles": 1},
        {"site": "krutogorsk", "lang": "ru", "articles": 1},
        {"site": "velibor", "lang": "ru", "articles": 2},
    ]
    assert document["by_month"] == [
        {"month": "2026-10", "articles": 1},
        {"month": "2026-11", "articles": 2},
        {"month": "unknown", "articles": 1},
    ]
    runs = document["runs"]
    assert [run["pages_fetched"] for run in runs] == [5, 4, 3, 2, 1]
    assert runs[0]["status"] == "finished"
    assert runs[0]["articles_new"] == 1
    assert set(runs[0]) >= {
        "started_at",
        "finished_at",
        "articles_updated",
        "articles_unchanged",
        "articles_skipped",
        "errors",
    }
    assert dt.datetime.fromisoformat(runs[0]["finished_at"]).tzinfo is not None

    text = invoke(stats_command, "--db", db_url).stdout
    assert re.search(r"^total\s+4$", text, re.M)
    assert re.search(r"^2026-10\s+1$", text, re.M)
    assert re.search(r"^unknown\s+1$", text, re.M)
    assert "last crawl: run 6 [finished]" in text
    assert text.count("[finished]") == 5
