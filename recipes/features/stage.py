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
from typing import TYPE_CHECKING, Dict, Optional

import numpy as np

from recipes.features.audio import as_cut, load_audio_with_context
from recipes.features.compute import NumpyFbank, knf_features
from recipes.features.config import BACKENDS, KnfFbankConfig, Pathlike, load_fbank_config
from recipes.frames import num_samples
from recipes.lilcom_writer import FastLilcomChunkyWriter

if TYPE_CHECKING:
    from lhotse import CutSet

NUMBA_MIN_HOURS = 5.0  # one process's audio from which the numba lilcom codec is used (bench/fbank_process.py)
FEATURE_TYPE = "kaldi-native-fbank"  # KaldiNativeFbank.name: both backends store the same features

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


def _audio_paths_of(d: dict, cut) -> str:
    """:func:`_audio_paths` of a cut's manifest dict (``cut``: its Lhotse cut, or None when the
    dict is a MonoCut's, whose sources are read from the dict)."""
    if cut is not None:
        return _audio_paths(cut)
    rec = d.get("recording") or {}
    return ", ".join(str(s["source"]) for s in rec.get("sources", ())) or "(no recording)"


def _extract_chunk(cut_dicts, archive: str, config_dict: dict, backend: str, compiled: bool = True):
    """Worker: features of a list of cut manifest dicts into one lilcom archive (written as
    ``<archive>.partial`` and renamed when complete). Returns
    ``([(cut_id, output cut dict), ...], [Reject, ...])``. Plain cuts
    (:func:`~recipes.features.audio.plain_recording`) are read and written as dicts, with no
    Lhotse object; the others go through Lhotse. ``compiled``: lilcom bytes from the numba
    codec (else from lilcom's C compressor: the same bytes, see :func:`recipes.lilcom_writer._encoded`)."""
    import errno

    from recipes.errors import one_line
    from recipes.fileio import atomic_path

    config = KnfFbankConfig.from_dict(config_dict)
    extract = NumpyFbank(config) if backend == "numpy" else (lambda a: knf_features(a, config))
    final = Path(archive)
    done, rejects = [], []
    with atomic_path(final, what="features") as partial:
        with FastLilcomChunkyWriter(partial, mode="w", compiled=compiled) as writer:
            for d in cut_dicts:
                plain = d.get("type") == "MonoCut"
                cut = None if plain else as_cut(d)  # a MixedCut's dict has no start or duration field
                try:
                    audio, first, count = load_audio_with_context(d if plain else cut, config)
                except Exception as e:  # noqa: BLE001 - any decoder error (AudioLoadingError, ...) is this cut's
                    if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EROFS):
                        raise  # ... but a full or read-only disk is the whole stage's
                    rejects.append(Reject(d["id"], _audio_paths_of(d, cut), f"{type(e).__name__}: {one_line(e)}"))
                    continue
                # errors past this point (extractor, bugs) stop the stage: they are not the audio's fault
                feats = _trim(extract(audio), first, count)
                key = writer.write(d["id"], feats)
                rec_id = (d.get("recording") or {}).get("id") if plain else getattr(cut, "recording_id", None)
                features = {
                    "type": FEATURE_TYPE,
                    "num_frames": feats.shape[0],
                    "num_features": feats.shape[1],
                    "frame_shift": config.frame_shift,
                    "sampling_rate": config.sampling_rate,
                    "start": d["start"] if plain else cut.start,
                    "duration": d["duration"] if plain else cut.duration,
                    "storage_type": writer.name,
                    "storage_path": str(final),
                    "storage_key": key,
                    "recording_id": rec_id or d["id"],
                    "channels": d.get("channel") if plain else getattr(cut, "channel", None),
                }
                features = {k: v for k, v in features.items() if v is not None}
                done.append((d["id"], _with_features(d, features, config, cut)))
    return done, rejects


