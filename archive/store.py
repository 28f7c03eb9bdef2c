"""Writing articles and crawl runs to the archive.

Any number of writers, threads or processes, may store into one archive at once. Writers of
the same article take turns: on SQLite every writing transaction holds the write lock from
its start (BEGIN IMMEDIATE), on PostgreSQL a writer holds an advisory lock on each URL key
of its batch's articles, all taken at the start in one order, and a row lock on each article
it changes. Sites and URL keys are inserted with ON CONFLICT DO NOTHING, so two writers of one
article end with one article.

Articles are stored in batches, one transaction each: the rows beside each article's own
(URL keys, MinHash bands, alternates, versions, the search index) are written a statement
per batch; when an article fails, the batch is stored again with every article in a
savepoint of its own (see ArchiveWriter.save_many).

Values are made storable before they reach the database: no NUL characters or lone
surrogates in text, URLs and header values of bounded length, URL keys short enough to be
indexed. A page that still cannot be stored raises ArticleRejected and leaves the archive as
it was; a database that cannot be reached raises ArchiveUnreachable.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import functools
import hashlib
import itertools
import os
import re
import socket
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import (
    BigInteger,
    CompoundSelect,
    Connection,
    Engine,
    Select,
    bindparam,
    delete,
    func,
    insert,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    IntegrityError,
    InterfaceError,
    OperationalError,
)
from sqlalchemy.orm import Session, SessionTransaction

from archive.db import check_writable, error_reason, session_factory, writing
from archive.locks import mark_dead_runs, release_site_locks, take_site_locks
from archive.models import (
    Article,
    ArticleAlternate,
    ArticleBand,
    ArticleUrl,
    ArticleVersion,
    CrawlFailure,
    CrawlRun,
    Site,
    utcnow,
)
from archive.search import index_articles
from pipelines.article import ExtractedArticle
from pipelines.dedup import BANDS, NEAR_DUPLICATE_JACCARD, band_keys, estimated_jaccard
from pipelines.urls import url_key

MAX_URL_BYTES = 2048
"""The longest URL or URL key stored as it is; PostgreSQL indexes no value over 2704 bytes."""
URL_KEY_HEAD_BYTES = 1024
"""How much of a longer URL key is kept before the SHA-256 that stands for the whole."""
MAX_HEADER_LENGTH = 1024
"""The longest ETag or Last-Modified kept; a longer one is no use as a validator."""
LANG_LENGTH = 16
SITE_NAME_LENGTH = 200
SAVE_ATTEMPTS = 3
DUPLICATE_CANDIDATES_PER_BAND = 8
"""The earliest articles sharing each MinHash band that are compared with a new text."""

# The SQLSTATE classes of PostgreSQL's OperationalError that are the statement's, not the
# server's: transaction rollback (a conflict with another writer), program limit exceeded.
_STATEMENT_SQLSTATE_CLASSES = ("40", "54")
_READ_ONLY_TRANSACTION = "25006"
_RETRY_SQLSTATE_CLASS = "40"
# Data exception, integrity constraint violation, transaction rollback (after the retries),
# program limit exceeded (a value too large for an index or a search vector).
_REJECTED_SQLSTATE_CLASSES = ("22", "23", "40", "54")
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class ArticleRejected(Exception):
    """A page the archive cannot store, whatever is tried; the message says why in one line.

    Nothing of it was stored. It is a failure of that page, not of the crawl.
    """


class ArchiveUnreachable(Exception):
    """The archive database cannot be reached, or cannot take writes for now.

    Nothing of the write was stored; trying again later may succeed.
    """


class Outcome(enum.StrEnum):
    NEW = "new"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


@dataclass(slots=True)
class RunCounts:
    pages_fetched: int = 0
    articles_new: int = 0
    articles_updated: int = 0
    articles_unchanged: int = 0
    articles_skipped: int = 0
    errors: int = 0


@dataclass(slots=True)
class FetchFailure:
    """A page that could not be fetched or stored, recorded with its run."""

    url: str
    reason: str
    status: int | None = None
    # Whether the log has said it already (one line for all pages of an unreachable host).
    logged: bool = False


@dataclass(frozen=True, slots=True)
class KnownArticle:
    """What a recrawl needs to know of an archived article to decide whether to fetch it."""

    article_id: int
    last_fetched: dt.datetime
    first_seen: dt.datetime
    published: dt.date | None
    etag: str | None
    last_modified: str | None


def storable_text(value: str) -> str:
    """`value` without NUL characters, which PostgreSQL refuses in text, and with U+FFFD for
    lone surrogates, which no database encoding holds."""
    if _UNSTORABLE.search(value) is None:
        return value
    return _UNSTORABLE.sub(lambda match: "" if match[0] == "\x00" else "\ufffd", value)


def _optional_text(value: str | None) -> str | None:
    return None if value is None else storable_text(value)


def _fits(url: str) -> bool:
    return len(url.encode("utf-8")) <= MAX_URL_BYTES


def _truncated(value: str, max_bytes: int) -> str:
    return value.encode("utf-8")[:max_bytes].decode("utf-8", "ignore")


def _header(value: str | None) -> str | None:
    value = _optional_text(value)
    return value if value is None or len(value) <= MAX_HEADER_LENGTH else None


def storable_url_key(key: str) -> str:
    """The URL key as the archive stores it: a key too long to index keeps its beginning,
    followed by a SHA-256 of the whole key (url_key never makes a `#`)."""
    key = storable_text(key)
    encoded = key.encode("utf-8")
    if len(encoded) <= MAX_URL_BYTES:
        return key
    return f"{_truncated(key, URL_KEY_HEAD_BYTES)}#sha256:{hashlib.sha256(encoded).hexdigest()}"


def archive_url_key(url: str) -> str:
    """The key under which the archive knows `url` (see KnownArticle)."""
    return storable_url_key(url_key(url))


def _host(key: str) -> str:
    return re.split("[/?]", key, maxsplit=1)[0]


def storable_item(item: ExtractedArticle) -> ExtractedArticle:
    """A copy of `item` with values every database stores as they are.

    A canonical URL on another host than the page's own URL is not taken: at the storage
    level a page speaks only for its own host, so the page's URL is its canonical one then.
    """
    url = storable_text(item.url)
    canonical = storable_text(item.canonical_url)
    if not canonical or not _fits(canonical) or _host(url_key(canonical)) != _host(url_key(url)):
        canonical = url
    return dataclasses.replace(
        item,
        url=url,
        site=_site_name(item.site),
        requested_urls=tuple(storable_text(requested) for requested in item.requested_urls),
        etag=_header(item.etag),
        last_modified=_header(item.last_modified),
        canonical_url=_truncated(canonical, MAX_URL_BYTES),
        title=storable_text(item.title),
        text=storable_text(item.text),
        author=_optional_text(item.author),
        lang=storable_text(item.lang)[:LANG_LENGTH],
        title_lang=storable_text(item.title_lang)[:LANG_LENGTH],
        alternates={
            storable_text(lang)[:LANG_LENGTH]: storable_text(alternate)
            for lang, alternate in item.alternates.items()
            if _fits(storable_text(alternate))
        },
    )


def item_url_keys(item: ExtractedArticle) -> list[str]:
    """Stored keys of every URL the item was reached by, its canonical URL's first."""
    urls = (item.canonical_url, item.url, *item.requested_urls)
    return list(dict.fromkeys(archive_url_key(url) for url in urls if url))


