"""paper_meta.submitter: the Hub username of who submitted a paper to the daily list

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("paper_meta") as batch:
        batch.add_column(sa.Column("submitter", sa.String(200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("paper_meta") as batch:
        batch.drop_column("submitter")
