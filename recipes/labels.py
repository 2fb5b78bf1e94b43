"""Frame-level speaker-activity labels aligned with the 10 ms features.

A label matrix is ``T x S`` (uint8) for a cut: ``T`` frames at the feature
frame shift (10 ms), ``S`` speakers in the recording's speaker order.

Rounding rule
-------------
Frame ``k`` covers ``[k * shift, (k + 1) * shift)`` seconds from the start of
the recording, and its centre ``(k + 0.5) * shift`` is where the fbank window
of that frame is centred (``snip_edges: false``). A turn ``[start, end)``
makes frame ``k`` active when the frame centre lies inside the turn::

    start <= (k + 0.5) * shift < end

i.e. frames ``ceil(start / shift - 0.5)`` .. ``ceil(end / shift - 0.5) - 1``.
This is round-to-nearest on both boundaries. A turn so short that it contains
no frame centre (under one frame) still activates the one frame that
contains its midpoint, so that no turn disappears from the labels; such turns
are counted in the :class:`LabelReport`.

Values
------
- binary / target: 1 = speaking, 0 = not speaking, :data:`IGNORE` (255) =
  outside the UEM (not scored; a trainer must mask it, not treat it as
  silence).
- powerset: one ``int16`` class id per frame; classes are ordered by set size,
  then lexicographically by speaker index (pyannote's ``Powerset`` order);
  :data:`POWERSET_IGNORE` (-1) marks frames outside the UEM and frames with more
  than ``max_set_size`` active speakers (those are counted and reported, never
  mapped to another class).

Storage
-------
Arrays are stored losslessly (``numpy_hdf5``, a Lhotse built-in reader, so a
fresh process can load them without importing this package) and attached to
each cut as the custom :class:`lhotse.array.TemporalArray` field ``labels``,
with the speaker order in the custom field ``speakers``. Because the array
carries the cut's offset in the recording, ``truncate``, ``cut_into_windows``,
``subset`` and Shar export keep it aligned with the features. Use
:func:`load_labels` to read labels with exactly the frame slicing that
Lhotse uses for the features of the same cut.
"""

import gzip
import itertools
import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import numpy as np
from lhotse import CutSet
from lhotse.cut import Cut
from lhotse.features.io import NumpyHdf5Writer, close_cached_file_handles, get_reader
from lhotse.utils import compute_num_frames, fastcopy, isclose
from tqdm import tqdm

from recipes.cuts import cut_custom, cut_recording_id
from recipes.fileio import atomic_path, sweep_stale

logger = logging.getLogger(__name__)

FRAME_SHIFT = 0.01  # seconds
IGNORE = 255  # binary / target value for frames outside the UEM
POWERSET_IGNORE = -1  # powerset value for unscored / over-capacity frames
LABEL_TYPES = ("binary", "powerset", "target")
_EPS = 1e-6  # tolerance in frames for boundaries that sit exactly on a centre


def first_frame_at_or_after(t: float, frame_shift: float = FRAME_SHIFT) -> int:
    """Index of the first frame whose centre is at or after ``t`` seconds."""
    return int(math.ceil(t / frame_shift - 0.5 - _EPS))


def turn_frames(start: float, end: float, num_frames: int, frame_shift: float = FRAME_SHIFT) -> Tuple[int, int, bool]:
    """Frame range ``[first, last)`` activated by a turn ``[start, end)`` (seconds).

    Returns ``(first, last, short)`` with the range clipped to ``[0, num_frames)``;
    ``short`` is True when the turn contained no frame centre and the frame
    holding its midpoint was used instead (see the module docstring).
    """
    first = first_frame_at_or_after(start, frame_shift)
    last = first_frame_at_or_after(end, frame_shift)
    short = False
    if last <= first and end > start:
        first = int(math.floor((start + end) / 2 / frame_shift))
        last = first + 1
        short = True
    first, last = max(first, 0), min(last, num_frames)
    return first, max(first, last), short


