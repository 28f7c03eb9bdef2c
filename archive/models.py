"""Database models of the archive.

Every timestamp is stored as naive UTC and handed back timezone-aware, so SQLite
(which keeps no offsets) and PostgreSQL give the same values.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware datetime kept as naive UTC in every database."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given where UTC is expected")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None, dialect) -> dt.datetime | None:
        return None if value is None else value.replace(tzinfo=dt.UTC)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Site(Base):
    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # CSS selectors of blocks removed before extraction, kept from `reprocess --drop-selector`
    # for every later crawl and reprocessing of the site.
    drop_selectors: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")

    articles: Mapped[list[Article]] = relationship(back_populates="site")


class CrawlRun(Base):
    __tablename__ = "crawl_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    sites: Mapped[str] = mapped_column(Text, default="")
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(40), default="running")
    pages_fetched: Mapped[int] = mapped_column(Integer, default=0)
    articles_new: Mapped[int] = mapped_column(Integer, default=0)
    articles_updated: Mapped[int] = mapped_column(Integer, default=0)
    articles_unchanged: Mapped[int] = mapped_column(Integer, default=0)
    articles_skipped: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    errors: Mapped[int] = mapped_column(Integer, default=0)
    warc_path: Mapped[str | None] = mapped_column(Text)
    pid: Mapped[int | None] = mapped_column(Integer)
    hostname: Mapped[str | None] = mapped_column(String(255))
    # When the run last recorded its counts: a running run that stops updating is stuck.
    updated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # What the run's pages looked like, for the site's health (see archive.health):
    # {"rejected": {reason: pages}, "languages": {lang: articles}, "stored": articles,
    #  "short_bodies": articles, "median_body_length": characters}.
    figures: Mapped[dict | None] = mapped_column(JSON)

    failures: Mapped[list[CrawlFailure]] = relationship(back_populates="crawl_run")


class SiteLock(Base):
    """A site being crawled, and by which run: one crawl of a site at a time."""

    __tablename__ = "site_locks"

    site: Mapped[str] = mapped_column(String(200), primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("crawl_runs.id"))
    hostname: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    acquired_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class SiteHealth(Base):
    """A site's health as last told (alerts go out when it changes)."""

    __tablename__ = "site_health"

    site: Mapped[str] = mapped_column(String(200), primary_key=True)
    healthy: Mapped[bool] = mapped_column(default=True)
    problems: Mapped[list[str]] = mapped_column(JSON, default=list)
    changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    checked_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class CrawlFailure(Base):
    """A page a crawl run could not fetch: an HTTP error, a timeout, a redirect loop."""

    __tablename__ = "crawl_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    crawl_run_id: Mapped[int] = mapped_column(ForeignKey("crawl_runs.id"), index=True)
    url: Mapped[str] = mapped_column(Text)
    status: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    crawl_run: Mapped[CrawlRun] = relationship(back_populates="failures")


class Article(Base):
    __tablename__ = "articles"
    # The earliest article with a text is one index lookup, however many share it.
    __table_args__ = (Index("ix_articles_content_hash_id", "content_hash", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    canonical_url: Mapped[str] = mapped_column(Text, index=True)
    url: Mapped[str] = mapped_column(Text)
    lang: Mapped[str] = mapped_column(String(16), index=True)
    title_lang: Mapped[str | None] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(Text, default="")
    text: Mapped[str] = mapped_column(Text)
    minhash: Mapped[bytes | None] = mapped_column(LargeBinary)
    author: Mapped[str | None] = mapped_column(Text)
    published: Mapped[dt.date | None] = mapped_column(Date, index=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("articles.id"))
    first_seen: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_fetched: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    warc_path: Mapped[str | None] = mapped_column(Text)
    warc_offset: Mapped[int | None] = mapped_column(BigInteger)

    site: Mapped[Site] = relationship(back_populates="articles")
    duplicate_of: Mapped[Article | None] = relationship(remote_side=[id])
    versions: Mapped[list[ArticleVersion]] = relationship(
        back_populates="article", order_by="ArticleVersion.version"
    )
    alternates: Mapped[list[ArticleAlternate]] = relationship(
        back_populates="article", cascade="all, delete-orphan"
    )
    urls: Mapped[list[ArticleUrl]] = relationship(back_populates="article")
    bands: Mapped[list[ArticleBand]] = relationship(
        back_populates="article", cascade="all, delete-orphan"
    )


class ArticleBand(Base):
    """A locality-sensitive key of an article's MinHash: near-duplicates share one."""

    __tablename__ = "article_bands"
    # The earliest articles with a band are an index range, however many share it.
    __table_args__ = (Index("ix_article_bands_band_key_article_id", "band_key", "article_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id"), index=True)
    band_key: Mapped[str] = mapped_column(String(40))

    article: Mapped[Article] = relationship(back_populates="bands")


class ArticleUrl(Base):
    """A URL under which an article was found, by its key (see pipelines.urls.url_key).

    An article is one record however it is reached: its canonical URL, the URL it was
    fetched at, a shortlink that redirected to it, a variant with tracking parameters.
    """

    __tablename__ = "article_urls"

    id: Mapped[int] = mapped_column(primary_key=True)
    url_key: Mapped[str] = mapped_column(Text, unique=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id"), index=True)

    article: Mapped[Article] = relationship(back_populates="urls")


class ArticleVersion(Base):
    """One extracted state of an article; the newest equals the article row."""

    __tablename__ = "article_versions"
    __table_args__ = (UniqueConstraint("article_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(Text, default="")
    text: Mapped[str] = mapped_column(Text)
    lang: Mapped[str] = mapped_column(String(16))
    published: Mapped[dt.date | None] = mapped_column(Date)
    content_hash: Mapped[str] = mapped_column(String(64))
    fetched_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    crawl_run_id: Mapped[int | None] = mapped_column(ForeignKey("crawl_runs.id"))
    warc_path: Mapped[str | None] = mapped_column(Text)
    warc_offset: Mapped[int | None] = mapped_column(BigInteger)

    article: Mapped[Article] = relationship(back_populates="versions")


class ArticleAlternate(Base):
    """A URL the article's page names as its version in another language."""

    __tablename__ = "article_alternates"
    __table_args__ = (UniqueConstraint("article_id", "url"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id"), index=True)
    lang: Mapped[str] = mapped_column(String(16))
    url: Mapped[str] = mapped_column(Text, index=True)

    article: Mapped[Article] = relationship(back_populates="alternates")
