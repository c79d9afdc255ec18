"""One digest worker process, for tests: ``deliver.run`` of one day with a given holder name,
lease and batch size, against a real SMTP server; prints its report as one JSON line.

    python tests/digest_worker.py DB_URL HOME SMTP_URL DAY HOLDER LEASE_SECONDS BATCH [RATE]

A holder whose host part is not this host's name is a worker "elsewhere": its claims are
only taken over once they are LEASE_SECONDS old (a holder of this host that died is taken
over at once). An empty HOLDER is a fresh one of this process. The run starts once a
line is read from stdin (so several workers can start together).
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from paperwire.config import Settings
from paperwire.digests import deliver
from paperwire.digests.mailer import SmtpMailer
from paperwire.digests.service import DigestContext
from paperwire.smtp_url import parse_smtp_url
from paperwire.store import Store


def main(db_url: str, home: str, smtp_url: str, day: str, holder: str, lease: str,
         batch: str, rate: str = "0") -> None:
    settings = Settings(home=Path(home), database_url=db_url, secret_key="w" * 32,
                        base_url="https://papers.example.org", digest_send_rate=float(rate))
    store = Store.open(db_url)
    ctx = DigestContext(store, settings)
    print("ready", flush=True)
    sys.stdin.readline()  # the go
    with SmtpMailer(parse_smtp_url(smtp_url)) as mailer:
        report = deliver.run(ctx, mailer, lambda: datetime.now(UTC).replace(tzinfo=None),
                             date.fromisoformat(day), holder=holder or None,
                             lease=timedelta(seconds=float(lease)), batch=int(batch))
    store.close()
    print(json.dumps(asdict(report)), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:9])