def _lock_id(key: str) -> int:
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), signed=True)


def _unreachable(exc: DBAPIError) -> bool:
    """Whether the error is the connection's or the server's, not the statement's."""
    if exc.connection_invalidated or isinstance(exc, InterfaceError):
        return True
    sqlstate = getattr(exc.orig, "sqlstate", None) or ""
    if sqlstate == _READ_ONLY_TRANSACTION:
        return True
    if not isinstance(exc, OperationalError):
        return False
    if sqlstate:
        return sqlstate[:2] not in _STATEMENT_SQLSTATE_CLASSES
    # No SQLSTATE: a connection that failed, or SQLite, where only SQLITE_ERROR is the
    # statement's (the others: busy, locked, I/O error, disk full, read-only, cannot open).
    return getattr(exc.orig, "sqlite_errorname", None) != "SQLITE_ERROR"


def _retryable(exc: DBAPIError) -> bool:
    """A conflict with a concurrent writer: a serialization failure, a deadlock, a duplicate."""
    sqlstate = getattr(exc.orig, "sqlstate", None) or ""
    return isinstance(exc, IntegrityError) or sqlstate.startswith(_RETRY_SQLSTATE_CLASS)


def _rejected(exc: DBAPIError) -> bool:
    """Whether the error is the data's: storing the same values again would fail again."""
    sqlstate = getattr(exc.orig, "sqlstate", None) or ""
    return isinstance(exc, IntegrityError | DataError) or (
        sqlstate[:2] in _REJECTED_SQLSTATE_CLASSES
    )


@contextmanager
def _reaching(action: str) -> Iterator[None]:
    """Connection-level errors of the block as ArchiveUnreachable."""
    try:
        yield
    except DBAPIError as exc:
        if _unreachable(exc):
            raise ArchiveUnreachable(f"cannot {action}: {error_reason(exc)}") from exc
        raise


