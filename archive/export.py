"""Exporting archived articles for analysts and indexers, in full or incrementally."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import re
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sqlalchemy import ColumnElement, Engine, Select, func, or_, select, text
from sqlalchemy.orm import Session, aliased

from archive.db import session_factory
from archive.models import Article, ArticleAlternate, ArticleVersion, Site

EXPORT_BATCH_SIZE = 500
DEFAULT_INDEX = "newsarchive"
EXPORT_FORMATS = ("jsonl", "csv", "bulk")
EXPORT_FIELDS = (
    "id",
    "url",
    "canonical_url",
    "site",
    "title",
    "text",
    "lang",
    "title_lang",
    "published",
    "author",
    "fetched_at",
    "first_seen",
    "version",
    "updated_at",
    "translations",
    "duplicate_of",
    "content_hash",
)
SCHEMA_DIR = Path(__file__).with_name("schema")
CURSOR_PATTERN = re.compile(r"v(\d{1,18})")


class CursorError(ValueError):
    """A --since value that is not a cursor as exports print them."""


@dataclass(frozen=True, order=True, slots=True)
class Cursor:
    """How far an export got: the highest article version id it covered.

    Version ids only grow and every new or changed article gets a new version, so the
    articles to export after a cursor are those whose latest version id is above it.
    """

    version_id: int

    def __str__(self) -> str:
        return f"v{self.version_id}"

    @classmethod
    def parse(cls, value: str) -> Cursor:
        match = CURSOR_PATTERN.fullmatch(value.strip())
        if match is None:
            raise CursorError(
                f"bad cursor {value!r}: expected what an earlier export printed, like v42"
            )
        return cls(int(match.group(1)))


@dataclass(frozen=True, slots=True)
class ExportFilter:
    """Which articles to export; empty tuples and None mean no restriction."""

    langs: tuple[str, ...] = ()
    sites: tuple[str, ...] = ()
    published_from: dt.date | None = None
    published_until: dt.date | None = None


def export_cursor(engine: Engine) -> Cursor:
    """The cursor an export started now can promise: every version up to it is committed.

    PostgreSQL hands out ids before commit, so a slow transaction may commit a lower id
    after a higher one; waiting for writers in flight (a SHARE lock, held only for this
    read) keeps such a version from falling behind the cursor unseen. SQLite serializes
    writers, so its ids commit in order.
    """
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("LOCK TABLE article_versions IN SHARE MODE"))
        return Cursor(connection.scalar(select(func.max(ArticleVersion.id))) or 0)


def translation_map(session: Session) -> dict[int, set[str]]:
    """Article id -> canonical URLs of its archived versions in other languages, both ways."""
    target = aliased(Article)
    source = aliased(Article)
    rows = session.execute(
        select(ArticleAlternate.article_id, source.canonical_url, target.id, target.canonical_url)
        .join(source, source.id == ArticleAlternate.article_id)
        .join(target, target.canonical_url == ArticleAlternate.url)
    )
    translations: dict[int, set[str]] = defaultdict(set)
    for source_id, source_url, target_id, target_url in rows:
        if source_id != target_id:
            translations[source_id].add(target_url)
            translations[target_id].add(source_url)
    return translations


def _translations_of(article_ids: Select) -> ColumnElement[bool]:
    """Articles linked as translations, either way, to one of `article_ids`."""
    source = aliased(Article)
    target = aliased(Article)
    linked_to = (
        select(target.id)
        .join(ArticleAlternate, ArticleAlternate.url == target.canonical_url)
        .where(ArticleAlternate.article_id.in_(article_ids))
    )
    linked_from = (
        select(ArticleAlternate.article_id)
        .join(source, source.canonical_url == ArticleAlternate.url)
        .where(source.id.in_(article_ids))
    )
    return or_(Article.id.in_(linked_to), Article.id.in_(linked_from))


def _export_query(since: Cursor | None, upto: Cursor | None, filters: ExportFilter) -> Select:
    latest = (
        select(ArticleVersion.article_id, func.max(ArticleVersion.id).label("version_id"))
        .group_by(ArticleVersion.article_id)
        .subquery()
    )
    version = aliased(ArticleVersion)
    duplicate = aliased(Article)
    query = (
        select(Article, Site.name, duplicate.canonical_url, version.version, version.fetched_at)
        .join(Site, Site.id == Article.site_id)
        .join(latest, latest.c.article_id == Article.id)
        .join(version, version.id == latest.c.version_id)
        .outerjoin(duplicate, duplicate.id == Article.duplicate_of_id)
    )
    if upto is not None:
        query = query.where(latest.c.version_id <= upto.version_id)
    if since is not None:
        changed = select(ArticleVersion.article_id).where(ArticleVersion.id > since.version_id)
        query = query.where(or_(latest.c.version_id > since.version_id, _translations_of(changed)))
    if filters.langs:
        query = query.where(Article.lang.in_(filters.langs))
    if filters.sites:
        query = query.where(Site.name.in_(filters.sites))
    if filters.published_from is not None:
        query = query.where(Article.published >= filters.published_from)
    if filters.published_until is not None:
        query = query.where(Article.published <= filters.published_until)
    return query


def count_export_records(
    engine: Engine,
    *,
    since: Cursor | None = None,
    upto: Cursor | None = None,
    filters: ExportFilter = ExportFilter(),
) -> int:
    """How many records iter_export_records would yield, for a progress bar."""
    query = _export_query(since, upto, filters)
    with session_factory(engine)() as session:
        return session.scalar(select(func.count()).select_from(query.subquery())) or 0


def iter_export_records(
    engine: Engine,
    *,
    since: Cursor | None = None,
    upto: Cursor | None = None,
    filters: ExportFilter = ExportFilter(),
) -> Iterator[dict[str, Any]]:
    """One JSON-ready dict per article, ordered by id, read in batches.

    With `since`, only articles whose latest version is newer than the cursor, and their
    translations, whose `translations` field may now name them. With `upto`, none whose
    latest version is newer than that cursor: the export after it will bring those.
    """
    query = _export_query(since, upto, filters).order_by(Article.id)
    with session_factory(engine)() as session:
        translations = translation_map(session)
        rows = session.execute(query.execution_options(yield_per=EXPORT_BATCH_SIZE))
        for article, site, duplicate_url, version, updated_at in rows:
            yield {
                "id": article.id,
                "url": article.url,
                "canonical_url": article.canonical_url,
                "site": site,
                "title": article.title,
                "text": article.text,
                "lang": article.lang,
                "title_lang": article.title_lang,
                "published": article.published.isoformat() if article.published else None,
                "author": article.author,
                "fetched_at": article.last_fetched.isoformat(),
                "first_seen": article.first_seen.isoformat(),
                "version": version,
                "updated_at": updated_at.isoformat(),
                "translations": sorted(translations.get(article.id, ())),
                "duplicate_of": duplicate_url,
                "content_hash": article.content_hash,
            }


def write_jsonl(records: Iterable[dict[str, Any]], stream: IO[str]) -> int:
    count = 0
    for record in records:
        stream.write(json.dumps(record, ensure_ascii=False) + "\n")
        count += 1
    return count


def write_csv(records: Iterable[dict[str, Any]], stream: IO[str]) -> int:
    """A header row, then one row per record; lists become space-separated, null empty."""
    writer = csv.DictWriter(stream, fieldnames=EXPORT_FIELDS)
    writer.writeheader()
    count = 0
    for record in records:
        writer.writerow(
            {
                name: " ".join(value) if isinstance(value, list) else value
                for name, value in record.items()
            }
        )
        count += 1
    return count


def write_bulk(
    records: Iterable[dict[str, Any]], stream: IO[str], *, index: str = DEFAULT_INDEX
) -> int:
    """Elasticsearch/OpenSearch bulk NDJSON: an `index` action, then the document.

    The document id is the article id, which stays the same when the text or even the
    canonical URL changes, so a re-export replaces documents instead of adding copies.
    """
    count = 0
    for record in records:
        action = {"index": {"_index": index, "_id": str(record["id"])}}
        stream.write(json.dumps(action) + "\n")
        stream.write(json.dumps(record, ensure_ascii=False) + "\n")
        count += 1
    return count


def record_writer(export_format: str, *, index: str = DEFAULT_INDEX) -> Callable[..., int]:
    """The function writing records in `export_format` to a stream, returning their count."""
    if export_format == "jsonl":
        return write_jsonl
    if export_format == "csv":
        return write_csv
    if export_format == "bulk":
        return lambda records, stream: write_bulk(records, stream, index=index)
    raise ValueError(f"unknown export format {export_format!r}")


@contextmanager
def atomic_output(path: Path) -> Iterator[IO[str]]:
    """A text stream that replaces `path` only when the block ends without an error."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            yield stream
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
