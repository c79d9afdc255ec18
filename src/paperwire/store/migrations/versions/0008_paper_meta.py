"""paper_meta: Hugging Face's metadata of a paper (code, project page, AI summary, …)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "paper_meta",
        sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("code_url", sa.String(500), nullable=True),
        sa.Column("project_url", sa.String(500), nullable=True),
        sa.Column("ai_summary", sa.Text, nullable=True),
        sa.Column("ai_summary_model", sa.String(200), nullable=True),
        sa.Column("ai_keywords", sa.JSON, nullable=False),
        sa.Column("thumbnail_url", sa.String(500), nullable=True),
        sa.Column("organization", sa.String(200), nullable=True),
        sa.Column("submitted_by", sa.String(200), nullable=True),
        sa.Column("comments", sa.Integer, nullable=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("day", sa.Date, nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=False), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("paper_meta")
