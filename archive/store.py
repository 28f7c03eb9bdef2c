"""Writing articles and crawl runs to the archive."""

from __future__ import annotations

import datetime as dt
import enum
import os
import socket
from dataclasses import dataclass

from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from archive.db import session_factory
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


def item_url_keys(item: ArticleItem) -> list[str]:
    """Keys of every URL the item was reached by, its canonical URL's first."""
    urls = (item.canonical_url, item.url, *item.requested_urls)
    return list(dict.fromkeys(url_key(url) for url in urls if url))


class ArchiveWriter:
    """Stores items one transaction each, so an interrupted crawl keeps what it stored."""

    def __init__(self, engine: Engine) -> None:
        self.sessions = session_factory(engine)

    def start_run(self, sites: list[str]) -> int:
        """Record a new run; runs of this host whose process is gone are marked `killed`."""
        hostname = socket.gethostname()
        with self.sessions.begin() as session:
            stale = session.scalars(
                select(CrawlRun).where(CrawlRun.status == "running", CrawlRun.hostname == hostname)
            )
            for run in stale:
                if run.pid is None or not _process_alive(run.pid):
                    run.status = "killed"
            run = CrawlRun(
                sites=",".join(sites), status="running", pid=os.getpid(), hostname=hostname
            )
            session.add(run)
            session.flush()
            return run.id

    def finish_run(
        self, run_id: int, status: str, counts: RunCounts, warc_path: str | None = None
    ) -> None:
        with self.sessions.begin() as session:
            session.execute(
                update(CrawlRun)
                .where(CrawlRun.id == run_id)
                .values(
                    status=status,
                    finished_at=utcnow(),
                    pages_fetched=counts.pages_fetched,
                    articles_new=counts.articles_new,
                    articles_updated=counts.articles_updated,
                    articles_unchanged=counts.articles_unchanged,
                    articles_skipped=counts.articles_skipped,
                    errors=counts.errors,
                    warc_path=warc_path,
                )
            )

    def record_failure(self, run_id: int, failure: FetchFailure) -> None:
        with self.sessions.begin() as session:
            session.add(
                CrawlFailure(
                    crawl_run_id=run_id,
                    url=failure.url,
                    status=failure.status,
                    reason=failure.reason,
                )
            )

    def known_articles(self, site: str) -> dict[str, KnownArticle]:
        """Every URL key of the site's archived articles, with what a revisit needs."""
        with self.sessions() as session:
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
                .where(Site.name == site)
            )
            return {key: KnownArticle(*rest) for key, *rest in rows}

    def mark_unchanged(self, url: str, fetched_at: dt.datetime) -> bool:
        """A revisit answered 304 Not Modified; False when no archived article has that URL."""
        with self.sessions.begin() as session:
            article_id = session.scalar(
                select(ArticleUrl.article_id).where(ArticleUrl.url_key == url_key(url))
            )
            if article_id is None:
                return False
            session.execute(
                update(Article).where(Article.id == article_id).values(last_fetched=fetched_at)
            )
            return True

    @staticmethod
    def _site_id(session: Session, name: str) -> int:
        site_id = session.scalar(select(Site.id).where(Site.name == name))
        if site_id is None:
            site = Site(name=name)
            session.add(site)
            session.flush()
            site_id = site.id
        return site_id

    @staticmethod
    def _find_article(session: Session, keys: list[str]) -> Article | None:
        found = dict(
            session.execute(
                select(ArticleUrl.url_key, ArticleUrl.article_id).where(
                    ArticleUrl.url_key.in_(keys)
                )
            ).all()
        )
        for key in keys:
            if key in found:
                return session.get(Article, found[key])
        return None

    @staticmethod
    def _add_url_keys(session: Session, article: Article, keys: list[str]) -> None:
        taken = set(session.scalars(select(ArticleUrl.url_key).where(ArticleUrl.url_key.in_(keys))))
        for key in keys:
            if key not in taken:
                session.add(ArticleUrl(url_key=key, article_id=article.id))

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
        """Insert or update the article of `item`, keeping every earlier text as a version."""
        keys = item_url_keys(item)
        with self.sessions.begin() as session:
            article = self._find_article(session, keys)
            if article is None:
                article = Article(
                    site_id=self._site_id(session, item.site),
                    first_seen=item.fetched_at,
                )
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
                article.warc_path = item.warc_location.path
                article.warc_offset = item.warc_location.offset
            if outcome is not Outcome.UNCHANGED:
                self._store_content(article, item)
            session.flush()
            if outcome is not Outcome.UNCHANGED:
                article.duplicate_of_id = self._duplicate_of(session, article)
                index_article(
                    session.connection(), article.id, article.title, article.text, article.lang
                )
            self._add_url_keys(session, article, keys)
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

        Candidates share a MinHash band with the article; the signatures then estimate how
        similar the texts are.
        """
        exact = session.scalar(
            select(func.min(Article.id)).where(
                Article.content_hash == article.content_hash, Article.id < article.id
            )
        )
        if exact is not None or article.minhash is None:
            return exact
        candidates = session.execute(
            select(Article.id, Article.minhash)
            .where(
                Article.id.in_(
                    select(ArticleBand.article_id).where(
                        ArticleBand.band_key.in_(band_keys(article.minhash)),
                        ArticleBand.article_id < article.id,
                    )
                )
            )
            .order_by(Article.id)
        )
        for candidate_id, signature in candidates:
            if estimated_jaccard(article.minhash, signature) >= NEAR_DUPLICATE_JACCARD:
                return candidate_id
        return None