def _insert(session: Session, model: type):
    """INSERT for the session's database, with its ON CONFLICT clause."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(model)


def _site_name(name: str) -> str:
    return storable_text(name)[:SITE_NAME_LENGTH]


class ArchiveWriter:
    """Stores items a batch per transaction, so an interrupted crawl keeps what it stored.

    ArchiveUnavailable when the archive takes no writes (read-only file or server).
    """

    def __init__(self, engine: Engine) -> None:
        check_writable(engine)
        self.sessions = session_factory(writing(engine))
        self.reads = session_factory(engine)

    @contextmanager
    def _transaction(self, action: str) -> Iterator[Session]:
        with _reaching(action), self.sessions.begin() as session:
            yield session

    def start_run(self, sites: list[str], lock: bool = False) -> int:
        """Record a new run; runs of this host whose process is gone are marked `killed`.

        With `lock`, the run takes the lock of each of its sites (see archive.locks), or
        raises SiteLocked and records nothing.
        """
        hostname = socket.gethostname()
        for attempt in itertools.count(1):
            try:
                with self._transaction("start a crawl run") as session:
                    mark_dead_runs(session, hostname)
                    run = CrawlRun(
                        sites=storable_text(",".join(sites)),
                        status="running",
                        pid=os.getpid(),
                        hostname=hostname,
                        updated_at=utcnow(),
                    )
                    session.add(run)
                    session.flush()
                    if lock:
                        take_site_locks(session, [_site_name(site) for site in sites], run)
                    return run.id
            except IntegrityError:
                # Another run took a lock of these sites meanwhile: it is seen next time.
                if not lock or attempt >= SAVE_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _counts(counts: RunCounts, warc_path: str | None) -> dict:
        return {**dataclasses.asdict(counts), "warc_path": _optional_text(warc_path)}

    def update_run_counts(
        self, run_id: int, counts: RunCounts, warc_path: str | None = None
    ) -> None:
        """Record how far a running crawl has come; a finished run keeps its final counts."""
        with self._transaction("record the counts of a crawl run") as session:
            session.execute(
                update(CrawlRun)
                .where(CrawlRun.id == run_id, CrawlRun.status == "running")
                .values(updated_at=utcnow(), **self._counts(counts, warc_path))
            )

    def finish_run(
        self,
        run_id: int,
        status: str,
        counts: RunCounts,
        warc_path: str | None = None,
        figures: dict | None = None,
    ) -> None:
        """Record the end of a run, with its `figures` (see CrawlRun.figures); the run's
        site locks are given back."""
        now = utcnow()
        with self._transaction("record the end of a crawl run") as session:
            session.execute(
                update(CrawlRun)
                .where(CrawlRun.id == run_id)
                .values(
                    status=status,
                    finished_at=now,
                    updated_at=now,
                    figures=figures,
                    **self._counts(counts, warc_path),
                )
            )
            release_site_locks(session, run_id)

    def record_failures(self, run_id: int, failures: Iterable[FetchFailure]) -> None:
        """Record pages the run could not fetch or store, in one transaction."""
        with self._transaction("record failed pages") as session:
            session.add_all(
                CrawlFailure(
                    crawl_run_id=run_id,
                    url=storable_text(failure.url),
                    status=failure.status,
                    reason=storable_text(failure.reason),
                )
                for failure in failures
            )

    def known_articles(self, site: str) -> dict[str, KnownArticle]:
        """Every URL key of the site's archived articles, with what a revisit needs.

        The keys are those of archive_url_key.
        """
        with _reaching("read the archived articles"), self.reads() as session:
            rows = session.execute(
                select(
                    ArticleUrl.url_key,
                    Article.id,
                    Article.last_fetched,
                    Article.first_seen,
                    Article.published,
                    Article.etag,
                    Article.last_modified,
                )
                .join(Article, Article.id == ArticleUrl.article_id)
                .join(Site, Site.id == Article.site_id)
                .where(Site.name == _site_name(site))
            )
            return {key: KnownArticle(*rest) for key, *rest in rows}

    def mark_unchanged(self, url: str, fetched_at: dt.datetime) -> bool:
        """A revisit answered 304 Not Modified; False when no archived article has that URL."""
        with self._transaction("record an unchanged article") as session:
            article_id = session.scalar(
                select(ArticleUrl.article_id).where(ArticleUrl.url_key == archive_url_key(url))
            )
            if article_id is None:
                return False
            session.execute(
                update(Article).where(Article.id == article_id).values(last_fetched=fetched_at)
            )
            return True

    def drop_selectors(self, site: str) -> tuple[str, ...]:
        """The CSS selectors kept for `site` (see keep_drop_selectors)."""
        with self.reads() as session:
            kept = session.scalar(select(Site.drop_selectors).where(Site.name == site))
        return tuple(kept or ())

    def keep_drop_selectors(self, site: str, selectors: Iterable[str]) -> None:
        """Keep `selectors` with the site, beside those kept already, so that every later
        crawl and reprocessing of it removes those blocks too."""
        with self._transaction("keep the drop selectors of a site") as session:
            site_id = self._site_id(session, site)
            kept = session.scalar(
                select(Site.drop_selectors).where(Site.id == site_id).with_for_update()
            )
            merged = list(dict.fromkeys([*(kept or ()), *selectors]))
            session.execute(update(Site).where(Site.id == site_id).values(drop_selectors=merged))

    def forget_drop_selectors(self, site: str) -> None:
        with self._transaction("forget the drop selectors of a site") as session:
            session.execute(update(Site).where(Site.name == site).values(drop_selectors=[]))

    @staticmethod
    def _site_id(session: Session, name: str) -> int:
        query = select(Site.id).where(Site.name == name)
        site_id = session.scalar(query)
        if site_id is None:
            session.execute(
                _insert(session, Site)
                .values(name=name, created_at=utcnow())
                .on_conflict_do_nothing(index_elements=[Site.name])
            )
            site_id = session.scalar(query)
        return site_id

    def save(self, item: ExtractedArticle, run_id: int | None = None) -> Outcome:
        """Insert or update the article of `item`, keeping every earlier text as a version:
        a batch of one (see save_many).

        ArticleRejected when the item cannot be stored, ArchiveUnreachable when the database
        cannot be reached; either way nothing of the item was stored.
        """
        (result,) = self.save_many([item], run_id)
        if isinstance(result, ArticleRejected):
            raise result
        return result

    def save_many(
        self, items: Sequence[ExtractedArticle], run_id: int | None = None
    ) -> list[Outcome | ArticleRejected]:
        """Store the items in one transaction, each in a savepoint of its own: the outcome of
        each item, in order, or the ArticleRejected that says why it was not stored (nothing
        of it was; the others are).

        The batch is first written whole, with no savepoints; when an item fails, it is
        rolled back and written again with each item in a savepoint (_save_each).

        ArchiveUnreachable when the database cannot be reached: then nothing of the batch
        was stored, and storing it again later may succeed. A conflict with another writer
        (a deadlock, a serialization failure) rolls the whole batch back and stores it again,
        up to SAVE_ATTEMPTS times; in the last attempt it rejects only the item it met.
        """
        prepared = []
        for item in items:
            storable = storable_item(item)
            prepared.append((storable, item_url_keys(storable)))
        if not prepared:
            return []
        attempt, each = 1, False
        while True:
            last = attempt >= SAVE_ATTEMPTS
            try:
                with self.sessions.begin() as session:
                    if each:
                        return self._save_each(session, prepared, run_id, last)
                    return self._save_all(session, prepared, run_id)
            except ArticleRejected:
                each = True
            except DBAPIError as exc:
                if _unreachable(exc):
                    what = prepared[0][0].url if len(prepared) == 1 else f"{len(prepared)} articles"
                    raise ArchiveUnreachable(f"cannot store {what}: {error_reason(exc)}") from exc
                if not last and _retryable(exc):
                    attempt += 1
                elif not each:
                    each = True
                elif _rejected(exc):
                    return [_rejection(exc) for _ in prepared]
                else:
                    raise

    def _save_all(
        self,
        session: Session,
        prepared: list[tuple[ExtractedArticle, list[str]]],
        run_id: int | None,
    ) -> list[Outcome | ArticleRejected]:
        """The whole batch, on the assumption that no item fails: ArticleRejected or the
        database's error when one does."""
        batch = self._open_batch(session, prepared)
        outcomes: list[Outcome | ArticleRejected] = []
        for item, keys in prepared:
            outcome, article, new_keys = self._save(session, batch, item, keys, run_id)
            batch.stored(article, item, new_keys)
            outcomes.append(outcome)
        batch.rows.write(session.connection())
        return outcomes

    def _save_each(
        self,
        session: Session,
        prepared: list[tuple[ExtractedArticle, list[str]]],
        run_id: int | None,
        last_attempt: bool,
    ) -> list[Outcome | ArticleRejected]:
        """The batch with each item in a savepoint, so that an item that fails fails alone."""
        batch = self._open_batch(session, prepared)
        results: list[Outcome | ArticleRejected] = []
        for item, keys in prepared:
            results.append(
                self._save_in_savepoint(session, batch, item, keys, run_id, last_attempt)
            )
        return results

    def _save_in_savepoint(
        self,
        session: Session,
        batch: _Batch,
        item: ExtractedArticle,
        keys: list[str],
        run_id: int | None,
        last_attempt: bool,
    ) -> Outcome | ArticleRejected:
        """One item of the batch; an item the database refuses is rolled back alone.

        A duplicate key may be another writer's article committed meanwhile: the item is
        tried again, in a savepoint of its own, as often as a batch would be. An error
        that takes the whole transaction with it (SQLite rolls it back on a full disk, an
        I/O error) fails the batch.
        """
        for attempt in itertools.count(1):
            savepoint = session.begin_nested()
            try:
                outcome, article, new_keys = self._save(session, batch, item, keys, run_id)
                batch.rows.write(session.connection())
                savepoint.commit()
            except ArticleRejected as exc:
                batch.rows.clear()
                _roll_back(savepoint)
                return exc
            except DBAPIError as error:
                batch.rows.clear()
                exc = _hidden_cause(error)
                if not _roll_back(savepoint) or _unreachable(exc):
                    if exc is error:
                        raise
                    raise exc from exc.__cause__
                if isinstance(exc, IntegrityError):
                    if attempt < SAVE_ATTEMPTS:
                        continue
                elif _retryable(exc) and not last_attempt:
                    raise
                if _rejected(exc):
                    return _rejection(exc)
                raise
            except BaseException:
                batch.rows.clear()
                _roll_back(savepoint)
                raise
            batch.stored(article, item, new_keys)
            return outcome
        raise AssertionError("unreachable")  # pragma: no cover

    def _open_batch(
        self, session: Session, prepared: list[tuple[ExtractedArticle, list[str]]]
    ) -> _Batch:
        """Lock every URL key of the batch, then read what the batch needs to know of the
        archive: its sites' ids (adding the new ones), the articles its URL keys lead to."""
        keys = list(dict.fromkeys(key for _, item_keys in prepared for key in item_keys))
        self._lock_keys(session, keys)
        site_ids = self._site_ids(session, sorted({item.site for item, _ in prepared}))
        owners: dict[str, tuple[int, int]] = {}
        for chunk in _chunks(keys):
            owners.update(
                (key, (article_id, site_id))
                for key, article_id, site_id in session.execute(
                    select(ArticleUrl.url_key, ArticleUrl.article_id, Article.site_id)
                    .join(Article, Article.id == ArticleUrl.article_id)
                    .where(ArticleUrl.url_key.in_(chunk))
                )
            )
        batch_sites = set(site_ids.values())
        article_ids = sorted(
            {article_id for article_id, site in owners.values() if site in batch_sites}
        )
        articles: dict[int, Article] = {}
        for chunk in _chunks(article_ids):
            articles.update(
                (article.id, article)
                for article in session.scalars(
                    select(Article)
                    .where(Article.id.in_(chunk))
                    .order_by(Article.id)
                    .with_for_update(key_share=True)
                )
            )
        return _Batch(site_ids, owners, articles)

    @staticmethod
    def _lock_keys(session: Session, keys: list[str]) -> None:
        """On PostgreSQL, wait for every other writer of these URL keys (SQLite's writers
        already take turns); in one order, so two writers cannot wait for each other."""
        if session.get_bind().dialect.name != "postgresql" or not keys:
            return
        lock_ids = sorted({_lock_id(key) for key in keys})
        session.execute(_LOCK_IN_ORDER, {"ids": lock_ids})

    @staticmethod
    def _site_ids(session: Session, names: list[str]) -> dict[str, int]:
        """The id of each site, the new ones inserted (in name order, as every writer)."""
        query = select(Site.name, Site.id).where(Site.name.in_(names))
        found = {name: site_id for name, site_id in session.execute(query)}
        missing = [name for name in names if name not in found]
        if missing:
            session.execute(
                _insert(session, Site)
                .values([{"name": name, "created_at": utcnow()} for name in missing])
                .on_conflict_do_nothing(index_elements=[Site.name])
            )
            found = {name: site_id for name, site_id in session.execute(query)}
        return found

    def _save(
        self,
        session: Session,
        batch: _Batch,
        item: ExtractedArticle,
        keys: list[str],
        run_id: int | None,
    ) -> tuple[Outcome, int, list[str]]:
        """Store one item; its outcome, its article's id and the URL keys it added."""
        site_id = batch.site_ids[item.site]
        article, free_keys = batch.find(session, site_id, keys)
        if article is not None and article.id in batch.signatures:
            # Stored by an earlier item of the batch: its rows are written before they change.
            batch.rows.write(session.connection())
        if article is None:
            if not free_keys:
                raise ArticleRejected(
                    f"every URL of {item.url} is another site's article: {', '.join(keys)}"
                )
            return (
                Outcome.NEW,
                self._insert_article(session, batch, site_id, item, free_keys, run_id),
                free_keys,
            )
        if (article.content_hash, article.lang, article.published) == (
            item.content_hash,
            item.lang,
            item.published,
        ):
            _set(article, _fetch_values(item))
            session.flush()
            batch.rows.add_url_keys(article.id, free_keys)
            return Outcome.UNCHANGED, article.id, free_keys
        connection = session.connection()
        version = 1 + (connection.scalar(_LAST_VERSION, {"article_id": article.id}) or 0)
        duplicate_of = _duplicate_of(connection, batch, item, article.id)
        _set(article, _fetch_values(item) | _content_values(item))
        article.duplicate_of_id = duplicate_of
        session.flush()
        connection.execute(_DELETE_BANDS, {"article_id": article.id})
        rows = batch.rows
        rows.add_bands(article.id, item.minhash)
        self._sync_alternates(connection, rows, article.id, article.canonical_url, item.alternates)
        rows.add_url_keys(article.id, free_keys)
        values = {"warc_path": article.warc_path, "warc_offset": article.warc_offset}
        rows.add_version(article.id, values, item, version, run_id)
        rows.search.append((article.id, article.title, article.text, article.lang))
        return Outcome.UPDATED, article.id, free_keys

    def _insert_article(
        self,
        session: Session,
        batch: _Batch,
        site_id: int,
        item: ExtractedArticle,
        keys: list[str],
        run_id: int | None,
    ) -> int:
        """A new article: one INSERT of its row, which knows already what it duplicates."""
        connection = session.connection()
        values = _fetch_values(item) | _content_values(item)
        article_id = connection.scalar(
            _ADD_ARTICLE,
            {
                **values,
                "site_id": site_id,
                "first_seen": item.fetched_at,
                "duplicate_of_id": _duplicate_of(connection, batch, item),
            },
        )
        rows = batch.rows
        rows.add_bands(article_id, item.minhash)
        self._sync_alternates(
            connection, rows, article_id, item.canonical_url, item.alternates, new=True
        )
        rows.add_url_keys(article_id, keys)
        rows.add_version(article_id, values, item, 1, run_id)
        rows.search.append((article_id, item.title, item.text, item.lang))
        return article_id

    @staticmethod
    def _sync_alternates(
        connection: Connection,
        pending: _Rows,
        article_id: int,
        canonical_url: str,
        alternates: dict[str, str],
        new: bool = False,
    ) -> None:
        by_url = {url: lang for lang, url in alternates.items() if url != canonical_url}
        wanted = {(lang, url) for url, lang in by_url.items()}
        present: set[tuple[str, str]] = set()
        if not new:
            rows = connection.execute(_ALTERNATES, {"article_id": article_id}).all()
            gone = [id_ for id_, lang, url in rows if (lang, url) not in wanted]
            if gone:
                connection.execute(delete(ArticleAlternate).where(ArticleAlternate.id.in_(gone)))
            present = {(lang, url) for _, lang, url in rows} & wanted
        pending.alternates.extend(
            {"article_id": article_id, "lang": lang, "url": url}
            for lang, url in sorted(wanted - present)
        )