def uem_mask(
    uem: Optional[Sequence[Sequence[float]]],
    offset: float,
    num_frames: int,
    frame_shift: float = FRAME_SHIFT,
) -> np.ndarray:
    """Boolean ``(T,)`` mask of frames inside the UEM (True = scored).

    ``uem`` holds ``[start, end]`` intervals in recording time (seconds);
    ``offset`` is the cut's start in the recording. ``None`` scores every frame.
    A frame is inside when its centre is inside an interval (same rule as turns).
    """
    if uem is None:
        return np.ones(num_frames, dtype=bool)
    mask = np.zeros(num_frames, dtype=bool)
    for start, end in uem:
        a = max(first_frame_at_or_after(start - offset, frame_shift), 0)
        b = min(first_frame_at_or_after(end - offset, frame_shift), num_frames)
        if b > a:
            mask[a:b] = True
    return mask


@dataclass
class LabelReport:
    """What the label stage did, to be logged and written next to the labels."""

    cuts_in: int = 0
    cuts_out: int = 0
    frames: int = 0
    ignored_frames: int = 0  # outside the UEM
    short_turns: List[str] = field(default_factory=list)  # under one frame, midpoint frame used
    over_max_set_size: Dict[str, int] = field(default_factory=dict)  # powerset: cut id -> frames
    max_speakers: int = 0

    def summary(self) -> str:
        over = sum(self.over_max_set_size.values())
        return (
            f"{self.cuts_in} cuts in, {self.cuts_out} out; {self.frames} frames, "
            f"{self.ignored_frames} outside the UEM (ignored); {len(self.short_turns)} turns "
            f"shorter than one frame (midpoint frame used); up to {self.max_speakers} speakers "
            f"per cut"
            + (
                f"; {over} frames with more active speakers than the powerset "
                f"allows, in {len(self.over_max_set_size)} cuts (ignored)"
                if self.over_max_set_size
                else ""
            )
        )

    def to_dict(self) -> dict:
        d = dict(self.__dict__)
        d["summary"] = self.summary()
        return d


def cut_num_frames(cut: Cut, frame_shift: float = FRAME_SHIFT) -> int:
    """Frame count of a cut: its features' count, else Lhotse's ``compute_num_frames``."""
    if cut.has_features:
        return cut.num_frames
    sr = cut.sampling_rate if cut.has_recording else 8000
    return compute_num_frames(cut.duration, frame_shift, sr)


def features_frame_shift(cuts: Iterable[Cut], requested: Optional[float] = None) -> float:
    """The label frame shift (seconds) for ``cuts``: the frame shift of their features
    (``cut.features.frame_shift``), which must be one value; ``requested`` (or
    :data:`FRAME_SHIFT`) when no cut has features. A ``requested`` shift that differs from the
    features' is an error: such labels would not line up with the frames."""
    shifts: Dict[float, str] = {}
    for cut in cuts:
        if cut.has_features:
            shifts.setdefault(round(float(cut.features.frame_shift), 9), cut.id)
    return _label_frame_shift(shifts, requested)


def _label_frame_shift(shifts: Dict[float, str], requested: Optional[float]) -> float:
    if len(shifts) > 1:
        listed = ", ".join(f"{shift:g} s (e.g. cut {cid})" for shift, cid in sorted(shifts.items()))
        raise ValueError(f"the cuts' features have several frame shifts: {listed}; label one feature config at a time")
    if not shifts:
        return FRAME_SHIFT if requested is None else float(requested)
    ((shift, cid),) = shifts.items()
    if requested is not None and not isclose(shift, requested, abs_tol=1e-9):
        raise ValueError(
            f"labels at a frame shift of {requested:g} s requested, but the features of the cuts "
            f"(e.g. {cid}) have a frame shift of {shift:g} s: the labels would not line up with "
            f"the feature frames (leave the frame shift to the features)"
        )
    return shift


