"""embeddings.windows: the vectors of a long paper's later windows (float32, concatenated)

A paper whose title and abstract exceed the model's token limit gets, beside the vector of its
first 256 tokens (``vector``, unchanged), one vector per later overlapping window. NULL marks a
row written before windows existed: the index writer embeds its windows lazily (the first
vector stays in use meanwhile); an empty value means the paper fits in one window.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("embeddings") as batch:
        batch.add_column(sa.Column("windows", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("embeddings") as batch:
        batch.drop_column("windows")