@dataclass(slots=True)
class _Rows:
    """The rows beside the articles' own that a batch has still to write, a statement for
    each table (write)."""

    url_keys: list[dict] = field(default_factory=list)
    bands: list[dict] = field(default_factory=list)
    alternates: list[dict] = field(default_factory=list)
    versions: list[dict] = field(default_factory=list)
    # (article id, title, text, language) of the articles to (re)index.
    search: list[tuple[int, str, str, str]] = field(default_factory=list)

    def add_url_keys(self, article_id: int, keys: list[str]) -> None:
        self.url_keys.extend({"url_key": key, "article_id": article_id} for key in keys)

    def add_bands(self, article_id: int, minhash: bytes | None) -> None:
        if minhash:
            self.bands.extend(
                {"article_id": article_id, "band_key": key} for key in band_keys(minhash)
            )

    def add_version(
        self,
        article_id: int,
        warc: dict,
        item: ExtractedArticle,
        version: int,
        run_id: int | None,
    ) -> None:
        """The item's text as the article's version `version`; `warc` holds the article's
        warc_path and warc_offset."""
        self.versions.append(
            {
                "article_id": article_id,
                "version": version,
                "title": item.title,
                "text": item.text,
                "lang": item.lang,
                "published": item.published,
                "content_hash": item.content_hash,
                "fetched_at": item.fetched_at,
                "crawl_run_id": run_id,
                "warc_path": warc.get("warc_path"),
                "warc_offset": warc.get("warc_offset"),
            }
        )

    def write(self, connection: Connection) -> None:
        """Write the rows, then forget them."""
        if self.url_keys:
            connection.execute(_ADD_URL_KEYS[connection.dialect.name], self.url_keys)
        if self.bands:
            connection.execute(_ADD_BANDS, self.bands)
        if self.alternates:
            connection.execute(_ADD_ALTERNATES, self.alternates)
        if self.versions:
            connection.execute(_ADD_VERSION, self.versions)
        if self.search:
            index_articles(connection, self.search)
        self.clear()

    def clear(self) -> None:
        for rows in (self.url_keys, self.bands, self.alternates, self.versions, self.search):
            rows.clear()