def recording_speakers(cuts: Iterable[Cut]) -> Dict[str, List[str]]:
    """Sorted speaker ids per recording, over every cut of that recording."""
    speakers: Dict[str, set] = {}
    for cut in cuts:
        rec = cut_recording_id(cut)
        speakers.setdefault(rec, set()).update(s.speaker for s in cut.supervisions if s.speaker is not None)
    return {rec: sorted(spk) for rec, spk in speakers.items()}


def activity_matrix(
    cut: Cut,
    speakers: Sequence[str],
    num_frames: Optional[int] = None,
    frame_shift: float = FRAME_SHIFT,
    report: Optional[LabelReport] = None,
) -> np.ndarray:
    """``T x S`` uint8 activity of ``speakers`` in ``cut`` (module docstring has the rules).

    Supervision times are relative to the cut, as in Lhotse. A supervision that
    starts before the cut and ends after it makes the speaker active in every
    frame. Frames outside the cut's UEM (custom field ``uem``, recording time)
    are set to :data:`IGNORE`.
    """
    return activity_from_turns(cut, supervision_turns(cut), speakers, num_frames, frame_shift, report)


def supervision_turns(cut: Cut) -> List[Tuple[str, float, float, Optional[str]]]:
    """``(id, start, end, speaker)`` of ``cut.supervisions`` (cut-relative), the same numbers
    Lhotse gives; for a ``MixedCut`` without Lhotse's per-call ``with_offset`` copies of every
    supervision (``round(start + track offset, 8)``, its ``end`` = ``round(start + duration, 8)``)."""
    from lhotse.cut import MixedCut

    if not isinstance(cut, MixedCut):
        return [(s.id, s.start, s.end, s.speaker) for s in cut.supervisions]
    tracks = [t for t in cut.tracks if not t.mute] or cut.tracks  # Lhotse's _get_audible_tracks
    out = []
    for t in tracks:
        for s in t.cut.supervisions:
            start = round(s.start + t.offset, ndigits=8)
            out.append((s.id, start, round(start + s.duration, ndigits=8), s.speaker))
    return out


def activity_from_turns(
    cut: Cut,
    turns: Sequence[Tuple[str, float, float, Optional[str]]],
    speakers: Sequence[str],
    num_frames: Optional[int] = None,
    frame_shift: float = FRAME_SHIFT,
    report: Optional[LabelReport] = None,
) -> np.ndarray:
    """:func:`activity_matrix` from the cut's :func:`supervision_turns` (computed once by a caller
    that also needs the speakers)."""
    T = cut_num_frames(cut, frame_shift) if num_frames is None else num_frames
    index = {spk: i for i, spk in enumerate(speakers)}
    labels = np.zeros((T, len(speakers)), dtype=np.uint8)
    for sup_id, start, end, speaker in turns:
        if speaker not in index:
            raise ValueError(
                f"cut {cut.id}: supervision {sup_id} has speaker {speaker!r}, expected one of {list(speakers)}"
            )
        first, last, short = turn_frames(start, end, T, frame_shift)
        labels[first:last, index[speaker]] = 1
        if short and report is not None and last > first:
            report.short_turns.append(f"{cut.id}:{sup_id}")
    inside = uem_mask(cut_custom(cut).get("uem"), cut.start, T, frame_shift)
    labels[~inside] = IGNORE
    if report is not None:
        report.frames += T
        report.ignored_frames += int((~inside).sum())
        report.max_speakers = max(report.max_speakers, len(speakers))
    return labels


def powerset_classes(num_speakers: int, max_set_size: int) -> List[Tuple[int, ...]]:
    """Speaker sets in pyannote's order: by size, then lexicographically."""
    return [
        subset
        for size in range(0, min(max_set_size, num_speakers) + 1)
        for subset in itertools.combinations(range(num_speakers), size)
    ]


