"""Stage 2: :func:`compute_fbank` computes and stores the features of a CutSet in lilcom
archives, spread over local processes or a dask cluster (:mod:`recipes.parallel`).

``CutSet.compute_and_store_features`` silently drops cuts whose audio fails to load, and
with ``num_jobs > 1`` returns the cuts interleaved by worker; :func:`compute_fbank` raises
on dropped cuts (or lists them with ``skip_bad``) and keeps the input order.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional

import numpy as np
from lhotse import CutSet

from recipes.features.audio import load_audio_with_context
from recipes.features.config import BACKENDS, KnfFbankConfig, Pathlike, load_fbank_config
from recipes.features.extractors import KaldiNativeFbank, NumpyFbank
from recipes.lilcom_writer import FastLilcomChunkyWriter

logger = logging.getLogger(__name__)


def _trim(feats: np.ndarray, first: int, count: Optional[int]) -> np.ndarray:
    if count is None:
        return feats
    out = feats[first : first + count]
    if out.shape[0] < count:  # the window runs past the recording's last frame: repeat it
        out = np.concatenate([out, np.repeat(out[-1:], count - out.shape[0], axis=0)])
    return out


def compute_cut_features(cut, config: KnfFbankConfig, extract) -> np.ndarray:
    """Features of ``cut`` equal to the matching frames of the whole recording's features
    (see :func:`load_audio_with_context`). ``extract``: samples at
    ``config.sampling_rate`` -> ``(T, D)`` features."""
    audio, first, count = load_audio_with_context(cut, config)
    return _trim(extract(audio), first, count)


def _audio_paths(cut) -> str:
    """Where a cut's audio comes from, for error messages."""
    try:
        sources = [s.source for s in cut.recording.sources] if cut.has_recording else []
    except AttributeError:  # MixedCut: the tracks' recordings
        sources = [s.source for t in cut.tracks if t.cut.has_recording for s in t.cut.recording.sources]
    return ", ".join(str(s) for s in sources) or "(no recording)"


@dataclass
class Reject:
    cut_id: str
    audio: str
    error: str


def _extract_chunk(cut_dicts, archive: str, config_dict: dict, backend: str):
    """Worker: features of a list of cuts into one lilcom archive (written as
    ``<archive>.partial`` and renamed when complete). Returns
    ``([(cut_id, features_dict), ...], [Reject, ...])``."""
    import errno

    from lhotse.cut import Cut
    from lhotse.features import Features
    from lhotse.serialization import deserialize_item

    from recipes.errors import one_line
    from recipes.fileio import atomic_path

    config = KnfFbankConfig.from_dict(config_dict)
    compute = NumpyFbank(config) if backend == "numpy" else KaldiNativeFbank(config)
    extract = compute if backend == "numpy" else (lambda a: compute.extract(a, config.sampling_rate))
    final = Path(archive)
    done, rejects = [], []
    with atomic_path(final, what="features") as partial:
        with FastLilcomChunkyWriter(partial, mode="w") as writer:
            for d in cut_dicts:
                cut: Cut = deserialize_item(d)
                try:
                    audio, first, count = load_audio_with_context(cut, config)
                except Exception as e:  # noqa: BLE001 - any decoder error (AudioLoadingError, ...) is this cut's
                    if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EROFS):
                        raise  # ... but a full or read-only disk is the whole stage's
                    rejects.append(Reject(cut.id, _audio_paths(cut), f"{type(e).__name__}: {one_line(e)}"))
                    continue
                # errors past this point (extractor, bugs) stop the stage: they are not the audio's fault
                feats = _trim(extract(audio), first, count)
                key = writer.write(cut.id, feats)
                done.append(
                    (
                        cut.id,
                        Features(
                            type=KaldiNativeFbank.name,
                            num_frames=feats.shape[0],
                            num_features=feats.shape[1],
                            frame_shift=config.frame_shift,
                            sampling_rate=config.sampling_rate,
                            start=cut.start,
                            duration=cut.duration,
                            storage_type=writer.name,
                            storage_path=str(final),
                            storage_key=key,
                            recording_id=getattr(cut, "recording_id", None) or cut.id,
                            channels=cut.channel if hasattr(cut, "channel") else None,
                        ).to_dict(),
                    )
                )
    return done, rejects