@dataclass(slots=True)
class _Batch:
    """What a batch's transaction knows of the archive, kept current as its items are stored.

    Every URL key of the batch is locked (or the whole SQLite archive is), so no other
    writer adds or moves one while the batch is written.
    """

    site_ids: dict[str, int]
    # The article each URL key leads to, and that article's site.
    owners: dict[str, tuple[int, int]]
    # The articles of the batch's sites that its keys lead to, by id.
    articles: dict[int, Article]
    rows: _Rows = field(default_factory=_Rows)
    # The text hash and signature of each article the batch stored, by id.
    signatures: dict[int, tuple[str, bytes | None]] = field(default_factory=dict)
    # The ids of those articles, by the MinHash band keys of their signatures.
    sharing: dict[str, set[int]] = field(default_factory=dict)

    def find(
        self, session: Session, site_id: int, keys: list[str]
    ) -> tuple[Article | None, list[str]]:
        """The site's article any of the keys leads to (the earliest key's, so the canonical
        URL's first) and the keys no article has yet.

        A key of another site's article leads nowhere and stays that article's.
        """
        free = [key for key in keys if key not in self.owners]
        for key in keys:
            owner = self.owners.get(key)
            if owner is not None and owner[1] == site_id:
                article = self.articles.get(owner[0])
                if article is None:
                    # Inserted by an earlier item of the batch.
                    article = self.articles[owner[0]] = session.get(Article, owner[0])
                return article, free
        return None, free

    def stored(self, article_id: int, item: ExtractedArticle, new_keys: list[str]) -> None:
        """An item was stored: its keys are the batch's to find, its text the later items'
        to be compared with."""
        for key in new_keys:
            self.owners[key] = (article_id, self.site_ids[item.site])
        _, earlier = self.signatures.get(article_id, (None, None))
        for key in band_keys(earlier) if earlier else ():
            self.sharing[key].discard(article_id)
        self.signatures[article_id] = (item.content_hash, item.minhash)
        for key in band_keys(item.minhash) if item.minhash else ():
            self.sharing.setdefault(key, set()).add(article_id)

    def sharing_bands(self, minhash: bytes | None) -> list[tuple[int, str, bytes | None]]:
        """The (id, text hash, signature) of the batch's stored articles that share a
        MinHash band with `minhash`; their bands may not be written yet."""
        if not minhash:
            return []
        found = {id_ for key in band_keys(minhash) for id_ in self.sharing.get(key, ())}
        return [(id_, *self.signatures[id_]) for id_ in found]


