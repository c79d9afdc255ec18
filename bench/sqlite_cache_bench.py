"""``paperwire import`` into a new SQLite home with the default page cache and with Paperwire's.

    .venv/bin/python bench/sqlite_cache_bench.py --papers FILE.jsonl.gz [--kib 2000 65536]

Each run is its own process (``paperwire import --json --no-progress``) into a fresh home, one
after the other, with ``paperwire.store.db.SQLITE_CACHE_KIB`` set to each value (2000: SQLite's
default of 2 MiB, the baseline). Prints wall and CPU seconds and peak RSS per run. A file of
the first 300k lines of bench/scale_corpus.py's output shows the effect: the store outgrows
the cache and papers arrive in no id order.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = """
import sys
from paperwire.store import db
db.SQLITE_CACHE_KIB = int(sys.argv[1])
from paperwire.cli import main
main(['import', '--json', '--no-progress', sys.argv[2]])
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--papers", type=Path, required=True)
    ap.add_argument("--kib", type=int, nargs="*", default=[2000, 65536])
    args = ap.parse_args()
    print("| cache KiB | wall s | CPU s | peak RSS MiB |\n|---:|---:|---:|---:|")
    for kib in args.kib:
        home = Path(tempfile.mkdtemp(prefix="pw-cache-"))
        env = {**os.environ, "PAPERWIRE_HOME": str(home), "PAPERWIRE_LOG_LEVEL": "WARNING",
               "PYTHONPATH": str(ROOT / "src")}
        t = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-c", CHILD, str(kib), str(args.papers)],
                                env=env, stdout=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t
        shutil.rmtree(home, ignore_errors=True)
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit(f"the import with {kib} KiB failed")
        print(f"| {kib:,} | {wall:,.0f} | {usage.ru_utime + usage.ru_stime:,.0f} | "
              f"{usage.ru_maxrss / 1024:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
