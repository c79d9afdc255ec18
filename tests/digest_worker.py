"""One digest worker process, for tests: ``deliver.run`` of one day with a given holder name,
lease and batch size, against a real SMTP server; prints its report as one JSON line.

    python tests/digest_worker.py DB_URL HOME SMTP_URL DAY HOLDER LEASE_SECONDS BATCH [RATE]
        [UNTIL_SECONDS]

A holder whose host part is not this host's name is a worker "elsewhere": its claims are
only taken over once they are LEASE_SECONDS old (a holder of this host that died is taken
over at once). An empty HOLDER is a fresh one of this process. The run starts once a
line is read from stdin (so several workers can start together).

MARK_SENT_PATIENCE in the environment sets deliver.MARK_SENT_PATIENCE (seconds).

With UNTIL_SECONDS, the worker runs again and again like the scheduler's loop (0.2 s apart,
an error of the database logged and the next run tried) until no row of the day is pending
or sending, for at most UNTIL_SECONDS; it then prints the last report and the runs made.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from paperwire.config import Settings
from paperwire.digests import deliver
from paperwire.digests.mailer import SmtpMailer
from paperwire.digests.service import DigestContext
from paperwire.errors import StoreError
from paperwire.smtp_url import parse_smtp_url
from paperwire.store import Store


def main(db_url: str, home: str, smtp_url: str, day: str, holder: str, lease: str,
         batch: str, rate: str = "0", until: str = "0") -> None:
    settings = Settings(home=Path(home), database_url=db_url, secret_key="w" * 32,
                        base_url="https://papers.example.org", digest_send_rate=float(rate))
    store = Store.open(db_url)
    ctx = DigestContext(store, settings)
    if "MARK_SENT_PATIENCE" in os.environ:
        deliver.MARK_SENT_PATIENCE = float(os.environ["MARK_SENT_PATIENCE"])
    print("ready", flush=True)
    sys.stdin.readline()  # the go
    deadline = time.monotonic() + float(until)
    runs, report = 0, deliver.RunReport()
    while True:
        runs += 1
        try:
            with SmtpMailer(parse_smtp_url(smtp_url)) as mailer:
                report = deliver.run(
                    ctx, mailer, lambda: datetime.now(UTC).replace(tzinfo=None),
                    date.fromisoformat(day), holder=holder or None,
                    lease=timedelta(seconds=float(lease)), batch=int(batch))
        except StoreError as exc:
            if not float(until):
                raise
            print(f"run {runs}: {exc}", file=sys.stderr, flush=True)
        if time.monotonic() >= deadline or done(store, date.fromisoformat(day)):
            break
        time.sleep(0.2)
    store.close()
    print(json.dumps({**asdict(report), "runs": runs}), flush=True)


def done(store: Store, day: date) -> bool:
    """No row of ``day`` left to send (False while the database cannot tell)."""
    try:
        counts = store.digests.count_deliveries(day)
    except StoreError:
        return False
    return not counts.get("pending") and not counts.get("sending")


if __name__ == "__main__":
    main(*sys.argv[1:10])
