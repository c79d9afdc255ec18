"""send limits (atomic counters for confirmation mails) and the subscription epoch

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "send_limits",
        sa.Column("key", sa.String(400), primary_key=True),
        sa.Column("window_start", sa.DateTime(timezone=False), nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
    )
    with op.batch_alter_table("subscribers") as batch:
        batch.add_column(sa.Column("epoch", sa.Integer, nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("subscribers") as batch:
        batch.drop_column("epoch")
    op.drop_table("send_limits")
