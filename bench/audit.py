"""Benchmark of ``runner audit``: the audit of real photos on cached features, and the duplicate search at 25,000 rows.

    python bench/audit.py                       # the 300 shared photos (../shared) + 25,000 synthetic rows
    python bench/audit.py --rows 100000         # a larger duplicate search

Prints a table. Row 1 audits the shared photos twice (the first run fills the feature cache, the second is what a
user waits for on cached features: loading, then the audit itself, then the report). Row 2 runs the blockwise
neighbour search (near-duplicate pairs + nearest-neighbour outlier scores) on synthetic 1,280-wide rows, as
MobileNetV2's pooled features, in a fresh process, and reads its peak resident memory.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
REPO = Path(__file__).resolve().parents[1]
ROWS_SCRIPT = """
import sys, time
import numpy as np
from runner.audit import neighbours

def hwm():  # peak resident memory of this process (VmHWM: not inherited from the parent, unlike ru_maxrss)
    line = next(x for x in open("/proc/self/status") if x.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024

n, d = int(sys.argv[1]), 1280
rng = np.random.default_rng(0)
x = np.empty((n, d), dtype=np.float32)
for lo in range(0, n, 1000):  # float32 from the start: the data itself is n x 1,280 x 4 bytes
    x[lo : lo + 1000] = np.abs(rng.standard_normal((min(1000, n - lo), d), dtype=np.float32))
x[1::500] = x[::500][: len(x[1::500])] * 1.01  # near copies: one in 500 rows
base = hwm()
t = time.perf_counter()
z = neighbours.normalised(x)
found = neighbours.scan(z, 0.99)
groups = neighbours.groups(n, found.pairs)
secs = time.perf_counter() - t
print(secs, len(groups), hwm(), base)
"""


def audit_photos(shared: Path) -> list[str]:
    import shutil

    import runner

    data = shared / "data" / "dogs-vs-cats-300"
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "keras"
        shutil.copytree(shared / "keras", home)
        os.environ["KERAS_HOME"] = str(home)
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp}/mlflow.db"
        args = {"backbone": "mobilenet_v2_035", "weights": "imagenet", "image_size": 224, "cache_dir": f"{tmp}/c"}
        first = runner.audit(str(data), out=f"{tmp}/a1", **args)
        t = time.perf_counter()
        again = runner.audit(str(data), out=f"{tmp}/a2", **args)
        wall = time.perf_counter() - t
    s, f = again.seconds, first.seconds
    found = f"{len(again.label_issues)} label issues, {len(again.duplicates)} duplicate groups"
    found += f", {len(again.outliers)} outliers"
    return [
        "audit of the 300 shared photos, cached features",
        f"{s['audit'] + s['report']:.2f} s beyond loading (audit {s['audit']:.2f} s + report {s['report']:.2f} s)",
        f"loading {s['features']:.2f} s; first run extracting {f['features']:.1f} s; wall {wall:.1f} s; {found}",
        "under 5 s beyond loading",
    ]


def duplicate_search(rows: int) -> list[str]:
    out = subprocess.run([sys.executable, "-c", ROWS_SCRIPT, str(rows)], capture_output=True, text=True, check=True)
    secs, groups, rss_mb, base_mb = (float(v) for v in out.stdout.split())
    return [
        f"duplicate search, {rows:,} rows x 1,280",
        f"{secs:.1f} s, peak RSS {rss_mb:,.0f} MB (the process with its data: {base_mb:,.0f} MB before the search)",
        f"{int(groups)} groups of injected near copies found",
        "under 60 s and 1 GB",
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=25_000)
    ap.add_argument("--shared", default=os.environ.get("RUNNER_SHARED", str(REPO.parent / "shared")))
    a = ap.parse_args()
    table = [["measure", "runner", "detail", "target"]]
    if (Path(a.shared) / "data" / "dogs-vs-cats-300").is_dir():
        table.append(audit_photos(Path(a.shared)))
    else:
        print(f"(no shared photos at {a.shared}: row 1 skipped)", file=sys.stderr)
    table.append(duplicate_search(a.rows))
    print("| " + " | ".join(table[0]) + " |\n| " + " | ".join("---" for _ in table[0]) + " |")
    for row in table[1:]:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
