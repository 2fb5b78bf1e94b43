"""Stage 2 as a whole process, start-up included, against the stock Lhotse pipeline in its own process.

Writes 2 h of synthetic 16 kHz WAV (default 4 files x 30 minutes) and a CutSet, then runs,
each as a fresh `python` process (imports, thread pools, writing the archive and the
manifest all counted), alternately `--rounds` times:

- ours:  `diar fbank CUTS OUT --storage-path DIR` (defaults: numpy backend, one job);
- stock: a script doing `cuts.resample(8000)` + `compute_and_store_features(lhotse.Fbank(
         FbankConfig(sampling_rate=8000, num_mel_bins=23)), LilcomChunkyWriter)` + `to_file`.

Neither sets a thread count: each runs with what the library does by default. Prints the wall
time of each process, real time factors (audio seconds / wall second) and the ratio
(target, issue 17: >= 4x stock, start-up included). Also prints the start-up alone:
`diar fbank --help` and `python -c "import lhotse"`.

    python bench/fbank_process.py [--files 4] [--minutes 30] [--rounds 2]
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

STOCK = """
import sys
from lhotse import CutSet, Fbank, FbankConfig, LilcomChunkyWriter
cuts = CutSet.from_file(sys.argv[1]).resample(8000)
out = cuts.compute_and_store_features(Fbank(FbankConfig(sampling_rate=8000, num_mel_bins=23)), sys.argv[2],
                                      storage_type=LilcomChunkyWriter, num_jobs=1)
out.to_file(sys.argv[3])
"""


def timed(cmd, env):
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])} failed:\n{proc.stderr[-3000:]}")
    return wall


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=4)
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    from fbank import make_audio

    env = dict(os.environ, PYTHONPATH=str(REPO))
    diar = [sys.executable, "-m", "recipes.cli"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cuts = make_audio(tmp, args.files, 60 * args.minutes)
        cuts.to_file(tmp / "in_cuts.jsonl.gz")
        total = sum(c.duration for c in cuts)
        print(f"{args.files} x {args.minutes:g} min of 16 kHz WAV = {total / 3600:.2f} h; each run a fresh process")
        start_ours = timed(diar + ["fbank", "--help"], env)
        start_stock = timed([sys.executable, "-c", "import lhotse"], env)
        print(f"start-up alone: `diar fbank --help` {start_ours:.2f} s, `import lhotse` {start_stock:.2f} s")
        ours, stock = [], []
        for r in range(args.rounds):
            ours.append(
                timed(
                    diar
                    + [
                        "fbank",
                        str(tmp / "in_cuts.jsonl.gz"),
                        str(tmp / f"ours{r}.jsonl.gz"),
                        "--storage-path",
                        str(tmp / f"ours{r}"),
                    ],
                    env,
                )
            )
            stock.append(
                timed(
                    [
                        sys.executable,
                        "-c",
                        STOCK,
                        str(tmp / "in_cuts.jsonl.gz"),
                        str(tmp / f"stock{r}"),
                        str(tmp / f"stock{r}.jsonl.gz"),
                    ],
                    env,
                )
            )
            print(
                f"round {r + 1}: diar fbank {ours[-1]:6.1f} s ({total / ours[-1]:6.0f}x real time), stock "
                f"{stock[-1]:6.1f} s ({total / stock[-1]:6.0f}x), ratio {stock[-1] / ours[-1]:.2f}x",
                flush=True,
            )
        print(
            f"best of {args.rounds}: diar fbank {total / min(ours):.0f}x real time, stock {total / min(stock):.0f}x, "
            f"ratio {min(stock) / min(ours):.2f}x (target >= 4x, start-up included)"
        )


if __name__ == "__main__":
    main()
