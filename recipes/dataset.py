"""A torch Dataset for EEND-style training over a labelled CutSet.

Conventions (EEND, Hitachi recipes):

- input: 23-dim log-mel frames at 10 ms, mean-normalised, spliced +-``context``
  frames (``23 * (2 * context + 1)`` = 345 dims), subsampled by ``subsampling``
  (10): subsampled frame ``k`` is feature frame ``subsampling * k``;
- labels are taken at the same frames: label ``k`` = label of feature frame
  ``subsampling * k``;
- a recording is cut into chunks of ``chunk_size`` subsampled frames
  (500 -> 50 s); the last, shorter chunk is kept.

The dataset follows Lhotse's map-style convention: ``dataset[cuts]`` takes a
CutSet mini-batch from a Lhotse sampler (e.g. ``DynamicBucketingSampler``) and
returns a dict of padded tensors::

    features      (B, T, 345) float32
    labels        binary: (B, T, S) int64, 1/0, -1 = padding or not scored (outside the UEM);
                  S = most speakers in the batch (or max_speakers); the columns a
                  cut lacks are 0 on its valid frames (silent speakers, as EEND pads)
                  powerset: (B, T) int64 class ids, -1 = padding / not scored / over capacity
                  target: (B, T) int64, 1/0/-1
    lengths       (B,) valid subsampled frames per cut
    speakers      list of B speaker-id lists (column order of the labels; for
                  target cuts, the one target speaker)
    cut_ids       list of B cut ids

Cuts without stored labels (e.g. simulated ``MixedCut`` s used with no storage at
all) get binary or powerset labels computed from their supervisions.

Use :func:`chunk_cuts` to cut whole-recording cuts into training chunks
before sampling. Features come from the cut's stored features, or are computed
on the fly from the audio with ``feature_extractor`` (e.g.
``recipes.features.KaldiNativeFbank()``) for cuts without features.
"""

from contextlib import contextmanager
from functools import lru_cache
from typing import Dict, List, Optional

import numpy as np
import torch
from lhotse import CutSet
from lhotse.cut import Cut

from recipes.cuts import cut_custom
from recipes.features import compute_cut_features, eend_input
from recipes.labels import (
    FRAME_SHIFT,
    IGNORE,
    POWERSET_IGNORE,
    activity_from_turns,
    load_labels,
    supervision_turns,
    to_powerset,
)

LABEL_TYPES = ("binary", "powerset", "target")
MEAN_NORMS = ("chunk", "recording", "none")


def chunk_cuts(cuts: CutSet, chunk_size: int = 500, subsampling: int = 10, frame_shift: float = FRAME_SHIFT) -> CutSet:
    """Cut recordings into chunks of ``chunk_size`` subsampled frames (seconds =
    ``chunk_size * subsampling * frame_shift``); the last partial chunk is kept.
    Labels stay aligned (they are TemporalArrays read with :func:`load_labels`).

    Each track of a ``MixedCut`` first records its whole extent (:func:`mark_mix_tracks`),
    so that the source-cache renderer gives a chunk as that part of the whole mixture
    (RIR tail from before the chunk, SNR gains and reverb power of the whole tracks);
    Lhotse's loader still gives Lhotse's window (each truncated track mixed on its own)."""
    return cuts.map(mark_mix_tracks).cut_into_windows(
        duration=chunk_size * subsampling * frame_shift, keep_excessive_supervisions=True
    )


def mark_mix_tracks(cut: Cut) -> Cut:
    """A ``MixedCut`` whose plain (MonoCut) tracks carry ``custom["mix_track"]``: the whole
    track's ``start`` / ``duration`` in its recording, its ``snr`` (None: gain 1) and
    ``ref``, the mixture's SNR reference (source, rate, start, duration; see
    :mod:`recipes.simulation.render`). Lhotse's ``truncate`` keeps a track's custom
    (``fastcopy``), and it survives ``to_dict`` / ``from_dict``. Other cuts pass through."""
    from lhotse.cut import MixedCut, MonoCut, PaddingCut
    from lhotse.utils import fastcopy

    if not isinstance(cut, MixedCut) or not all(
        isinstance(t.cut, (MonoCut, PaddingCut)) and (isinstance(t.cut, PaddingCut) or t.cut.has_recording)
        for t in cut.tracks
    ):
        return cut
    from recipes.simulation.cache import source_key
    from recipes.simulation.render import snr_reference

    tracks = cut.tracks
    ref = snr_reference(tracks)  # Lhotse's mixer does not scale the first track when it is the reference
    if ref is None:
        return cut
    r = tracks[ref].cut
    ref_info = {
        "source": source_key(r.recording),
        "rate": r.recording.sampling_rate,
        "start": r.start,
        "duration": r.duration,
    }
    new = []
    for i, t in enumerate(tracks):
        if isinstance(t.cut, PaddingCut):
            new.append(t)
            continue
        snr = None if (i == 0 and ref == 0) else t.snr
        info = {"start": t.cut.start, "duration": t.cut.duration, "snr": snr, "ref": ref_info}
        new.append(fastcopy(t, cut=fastcopy(t.cut, custom={**(t.cut.custom or {}), "mix_track": info})))
    return fastcopy(cut, tracks=new)


