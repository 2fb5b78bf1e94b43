"""Scaling of `diar fbank` from 1 to 2 workers, local processes and a dask LocalCluster.

Input: synthetic 16 kHz WAV (default 8 files x 10 minutes = 80 minutes).
Prints the wall time and real-time factor per setting and the speed-up of 2
workers over 1 (the ideal is 2.0 on 2 free cores).

    python bench/scaling.py [--files 8] [--minutes 10]
"""
import argparse
import importlib.util
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from fbank import make_audio  # noqa: E402

from recipes.features import compute_fbank, load_fbank_config  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--minutes", type=float, default=10.0)
    args = parser.parse_args()
    cfg = load_fbank_config()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cuts = make_audio(tmp, args.files, 60 * args.minutes)
        total = sum(c.duration for c in cuts)
        compute_fbank(cuts, tmp / "warm", cfg, progress=False)
        rows = []
        for kind in ("local", "dask"):
            for jobs in (1, 2):
                if kind == "dask" and importlib.util.find_spec("distributed") is None:
                    print("dask: not installed (extra 'dask'), skipped")
                    break
                t0 = time.perf_counter()
                compute_fbank(cuts, tmp / f"{kind}{jobs}", cfg, num_jobs=jobs, executor_kind=kind,
                              cuts_per_archive=1, progress=False)
                rows.append((kind, jobs, time.perf_counter() - t0))
    print(f"audio: {args.files} x {args.minutes:g} min ({total / 60:.0f} min) of 16 kHz WAV, one archive per file")
    base = {}
    for kind, jobs, t in rows:
        base.setdefault(kind, t)
        print(f"{kind:5s} {jobs} worker(s): {t:6.2f} s  RTF {total / t:7.0f}x  speed-up {base[kind] / t:.2f}x")
    print("(dask times include starting the LocalCluster)")


if __name__ == "__main__":
    main()