def to_powerset(binary: np.ndarray, max_set_size: int) -> Tuple[np.ndarray, int]:
    """Map a ``T x S`` binary matrix to ``(T,)`` int16 powerset class ids.

    Returns ``(classes, over)``: frames with :data:`IGNORE` or with more than
    ``max_set_size`` active speakers get :data:`POWERSET_IGNORE`; ``over`` counts
    the latter.
    """
    T, S = binary.shape
    classes = powerset_classes(S, max_set_size)
    if len(classes) > np.iinfo(np.int16).max:
        raise ValueError(f"{len(classes)} powerset classes do not fit in int16 (S={S}, K={max_set_size})")
    lookup = {subset: i for i, subset in enumerate(classes)}
    out = np.full(T, POWERSET_IGNORE, dtype=np.int16)
    ignored = (binary == IGNORE).any(axis=1)
    active = (binary == 1) & ~ignored[:, None]
    counts = active.sum(axis=1)
    over = int(((counts > max_set_size) & ~ignored).sum())
    # Encode each frame's active set as an integer key, map the distinct keys once.
    weights = (1 << np.arange(S, dtype=np.int64)) if S <= 62 else None
    if weights is not None:
        keys = active.astype(np.int64) @ weights
        ok = ~ignored & (counts <= max_set_size)
        for key in np.unique(keys[ok]):
            subset = tuple(int(i) for i in np.flatnonzero((int(key) >> np.arange(S)) & 1))
            out[ok & (keys == key)] = lookup[subset]
    else:  # pragma: no cover - more than 62 speakers in one recording
        for t in np.flatnonzero(~ignored & (counts <= max_set_size)):
            out[t] = lookup[tuple(int(i) for i in np.flatnonzero(active[t]))]
    return out, over


def load_labels(cut: Cut, name: str = "labels") -> np.ndarray:
    """Read a cut's labels with exactly the frame slicing Lhotse uses for its features.

    Lhotse slices a ``TemporalArray`` with ``seconds_to_frames`` (round half up
    on seconds) but features with ``compute_num_frames`` (on whole samples);
    the two agree for every offset that is a whole number of samples and can
    differ by one frame otherwise. This
    mirrors :meth:`lhotse.features.Features.load`, and returns exactly
    ``cut.num_frames`` rows when the cut has features (padding with the ignore
    value if the stored array is shorter).
    """
    arr = cut.custom[name]
    sr = cut.features.sampling_rate if cut.has_features else 8000
    shift = arr.frame_shift
    left = 0
    if not isclose(cut.start, arr.start):
        left = compute_num_frames(cut.start - arr.start, shift, sr)
    count = cut.num_frames if cut.has_features else compute_num_frames(cut.duration, shift, sr)
    storage = get_reader(arr.array.storage_type)(arr.array.storage_path)
    data = storage.read(arr.array.storage_key, left_offset_frames=left, right_offset_frames=left + count)
    if data.shape[0] < count:
        fill = POWERSET_IGNORE if data.dtype.kind == "i" else IGNORE
        pad = np.full((count - data.shape[0],) + data.shape[1:], fill, dtype=data.dtype)
        data = np.concatenate([data, pad])
    return data


