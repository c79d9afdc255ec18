"""papers and signals

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "papers",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("version", sa.Integer, nullable=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("abstract", sa.Text, nullable=False, server_default=""),
        sa.Column("authors", sa.JSON, nullable=False),
        sa.Column("categories", sa.JSON, nullable=False),
        sa.Column("primary_category", sa.String(32), nullable=True),
        sa.Column("published", sa.Date, nullable=True),
        sa.Column("updated", sa.Date, nullable=True),
        sa.Column("comment", sa.Text, nullable=True),
        sa.Column("journal_ref", sa.Text, nullable=True),
        sa.Column("doi", sa.String(255), nullable=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("content_hash", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=False), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=False), nullable=False),
    )
    op.create_index("ix_papers_published", "papers", ["published"])
    op.create_index("ix_papers_changed_at", "papers", ["changed_at"])
    op.create_index("ix_papers_primary_category", "papers", ["primary_category"])
    op.create_table(
        "signals",
        sa.Column(
            "paper_id",
            sa.String(64),
            sa.ForeignKey("papers.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("source", sa.String(32), primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=False), nullable=False),
    )
    op.create_index("ix_signals_day", "signals", ["day"])


def downgrade() -> None:
    op.drop_table("signals")
    op.drop_table("papers")
