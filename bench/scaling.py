"""Scaling from 1 to 2 workers, local processes and a dask LocalCluster, of

- `diar fbank` (stage 2): synthetic 16 kHz WAV (default 16 recordings x 30
  minutes = 8 h, over 2 distinct files so that writing them stays quick);
- simulation rendering: `diar simulate` shards (layouts) and `--materialize`
  (mixing the audio of every mixture into 8 kHz FLAC), from synthetic 16 kHz
  WAV sources (default 20 speakers x 10 utterances of 3-8 s; 20,000 mixtures
  for the layouts, 200 of them rendered to audio).

Prints the wall time per setting and the speed-up of 2 workers over 1 (the
ideal is 2.0 on 2 free cores, and the main process needs a little of them).
Dask runs go to a LocalCluster started before the timing (as a cluster is, in
real use: `--scheduler`); its start-up is printed on its own.

    python bench/scaling.py [--part all|fbank|simulate] [--files 16] [--minutes 30] [--mixtures 200]
                            [--layout-mixtures 20000]
"""

import argparse
import importlib.util
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile

sys.path.insert(0, str(Path(__file__).parent))
from fbank import make_audio  # noqa: E402

from recipes.features import compute_fbank, load_fbank_config  # noqa: E402

SETTINGS = [("local", 1), ("local", 2), ("dask", 1), ("dask", 2)]


def settings():
    """``(kind, jobs, scheduler)``: local processes, then a LocalCluster of ``jobs`` workers
    started here (its start-up timed and printed apart from the work)."""
    for kind, jobs in SETTINGS:
        if kind == "local":
            yield kind, jobs, None
            continue
        if importlib.util.find_spec("distributed") is None:
            print("dask: not installed (extra 'dask'), skipped")
            return
        from distributed import Client, LocalCluster

        t0 = time.perf_counter()
        with (
            LocalCluster(
                n_workers=jobs, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40
            ) as cluster,
            Client(cluster) as client,
        ):
            client.run(lambda: __import__("recipes.features"))  # workers import the package once, as in real use
            print(f"  (dask LocalCluster of {jobs} worker(s) started in {time.perf_counter() - t0:.1f} s)")
            yield kind, jobs, cluster.scheduler_address


def report(title, rows, unit_seconds=None):
    print(title)
    base = {}
    for kind, jobs, t in rows:
        base.setdefault(kind, t)
        rtf = f"  RTF {unit_seconds / t:7.0f}x" if unit_seconds else ""
        print(f"  {kind:5s} {jobs} worker(s): {t:6.2f} s{rtf}  speed-up {base[kind] / t:.2f}x")


def bench_fbank(tmp: Path, files: int, minutes: float):
    from lhotse import CutSet
    from lhotse.utils import fastcopy

    cfg = load_fbank_config()
    tmp.mkdir(parents=True, exist_ok=True)
    distinct = list(make_audio(tmp, min(files, 2), 60 * minutes))
    cuts = CutSet.from_cuts(
        fastcopy(c, id=f"rec{i:02d}", recording=fastcopy(c.recording, id=f"rec{i:02d}"))
        for i, c in zip(range(files), distinct * files)
    )
    total = sum(c.duration for c in cuts)
    compute_fbank(cuts.subset(first=1), tmp / "warm", cfg, progress=False)
    rows = []
    for kind, jobs, scheduler in settings():
        t0 = time.perf_counter()
        compute_fbank(
            cuts,
            tmp / f"{kind}{jobs}",
            cfg,
            num_jobs=jobs,
            executor_kind=kind,
            scheduler=scheduler,
            cuts_per_archive=1,
            progress=False,
        )
        rows.append((kind, jobs, time.perf_counter() - t0))
    report(
        f"diar fbank: {files} x {minutes:g} min ({total / 3600:.1f} h) of 16 kHz WAV, one archive per recording",
        rows,
        total,
    )


def make_sources(root: Path, speakers: int = 20, per_speaker: int = 10, sr: int = 16000):
    from lhotse import CutSet, MonoCut, Recording, SupervisionSegment

    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    cuts = []
    for s in range(speakers):
        f0 = 90 + 7 * s
        for u in range(per_speaker):
            dur = float(rng.uniform(3, 8))
            t = np.arange(int(dur * sr)) / sr
            x = sum(np.sin(2 * np.pi * h * f0 * t) / h for h in range(1, 15)) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
            x = (0.1 * x + 0.003 * rng.standard_normal(len(t))).astype(np.float32)
            path = root / f"s{s:02d}-{u:02d}.wav"
            soundfile.write(path, x, sr, subtype="PCM_16")
            rec = Recording.from_file(path)
            sup = SupervisionSegment(
                id=rec.id, recording_id=rec.id, start=0.0, duration=rec.duration, channel=0, speaker=f"s{s:02d}"
            )
            cuts.append(
                MonoCut(id=rec.id, start=0.0, duration=rec.duration, channel=0, recording=rec, supervisions=[sup])
            )
    return CutSet.from_cuts(cuts)


def bench_simulate(tmp: Path, mixtures: int, layout_mixtures: int):
    from recipes.simulation import Simulator, load_config, load_sources, materialize, simulate

    src_path = tmp / "sources.jsonl.gz"
    make_sources(tmp / "wav").to_file(src_path)
    rows = {"layouts": [], "render": []}
    hours = {}
    for part, n, shard_size in (("layouts", layout_mixtures, 500), ("render", mixtures, 10)):
        cfg = load_config(None, shard_size=shard_size, speakers={2: 0.5, 3: 0.5}, utterances_per_speaker=[2, 4])
        sim = Simulator(load_sources(src_path, supervision=cfg.supervision), cfg, seed=0, prefix="mix")
        for kind, jobs, scheduler in settings():
            out = tmp / f"{part}-{kind}{jobs}" / "mix.jsonl.gz"
            t0 = time.perf_counter()
            stats = simulate(sim, n, out, num_jobs=jobs, executor_kind=kind, scheduler=scheduler, progress=False)
            hours[part] = stats["hours"]
            if part == "layouts":
                rows[part].append((kind, jobs, time.perf_counter() - t0))
                continue
            shards = [str(out.parent / s) for s in stats["shards"]]
            t0 = time.perf_counter()
            materialize(
                shards, out.parent / "mat", num_jobs=jobs, executor_kind=kind, scheduler=scheduler, progress=False
            )
            rows[part].append((kind, jobs, time.perf_counter() - t0))
    report(
        f"diar simulate, layouts (manifests, no audio): {layout_mixtures} mixtures ({hours['layouts']:.0f} h) "
        f"in shards of 500",
        rows["layouts"],
        hours["layouts"] * 3600,
    )
    report(
        f"diar simulate --materialize, audio rendering: {mixtures} mixtures ({hours['render']:.2f} h) "
        f"into 8 kHz FLAC, shards of 10",
        rows["render"],
        hours["render"] * 3600,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=["all", "fbank", "simulate"], default="all")
    parser.add_argument("--files", type=int, default=16, help="recordings for diar fbank")
    parser.add_argument("--minutes", type=float, default=30.0, help="minutes per recording")
    parser.add_argument("--mixtures", type=int, default=200, help="mixtures rendered to audio")
    parser.add_argument("--layout-mixtures", type=int, default=20000, help="mixtures for the layout timing")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.part in ("all", "fbank"):
            bench_fbank(tmp / "fbank", args.files, args.minutes)
        if args.part in ("all", "simulate"):
            bench_simulate(tmp / "simulate", args.mixtures, args.layout_mixtures)


if __name__ == "__main__":
    main()
