"""Benchmark: `diar labels` time and peak memory against the number of cuts.

Writes featurised-cut manifests of simulated-mixture shape (50 s cuts, 2-3
speakers, a turn every few seconds, feature manifests pointing at an archive
that is never read) for a few sizes, runs `diar labels` on each in its own
process, and prints wall time and peak RSS per size, then the RSS growth per
1,000 h (a flat memory profile grows by much less than the labels of one archive).

    .venv/bin/python bench/labels.py [--hours 20 80 240] [--num-jobs 1]

Target: time linear in the number of cuts, memory flat (950 h took 917 MB before streaming).
"""

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def write_cuts(path: Path, hours: float, seed: int = 0) -> int:
    rng = np.random.default_rng(seed)
    n = int(hours * 3600 / 50)
    with gzip.open(path, "wt", compresslevel=1) as f:
        for i in range(n):
            cid = f"mix-{i:07d}"
            dur = 50.0
            spk = [f"{1000 + int(s)}" for s in rng.choice(2338, size=int(rng.integers(2, 4)), replace=False)]
            sups, t = [], 0.0
            while t < dur - 1:
                d = float(rng.uniform(1.0, 6.0))
                sups.append(
                    {
                        "id": f"{cid}-{len(sups)}",
                        "recording_id": cid,
                        "start": round(t, 3),
                        "duration": round(min(d, dur - t), 3),
                        "channel": 0,
                        "speaker": spk[len(sups) % len(spk)],
                    }
                )
                t += d * float(rng.uniform(0.6, 1.2))
            feats = {
                "type": "kaldi-native-fbank",
                "num_frames": 5000,
                "num_features": 23,
                "frame_shift": 0.01,
                "sampling_rate": 8000,
                "start": 0,
                "duration": dur,
                "storage_type": "lilcom_chunky",
                "storage_path": "/nonexistent/feats-00000.lca",
                "storage_key": str(i * 4000),
                "recording_id": cid,
                "channels": 0,
            }
            rec = {
                "id": cid,
                "sources": [{"type": "file", "channels": [0], "source": f"/nonexistent/{cid}.wav"}],
                "sampling_rate": 8000,
                "num_samples": int(dur * 8000),
                "duration": dur,
                "channel_ids": [0],
            }
            f.write(
                json.dumps(
                    {
                        "id": cid,
                        "start": 0,
                        "duration": dur,
                        "channel": 0,
                        "supervisions": sups,
                        "features": feats,
                        "recording": rec,
                        "type": "MonoCut",
                    }
                )
                + "\n"
            )
    return n


def run_labels(cuts: Path, work: Path, num_jobs: int):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    cmd = [
        sys.executable,
        "-m",
        "recipes.cli",
        "labels",
        str(cuts),
        str(work / "out_cuts.jsonl.gz"),
        "--storage-path",
        str(work / "labels"),
        "--num-jobs",
        str(num_jobs),
    ]
    t0 = time.time()
    log = work / "labels.log"
    with open(log, "w") as errf:  # a file, not a pipe: progress bars would fill a pipe nobody reads
        proc = subprocess.Popen(cmd, env=env, stderr=errf, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.time() - t0
    err = log.read_text()
    if status != 0:
        raise SystemExit(f"diar labels failed:\n{err[-3000:]}")
    return wall, usage.ru_maxrss / 1024


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hours", type=float, nargs="+", default=[20.0, 80.0, 240.0])
    ap.add_argument("--num-jobs", type=int, default=1)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="labelsbench"))
    rows = []
    try:
        for hours in args.hours:
            path = work / f"in_{hours:g}h_cuts.jsonl.gz"
            n = write_cuts(path, hours)
            wall, rss = run_labels(path, work, args.num_jobs)
            rows.append((hours, n, wall, rss))
            print(
                f"{hours:8.1f} h  {n:7d} cuts  {wall:6.1f} s  ({hours * 3600 / wall:7.0f}x real time)  "
                f"peak RSS {rss:6.0f} MiB (largest process)",
                flush=True,
            )
            shutil.rmtree(work / "labels", ignore_errors=True)
        if len(rows) > 1:
            (h0, _, w0, r0), (h1, _, w1, r1) = rows[-2], rows[-1]
            print(
                f"from {h0:g} h to {h1:g} h: time x{w1 / w0:.2f} for x{h1 / h0:.2f} the hours; "
                f"RSS {r1 - r0:+.0f} MiB ({(r1 - r0) / (h1 - h0) * 1000:+.0f} MiB per 1,000 h)"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
