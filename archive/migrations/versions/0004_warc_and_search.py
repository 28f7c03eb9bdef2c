"""raw archive and full-text search

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 20:01:33.480320

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from archive.search import reindex_all

# revision identifiers, used by Alembic.
revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("article_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("warc_path", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("warc_offset", sa.BigInteger(), nullable=True))

    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("warc_path", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("warc_offset", sa.BigInteger(), nullable=True))

    with op.batch_alter_table("crawl_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("warc_path", sa.Text(), nullable=True))

    connection = op.get_bind()
    if connection.dialect.name == "postgresql":
        op.execute("ALTER TABLE articles ADD COLUMN search_vector tsvector")
        op.execute("CREATE INDEX ix_articles_search_vector ON articles USING GIN (search_vector)")
    else:
        op.execute(
            "CREATE VIRTUAL TABLE article_search USING fts5("
            "title, text, tokenize = 'unicode61 remove_diacritics 2')"
        )
    reindex_all(connection)


def downgrade() -> None:
    """Downgrade schema."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_articles_search_vector")
        op.execute("ALTER TABLE articles DROP COLUMN search_vector")
    else:
        op.execute("DROP TABLE article_search")
    with op.batch_alter_table("crawl_runs", schema=None) as batch_op:
        batch_op.drop_column("warc_path")

    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_column("warc_offset")
        batch_op.drop_column("warc_path")

    with op.batch_alter_table("article_versions", schema=None) as batch_op:
        batch_op.drop_column("warc_offset")
        batch_op.drop_column("warc_path")
