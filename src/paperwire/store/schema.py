"""Table definitions (SQLAlchemy Core). Migrations in ``migrations/versions`` must match."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
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
    # later windows of a long text, float32 vectors concatenated; NULL: not windowed yet
    Column("windows", LargeBinary, nullable=True),
    Index("ix_embeddings_model_created", "model", "created_at"),
)

subscribers = Table(
    "subscribers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("email", String(320), nullable=False, unique=True),  # lower-cased
    Column("status", String(16), nullable=False),  # pending, active, unsubscribed, suppressed
    Column("frequency", String(8), nullable=False),
    Column("weekday", Integer, nullable=False),
    Column("hour", Integer, nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("categories", JSON, nullable=False),
    Column("queries", JSON, nullable=False),
    Column("papers", JSON, nullable=False),
    Column("size", Integer, nullable=False),
    Column("mode", String(16), nullable=False),
    Column("skip_empty", Boolean, nullable=False),
    Column("nonce", String(32), nullable=True),  # the live confirmation link; cleared on use
    Column("confirm_day", Date, nullable=True),  # confirmation mails sent on that day …
    Column("confirm_count", Integer, nullable=False),  # … this many (at most 3 a day)
    Column("hard_failures", Integer, nullable=False),  # permanent failures in a row
    Column("created_at", DateTime(timezone=False), nullable=False),
    Column("confirmed_at", DateTime(timezone=False), nullable=True),
    Column("unsubscribed_at", DateTime(timezone=False), nullable=True),
    # bumped by each confirmation: links signed for an earlier subscription stop working
    Column("epoch", Integer, nullable=False, server_default="0"),
    Index("ix_subscribers_status", "status"),
)

# atomic counters for confirmation mails: one row per limited key (a mailbox, a client) and
# window; taken with one conditional upsert, so concurrent requests cannot overshoot
send_limits = Table(
    "send_limits",
    metadata,
    Column("key", String(400), primary_key=True),
    Column("window_start", DateTime(timezone=False), nullable=False),
    Column("count", Integer, nullable=False),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "subscriber_id", Integer, ForeignKey("subscribers.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("digest_date", Date, nullable=False),
    Column("state", String(16), nullable=False),  # pending, sending, sent, failed, expired, skipped
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", DateTime(timezone=False), nullable=False),
    Column("expires_at", DateTime(timezone=False), nullable=False),
    Column("claimed_by", String(128), nullable=True),
    Column("claimed_at", DateTime(timezone=False), nullable=True),
    Column("message_id", String(255), nullable=True),
    Column("period_start", Date, nullable=True),
    Column("period_end", Date, nullable=True),
    Column("items", JSON, nullable=True),  # the composed digest [{id, why, kind}], for resends
    Column("note", Text, nullable=True),
    Column("last_code", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", DateTime(timezone=False), nullable=False),
    Column("sent_at", DateTime(timezone=False), nullable=True),
    UniqueConstraint("subscriber_id", "digest_date", name="uq_deliveries_subscriber_date"),
    Index("ix_deliveries_state_next", "state", "next_attempt_at"),
)

sent_papers = Table(
    "sent_papers",
    metadata,
    Column(
        "subscriber_id", Integer, ForeignKey("subscribers.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("paper_id", String(64), primary_key=True),
    Column("digest_date", Date, nullable=False),
)

# one counted click per subscriber and paper (the signed link of a digest); the click itself
# is a ``digest_click`` signal on the day it happened
digest_clicks = Table(
    "digest_clicks",
    metadata,
    Column(
        "subscriber_id", Integer, ForeignKey("subscribers.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("paper_id", String(64), primary_key=True),
    Column("digest_date", Date, nullable=False),
    Column("clicked_at", DateTime(timezone=False), nullable=False),
)

# ---- accounts and the personal loop (migration 0007) ------------------------------------

accounts = Table(
    "accounts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("email", String(320), nullable=False, unique=True),  # lower-cased
    Column("status", String(16), nullable=False),  # pending, active, disabled
    Column("is_admin", Boolean, nullable=False, server_default="0"),
    Column("login_nonce", String(32), nullable=True),  # the live sign-in link; cleared on use
    Column("feed_secret", String(64), nullable=True, unique=True),  # private feeds' URL secret
    Column("created_at", DateTime(timezone=False), nullable=False),
    Column("confirmed_at", DateTime(timezone=False), nullable=True),
    Column("disabled_at", DateTime(timezone=False), nullable=True),
)

# a signed-in browser: the row's id is the SHA-256 of the cookie's value, so the table alone
# signs nobody in
sessions = Table(
    "sessions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id", ondelete="CASCADE"),
           nullable=False),
    Column("created_at", DateTime(timezone=False), nullable=False),
    Column("last_seen_at", DateTime(timezone=False), nullable=False),
    Column("expires_at", DateTime(timezone=False), nullable=False),
    Index("ix_sessions_account", "account_id"),
)

votes = Table(
    "votes",
    metadata,
    Column("account_id", Integer, ForeignKey("accounts.id", ondelete="CASCADE"),
           primary_key=True),
    Column("paper_id", String(64), ForeignKey("papers.id", ondelete="CASCADE"),
           primary_key=True),
    Column("created_at", DateTime(timezone=False), nullable=False),
    Index("ix_votes_paper", "paper_id"),
)

library = Table(
    "library",
    metadata,
    Column("account_id", Integer, ForeignKey("accounts.id", ondelete="CASCADE"),
           primary_key=True),
    Column("paper_id", String(64), ForeignKey("papers.id", ondelete="CASCADE"),
           primary_key=True),
    Column("saved_at", DateTime(timezone=False), nullable=False),
    Column("state", String(8), nullable=True),  # None, "to-read", "read"
    Column("note", Text, nullable=True),  # Markdown, the account's own
    Column("updated_at", DateTime(timezone=False), nullable=False),
    Index("ix_library_paper", "paper_id"),
)

library_tags = Table(
    "library_tags",
    metadata,
    Column("account_id", Integer, primary_key=True),
    Column("paper_id", String(64), primary_key=True),
    Column("tag", String(64), primary_key=True),
    ForeignKeyConstraint(["account_id", "paper_id"], ["library.account_id", "library.paper_id"],
                         ondelete="CASCADE", name="fk_library_tags_entry"),
)

ratings = Table(
    "ratings",
    metadata,
    Column("account_id", Integer, ForeignKey("accounts.id", ondelete="CASCADE"),
           primary_key=True),
    Column("paper_id", String(64), ForeignKey("papers.id", ondelete="CASCADE"),
           primary_key=True),
    Column("value", Integer, nullable=False),  # +1 or -1
    Column("source", String(16), nullable=False),  # web, digest
    Column("created_at", DateTime(timezone=False), nullable=False),
)

# What Hugging Face's daily papers hold about a paper besides its text, as of ``day`` (the
# newest list it came from); GitHub stars are dated signals (source ``github_stars``).
paper_meta = Table(
    "paper_meta",
    metadata,
    Column("paper_id", String(64), ForeignKey("papers.id", ondelete="CASCADE"),
           primary_key=True),
    Column("code_url", String(500), nullable=True),
    Column("project_url", String(500), nullable=True),
    Column("ai_summary", Text, nullable=True),
    Column("ai_summary_model", String(200), nullable=True),
    Column("ai_keywords", JSON, nullable=False),
    Column("thumbnail_url", String(500), nullable=True),
    Column("organization", String(200), nullable=True),
    Column("submitted_by", String(200), nullable=True),
    Column("submitter", String(200), nullable=True),  # the Hub username (0009)
    Column("comments", Integer, nullable=True),
    Column("source", String(32), nullable=False),
    Column("day", Date, nullable=True),
    Column("updated_at", DateTime(timezone=False), nullable=False),
)
