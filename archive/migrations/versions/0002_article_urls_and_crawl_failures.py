"""article urls, conditional requests, crawl failures

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 19:30:06.280752

"""

import re
from collections.abc import Sequence
from urllib.parse import SplitResult, urlsplit

import sqlalchemy as sa
from alembic import op
from w3lib.url import canonicalize_url, url_query_cleaner

# revision identifiers, used by Alembic.
revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# pipelines.urls.url_key, copied here as the archive's URL keys are made at this revision, so
# that this migration fills article_urls the same way whatever becomes of the live code.
NOISE_PARAMETERS = ("replytocom", "fbclid", "gclid", "yclid", "_openstat", "from", "ref")
MAX_URL_CHARS = 8192
BAD_HOST_CHARACTER = re.compile(r"[\x00-\x20\x7f<>\"{}|\\^`]")


def split_url(url: str) -> SplitResult | None:
    """The parts of `url`, or None when it cannot be parsed."""
    if len(url) > MAX_URL_CHARS:
        return None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - urlsplit checks the port only when it is read
    except ValueError:
        return None
    if BAD_HOST_CHARACTER.search(parts.netloc):
        return None
    return parts


def canonical(url: str) -> str | None:
    """The URL without tracking noise and fragment, or None when it cannot be parsed."""
    if split_url(url) is None:
        return None
    query = urlsplit(url).query
    try:
        if query:
            names = {pair.split("=", 1)[0] for pair in query.split("&")}
            noise = [n for n in names if n.startswith("utm_") or n in NOISE_PARAMETERS]
            url = url_query_cleaner(url, noise, remove=True)
        result = canonicalize_url(url)
    except ValueError:
        return None
    return result if split_url(result) is not None else None


def url_key(url: str) -> str:
    """Scheme, `www.`, a trailing slash, an index file name, tracking parameters and the
    fragment make no difference; a URL that cannot be parsed is its own key."""
    canonical_form = canonical(url)
    parts = split_url(canonical_form) if canonical_form else None
    if parts is None:
        return url
    host = (parts.hostname or "").removeprefix("www.")
    if parts.port and parts.port not in (80, 443):
        host = f"{host}:{parts.port}"
    path = parts.path
    for index in ("index.html", "index.htm", "index.php"):
        path = path.removesuffix("/" + index)
    path = path.rstrip("/")
    return f"{host}{path}?{parts.query}" if parts.query else f"{host}{path}"


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "crawl_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("crawl_run_id", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["crawl_run_id"],
            ["crawl_runs.id"],
            name=op.f("fk_crawl_failures_crawl_run_id_crawl_runs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crawl_failures")),
    )
    with op.batch_alter_table("crawl_failures", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_crawl_failures_crawl_run_id"), ["crawl_run_id"], unique=False
        )

    op.create_table(
        "article_urls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url_key", sa.Text(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"], ["articles.id"], name=op.f("fk_article_urls_article_id_articles")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_article_urls")),
        sa.UniqueConstraint("url_key", name=op.f("uq_article_urls_url_key")),
    )
    with op.batch_alter_table("article_urls", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_article_urls_article_id"), ["article_id"], unique=False
        )

    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("etag", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("last_modified", sa.Text(), nullable=True))
        batch_op.drop_constraint(batch_op.f("uq_articles_canonical_url"), type_="unique")
        batch_op.create_index(
            batch_op.f("ix_articles_canonical_url"), ["canonical_url"], unique=False
        )

    with op.batch_alter_table("crawl_runs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("articles_skipped", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("pid", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("hostname", sa.String(length=255), nullable=True))

    connection = op.get_bind()
    articles = connection.execute(sa.text("SELECT id, canonical_url FROM articles")).all()
    if articles:
        connection.execute(
            sa.text("INSERT INTO article_urls (url_key, article_id) VALUES (:key, :id)"),
            [{"key": url_key(url), "id": id_} for id_, url in articles],
        )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("crawl_runs", schema=None) as batch_op:
        batch_op.drop_column("hostname")
        batch_op.drop_column("pid")
        batch_op.drop_column("articles_skipped")

    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_articles_canonical_url"))
        batch_op.create_unique_constraint(
            batch_op.f("uq_articles_canonical_url"), ["canonical_url"]
        )
        batch_op.drop_column("last_modified")
        batch_op.drop_column("etag")

    with op.batch_alter_table("article_urls", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_article_urls_article_id"))

    op.drop_table("article_urls")
    with op.batch_alter_table("crawl_failures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crawl_failures_crawl_run_id"))

    op.drop_table("crawl_failures")
