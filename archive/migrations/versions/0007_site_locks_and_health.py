"""site locks, run figures and site health

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 14:00:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("crawl_runs") as batch:
        batch.add_column(sa.Column("updated_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("figures", sa.JSON(), nullable=True))
    op.create_table(
        "site_locks",
        sa.Column("site", sa.String(length=200), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("hostname", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("acquired_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["crawl_runs.id"], name=op.f("fk_site_locks_run_id_crawl_runs")
        ),
        sa.PrimaryKeyConstraint("site", name=op.f("pk_site_locks")),
    )
    op.create_table(
        "site_health",
        sa.Column("site", sa.String(length=200), nullable=False),
        sa.Column("healthy", sa.Boolean(), nullable=False),
        sa.Column("problems", sa.JSON(), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.Column("checked_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("site", name=op.f("pk_site_health")),
    )


def downgrade() -> None:
    op.drop_table("site_health")
    op.drop_table("site_locks")
    with op.batch_alter_table("crawl_runs") as batch:
        batch.drop_column("figures")
        batch.drop_column("updated_at")
