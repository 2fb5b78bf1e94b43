"""Benchmark: `diar score` on 100 h of reference against a system, one core.

Writes ``--hours`` of synthetic reference RTTM (``--files`` files, 4 speakers, 1-6 s
turns with pauses and some overlap) and a system RTTM (the reference with jittered
boundaries, dropped and relabelled turns, one extra speaker), then times, in the same run:

- ``diar score REF SYS --collar 0.25`` in its own process (reading included);
- the scorer alone (``recipes.score.score`` on turns already read);
- on the first ``--brute-minutes`` of one file: the brute-force 1 ms frame reference of
  tests/test_score.py, and the scorer on that subset, with their ratio and the
  largest DER difference.

    .venv/bin/python bench/score.py [--hours 100] [--files 100] [--brute-minutes 10]

Target (issue 14): 100 h in under 10 s on one core.
"""

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))


def synth(hours: float, files: int, seed: int = 0):
    from recipes.rttm import Turn

    rng = random.Random(seed)
    dur_ms = int(hours * 3600_000 / files)
    ref, hyp, uem = [], [], {}
    for f in range(files):
        rec = f"rec{f:04d}"
        uem[rec] = [(0.0, dur_ms / 1000)]
        t = 0
        while True:
            length = rng.randint(1000, 6000)
            if t + length >= dur_ms:
                break
            spk = rng.randrange(4)
            ref.append(Turn(rec, t / 1000, (t + length) / 1000, f"spk{spk}"))
            if rng.random() < 0.9:
                a = max(0, t + rng.randint(-200, 200))
                b = t + length + rng.randint(-200, 200)
                label = spk if rng.random() < 0.85 else rng.randrange(5)
                hyp.append(Turn(rec, a / 1000, b / 1000, f"s{label}"))
            t += length + rng.randint(-800, 1500)  # negative: overlap with the next turn
            t = max(t, 0)
    return ref, hyp, uem


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hours", type=float, default=100)
    ap.add_argument("--files", type=int, default=100)
    ap.add_argument(
        "--brute-minutes",
        type=float,
        default=10,
        help="length of the first file scored by the brute-force reference too",
    )
    args = ap.parse_args()

    from recipes.rttm import read_rttm, write_rttm, write_uem
    from recipes.score import score

    ref, hyp, uem = synth(args.hours, args.files)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_rttm(ref, tmp / "ref.rttm")
        write_rttm(hyp, tmp / "sys.rttm")
        write_uem(uem, tmp / "all.uem")
        env = dict(os.environ, PYTHONPATH=str(REPO))
        cmd = [
            sys.executable,
            "-m",
            "recipes.cli",
            "score",
            str(tmp / "ref.rttm"),
            str(tmp / "sys.rttm"),
            "--uem",
            str(tmp / "all.uem"),
            "--collar",
            "0.25",
            "--format",
            "json",
            "-o",
            str(tmp / "out.json"),
        ]
        if hasattr(os, "sched_setaffinity"):
            cmd = (
                ["taskset", "-c", "0"] + cmd
                if subprocess.run(["which", "taskset"], capture_output=True).returncode == 0
                else cmd
            )
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        t_cli = time.perf_counter() - t0
        cpu_cli = usage.ru_utime + usage.ru_stime
        if status:
            raise SystemExit("diar score failed")
        ref_r, _ = read_rttm(tmp / "ref.rttm")
        hyp_r, _ = read_rttm(tmp / "sys.rttm")
    import scipy.optimize  # noqa: F401 - imported before the timing

    t0, c0 = time.perf_counter(), time.process_time()
    res = score(ref_r, hyp_r, uem=uem, collar=0.25)
    t_core, t_core_cpu = time.perf_counter() - t0, time.process_time() - c0
    tot = res.report()["total"]
    print(
        f"{args.hours:g} h reference ({len(ref)} turns) vs system ({len(hyp)} turns), {args.files} files, collar 0.25:"
    )
    print(
        f"  diar score (own process, reading RTTM/UEM included): {t_cli:.2f} s wall, {cpu_cli:.2f} s CPU "
        f"-> DER {tot['der']:.2f} %, JER {tot['jer']:.2f} %"
    )
    print(f"  scorer alone (recipes.score.score, turns already read): {t_core:.2f} s wall, {t_core_cpu:.2f} s CPU")

    # brute-force 1 ms reference on a subset, same run
    from test_score import brute

    u = sorted(uem)[0]
    sub = [u]
    region = {u: [(0.0, args.brute_minutes * 60)]}
    files = {u: ([t for t in ref_r if t.recording_id == u], [t for t in hyp_r if t.recording_id == u], region[u])}
    t0 = time.perf_counter()
    exp_files, exp_total = brute(files, 250, False)
    t_brute = time.perf_counter() - t0
    t0 = time.perf_counter()
    got = score(
        [t for f in files.values() for t in f[0]], [t for f in files.values() for t in f[1]], uem=region, collar=0.25
    ).report()
    t_ours = time.perf_counter() - t0
    diff = max(abs(got["files"][u]["der"] - exp_files[u]["der"]) for u in sub)
    print(
        f"  on {args.brute_minutes:g} min of one file: brute-force 1 ms reference {t_brute:.2f} s, "
        f"scorer {t_ours:.3f} s -> {t_brute / t_ours:.0f}x; max |DER difference| {diff:.4f} points"
    )


if __name__ == "__main__":
    main()
