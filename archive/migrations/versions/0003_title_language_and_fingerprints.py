"""title language and near-duplicate fingerprints

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 19:53:35.322575

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "article_bands",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("band_key", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"], ["articles.id"], name=op.f("fk_article_bands_article_id_articles")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_article_bands")),
    )
    with op.batch_alter_table("article_bands", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_article_bands_article_id"), ["article_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_article_bands_band_key"), ["band_key"], unique=False)

    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("title_lang", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("minhash", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_column("minhash")
        batch_op.drop_column("title_lang")

    with op.batch_alter_table("article_bands", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_article_bands_band_key"))
        batch_op.drop_index(batch_op.f("ix_article_bands_article_id"))

    op.drop_table("article_bands")