def _label_archive(
    cut_dicts: List[dict],
    storage_path: str,
    label_type: str,
    max_set_size: int,
    speakers_by_rec: Dict[str, List[str]],
    global_index: Optional[Dict[str, int]],
    frame_shift: float,
    progress: bool = False,
) -> Tuple[List[dict], LabelReport]:
    """Worker: label a list of cuts into one HDF5 archive; returns the new cuts (as dicts) and a report."""
    from lhotse.serialization import deserialize_item

    report = LabelReport(cuts_in=len(cut_dicts))
    path = Path(storage_path)
    # Written as <stem>.partial.h5 and renamed when complete (fileio.atomic_path): a killed run
    # leaves nothing under the final name, and the rename gives a new inode, so a process still
    # reading the old archive (Lhotse caches open HDF5 handles) keeps its copy and HDF5's file
    # lock on it does not block this write.
    out = []
    with atomic_path(path, what="labels") as partial:
        with MemoryImageHdf5Writer(partial) as writer:
            for d in tqdm(cut_dicts, desc=f"{label_type} labels", disable=not progress):
                cut = deserialize_item(d)
                speakers = speakers_by_rec[cut_recording_id(cut)]
                binary = activity_matrix(cut, speakers, frame_shift=frame_shift, report=report)
                custom = {"speakers": list(speakers)}
                if global_index is not None:
                    custom["speaker_indices"] = [global_index[s] for s in speakers]
                if label_type == "binary":
                    arr = writer.store_array(cut.id, binary, frame_shift=frame_shift, temporal_dim=0, start=cut.start)
                    out.append(_with_custom(cut, labels=arr, **custom))
                elif label_type == "powerset":
                    classes, over = to_powerset(binary, max_set_size)
                    if over:
                        report.over_max_set_size[cut.id] = over
                    arr = writer.store_array(cut.id, classes, frame_shift=frame_shift, temporal_dim=0, start=cut.start)
                    out.append(_with_custom(cut, labels=arr, max_set_size=max_set_size, **custom))
                else:  # target: one cut per speaker, same features manifest (no copy)
                    for i, spk in enumerate(speakers):
                        key = f"{cut.id}#{spk}"
                        arr = writer.store_array(
                            key,
                            np.ascontiguousarray(binary[:, i]),
                            frame_shift=frame_shift,
                            temporal_dim=0,
                            start=cut.start,
                        )
                        out.append(_with_custom(fastcopy(cut, id=key), labels=arr, target_speaker=spk, **custom))
    final = str(path)
    out = [
        _with_custom(
            c, labels=fastcopy(c.custom["labels"], array=fastcopy(c.custom["labels"].array, storage_path=final))
        )
        for c in out
    ]
    report.cuts_out = len(out)
    return [c.to_dict() for c in out], report


def _merge_reports(reports: Iterable[LabelReport]) -> LabelReport:
    total = LabelReport()
    for r in reports:
        total.cuts_in += r.cuts_in
        total.cuts_out += r.cuts_out
        total.frames += r.frames
        total.ignored_frames += r.ignored_frames
        total.short_turns.extend(r.short_turns)
        total.over_max_set_size.update(r.over_max_set_size)
        total.max_speakers = max(total.max_speakers, r.max_speakers)
    return total


class MemoryImageHdf5Writer(NumpyHdf5Writer):
    """Lhotse's ``numpy_hdf5`` writer (same storage type, read by its reader) that builds
    the HDF5 file in memory and writes it to ``storage_path`` with plain Python I/O when
    closed. Works around HDF5 (h5py 3.x) crashing the whole process with a segmentation
    fault when a write fails on a full disk; Python's write raises ``OSError`` instead.
    Archives are kept to ``MAX_ARCHIVE_BYTES`` of labels by :func:`compute_labels`."""

    def __init__(self, storage_path):  # noqa: D107 - NumpyHdf5Writer's __init__ opens the file itself
        import io

        import h5py

        self.storage_path_ = Path(storage_path)
        self._image = io.BytesIO()
        self.hdf = h5py.File(self._image, mode="w")
        self._closed = False

    def close(self, write: bool = True) -> None:
        if self._closed:
            return
        self._closed = True
        self.hdf.close()
        if write:
            with open(self.storage_path_, "wb") as f:
                f.write(self._image.getbuffer())
        self._image = None

    def __exit__(self, exc_type, exc_val, exc_tb):
        self.close(write=exc_type is None)  # a failed block writes nothing (its error stays the one raised)


MAX_ARCHIVE_BYTES = 256 << 20  # label bytes per archive (held in memory while it is written)
MAX_CUTS_PER_ARCHIVE = 1000  # with their dicts, what one task holds in memory (~80 kB per 50 s cut)


