"""A small in-process memo shared between threads: the read path's computed results (a
trending view, a rendered anonymous page) kept under a key that names everything they were
made from, so a key never needs invalidating: a new data version or interval makes a new
key, and the oldest entries go when the memo is full. No I/O."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from datetime import datetime
from typing import Generic, TypeVar

T = TypeVar("T")
INTERVAL_SECONDS = 60  # a shared result is computed at most once per interval and version


def bucket(now: datetime, seconds: int = INTERVAL_SECONDS) -> int:
    """The number of the interval of ``seconds`` that ``now`` (naive UTC) falls in."""
    return int(now.timestamp()) // seconds


class Memo(Generic[T]):
    """At most ``size`` results by key, least recently used dropped first. Two threads
    asking for a missing key may both compute it (the results are equal: pure inputs); a
    lock only guards the dictionary, never a computation."""

    def __init__(self, size: int = 128) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, T] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        """The result kept for ``key``, or ``compute()``'s, kept."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                self.hits += 1
                return self._items[key]
            self.misses += 1
        value = compute()
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
