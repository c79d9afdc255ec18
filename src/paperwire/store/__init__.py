"""Persistence. ``Store`` is the only thing in Paperwire that runs SQL."""

from paperwire.store.repo import Store, WriteCounts

__all__ = ["Store", "WriteCounts"]