class EENDDataset(torch.utils.data.Dataset):
    """See the module docstring.

    :param label_type: binary | powerset | target (must match the labels attached by ``diar labels``).
    :param context: splice context in frames (each side).
    :param subsampling: keep every ``subsampling``-th frame.
    :param chunk_size: chunk length in subsampled frames; used by :meth:`chunk` / :func:`chunk_cuts`,
        and longer cuts given to ``__getitem__`` are an error (chunk them first).
    :param mean_norm: subtract the mean feature over the chunk, over the whole
        recording, or not at all.
    :param max_speakers: binary labels: pad (or cut) the speaker dimension to this
        size; a chunk with more active speakers keeps its most active ones
        (ties: lower column first) and the rest are dropped from that chunk.
    :param feature_extractor: used for cuts that have no stored features.
    :param max_set_size: powerset classes for cuts labelled on the fly (no stored labels).
    :param source_cache: a source cache directory (``diar simulate-sources --cache``) or
        :class:`recipes.simulation.cache.SourceCache`: simulated mixtures (and windows of them)
        without features are rendered from it at 8 kHz (:mod:`recipes.simulation.render`),
        no FLAC decode and no resampling; a mixture it cannot render is loaded by Lhotse.
        A chunk from :func:`chunk_cuts` is rendered as that part of the whole mixture (RIR
        tail from before it, whole-track SNR gains); without the cache, or for a window cut by
        hand, Lhotse's loader gives Lhotse's window (each truncated track mixed on its own).
    :param pin_threads: run each batch's per-cut work (fbank FFTs, BLAS) on one torch thread,
        restoring the caller's setting after (with ``num_workers=0`` torch's default of one
        thread per core made batches 15-35x slower: thread wake-ups cost more than the work).
        DataLoader workers run on one thread anyway (torch sets it in each worker); use
        ``num_workers`` = the cores left for input, ``batch_size=None`` with a Lhotse sampler.
    """

    def __init__(
        self,
        cuts: Optional[CutSet] = None,
        label_type: str = "binary",
        context: int = 7,
        subsampling: int = 10,
        chunk_size: int = 500,
        mean_norm: str = "chunk",
        max_speakers: Optional[int] = None,
        feature_extractor=None,
        max_set_size: int = 2,
        source_cache=None,
        pin_threads: bool = True,
    ):
        if label_type not in LABEL_TYPES:
            raise ValueError(f"label_type {label_type!r}; expected one of {LABEL_TYPES}")
        if mean_norm not in MEAN_NORMS:
            raise ValueError(f"mean_norm {mean_norm!r}; expected one of {MEAN_NORMS}")
        self.cuts = cuts
        self.label_type = label_type
        self.context = context
        self.subsampling = subsampling
        self.chunk_size = chunk_size
        self.mean_norm = mean_norm
        self.max_speakers = max_speakers
        self.feature_extractor = feature_extractor
        self.max_set_size = max_set_size
        if source_cache is not None:
            from recipes.simulation.cache import open_cache

            source_cache = open_cache(source_cache)
        self.source_cache = source_cache
        self.pin_threads = pin_threads

    def chunk(self, cuts: Optional[CutSet] = None) -> CutSet:
        return chunk_cuts(cuts if cuts is not None else self.cuts, self.chunk_size, self.subsampling)

    # ------------------------------------------------------------------ loading
    def _features(self, cut: Cut) -> np.ndarray:
        if cut.has_features:
            return cut.load_features()
        if self.feature_extractor is None:
            raise ValueError(f"cut {cut.id} has no features; pass feature_extractor= for on-the-fly features")
        config = self.feature_extractor.config
        if self.source_cache is not None and not cut.has_features and config.sampling_rate == 8000:
            from recipes.simulation.render import NotRenderable, render

            try:
                audio = render(cut, self.source_cache)
            except NotRenderable:
                pass
            else:
                return self.feature_extractor.extract(audio, 8000)
        # the same path as `diar fbank` (resampler, context around windows), so on-the-fly
        # features equal stored ones up to lilcom's quantisation
        return compute_cut_features(cut, config, lambda a: self.feature_extractor.extract(a, config.sampling_rate))

    def _recording_mean(self, cut: Cut) -> np.ndarray:
        if not cut.has_features:
            raise ValueError(
                f"cut {cut.id}: mean_norm='recording' needs stored features (the mean over the "
                f"whole recording); use mean_norm='chunk' with on-the-fly features"
            )
        return _recording_mean(cut.features.storage_type, cut.features.storage_path, cut.features.storage_key)

    def _example(self, cut: Cut):
        feats = self._features(cut).astype(np.float32)
        if feats.shape[0] > self.chunk_size * self.subsampling + self.subsampling:
            raise ValueError(
                f"cut {cut.id} has {feats.shape[0]} frames, more than chunk_size * subsampling = "
                f"{self.chunk_size * self.subsampling}; chunk the cuts first (chunk_cuts)"
            )
        if self.mean_norm == "chunk":
            feats = feats - feats.mean(axis=0, keepdims=True)
        elif self.mean_norm == "recording":
            feats = feats - self._recording_mean(cut)
        custom = cut_custom(cut)
        if "labels" in custom:
            labels = load_labels(cut)
            speakers = list(custom["speakers"])
            stored = "powerset" if labels.dtype.kind == "i" else ("target" if "target_speaker" in custom else "binary")
            if stored != self.label_type:
                raise ValueError(
                    f"cut {cut.id} carries {stored} labels but the dataset was built with "
                    f"label_type={self.label_type!r}"
                )
        elif self.label_type == "target":
            raise ValueError(f"cut {cut.id} has no labels; target-speaker cuts come from `diar labels --type target`")
        else:  # e.g. a simulated mixture trained on the fly: labels from its supervisions, no storage
            turns = supervision_turns(cut)  # cut.supervisions once (a MixedCut's copies them per call)
            speakers = sorted({speaker for _, _, _, speaker in turns})
            labels = activity_from_turns(cut, turns, speakers, num_frames=feats.shape[0])
            if self.label_type == "powerset":
                labels, _ = to_powerset(labels, self.max_set_size)
        if labels.shape[0] < feats.shape[0]:  # on-the-fly features of a different rounding
            fill = POWERSET_IGNORE if labels.dtype.kind == "i" else IGNORE
            labels = np.concatenate(
                [labels, np.full((feats.shape[0] - labels.shape[0],) + labels.shape[1:], fill, labels.dtype)]
            )
        y = labels[: feats.shape[0]][:: self.subsampling].astype(np.int64)
        if self.label_type in ("binary", "target"):
            y[y == IGNORE] = -1
        if self.label_type == "target":
            speakers = [custom["target_speaker"]]
        if self.label_type == "binary" and self.max_speakers is not None and y.shape[1] > self.max_speakers:
            activity = (y == 1).sum(axis=0)
            keep = sorted(np.argsort(-activity, kind="stable")[: self.max_speakers].tolist())
            y = y[:, keep]
            speakers = [speakers[i] for i in keep]
        return feats, y, speakers

    def __getitem__(self, cuts: CutSet) -> Dict[str, object]:
        # the batch is assembled on the pinned thread too (torch's copies and fills would
        # otherwise wake its thread pool with num_workers=0); one BLAS thread limit per batch
        from recipes.features.compute import one_blas_thread

        with _one_torch_thread(self.pin_threads), one_blas_thread():
            return self._batch(cuts)

    def _batch(self, cuts: CutSet) -> Dict[str, object]:
        examples = [self._example(cut) for cut in cuts]
        B = len(examples)
        # subsampled frames of each cut: eend_input's ceil(frames / subsampling) rows
        ns = [-(-f.shape[0] // self.subsampling) for f, _, _ in examples]
        T = max(ns)
        D = examples[0][0].shape[1] * (2 * self.context + 1)
        features = torch.empty(B, T, D, dtype=torch.float32)
        if torch.utils.data.get_worker_info() is not None:
            # in a DataLoader worker: the batch is written straight into shared memory, which the
            # worker's pickling would otherwise allocate and copy the whole tensor into
            features.share_memory_()
        feats_np = features.numpy()
        for i, ((f, _, _), n) in enumerate(zip(examples, ns)):
            eend_input(f, self.context, self.subsampling, out=feats_np[i, :n])  # spliced rows in place
            feats_np[i, n:] = 0
        lengths = torch.zeros(B, dtype=torch.int64)
        if self.label_type == "binary":
            S = max(y.shape[1] for _, y, _ in examples)
            if self.max_speakers is not None:
                S = max(S, self.max_speakers)
            labels = torch.full((B, T, S), -1, dtype=torch.int64)
        else:
            labels = torch.full((B, T), -1, dtype=torch.int64)
        speakers: List[List[str]] = []
        for i, ((_, y, spk), n) in enumerate(zip(examples, ns)):
            lengths[i] = n
            if self.label_type == "binary":
                labels[i, :n, : y.shape[1]] = torch.from_numpy(y)
                # speakers absent from this cut: silent (0) on valid frames, not padding
                labels[i, :n, y.shape[1] :] = 0
                labels[i, :n][torch.from_numpy((y == -1).any(axis=1))] = -1
            else:
                labels[i, :n] = torch.from_numpy(y)
            speakers.append(spk)
        return {
            "features": features,
            "labels": labels,
            "lengths": lengths,
            "speakers": speakers,
            "cut_ids": [c.id for c in cuts],
        }


@contextmanager
def _one_torch_thread(enabled: bool = True):
    """torch's intra-op threads set to 1 inside the block, the caller's number restored after."""
    n = torch.get_num_threads()
    if not enabled or n == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


@lru_cache(maxsize=64)
def _recording_mean(storage_type: str, storage_path: str, storage_key: str) -> np.ndarray:
    """Mean feature vector over a whole stored recording (cached per worker)."""
    from lhotse.features.io import get_reader

    return get_reader(storage_type)(storage_path).read(storage_key).mean(axis=0)