def _plan_archives(cuts: Iterable[Cut], per_archive: int, frame_shift: float, label_type: str):
    """One streaming pass: the speaker order per recording, the ids of mixtures (which
    cannot carry labels), and the sizes of consecutive groups of at most ``per_archive``
    cuts and about ``MAX_ARCHIVE_BYTES`` of labels. Holds no cut."""
    speakers: Dict[str, set] = {}
    shifts: Dict[float, str] = {}  # the features' frame shifts (seconds), each with a cut that has it
    sizes, mixed, count, size, total = [], [], 0, 0, 0
    from lhotse.cut import MixedCut

    for cut in cuts:
        total += 1
        if cut.has_features:
            shifts.setdefault(round(float(cut.features.frame_shift), 9), cut.id)
        if isinstance(cut, MixedCut):
            mixed.append(cut.id)
            continue
        spk = speakers.setdefault(cut_recording_id(cut), set())
        spk.update(s.speaker for s in cut.supervisions if s.speaker is not None)
        # frames (an upper bound) x bytes per frame (the recording's speakers seen so far:
        # a later cut of the same recording may widen it, so the cap is approximate)
        width = 2 if label_type == "powerset" else max(1, len(spk))
        nbytes = (int(cut.duration / frame_shift) + 1) * width
        if count and (count >= per_archive or size + nbytes > MAX_ARCHIVE_BYTES):
            sizes.append(count)
            count, size = 0, 0
        count += 1
        size += nbytes
    if count:
        sizes.append(count)
    return {rec: sorted(spk) for rec, spk in speakers.items()}, sizes, mixed, total, shifts


def _groups(cuts: Iterable[Cut], sizes: List[int]) -> Iterator[List[Cut]]:
    it = iter(cuts)
    for n in sizes:
        yield list(itertools.islice(it, n))


