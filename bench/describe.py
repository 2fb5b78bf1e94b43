"""Benchmark: `diar describe` on the simulated manifest that bench/simulate.py writes.

Writes the manifest of ``--hours`` of simulated mixtures (bench/simulate.py's
LibriSpeech-960-like sources and `diar simulate`'s code path; no audio), then
runs `diar describe` on it in its own process and prints wall time, CPU time and
peak RSS, for each ``--num-jobs``.

    .venv/bin/python bench/describe.py [--hours 20000] [--num-jobs 1 2] [--manifest M.jsonl.gz]

Target (issue 17): 20,000 h (323k mixtures, 9.7 M tracks) in at most 2 minutes and 2 GiB.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))


def write_manifest(work: Path, hours: float, num_jobs: int) -> Path:
    from simulate import make_sources

    from recipes.simulation import Simulator, load_config, load_sources, simulate

    src_path = work / "sources.jsonl.gz"
    make_sources(src_path)
    cfg = load_config(REPO / "conf/simulation/eend_2spk_beta2.yaml")
    sim = Simulator(load_sources(src_path, supervision=cfg.supervision), cfg, seed=0, prefix="bench")
    out = work / "out" / "bench.jsonl.gz"
    simulate(sim, sim.num_mixtures_for_hours(hours), out, num_jobs=num_jobs)
    return out


def run_describe(manifest: Path, num_jobs: int, out: Path):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    cmd = [
        sys.executable,
        "-m",
        "recipes.cli",
        "describe",
        str(manifest),
        "--format",
        "json",
        "-o",
        str(out),
        "--num-jobs",
        str(num_jobs),
    ]
    t0 = time.time()
    log = out.with_suffix(".log")
    with open(log, "w") as errf:  # a file, not a pipe: the progress bar would fill a pipe nobody reads
        proc = subprocess.Popen(cmd, env=env, stderr=errf, text=True)
        # resource usage of the describe process and of the workers it waited for
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.time() - t0
    err = log.read_text()
    if status != 0:
        raise SystemExit(f"diar describe failed:\n{err[-3000:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hours", type=float, default=20000)
    ap.add_argument("--num-jobs", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--manifest", help="describe this manifest instead of writing one")
    ap.add_argument("--workdir", help="keep the manifest here (default: a temporary directory, removed)")
    args = ap.parse_args()
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="describebench"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        if args.manifest:
            manifest = Path(args.manifest)
        else:
            manifest = work / "out" / "bench.jsonl.gz"
            if not manifest.exists():
                t0 = time.time()
                write_manifest(work, args.hours, max(args.num_jobs))
                print(f"manifest of {args.hours:g} h written in {time.time() - t0:.1f} s", flush=True)
        size = manifest.stat().st_size / 2**30
        for j in args.num_jobs:
            wall, cpu, rss = run_describe(manifest, j, work / f"describe-{j}.json")
            print(
                f"diar describe --num-jobs {j}: {wall:6.1f} s wall, {cpu:6.1f} s CPU (with its workers), "
                f"peak RSS {rss:6.0f} MiB (largest process); manifest {size:.2f} GiB gzip",
                flush=True,
            )
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
