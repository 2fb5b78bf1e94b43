"""Materialize simulated mixtures: 8 kHz FLAC, an RTTM and a Kaldi data dir."""

from pathlib import Path
from typing import List, Optional

import numpy as np


def _render(cut_source, audio_dir: str, sampling_rate: int) -> List[dict]:
    """Worker: mix the audio of every cut in ``cut_source`` (a manifest path or a list of
    cut dicts) at ``sampling_rate`` into ``audio_dir/<id>.flac``; returns the MonoCuts over
    those files (as dicts), in input order."""
    import soundfile as sf
    from lhotse import CutSet, MonoCut, Recording
    from lhotse.serialization import deserialize_item
    from lhotse.utils import fastcopy

    from recipes.fileio import atomic_path

    cuts = CutSet.from_file(cut_source) if isinstance(cut_source, str) else map(deserialize_item, cut_source)
    out = []
    for cut in cuts:
        x = cut.resample(sampling_rate).load_audio()[0]
        peak = float(np.abs(x).max()) if x.size else 0.0
        if peak > 0.99:
            x = x * (0.99 / peak)
        path = Path(audio_dir) / f"{cut.id}.flac"
        with atomic_path(path) as tmp:
            sf.write(str(tmp), x, sampling_rate, format="FLAC", subtype="PCM_16")
        rec = Recording.from_file(path, recording_id=cut.id)
        sups = [fastcopy(s, recording_id=cut.id, channel=0) for s in sorted(cut.supervisions, key=lambda s: s.start)]
        out.append(
            MonoCut(id=cut.id, start=0.0, duration=rec.duration, channel=0, recording=rec, supervisions=sups).to_dict()
        )
    return out


def materialize(
    cuts,
    out_dir,
    sampling_rate: int = 8000,
    progress: bool = True,
    num_jobs: int = 1,
    executor_kind: str = "local",
    scheduler: Optional[str] = None,
    cuts_per_task: int = 200,
):
    """Mix every MixedCut's audio at ``sampling_rate`` into ``out_dir/audio/<id>.flac``
    (PCM 16, scaled down only when the peak exceeds 0.99); write ``out_dir/cuts.jsonl.gz``
    (MonoCuts over the FLAC files, same supervisions), ``out_dir/rttm`` and a Kaldi data
    dir ``out_dir/kaldi``. Returns the CutSet.

    ``cuts``: a CutSet, or a list of manifest paths (the simulation's shards: one task
    each). A CutSet is cut into tasks of ``cuts_per_task`` cuts. Tasks run on
    ``num_jobs`` local processes or a dask cluster (:func:`recipes.parallel.map_tasks`);
    the output is the same whatever the executor."""
    from lhotse import CutSet
    from lhotse.serialization import deserialize_item

    from recipes.cuts import cut_turns
    from recipes.export import export_kaldi
    from recipes.fileio import atomic_path, check_writable_dir, save_manifest
    from recipes.parallel import map_tasks
    from recipes.rttm import write_rttm

    out_dir = check_writable_dir(out_dir)
    audio_dir = str(check_writable_dir(out_dir / "audio").resolve())
    if isinstance(cuts, (list, tuple)):
        tasks = [(str(Path(p).resolve()), audio_dir, sampling_rate) for p in cuts]
    else:
        tasks, chunk = [], []
        for cut in cuts:
            chunk.append(cut.to_dict())
            if len(chunk) == cuts_per_task:
                tasks.append((chunk, audio_dir, sampling_rate))
                chunk = []
        if chunk:
            tasks.append((chunk, audio_dir, sampling_rate))
    jobs = min(num_jobs, max(1, len(tasks))) if executor_kind == "local" else num_jobs
    out = [
        deserialize_item(d)
        for part in map_tasks(_render, tasks, jobs, executor_kind, scheduler, desc="materialize", progress=progress)
        for d in part
    ]
    cs = CutSet.from_cuts(out)
    save_manifest(cs, out_dir / "cuts.jsonl.gz")
    with atomic_path(out_dir / "rttm") as tmp:
        write_rttm([t for c in out for t in cut_turns(c)], tmp)
    import shutil

    # FLAC needs a converter in wav.scp: sox pipes where sox is installed, else WAV copies written once
    export_kaldi(cs, out_dir / "kaldi", sampling_rate=sampling_rate, audio="pipe" if shutil.which("sox") else "wav")
    return cs
