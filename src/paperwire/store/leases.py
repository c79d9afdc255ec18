"""Leases: one holder at a time for a named job (an ingest, the embedder, a digest run),
across processes and hosts. A holder names its host and process, so a lease left by a
process that was killed on this host is taken over at once instead of waiting for expiry."""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from paperwire.errors import SourceBusy
from paperwire.store.repo import Store

log = logging.getLogger(__name__)
LEASE_TTL = timedelta(minutes=15)  # renewed after every batch


def new_holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def dead_local_holder(holder: str) -> bool:
    """True when ``holder`` names a process on this host that no longer exists (it was
    killed): its lease can be taken at once instead of waiting for it to expire."""
    host, _, rest = holder.partition(":")
    pid_text = rest.split(":", 1)[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


_RUNNING: set[str] = set()  # the holders of the runs going on in this process


@contextmanager
def running(holder: str) -> Iterator[str]:
    """Mark ``holder``'s run as going on in this process for as long as it lasts (so its
    lease is never taken for one left behind)."""
    _RUNNING.add(holder)
    try:
        yield holder
    finally:
        _RUNNING.discard(holder)


def ended_here(holder: str) -> bool:
    """True when ``holder`` is a run of this process that has ended without releasing its
    lease (the database was down at its end)."""
    return (holder.startswith(f"{socket.gethostname()}:{os.getpid()}:")
            and holder not in _RUNNING)


def take_lease(store: Store, name: str, holder: str) -> None:
    if store.acquire_lease(name, holder, LEASE_TTL):
        return
    current = store.lease_holder(name)
    if current and (dead_local_holder(current[0]) or ended_here(current[0])):
        log.warning("%s: taking over the lease of %s, which is no longer running", name, current[0])
        if store.acquire_lease(name, holder, LEASE_TTL, steal_from=current[0]):
            return
    who = f" by {current[0]} until {current[1]:%Y-%m-%d %H:%M} UTC" if current else ""
    raise SourceBusy(name, f"another run holds this ingest{who}; not starting a second one")
