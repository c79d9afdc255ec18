"""Persistence. ``Store`` is the only thing in Paperwire that runs SQL."""

from paperwire.records import WriteCounts
from paperwire.store.repo import Store

__all__ = ["Store", "WriteCounts"]
