"""Table definitions (SQLAlchemy Core). Migrations in ``migrations/versions`` must match."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

papers = Table(
    "papers",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("version", Integer, nullable=True),
    Column("title", Text, nullable=False),
    Column("abstract", Text, nullable=False, server_default=""),
    Column("authors", JSON, nullable=False),
    Column("categories", JSON, nullable=False),
    Column("primary_category", String(32), nullable=True),
    Column("published", Date, nullable=True),
    Column("updated", Date, nullable=True),
    Column("comment", Text, nullable=True),
    Column("journal_ref", Text, nullable=True),
    Column("doi", String(255), nullable=True),
    Column("source", String(32), nullable=False),
    Column("content_hash", String(32), nullable=False),
    Column("created_at", DateTime(timezone=False), nullable=False),
    Column("changed_at", DateTime(timezone=False), nullable=False),
    Index("ix_papers_published", "published"),
    Index("ix_papers_changed_at", "changed_at"),
    Index("ix_papers_primary_category", "primary_category"),
)

signals = Table(
    "signals",
    metadata,
    Column(
        "paper_id",
        String(64),
        ForeignKey("papers.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("source", String(32), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("value", Float, nullable=False),
    Column("observed_at", DateTime(timezone=False), nullable=False),
    Index("ix_signals_day", "day"),
)

cursors = Table(
    "cursors",
    metadata,
    Column("key", String(128), primary_key=True),
    Column("value", JSON, nullable=False),
    Column("updated_at", DateTime(timezone=False), nullable=False),
)

leases = Table(
    "leases",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("holder", String(128), nullable=False),
    Column("expires_at", DateTime(timezone=False), nullable=False),
)

embeddings = Table(
    "embeddings",
    metadata,
    Column(
        "paper_id", String(64), ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("model", String(128), primary_key=True),
    Column("content_hash", String(32), nullable=False),
    Column("vector", LargeBinary, nullable=False),  # float32, little-endian
    Column("created_at", DateTime(timezone=False), nullable=False),
    Index("ix_embeddings_model_created", "model", "created_at"),
)
