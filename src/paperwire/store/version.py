"""SQL of the data version (issue 16): one row of the ``cursors`` table that every write of
what trending and its pages read (papers, signals, paper metadata; upvotes, saves and digest
clicks are signals) replaces in its own transaction with a new random value and its time.
Reading it is one primary-key lookup, however large the store; the value changes with every
such write whatever the writers' clocks say, so a cache keyed by it is never stale."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import Connection, select

from paperwire.records import DataVersion
from paperwire.store.db import dialect_insert
from paperwire.store.schema import cursors

KEY = "version:data"


def touch(conn: Connection, now: datetime) -> None:
    """Give the data a new version (in the caller's transaction, after its writes)."""
    insert = dialect_insert(conn, cursors)
    value = {"version": secrets.token_hex(8)}
    conn.execute(insert.values(key=KEY, value=value, updated_at=now)
                 .on_conflict_do_update(index_elements=[cursors.c.key],
                                        set_={"value": value, "updated_at": now}))


def read(conn: Connection) -> DataVersion:
    """The data's version ("" with no time before the first write that made one)."""
    row = conn.execute(select(cursors.c.value, cursors.c.updated_at)
                       .where(cursors.c.key == KEY)).first()
    if row is None:
        return DataVersion("", None)
    return DataVersion(str(row.value.get("version", "")), row.updated_at)
