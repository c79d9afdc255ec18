"""Rebuild the demo data bundled in src/paperwire/demo_data from ../shared/data.

    python scripts/make_demo_data.py [SHARED_DATA_DIR]

Takes four weeks of Hugging Face daily papers (2026-06-04 … 2026-07-01), the arXiv papers
first listed from 2026-06-15 on plus every arXiv record of a paper in those HF days, their
listing dates, and the 119 seed papers. Lines are copied verbatim.
"""

from __future__ import annotations

import gzip
import json
import shutil
import sys
from pathlib import Path

HF_FROM, HF_TO = "2026-06-04", "2026-07-01"
ARXIV_FROM = "2026-06-15"


def main(data: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*"):
        if old.is_file() and old.name != "README.md":
            old.unlink()
    hf_dir = data / "hf_daily" / "hf-daily-paper-newsletter-chinese"
    hf_ids: set[str] = set()
    for f in sorted(hf_dir.glob("*.json.gz")):
        day = f.name.split(".")[0]
        if HF_FROM <= day <= HF_TO:
            shutil.copyfile(f, out / f"hf-daily-{f.name}")
            entries = json.loads(gzip.decompress(f.read_bytes()))
            hf_ids.update(e["paper"]["id"] for e in entries if isinstance(e, dict))
    dates: dict[str, str] = {}
    with gzip.open(data / "arxiv" / "daily-arxiv-ai-enhanced-listing-dates.tsv.gz", "rt") as fh:
        header = next(fh)
        for line in fh:
            pid, first, _ = line.rstrip("\n").split("\t")
            dates[pid] = first
    keep = {pid for pid, d in dates.items() if d >= ARXIV_FROM} | (hf_ids & set(dates))
    kept_lines = []
    for f in sorted((data / "arxiv").glob("papers-*.jsonl.gz")):
        with gzip.open(f, "rt") as fh:
            kept_lines += [line for line in fh if json.loads(line)["id"] in keep]
    with gzip.open(out / "arxiv-papers.jsonl.gz", "wt", compresslevel=9) as fh:
        fh.writelines(kept_lines)
    with gzip.open(out / "arxiv-listing-dates.tsv.gz", "wt", compresslevel=9) as fh:
        fh.write(header)
        fh.writelines(f"{pid}\t{dates[pid]}\t{dates[pid]}\n" for pid in sorted(keep))
    shutil.copyfile(data / "seed" / "papers.jsonl", out / "seed-papers.jsonl")
    print(f"{len(kept_lines)} arXiv papers, {len(hf_ids)} HF papers, into {out}")


if __name__ == "__main__":
    root = Path(__file__).resolve().parent.parent
    data = Path(sys.argv[1]) if len(sys.argv) > 1 else root.parent / "shared" / "data"
    main(data, root / "src" / "paperwire" / "demo_data")
