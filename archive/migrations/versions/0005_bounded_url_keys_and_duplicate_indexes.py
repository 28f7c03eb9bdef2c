"""bounded url keys, duplicate lookups by index range

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 10:12:41.118307

"""

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A URL key longer than this many bytes is stored as its first KEY_HEAD_BYTES and a SHA-256
# of the whole key, short enough for PostgreSQL's index.
MAX_KEY_BYTES = 2048
KEY_HEAD_BYTES = 1024

article_urls = sa.table(
    "article_urls", sa.column("id", sa.Integer()), sa.column("url_key", sa.Text())
)


def bounded_key(key: str) -> str:
    encoded = key.encode("utf-8")
    if len(encoded) <= MAX_KEY_BYTES:
        return key
    head = encoded[:KEY_HEAD_BYTES].decode("utf-8", "ignore")
    return f"{head}#sha256:{hashlib.sha256(encoded).hexdigest()}"


def upgrade() -> None:
    """Upgrade schema."""
    op.drop_index("ix_articles_content_hash", table_name="articles")
    op.create_index("ix_articles_content_hash_id", "articles", ["content_hash", "id"])
    op.drop_index("ix_article_bands_band_key", table_name="article_bands")
    op.create_index(
        "ix_article_bands_band_key_article_id", "article_bands", ["band_key", "article_id"]
    )

    connection = op.get_bind()
    long_keys = connection.execute(
        sa.select(article_urls.c.id, article_urls.c.url_key).where(
            sa.func.length(article_urls.c.url_key) > MAX_KEY_BYTES // 4
        )
    ).all()
    for id_, key in long_keys:
        if bounded_key(key) != key:
            connection.execute(
                article_urls.update()
                .where(article_urls.c.id == id_)
                .values(url_key=bounded_key(key))
            )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index("ix_article_bands_band_key_article_id", table_name="article_bands")
    op.create_index("ix_article_bands_band_key", "article_bands", ["band_key"])
    op.drop_index("ix_articles_content_hash_id", table_name="articles")
    op.create_index("ix_articles_content_hash", "articles", ["content_hash"])
