"""Writing a simulated set: shards (one task each), their index, the merged manifest and the statistics."""

import gzip
import json
import logging
import math
import os
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np

from recipes.fileio import clear_disk_errors
from recipes.simulation.layouts import overlap_speech
from recipes.simulation.simulator import Simulator, _Accumulator

logger = logging.getLogger(__name__)


def _write_shard(sim: "Simulator", shard: int, lo: int, hi: int, path: str) -> Tuple[int, "_Accumulator"]:
    """Worker: mixtures ``lo .. hi - 1`` into the shard file ``path`` (``.partial``, then renamed)."""
    acc = _Accumulator()
    lines = []
    for i in range(lo, hi):
        lay = sim.layout(i)
        s0, s1, d = lay.spans(sim.src)
        ov, sp, by_k = overlap_speech(lay.offsets + s0, lay.offsets + s1)
        dur = float(np.max(lay.offsets + d))
        acc.add(lay, sim.src, ov, sp, by_k, dur)
        lines.append(sim.mixture_json(i, lay, (ov, sp, dur)))
    tmp = Path(str(path) + ".partial")
    with clear_disk_errors(tmp.parent, "simulation shards", remove=[tmp]):
        with open(tmp, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=1) as gz:
            gz.write("".join(lines).encode("utf-8"))
        os.replace(tmp, path)
    return shard, acc


def shard_paths(out_cuts, num_shards: int) -> List[Path]:
    out = Path(out_cuts)
    stem = out.name[: -len(".jsonl.gz")]
    return [out.with_name(f"{stem}.{k:06d}.jsonl.gz") for k in range(num_shards)]


def _stem_path(out_cuts, suffix: str) -> Path:
    out = Path(out_cuts)
    return out.with_name(out.name[: -len(".jsonl.gz")] + suffix)


def simulate(
    sim: Simulator,
    num_mixtures: int,
    out_cuts,
    num_jobs: int = 1,
    merge: bool = True,
    progress: bool = True,
    executor_kind: str = "local",
    scheduler: Optional[str] = None,
) -> dict:
    """Write ``num_mixtures`` mixtures as shards (+ index, merged file, statistics); returns the statistics.
    Shards are tasks for :func:`recipes.parallel.map_tasks` (``num_jobs`` local processes or a
    dask cluster); the simulator travels once per worker."""
    from recipes.fileio import check_writable_dir, write_text
    from recipes.parallel import map_tasks

    out_cuts = Path(out_cuts)
    if not out_cuts.name.endswith(".jsonl.gz"):
        raise ValueError(f"{out_cuts}: OUT_CUTS must end with .jsonl.gz")
    check_writable_dir(out_cuts.parent)
    size = sim.cfg.shard_size
    num_shards = max(1, math.ceil(num_mixtures / size))
    paths = shard_paths(out_cuts, num_shards)
    tasks = [(k, k * size, min((k + 1) * size, num_mixtures), str(paths[k].resolve())) for k in range(num_shards)]
    for stale in (out_cuts, _stem_path(out_cuts, ".shards.txt")):
        if stale.exists():
            stale.unlink()  # an old index must not describe new shards
    t0 = time.time()
    jobs = min(num_jobs, num_shards) if executor_kind == "local" else num_jobs
    accs: Dict[int, _Accumulator] = dict(
        map_tasks(
            _write_shard, tasks, jobs, executor_kind, scheduler, desc="simulate shards", progress=progress, shared=sim
        )
    )
    total = _Accumulator()
    for k in range(num_shards):
        total.merge(accs[k])
    write_text(_stem_path(out_cuts, ".shards.txt"), "".join(p.name + "\n" for p in paths))
    if merge:
        from recipes.fileio import atomic_path

        with atomic_path(out_cuts) as tmp, open(tmp, "wb") as dst:
            for p in paths:
                with open(p, "rb") as f:
                    while True:
                        buf = f.read(1 << 22)
                        if not buf:
                            break
                        dst.write(buf)
    stats = {
        "config": sim.cfg.to_dict(),
        "seed": sim.seed,
        "sources": len(sim.src),
        "source_speakers": len(sim.src.speakers),
        "betas": {f"{k}spk" + ("" if lv is None else f"@{lv}"): b for (k, lv), b in sim.betas.items()},
        "calibration": sim.calibration,
        "combination_blocks": [{"end": e, "speakers": k, "target_overlap": lv} for e, (k, lv) in sim.blocks],
        "shards": [p.name for p in paths],
        **total.to_dict(),
    }
    if sim.conv_stats is not None:
        stats["conversation_source_stats"] = sim.conv_stats.summary()
    write_text(_stem_path(out_cuts, ".stats.json"), json.dumps(stats, indent=1) + "\n")
    logger.info(
        "simulated %d mixtures (%.2f h, %d tracks) in %.1f s",
        total.mixtures,
        total.duration / 3600,
        total.tracks,
        time.time() - t0,
    )
    return stats


def format_stats(stats: dict) -> str:
    """Short text summary: overlap ratio, silence ratio, speaker-count histogram, per combination."""
    lines = [
        f"mixtures {stats['mixtures']}, {stats['hours']:.2f} h, tracks {stats['tracks']}",
        f"overlap / speech {stats['overlap_ratio']:.2%}, silence / duration {stats['silence_ratio']:.2%}",
        "speaker counts: " + ", ".join(f"{k}: {v}" for k, v in stats["speaker_count_histogram"].items()),
    ]
    for key, c in stats["by_combination"].items():
        tgt = "" if c["target_overlap"] is None else f" (target {c['target_overlap']:.2%})"
        lines.append(
            f"  {key:>10}: {c['mixtures']} mixtures, {c['hours']:.2f} h, overlap {c['overlap_ratio']:.2%}"
            f"{tgt}, silence {c['silence_ratio']:.2%}"
        )
    return "\n".join(lines) + "\n"