def chunk_by_duration(cuts, max_cuts: int, num_jobs: int):
    """Consecutive groups of cuts, one archive (one task) each: at most ``max_cuts`` cuts, and,
    with several workers, about a quarter of one worker's share of the audio duration, so
    that a corpus of a few long recordings still keeps every worker busy. One worker:
    groups of ``max_cuts`` (fewer, larger archives)."""
    if num_jobs <= 1:
        return [cuts[i : i + max_cuts] for i in range(0, len(cuts), max_cuts)]
    target = sum(c.duration for c in cuts) / (4 * num_jobs)
    chunks, current, seconds = [], [], 0.0
    for cut in cuts:
        if current and (len(current) >= max_cuts or seconds + cut.duration / 2 > target):
            chunks.append(current)
            current, seconds = [], 0.0
        current.append(cut)
        seconds += cut.duration
    if current:
        chunks.append(current)
    return chunks


def compute_fbank(
    cuts: CutSet,
    storage_path: Pathlike,
    config: Optional[KnfFbankConfig] = None,
    num_jobs: int = 1,
    backend: str = "numpy",
    executor_kind: str = "local",
    scheduler: Optional[str] = None,
    skip_bad: bool = False,
    rejects_path: Optional[Pathlike] = None,
    cuts_per_archive: int = 200,
    progress: bool = True,
) -> CutSet:
    """Compute and store fbank features for ``cuts``; returns them in input order.

    Audio is loaded at its own rate and resampled to ``config.sampling_rate``
    (soxr, or Lhotse's resampler with ``resampler: lhotse``); files are never
    rewritten. Features go to lilcom archives ``<storage_path>/feats-<i>.lca``
    (at most ``cuts_per_archive`` cuts each, split by audio duration with several workers:
    :func:`chunk_by_duration`; the progress bar counts hours of audio; each archive is written under a
    ``.partial`` name and renamed when complete, so an interrupted run leaves
    nothing that looks finished). ``backend``: ``numpy`` (vectorised, the
    default; matches kaldi-native-fbank within 1e-3) or ``knf``
    (kaldi-native-fbank itself). Work is spread over ``num_jobs`` local
    processes or a dask cluster (:mod:`recipes.parallel`).

    A multi-channel cut becomes one cut per channel (ids ``<id>-<channel>``).
    A cut whose audio cannot be loaded stops the computation with its id and
    audio path (Lhotse's ``compute_and_store_features`` would drop it
    silently); the error says each reason once, with its count and first ids. With
    ``skip_bad`` such cuts are left out instead. Either way they are all listed in
    ``rejects_path`` (JSON lines: cut id, audio, error) when it is given.
    """
    import json

    from lhotse.features import Features

    from recipes.fileio import check_writable_dir, sweep_stale, write_text
    from recipes.parallel import map_tasks

    if config is None:
        config = load_fbank_config()
    if backend not in BACKENDS:
        raise ValueError(f"backend {backend!r}; expected one of {BACKENDS}")
    from lhotse.cut import MultiCut

    cut_list = []
    for cut in cuts:
        # A multi-channel cut (e.g. AMI mdm) becomes one MonoCut per channel, ids
        # <id>-<channel> (Lhotse's MultiCut.to_mono): each channel gets its own features
        # and can carry labels; statistics count the copies of a span once.
        cut_list.extend(cut.to_mono() if isinstance(cut, MultiCut) else [cut])
    input_ids = [cut.id for cut in cut_list]
    if len(set(input_ids)) != len(input_ids):
        seen, dups = set(), []
        for cid in input_ids:
            if cid in seen and cid not in dups:
                dups.append(cid)
            seen.add(cid)
        raise ValueError(f"duplicate cut ids in input: {_id_list(dups)}")
    storage = check_writable_dir(storage_path)
    chunks = chunk_by_duration(cut_list, cuts_per_archive, num_jobs if executor_kind == "local" else max(num_jobs, 2))
    tasks = [
        ([c.to_dict() for c in chunk], str(storage / f"feats-{i:05d}.lca"), config.to_dict(), backend)
        for i, chunk in enumerate(chunks)
    ]
    if num_jobs > 1 or executor_kind != "local":
        from recipes import lilcom_codec

        lilcom_codec.warm_up()  # compiled once, here: workers inherit it (fork) or load it from numba's cache
    features, rejects = {}, []
    hours = [sum(c.duration for c in chunk) / 3600 for chunk in chunks]
    for done, bad in map_tasks(
        _extract_chunk,
        tasks,
        num_jobs,
        executor_kind,
        scheduler,
        desc="fbank",
        progress=progress,
        weights=hours,
        unit="h audio",
    ):
        features.update(done)
        rejects.extend(bad)
    if rejects:
        listing = _reject_summary(rejects)
        if rejects_path is not None:  # the full list, whatever happens next (the error line has the first few)
            write_text(rejects_path, "".join(json.dumps(r.__dict__) + "\n" for r in rejects))
        listed = f"; all listed in {rejects_path}" if rejects_path is not None else ""
        if not skip_bad:
            raise RuntimeError(
                f"audio of {len(rejects)} of {len(cut_list)} cut(s) failed to load: {listing}{listed} "
                f"(--skip-bad leaves them out)"
            )
        if len(rejects) == len(cut_list):
            raise RuntimeError(f"the audio of every cut ({len(cut_list)}) failed to load: {listing}{listed}")
        logger.warning("skipped %d cut(s) whose audio failed to load: %s%s", len(rejects), listing, listed)
    elif rejects_path is not None and Path(rejects_path).exists():
        Path(rejects_path).unlink()  # from an earlier run: nothing was rejected this time
    sweep_stale(storage, "feats-*.lca", {t[1] for t in tasks})
    out = []
    for cut in cut_list:
        if cut.id in features:
            out.append(_with_features(cut, Features.from_dict(features[cut.id]), config))
    return CutSet.from_cuts(out)