# The statements of every article, built once (SQLAlchemy takes longer to build a statement
# than SQLite to run it).
_ADD_ARTICLE = insert(Article.__table__).returning(Article.__table__.c.id)
_ADD_BANDS = insert(ArticleBand.__table__)
_ADD_ALTERNATES = insert(ArticleAlternate.__table__)
_ADD_VERSION = insert(ArticleVersion.__table__)
_ADD_URL_KEYS = {
    "postgresql": postgresql.insert(ArticleUrl.__table__).on_conflict_do_nothing(
        index_elements=[ArticleUrl.url_key]
    ),
    "sqlite": sqlite.insert(ArticleUrl.__table__).on_conflict_do_nothing(
        index_elements=[ArticleUrl.url_key]
    ),
}
_DELETE_BANDS = delete(ArticleBand.__table__).where(
    ArticleBand.article_id == bindparam("article_id")
)
_ALTERNATES = select(ArticleAlternate.id, ArticleAlternate.lang, ArticleAlternate.url).where(
    ArticleAlternate.article_id == bindparam("article_id")
)
_LAST_VERSION = select(func.max(ArticleVersion.version)).where(
    ArticleVersion.article_id == bindparam("article_id")
)
# Takes the advisory locks of the ids one after the other, in the order of the sorted ids.
_LOCK_IN_ORDER = text(
    "SELECT count(pg_advisory_xact_lock(id))"
    " FROM (SELECT unnest(:ids) AS id ORDER BY id) AS lock_ids"
).bindparams(bindparam("ids", type_=postgresql.ARRAY(BigInteger)))
# Bound parameters of one lookup; both databases take far more.
_LOOKUP_CHUNK = 500


