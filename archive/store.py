"""Writing articles and crawl runs to the archive.

Any number of writers, threads or processes, may store into one archive at once. Writers of
the same article take turns: on SQLite every writing transaction holds the write lock from
its start (BEGIN IMMEDIATE), on PostgreSQL a writer holds an advisory lock on each of the
article's URL keys and a row lock on the article. Sites and URL keys are inserted with
ON CONFLICT DO NOTHING, so two writers of one article end with one article.

Values are made storable before they reach the database: no NUL characters or lone
surrogates in text, URLs and header values of bounded length, URL keys short enough to be
indexed. A page that still cannot be stored raises ArticleRejected and leaves the archive as
it was; a database that cannot be reached raises ArchiveUnreachable.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import hashlib
import itertools
import os
import re
import socket
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Engine, func, select, union, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    IntegrityError,
    InterfaceError,
    OperationalError,
)
from sqlalchemy.orm import Session

from archive.db import check_writable, error_reason, session_factory, writing
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
from archive.search import index_article
from crawler.items import ArticleItem, FetchFailure
from pipelines.dedup import NEAR_DUPLICATE_JACCARD, band_keys, estimated_jaccard
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


@dataclass(frozen=True, slots=True)
class KnownArticle:
    """What a recrawl needs to know of an archived article to decide whether to fetch it."""

    article_id: int
    last_fetched: dt.datetime
    first_seen: dt.datetime
    published: dt.date | None
    etag: str | None
    last_modified: str | None


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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


def storable_item(item: ArticleItem) -> ArticleItem:
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


def item_url_keys(item: ArticleItem) -> list[str]:
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
    """Stores items one transaction each, so an interrupted crawl keeps what it stored.

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

    def start_run(self, sites: list[str]) -> int:
        """Record a new run; runs of this host whose process is gone are marked `killed`."""
        hostname = socket.gethostname()
        with self._transaction("start a crawl run") as session:
            running = session.execute(
                select(CrawlRun.id, CrawlRun.pid).where(
                    CrawlRun.status == "running", CrawlRun.hostname == hostname
                )
            ).all()
            dead = [run_id for run_id, pid in running if pid is None or not _process_alive(pid)]
            if dead:
                session.execute(
                    update(CrawlRun)
                    .where(CrawlRun.id.in_(dead), CrawlRun.status == "running")
                    .values(status="killed")
                )
            run = CrawlRun(
                sites=storable_text(",".join(sites)),
                status="running",
                pid=os.getpid(),
                hostname=hostname,
            )
            session.add(run)
            session.flush()
            return run.id

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
                .values(**self._counts(counts, warc_path))
            )

    def finish_run(
        self, run_id: int, status: str, counts: RunCounts, warc_path: str | None = None
    ) -> None:
        with self._transaction("record the end of a crawl run") as session:
            session.execute(
                update(CrawlRun)
                .where(CrawlRun.id == run_id)
                .values(status=status, finished_at=utcnow(), **self._counts(counts, warc_path))
            )

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

    @staticmethod
    def _lock_keys(session: Session, keys: list[str]) -> None:
        """On PostgreSQL, wait for every other writer of these URL keys (SQLite's writers
        already take turns); in one order, so two writers cannot wait for each other."""
        if session.get_bind().dialect.name != "postgresql":
            return
        for lock_id in sorted({_lock_id(key) for key in keys}):
            session.execute(select(func.pg_advisory_xact_lock(lock_id)))

    @staticmethod
    def _find_article(
        session: Session, site_id: int, keys: list[str]
    ) -> tuple[Article | None, list[str]]:
        """The site's article any of the keys leads to (the earliest key's, so the canonical
        URL's first) and the keys no article has yet.

        A key of another site's article leads nowhere and stays that article's.
        """
        owners = {
            key: (article_id, owner_site)
            for key, article_id, owner_site in session.execute(
                select(ArticleUrl.url_key, ArticleUrl.article_id, Article.site_id)
                .join(Article, Article.id == ArticleUrl.article_id)
                .where(ArticleUrl.url_key.in_(keys))
            )
        }
        free = [key for key in keys if key not in owners]
        for key in keys:
            if key in owners and owners[key][1] == site_id:
                article = session.get(Article, owners[key][0], with_for_update={"key_share": True})
                return article, free
        return None, free

    @staticmethod
    def _add_url_keys(session: Session, article: Article, keys: list[str]) -> None:
        if keys:
            session.execute(
                _insert(session, ArticleUrl)
                .values([{"url_key": key, "article_id": article.id} for key in keys])
                .on_conflict_do_nothing(index_elements=[ArticleUrl.url_key])
            )

    @staticmethod
    def _sync_alternates(article: Article, alternates: dict[str, str]) -> None:
        by_url = {url: lang for lang, url in alternates.items() if url != article.canonical_url}
        wanted = {(lang, url) for url, lang in by_url.items()}
        for alternate in list(article.alternates):
            if (alternate.lang, alternate.url) not in wanted:
                article.alternates.remove(alternate)
        present = {(a.lang, a.url) for a in article.alternates}
        for lang, url in sorted(wanted - present):
            article.alternates.append(ArticleAlternate(lang=lang, url=url))

    def save(self, item: ArticleItem, run_id: int | None = None) -> Outcome:
        """Insert or update the article of `item`, keeping every earlier text as a version.

        ArticleRejected when the item cannot be stored, ArchiveUnreachable when the database
        cannot be reached; either way nothing of the item was stored.
        """
        item = storable_item(item)
        keys = item_url_keys(item)
        for attempt in itertools.count(1):
            try:
                with self.sessions.begin() as session:
                    return self._save(session, item, keys, run_id)
            except DBAPIError as exc:
                if _unreachable(exc):
                    raise ArchiveUnreachable(
                        f"cannot store {item.url}: {error_reason(exc)}"
                    ) from exc
                if attempt < SAVE_ATTEMPTS and _retryable(exc):
                    continue
                if _rejected(exc):
                    raise ArticleRejected(error_reason(exc)) from exc
                raise

    def _save(
        self, session: Session, item: ArticleItem, keys: list[str], run_id: int | None
    ) -> Outcome:
        self._lock_keys(session, keys)
        site_id = self._site_id(session, item.site)
        article, free_keys = self._find_article(session, site_id, keys)
        if article is None:
            if not free_keys:
                raise ArticleRejected(
                    f"every URL of {item.url} is another site's article: {', '.join(keys)}"
                )
            article = Article(site_id=site_id, first_seen=item.fetched_at)
            session.add(article)
            outcome = Outcome.NEW
            version = 1
        elif (article.content_hash, article.lang, article.published) == (
            item.content_hash,
            item.lang,
            item.published,
        ):
            outcome = Outcome.UNCHANGED
        else:
            outcome = Outcome.UPDATED
            version = 1 + (
                session.scalar(
                    select(func.max(ArticleVersion.version)).where(
                        ArticleVersion.article_id == article.id
                    )
                )
                or 0
            )
        article.url = item.url
        article.canonical_url = item.canonical_url
        article.last_fetched = item.fetched_at
        article.etag = item.etag
        article.last_modified = item.last_modified
        if item.warc_location is not None:
            article.warc_path = storable_text(item.warc_location.path)
            article.warc_offset = item.warc_location.offset
        if outcome is not Outcome.UNCHANGED:
            self._store_content(article, item)
        session.flush()
        if outcome is not Outcome.UNCHANGED:
            article.duplicate_of_id = self._duplicate_of(session, article)
            index_article(
                session.connection(), article.id, article.title, article.text, article.lang
            )
        self._add_url_keys(session, article, free_keys)
        if outcome is not Outcome.UNCHANGED:
            session.add(
                ArticleVersion(
                    article_id=article.id,
                    version=version,
                    title=item.title,
                    text=item.text,
                    lang=item.lang,
                    published=item.published,
                    content_hash=item.content_hash,
                    fetched_at=item.fetched_at,
                    crawl_run_id=run_id,
                    warc_path=article.warc_path,
                    warc_offset=article.warc_offset,
                )
            )
        return outcome

    def _store_content(self, article: Article, item: ArticleItem) -> None:
        article.lang = item.lang
        article.title = item.title
        article.text = item.text
        article.author = item.author
        article.published = item.published
        article.content_hash = item.content_hash
        article.title_lang = item.title_lang
        article.minhash = item.minhash
        article.bands = [
            ArticleBand(band_key=key) for key in (band_keys(item.minhash) if item.minhash else [])
        ]
        self._sync_alternates(article, item.alternates)

    @staticmethod
    def _duplicate_of(session: Session, article: Article) -> int | None:
        """The earliest archived article with the same or nearly the same text, if any.

        Candidates are the earliest articles sharing a MinHash band with the article, a few per
        band, so the cost does not grow with the archive; the signatures then estimate how
        similar the texts are. Both lookups are index range scans.
        """
        exact = session.scalar(
            select(Article.id)
            .where(Article.content_hash == article.content_hash, Article.id < article.id)
            .order_by(Article.id)
            .limit(1)
        )
        if exact is not None or article.minhash is None:
            return exact
        earliest = [
            select(ArticleBand.article_id)
            .where(ArticleBand.band_key == key, ArticleBand.article_id < article.id)
            .order_by(ArticleBand.article_id)
            .limit(DUPLICATE_CANDIDATES_PER_BAND)
            .subquery()
            for key in band_keys(article.minhash)
        ]
        candidates = session.execute(
            select(Article.id, Article.minhash)
            .where(Article.id.in_(union(*(select(band.c.article_id) for band in earliest))))
            .order_by(Article.id)
        )
        for candidate_id, signature in candidates:
            if estimated_jaccard(article.minhash, signature) >= NEAR_DUPLICATE_JACCARD:
                return candidate_id
        return None
