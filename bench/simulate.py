"""Benchmark: manifests for 20,000 h of simulated mixtures (no audio is written).

Builds a LibriSpeech-960-like source manifest (2,338 speakers, 120 utterances
each, 2-20 s, recordings pointing at FLAC paths that need not exist), then runs
`diar simulate` (the same code path: recipes.simulation.simulate) and prints
wall time, peak RSS (this process and the largest worker) and what was written.

    .venv/bin/python bench/simulate.py [--hours 20000] [--num-jobs 2] [--config conf/simulation/eend_2spk_beta2.yaml]

Target: at most 10 minutes and 2 GiB on 2 cores.
"""

import argparse
import gzip
import json
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def make_sources(path: Path, num_speakers: int = 2338, per_speaker: int = 120, seed: int = 0) -> int:
    rng = np.random.default_rng(seed)
    n = 0
    with gzip.open(path, "wt", compresslevel=1) as f:
        for s in range(num_speakers):
            spk = f"{1000 + s}"
            for u in range(per_speaker):
                dur = round(float(rng.uniform(2.0, 20.0)), 4)
                cid = f"{spk}-{u // 40}-{u:04d}"
                sr = 16000
                ns = int(round(dur * sr))
                dur = ns / sr
                rec = {
                    "id": cid,
                    "sources": [
                        {
                            "type": "file",
                            "channels": [0],
                            "source": f"/data/LibriSpeech/train-960/{spk}/{u // 40}/{cid}.flac",
                        }
                    ],
                    "sampling_rate": sr,
                    "num_samples": ns,
                    "duration": dur,
                    "channel_ids": [0],
                }
                a = round(float(rng.uniform(0.1, 0.5)), 4)
                b = round(dur - float(rng.uniform(0.1, 0.5)), 4)
                sup = {
                    "id": cid,
                    "recording_id": cid,
                    "start": a,
                    "duration": round(b - a, 4),
                    "channel": 0,
                    "text": "SOME WORDS OF A TRANSCRIPT THAT LIBRISPEECH WOULD HAVE",
                    "language": "English",
                    "speaker": spk,
                }
                f.write(
                    json.dumps(
                        {
                            "id": cid,
                            "start": 0,
                            "duration": dur,
                            "channel": 0,
                            "supervisions": [sup],
                            "recording": rec,
                            "custom": {"speech_boundary": "vad"},
                            "type": "MonoCut",
                        }
                    )
                    + "\n"
                )
                n += 1
    return n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hours", type=float, default=20000)
    ap.add_argument("--num-jobs", type=int, default=2)
    ap.add_argument("--config", default=str(REPO / "conf/simulation/eend_2spk_beta2.yaml"))
    ap.add_argument("--workdir", help="keep outputs here (default: a temporary directory, removed)")
    args = ap.parse_args()

    from recipes.simulation import Simulator, format_stats, load_config, load_sources, simulate

    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="simbench"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        src_path = work / "sources.jsonl.gz"
        t0 = time.time()
        n = make_sources(src_path)
        print(f"sources: {n} utterances written in {time.time() - t0:.1f} s")
        t0 = time.time()
        cfg = load_config(args.config)
        src = load_sources(src_path, supervision=cfg.supervision)
        t_load = time.time() - t0
        sim = Simulator(src, cfg, seed=0, prefix="bench")
        num = sim.num_mixtures_for_hours(args.hours)
        t1 = time.time()
        stats = simulate(sim, num, work / "out" / "bench.jsonl.gz", num_jobs=args.num_jobs)
        wall = time.time() - t0
        self_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        child_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        size = sum(p.stat().st_size for p in (work / "out").iterdir()) / 2**30
        print(format_stats(stats), end="")
        print(f"config {Path(args.config).name}, --num-jobs {args.num_jobs}")
        print(
            f"hours {stats['hours']:.1f}, mixtures {stats['mixtures']}, tracks {stats['tracks']}, "
            f"shards {len(stats['shards'])}, output {size:.2f} GiB on disk (shards + merged)"
        )
        print(
            f"wall time {wall:.1f} s (load sources {t_load:.1f} s, calibrate {t1 - t0 - t_load:.1f} s, "
            f"simulate+write {time.time() - t1:.1f} s)"
        )
        print(f"peak RSS: main process {self_rss:.0f} MiB, largest worker {child_rss:.0f} MiB")
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