def _fetch_values(item: ExtractedArticle) -> dict:
    """What an article's row keeps of the item's fetch."""
    values = {
        "url": item.url,
        "canonical_url": item.canonical_url,
        "last_fetched": item.fetched_at,
        "etag": item.etag,
        "last_modified": item.last_modified,
    }
    if item.warc_location is not None:
        values["warc_path"] = storable_text(item.warc_location.path)
        values["warc_offset"] = item.warc_location.offset
    return values


def _content_values(item: ExtractedArticle) -> dict:
    """What an article's row keeps of the item's text."""
    return {
        "lang": item.lang,
        "title": item.title,
        "text": item.text,
        "author": item.author,
        "published": item.published,
        "content_hash": item.content_hash,
        "title_lang": item.title_lang,
        "minhash": item.minhash,
    }


def _set(article: Article, values: dict) -> None:
    for name, value in values.items():
        setattr(article, name, value)


def _chunks(values: list, size: int = _LOOKUP_CHUNK) -> Iterator[list]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _hidden_cause(exc: DBAPIError) -> DBAPIError:
    """The connection's or server's error behind `exc`, when `exc` is that of the rollback
    to a savepoint it made (SQLite drops every savepoint with the transaction it rolls back
    on a full disk or an I/O error); otherwise `exc`."""
    context = exc.__context__
    while context is not None:
        if isinstance(context, DBAPIError) and _unreachable(context):
            return context
        context = context.__context__
    return exc