def compute_labels(
    cuts: CutSet,
    storage_path,
    label_type: str = "binary",
    max_set_size: int = 2,
    global_speaker_map: Optional[Path] = None,
    frame_shift: Optional[float] = None,
    progress: bool = True,
    num_jobs: int = 1,
    executor_kind: str = "local",
    scheduler: Optional[str] = None,
    cuts_per_archive: Optional[int] = None,
    output_path: Optional[Path] = None,
) -> Tuple[CutSet, LabelReport]:
    """Compute, store and attach label arrays for every cut.

    The cuts are read in two streaming passes (speaker orders and archive plan, then
    labelling), so a lazy CutSet (``CutSet.from_jsonl_lazy``) is never held in memory;
    with ``output_path`` the labelled cuts are written there as they come (JSONL,
    gzipped for ``.gz``, under a temporary name until complete) and memory stays flat
    in the number of cuts (``bench/labels.py``).

    :param storage_path: HDF5 archive to write (``.h5``), overwritten; when the
        work is split (``cuts_per_archive``, ``num_jobs > 1``, more than
        ``MAX_CUTS_PER_ARCHIVE`` cuts or ``MAX_ARCHIVE_BYTES`` of labels),
        archives ``<stem>-<i>.h5`` beside it.
    :param label_type: ``binary`` (``T x S`` uint8), ``powerset`` (``(T,)`` int16,
        classes over at most ``max_set_size`` simultaneous speakers) or
        ``target`` (one cut per speaker, sharing the original cut's features,
        with that speaker's ``(T,)`` uint8 activity and the custom field
        ``target_speaker``).
    :param global_speaker_map: when given, write a JSON map speaker -> global
        index there and attach each cut's ``speaker_indices`` (global index per
        column of its matrix).
    :param frame_shift: seconds per label frame. Default: the frame shift of the cuts' features
        (:func:`features_frame_shift`), so labels line up with the features whatever the feature
        config; :data:`FRAME_SHIFT` for cuts without features. A value that differs from the
        features' is an error.
    :param num_jobs, executor_kind, scheduler: local processes or dask (:mod:`recipes.parallel`).
    :param output_path: write the labelled cuts to this manifest instead of keeping them.
    :return: the new CutSet (input order; eager, or lazy over ``output_path``) and a
        :class:`LabelReport`.
    """
    from recipes.parallel import map_tasks

    if label_type not in LABEL_TYPES:
        raise ValueError(f"label type {label_type!r}; expected one of {LABEL_TYPES}")
    if label_type == "powerset" and max_set_size < 1:
        raise ValueError(f"max_set_size must be >= 1, got {max_set_size}")
    # a first pass computes what needs every cut: speaker order per recording, the global map, the plan
    per_archive = cuts_per_archive
    if per_archive is None:
        per_archive = MAX_CUTS_PER_ARCHIVE
        if num_jobs > 1:
            num_cuts = len(cuts) if hasattr(cuts, "__len__") and not getattr(cuts, "is_lazy", False) else None
            if num_cuts is None:
                num_cuts = sum(1 for _ in cuts)
            per_archive = min(per_archive, max(1, -(-num_cuts // (4 * num_jobs))))
    spk_by_rec, sizes, mixed, num_in, shifts = _plan_archives(
        cuts, max(per_archive, 1), frame_shift or FRAME_SHIFT, label_type
    )
    frame_shift = _label_frame_shift(shifts, frame_shift)
    if mixed:
        raise ValueError(
            f"{len(mixed)} cut(s) are simulated mixtures without features (e.g. {mixed[0]}): "
            f"run `diar fbank` first; it turns each mixture into a cut that can carry labels"
        )
    global_index = None
    if global_speaker_map is not None:
        all_speakers = sorted(set(itertools.chain.from_iterable(spk_by_rec.values())))
        global_index = {spk: i for i, spk in enumerate(all_speakers)}
        Path(global_speaker_map).parent.mkdir(parents=True, exist_ok=True)
        Path(global_speaker_map).write_text(json.dumps(global_index, indent=1) + "\n")
    storage_path = Path(storage_path)
    storage_path.parent.mkdir(parents=True, exist_ok=True)
    paths = [
        storage_path if len(sizes) == 1 else storage_path.with_name(f"{storage_path.stem}-{i:05d}.h5")
        for i in range(len(sizes))
    ]
    one = len(sizes) == 1

    def tasks():  # the second pass, read as workers take the tasks
        for path, chunk in zip(paths, _groups(cuts, sizes)):
            recs = {cut_recording_id(c) for c in chunk}
            yield (
                [c.to_dict() for c in chunk],
                str(path),
                label_type,
                max_set_size,
                {r: spk_by_rec[r] for r in recs},
                None if global_index is None else {s: global_index[s] for r in recs for s in spk_by_rec[r]},
                frame_shift,
                progress and one,
            )

    from lhotse.serialization import deserialize_item

    reports = []
    # one archive: its own per-cut progress bar; several: a bar over archives
    results = map_tasks(
        _label_archive,
        tasks(),
        num_jobs,
        executor_kind,
        scheduler,
        desc="label archives",
        progress=progress and not one,
        total=len(sizes),
    )
    if output_path is None:
        out = []
        for dicts, rep in results:
            out.extend(deserialize_item(d) for d in dicts)
            reports.append(rep)
    else:
        with atomic_path(output_path) as tmp:
            opener = gzip.open if str(output_path).endswith(".gz") else open
            with opener(tmp, "wt", encoding="utf-8") as f:
                for dicts, rep in results:
                    for d in dicts:
                        f.write(json.dumps(d, ensure_ascii=False) + "\n")
                    reports.append(rep)
    # Lhotse caches open HDF5 handles by path; drop them so that this process
    # reads the archives just written, not stale handles to the ones they replaced.
    close_cached_file_handles()
    # archives of an earlier run with another number of chunks
    sweep_stale(storage_path.parent, [storage_path.name, f"{storage_path.stem}-*.h5"], paths, partials=False)
    report = _merge_reports(reports)
    report.cuts_in = num_in
    logger.info("labels: %s", report.summary())
    if report.over_max_set_size:
        logger.warning(
            "powerset: %d frames have more than %d active speakers and are labelled %d (ignored)",
            sum(report.over_max_set_size.values()),
            max_set_size,
            POWERSET_IGNORE,
        )
    if output_path is None:
        return CutSet.from_cuts(out), report
    return CutSet.from_jsonl_lazy(output_path), report


def _with_custom(cut: Cut, **fields) -> Cut:
    custom = dict(cut.custom or {})
    custom.update(fields)
    return fastcopy(cut, custom=custom)
