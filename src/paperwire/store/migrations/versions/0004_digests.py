"""subscribers, the delivery ledger, and the papers each subscriber was sent

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "subscribers",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("email", sa.String(320), nullable=False, unique=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("frequency", sa.String(8), nullable=False),
        sa.Column("weekday", sa.Integer, nullable=False),
        sa.Column("hour", sa.Integer, nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("categories", sa.JSON, nullable=False),
        sa.Column("queries", sa.JSON, nullable=False),
        sa.Column("papers", sa.JSON, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("skip_empty", sa.Boolean, nullable=False),
        sa.Column("nonce", sa.String(32), nullable=True),
        sa.Column("confirm_day", sa.Date, nullable=True),
        sa.Column("confirm_count", sa.Integer, nullable=False),
        sa.Column("hard_failures", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=False), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=False), nullable=True),
        sa.Column("unsubscribed_at", sa.DateTime(timezone=False), nullable=True),
    )
    op.create_index("ix_subscribers_status", "subscribers", ["status"])
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("subscriber_id", sa.Integer,
                  sa.ForeignKey("subscribers.id", ondelete="CASCADE"), nullable=False),
        sa.Column("digest_date", sa.Date, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=False), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=False), nullable=False),
        sa.Column("claimed_by", sa.String(128), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=False), nullable=True),
        sa.Column("message_id", sa.String(255), nullable=True),
        sa.Column("period_start", sa.Date, nullable=True),
        sa.Column("period_end", sa.Date, nullable=True),
        sa.Column("items", sa.JSON, nullable=True),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("last_code", sa.Integer, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=False), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=False), nullable=True),
        sa.UniqueConstraint("subscriber_id", "digest_date", name="uq_deliveries_subscriber_date"),
    )
    op.create_index("ix_deliveries_state_next", "deliveries", ["state", "next_attempt_at"])
    op.create_table(
        "sent_papers",
        sa.Column("subscriber_id", sa.Integer,
                  sa.ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("paper_id", sa.String(64), primary_key=True),
        sa.Column("digest_date", sa.Date, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("sent_papers")
    op.drop_table("deliveries")
    op.drop_table("subscribers")