def _roll_back(savepoint: SessionTransaction) -> bool:
    """Roll back to the savepoint (a failed flush has, but the session waits to be told);
    False when the savepoint is gone, with the whole transaction."""
    try:
        savepoint.rollback()
    except DBAPIError:
        return False
    return True


def _rejection(exc: DBAPIError) -> ArticleRejected:
    rejected = ArticleRejected(error_reason(exc))
    rejected.__cause__ = exc
    return rejected


@functools.cache
def duplicate_candidates(bands: bool = True, earlier: bool = False) -> CompoundSelect:
    """The one query of an article's duplicate lookup (its parameters: duplicate_lookup):
    the earliest article with the same text, and with `bands` the earliest few
    (DUPLICATE_CANDIDATES_PER_BAND) sharing each MinHash band, each with its text's hash and
    signature (an article may come more than once).

    `earlier` takes only the articles before `before`, an archived article's id; for a new
    article every archived one is earlier. Each part reads the start of one index range,
    up to its LIMIT, and the candidates' rows by primary key, so the cost does not grow with
    the archive.
    """

    def before(query: Select, column) -> Select:
        return query.where(column < bindparam("before")) if earlier else query

    exact = before(
        select(Article.id).where(Article.content_hash == bindparam("content_hash")), Article.id
    )
    earliest = [exact.order_by(Article.id).limit(1)]
    for band in range(BANDS if bands else 0):
        sharing = before(
            select(ArticleBand.article_id).where(ArticleBand.band_key == bindparam(f"band_{band}")),
            ArticleBand.article_id,
        )
        earliest.append(
            sharing.order_by(ArticleBand.article_id).limit(DUPLICATE_CANDIDATES_PER_BAND)
        )
    parts = []
    for ids in earliest:
        candidate = ids.subquery()
        parts.append(
            select(Article.id, Article.content_hash, Article.minhash).join(
                candidate, Article.id == candidate.c[0]
            )
        )
    return union_all(*parts)


def duplicate_lookup(
    content_hash: str, minhash: bytes | None, before: int | None = None
) -> tuple[CompoundSelect, dict]:
    """The duplicate_candidates query of an article, and its parameters."""
    params: dict = {"content_hash": content_hash}
    if before is not None:
        params["before"] = before
    if minhash:
        params |= {f"band_{band}": key for band, key in enumerate(band_keys(minhash))}
    return duplicate_candidates(bool(minhash), before is not None), params


def _duplicate_of(
    connection: Connection, batch: _Batch, item: ExtractedArticle, before: int | None = None
) -> int | None:
    """The earliest archived article with the same or nearly the same text as the item, if
    any: of the candidates (see duplicate_candidates, and the batch's articles sharing a
    band), the earliest with the same text, else the earliest whose signature estimates the
    texts similar enough."""
    content_hash, minhash = item.content_hash, item.minhash
    rows = [*connection.execute(*duplicate_lookup(content_hash, minhash, before))]
    rows += [row for row in batch.sharing_bands(minhash) if before is None or row[0] < before]
    candidates = sorted({row[0]: tuple(row) for row in rows}.values())
    for candidate_id, candidate_hash, _ in candidates:
        if candidate_hash == content_hash:
            return candidate_id
    if minhash is None:
        return None
    for candidate_id, _, signature in candidates:
        if signature and estimated_jaccard(minhash, signature) >= NEAR_DUPLICATE_JACCARD:
            return candidate_id
    return None