def _short_reason(error: str) -> str:
    """libsndfile's reason out of Lhotse's multi-backend ``AudioLoadingError`` text (``Error opening
    '<audio>': Error in WAV file. No 'data' chunk marker.``); other errors up to Lhotse's details."""
    import re

    m = re.search(r"LibsndfileError'>: (.*?)(?:\s+Exception #\d+|\s+Set LHOTSE_|$)", error)
    if m:
        return m.group(1).strip()
    return error.split(". Details:", 1)[0].strip()


def _reject_summary(rejects, groups: int = 3, ids: int = 3) -> str:
    """The rejects grouped by reason, each reason said once with its count and first ids:
    ``9 x Error opening ...: a (a.wav), b (b.wav), c (c.wav), ...``."""
    by_reason: Dict[str, list] = {}
    for r in rejects:
        reason = r.error
        for path in r.audio.split(", "):  # the same failure of another file is the same reason
            reason = reason.replace(path, "<audio>")
        by_reason.setdefault(_short_reason(reason.replace(r.cut_id, "<cut>")), []).append(r)
    parts = []
    for reason, rs in list(by_reason.items())[:groups]:
        shown = ", ".join(f"{r.cut_id} ({r.audio})" for r in rs[:ids]) + (", ..." if len(rs) > ids else "")
        parts.append(f"{len(rs)} x {reason}: {shown}")
    if len(by_reason) > groups:
        parts.append(f"{len(by_reason) - groups} more reason(s)")
    return "; ".join(parts)


def _with_features(cut, feats, config: KnfFbankConfig):
    """The output cut: the input (lazily resampled) with its features; a simulated
    mixture (``MixedCut``: no single recording, no custom fields) becomes a
    ``MonoCut`` holding the mixture's features and supervisions, scored whole,
    so that labels can be attached to it (its audio stays in the input manifest)."""
    from lhotse.cut import MixedCut, MonoCut
    from lhotse.utils import fastcopy

    if isinstance(cut, MixedCut):
        sups = [fastcopy(s, recording_id=cut.id) for s in cut.supervisions]
        return MonoCut(
            id=cut.id,
            start=0.0,
            duration=cut.duration,
            channel=0,
            supervisions=sups,
            features=feats,
            recording=None,
            custom={"uem": [[0.0, cut.duration]]},
        )
    target = cut.resample(config.sampling_rate) if cut.has_recording else cut
    return fastcopy(target, features=feats)


def _id_list(ids, limit: int = 10) -> str:
    shown = ", ".join(map(str, ids[:limit]))
    if len(ids) > limit:
        shown += f", ... ({len(ids) - limit} more, {len(ids)} in total)"
    return shown
