"""Confirmation mails off the request path.

A subscribe request is answered before anything that depends on the address happens: the
page puts a job on a :class:`MailQueue` and returns. One background thread takes the jobs in
order, each with a mailer opened by :func:`~paperwire.digests.open_mailer`, so a fresh
address (a database row, a rendered mail, an SMTP conversation) and a suppressed or
rate-limited one (nothing at all) take the same time to answer. A job that fails is logged,
never raised into a request.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager

from paperwire.digests.mailer import Mailer

log = logging.getLogger(__name__)
Job = Callable[[Mailer], object]
IDLE_SECONDS = 5.0  # the thread ends after this long without work (and restarts on demand)
MAX_PENDING = 1000  # beyond this, requests are dropped (logged): the server stays responsive


class MailQueue:
    """Jobs that need a mailer, run in order by one daemon thread started on demand."""

    def __init__(self, open_mailer: Callable[[], AbstractContextManager[Mailer]]) -> None:
        self._open = open_mailer
        self._jobs: queue.Queue[Job] = queue.Queue(MAX_PENDING)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def put(self, job: Job) -> bool:
        """Queue ``job``; False (and a warning) when the queue is full."""
        try:
            self._jobs.put_nowait(job)
        except queue.Full:
            log.warning("confirmation mail queue full; a request was dropped")
            return False
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="paperwire-mailqueue",
                                                daemon=True)
                self._thread.start()
        return True

    def join(self) -> None:
        """Wait until every queued job has run (tests)."""
        self._jobs.join()

    def drain(self, timeout: float) -> bool:
        """Wait at most ``timeout`` seconds for the queued jobs (shutdown); True when done."""
        deadline = time.monotonic() + timeout
        with self._jobs.all_tasks_done:
            while self._jobs.unfinished_tasks:
                left = deadline - time.monotonic()
                if left <= 0:
                    log.warning("%d confirmation mails not sent before shutdown",
                                self._jobs.unfinished_tasks)
                    return False
                self._jobs.all_tasks_done.wait(left)
        return True

    def _run(self) -> None:
        while True:
            try:
                job = self._jobs.get(timeout=IDLE_SECONDS)
            except queue.Empty:
                with self._lock:
                    if self._jobs.empty():
                        self._thread = None
                        return
                continue
            current: Job | None = job
            try:
                with self._open() as mailer:
                    while current is not None:
                        try:
                            current(mailer)
                        except Exception:
                            log.exception("a queued confirmation mail failed")
                        finally:
                            current = None
                            self._jobs.task_done()
                        try:  # the same connection for whatever else is waiting
                            current = self._jobs.get_nowait()
                        except queue.Empty:
                            break
            except Exception:  # the mailer could not be opened: this job is dropped, logged
                log.exception("cannot open the mailer for confirmation mails")
                if current is not None:
                    self._jobs.task_done()