def chunk_by_duration(cuts, max_cuts: int, num_jobs: int):
    """``cuts``: ``(cut dict, duration)`` pairs (a MixedCut's dict has no duration field).
    Consecutive groups of cuts, one archive (one task) each: at most ``max_cuts`` cuts, and,
    with several workers, about a quarter of one worker's share of the audio duration, so
    that a corpus of a few long recordings still keeps every worker busy. One worker:
    groups of ``max_cuts`` (fewer, larger archives)."""
    if num_jobs <= 1:
        return [cuts[i : i + max_cuts] for i in range(0, len(cuts), max_cuts)]
    target = sum(t for _, t in cuts) / (4 * num_jobs)
    chunks, current, seconds = [], [], 0.0
    for item in cuts:
        t = item[1]
        if current and (len(current) >= max_cuts or seconds + t / 2 > target):
            chunks.append(current)
            current, seconds = [], 0.0
        current.append(item)
        seconds += t
    if current:
        chunks.append(current)
    return chunks


def compute_fbank(
    cuts,
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
) -> "CutSet":
    """Compute and store fbank features for ``cuts``; returns them in input order.

    ``cuts``: a CutSet (returns a CutSet), or a list of ``MonoCut`` manifest dicts (returns
    the output cuts' manifest dicts, the same as ``CutSet.to_dicts()`` of the CutSet it would
    return: ``diar fbank`` on plain cuts imports no Lhotse).

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

    from recipes.fileio import check_writable_dir, sweep_stale, write_text
    from recipes.parallel import map_tasks

    if config is None:
        config = load_fbank_config()
    if backend not in BACKENDS:
        raise ValueError(f"backend {backend!r}; expected one of {BACKENDS}")
    as_dicts = isinstance(cuts, list) and all(isinstance(c, dict) and c.get("type") == "MonoCut" for c in cuts)
    if as_dicts:
        cut_list, durations = cuts, [c["duration"] for c in cuts]
    else:
        from lhotse.cut import MultiCut

        cut_list = []
        for cut in cuts:
            # A multi-channel cut (e.g. AMI mdm) becomes one MonoCut per channel, ids
            # <id>-<channel> (Lhotse's MultiCut.to_mono): each channel gets its own features
            # and can carry labels; statistics count the copies of a span once.
            cut_list.extend(cut.to_mono() if isinstance(cut, MultiCut) else [cut])
        durations = [c.duration for c in cut_list]
        cut_list = [c.to_dict() for c in cut_list]
    input_ids = [cut["id"] for cut in cut_list]
    if len(set(input_ids)) != len(input_ids):
        seen, dups = set(), []
        for cid in input_ids:
            if cid in seen and cid not in dups:
                dups.append(cid)
            seen.add(cid)
        raise ValueError(f"duplicate cut ids in input: {_id_list(dups)}")
    storage = check_writable_dir(storage_path)
    chunks = chunk_by_duration(
        list(zip(cut_list, durations)), cuts_per_archive, num_jobs if executor_kind == "local" else max(num_jobs, 2)
    )
    hours = [sum(t for _, t in chunk) / 3600 for chunk in chunks]
    # numba's import and cache load (about 1 s per process) pays off from a few hours of audio
    # per process; below, lilcom's C compressor writes the same bytes sooner
    compiled = num_jobs > 1 or executor_kind != "local" or sum(hours) >= NUMBA_MIN_HOURS
    tasks = [
        ([d for d, _ in chunk], str(storage / f"feats-{i:05d}.lca"), config.to_dict(), backend, compiled)
        for i, chunk in enumerate(chunks)
    ]
    if compiled and (num_jobs > 1 or executor_kind != "local"):
        from recipes import lilcom_codec

        lilcom_codec.warm_up()  # compiled once, here: workers inherit it (fork) or load it from numba's cache
    features, rejects = {}, []
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
    out = [features[cut["id"]] for cut in cut_list if cut["id"] in features]
    if as_dicts:
        return out
    from lhotse import CutSet

    return CutSet.from_dicts(out)


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


# Lhotse's dataclass field orders (asdict_nonull drops None): the output dicts of plain cuts are
# what ``to_dict()`` of the Lhotse objects gives (tests/test_fbank_pipeline.py checks both)
MONO_CUT_FIELDS = ("id", "start", "duration", "channel", "supervisions", "features", "recording", "custom")
RECORDING_FIELDS = ("id", "sources", "sampling_rate", "num_samples", "duration", "channel_ids", "transforms")


def _plain_resampled(rec: dict, rate: int) -> dict:
    """``Recording.resample(rate).to_dict()`` of a recording dict: a lazy ``Resample``
    transform appended, the samples counted at ``rate`` (Lhotse rounds half up) and the
    duration made exact on that grid; unchanged at its own rate."""
    rec = dict(rec)
    if rec.get("channel_ids") is None:  # Recording.__post_init__
        rec["channel_ids"] = sorted(c for src in rec["sources"] for c in src["channels"])
    if rec["sampling_rate"] != rate:
        resample = {"source_sampling_rate": rec["sampling_rate"], "target_sampling_rate": rate}
        count = num_samples(rec["duration"], rate)
        rec.update(
            sampling_rate=rate,
            num_samples=count,
            duration=count / rate,
            transforms=list(rec.get("transforms") or []) + [{"name": "Resample", "kwargs": resample}],
        )
    return {k: rec[k] for k in RECORDING_FIELDS if rec.get(k) is not None}


def _with_features(d: dict, features: dict, config: KnfFbankConfig, cut=None) -> dict:
    """The output cut's manifest dict: the input (lazily resampled) with its features; a
    simulated mixture (``MixedCut``: no single recording, no custom fields) becomes a
    ``MonoCut`` holding the mixture's features and supervisions, scored whole, so that
    labels can be attached to it (its audio stays in the input manifest). A plain
    ``MonoCut`` dict is mapped as a dict; other cuts go through Lhotse (``cut``: the dict's
    Lhotse cut when the caller has built it already)."""
    if d.get("type") == "MonoCut" and plain_fields(d):
        out = dict(d, features=features)
        out.setdefault("supervisions", [])
        if out.get("recording") is not None:
            out["recording"] = _plain_resampled(out["recording"], config.sampling_rate)
        return {**{k: out[k] for k in MONO_CUT_FIELDS if out.get(k) is not None}, "type": "MonoCut"}
    from lhotse.cut import MixedCut, MonoCut
    from lhotse.features import Features
    from lhotse.utils import fastcopy

    cut, feats = cut if cut is not None else as_cut(d), Features.from_dict(features)
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
        ).to_dict()
    target = cut.resample(config.sampling_rate) if cut.has_recording else cut
    return fastcopy(target, features=feats).to_dict()


def plain_fields(d: dict) -> bool:
    """Whether a ``MonoCut`` dict can be mapped without Lhotse: only MonoCut's own keys, a
    recording whose sources are plain dicts (no video), and no custom values that Lhotse
    would turn into objects and back (manifests in ``custom``, recognised by their ``type``
    or ``array`` keys, are left to Lhotse)."""
    if not set(d) <= set(MONO_CUT_FIELDS) | {"type"}:
        return False
    rec = d.get("recording")
    if rec is not None and (not set(rec) <= set(RECORDING_FIELDS) or any(s.get("video") for s in rec["sources"])):
        return False
    custom = d.get("custom") or {}
    return not any(
        isinstance(v, dict) and ("array" in v or "sources" in v or "storage_type" in v) for v in custom.values()
    )


def _id_list(ids, limit: int = 10) -> str:
    shown = ", ".join(map(str, ids[:limit]))
    if len(ids) > limit:
        shown += f", ... ({len(ids) - limit} more, {len(ids)} in total)"
    return shown
