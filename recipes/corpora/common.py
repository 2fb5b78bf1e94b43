"""Shared manifest building for every corpus recipe.

A corpus module turns its own annotation format into :class:`recipes.rttm.Turn`
objects and its audio into Lhotse ``Recording`` objects, then calls
:func:`build_manifests`, which does the same thing for every corpus:

- clips turns to the recording duration (reported, not silent);
- attaches a UEM to every cut (the whole recording when the corpus has none),
  as the custom field ``uem`` (``[[start, end], ...]`` seconds, recording time);
- makes one cut per recording: a ``MonoCut`` of one channel, or a
  ``MultiCut`` of several channels (e.g. AMI mdm);
- writes supervisions = speaker turns with deterministic ids
  ``<rec>-<speaker>-<index>`` (index in time order within the recording);
- validates with ``lhotse.qa.validate_recordings_and_supervisions``;
- splits by recording-id lists; an id with no prepared recording is an error.

:func:`write_manifests` writes ``NAME_{recordings,supervisions,cuts}[_SPLIT].jsonl.gz``
and ``NAME[_SPLIT].uem`` atomically.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

if TYPE_CHECKING:  # Lhotse (and torch under it) is imported where used: `diar prepare <corpus> --help` needs neither
    from lhotse import Recording
from tqdm import tqdm

from recipes import naming
from recipes.errors import first_items
from recipes.fileio import atomic_group, check_writable_dir, write_text
from recipes.rttm import Turn, clip_to_durations, group_by_recording, write_uem

logger = logging.getLogger(__name__)

Uem = Dict[str, List[Tuple[float, float]]]


@dataclass
class PrepareReport:
    """Everything a preparation did to the annotations, written as ``NAME_prepare_report.txt``."""

    annotations_without_audio: List[str] = field(default_factory=list)
    audio_without_annotations: List[str] = field(default_factory=list)
    clipped: List[str] = field(default_factory=list)
    annotation_summary: str = ""
    uem_notes: List[str] = field(default_factory=list)
    unlisted: List[str] = field(default_factory=list)  # recordings in no split
    notes: List[str] = field(default_factory=list)  # corpus-specific remarks (malformed files, ...)
    dangling_links: List[str] = field(default_factory=list)  # symbolic links whose target is missing
    rejects: List[Dict[str, str]] = field(default_factory=list)  # audio left out: recording_id, audio, error
    error: str = ""  # why the preparation failed (nothing but this report was written)

    def text(self) -> str:
        def section(title, items):
            return f"# {title}: {len(items)}\n" + "".join(f"{x}\n" for x in items)

        return (
            (f"# FAILED, no manifest written: {self.error}\n" if self.error else "")
            + f"# annotations: {self.annotation_summary}\n"
            + section("annotations without audio (not in the manifests)", self.annotations_without_audio)
            + section("audio without annotations (not in the manifests)", self.audio_without_annotations)
            + section("turns clipped to the recording duration", self.clipped)
            + section("UEM notes", self.uem_notes)
            + section("recordings in no split list (only in the unsplit manifests)", self.unlisted)
            + section("notes", self.notes)
            + section("dangling symbolic links (target missing)", self.dangling_links)
            + section(
                "audio files left out (cannot be used)",
                [f"{r['recording_id']}\t{r['audio']}\t{r['error']}" for r in self.rejects],
            )
        )

    def log_unmatched(self) -> None:
        for what, items in (
            ("annotations without audio", self.annotations_without_audio),
            ("audio files without annotations", self.audio_without_annotations),
        ):
            if items:
                logger.warning("%d %s (listed in the report): %s", len(items), what, first_items(items))


@dataclass(frozen=True)
class Option:
    """One option of ``diar download <corpus>`` or ``diar prepare <corpus>``, declared by the
    corpus module without click (:mod:`recipes.cli_corpora` turns it into a click option).

    ``flag``: ``--mic`` (``--x/--no-x`` for an on/off pair); ``dest``: the keyword of
    ``download_<corpus>`` / ``prepare_<corpus>`` it fills (default: from the flag); ``type``:
    ``str``, ``int``, ``float``, ``bool`` (a flag), ``"dir"`` / ``"file"`` (must exist),
    ``"outdir"`` (a folder, created if needed); ``choices``; ``multiple`` (repeatable; given no
    value, the function's default applies); ``min`` / ``max``: a range (exclusive with ``open``).
    """

    flag: str
    help: str
    dest: Optional[str] = None
    type: Any = str
    default: Any = None
    choices: Optional[Sequence[str]] = None
    multiple: bool = False
    min: Optional[float] = None
    max: Optional[float] = None
    open: bool = False


def with_duration(recording: Recording, duration: float) -> Recording:
    """The recording with its duration set from the annotations (stand-in audio in tests,
    ``--duration-from-annotations``): features cannot be computed from it, statistics can."""
    from lhotse.utils import fastcopy

    num_samples = int(round(duration * recording.sampling_rate))
    return fastcopy(recording, duration=num_samples / recording.sampling_rate, num_samples=num_samples)


def open_recording(path, recording_id: Optional[str] = None) -> Recording:
    """``Recording.from_file`` whose failure names the file (not a bare decoder traceback)."""
    from lhotse import Recording

    try:
        return Recording.from_file(path, recording_id=recording_id)
    except Exception as e:  # noqa: BLE001 - any decoder error
        raise RuntimeError(f"cannot read audio {path}: {short_audio_error(path, e)}") from e


def short_audio_error(path, error: BaseException) -> str:
    """Why an audio file cannot be opened, in a few words: libsndfile's own reason when it has
    one (``Error in WAV file. No 'data' chunk marker.``), not Lhotse's multi-backend dump."""
    import os

    import soundfile

    if not os.path.exists(path):
        return "file not found"
    try:
        soundfile.info(str(path))
    except soundfile.LibsndfileError as e:
        return e.error_string
    except Exception as e:  # noqa: BLE001
        return f"{type(e).__name__}: {e}"
    text = str(error).split(". Details:", 1)[0]
    return " ".join(text.split())[:200]


def multi_file_recording(
    recording_id: str, paths: Sequence[Path], channels_per_file: int = 1, what: str = "channel files"
) -> Tuple[Recording, Optional[str]]:
    """One recording of several files holding ``channels_per_file`` channels each, in channel
    order (AMI mdm: eight mono array files; CHiME-6 binaural: one 2-channel file per speaker).
    File ``i`` gives channels ``i * k .. i * k + k - 1``. Returns the recording (as long as the
    shortest file) and a note when the files differ in length (``None`` otherwise)."""
    import soundfile
    from lhotse import Recording
    from lhotse.audio import AudioSource

    infos = []
    for p in paths:
        try:
            infos.append(soundfile.info(str(p)))
        except Exception as e:  # noqa: BLE001 - any decoder error, named with its file
            raise RuntimeError(f"cannot read audio {p}: {e}") from e
        if infos[-1].channels != channels_per_file:
            shape = "mono" if channels_per_file == 1 else f"{channels_per_file}-channel"
            raise ValueError(f"{p}: expected a {shape} file, got {infos[-1].channels} channels")
    rates = {i.samplerate for i in infos}
    if len(rates) != 1:
        raise ValueError(f"{recording_id}: the {what} have different sampling rates {sorted(rates)}")
    frames = [i.frames for i in infos]
    note = None
    if len(set(frames)) > 1:
        note = f"{recording_id}: {what} differ in length ({min(frames)}..{max(frames)} samples); shortest used"
    sr, n = rates.pop(), min(frames)
    k = channels_per_file
    rec = Recording(
        id=recording_id,
        sampling_rate=sr,
        num_samples=n,
        duration=n / sr,
        sources=[
            AudioSource(type="file", channels=list(range(i * k, i * k + k)), source=str(p)) for i, p in enumerate(paths)
        ],
    )
    return rec, note


def match_audio(
    report: PrepareReport,
    annotated: Iterable[str],
    audio: Iterable[str],
    listed: Optional[Iterable[str]] = None,
    missing_audio: Callable[[str], str] = str,
    missing_annotations: Callable[[str], str] = str,
    none_matched: Optional[str] = None,
) -> List[str]:
    """The unmatched report: recording ids with annotations but no audio, and audio but no
    annotations, are listed in ``report`` (and logged); returns the ids with both, sorted.

    ``listed``: the ids that count as annotated for the audio-without-annotations list (default
    ``annotated``; TED-LIUM: every talk with an STM, scored segments or not).
    ``missing_audio`` / ``missing_annotations``: how an id is written in each list (default:
    the id itself; LibriCSS adds the folder and the missing file). ``none_matched``: no id with
    both is a ``ValueError`` with this message (after the lists are in ``report``)."""
    annotated, audio = set(annotated), set(audio)
    listed = annotated if listed is None else set(listed)
    report.annotations_without_audio = sorted(missing_audio(r) for r in annotated - audio)
    report.audio_without_annotations = sorted(missing_annotations(r) for r in audio - listed)
    report.log_unmatched()
    matched = sorted(annotated & audio)
    if not matched and none_matched is not None:
        raise ValueError(none_matched)
    return matched


def check_splits(splits: Iterable[str], known: Sequence[str]) -> None:
    """A split outside ``known`` is a ``ValueError`` naming it and the choices."""
    unknown = sorted(set(splits) - set(known))
    if unknown:
        raise ValueError(f"unknown split(s) {unknown}; choose from {known}")


def corpus_path(corpus_dir) -> Path:
    """``corpus_dir`` as a Path; a missing directory is a ``FileNotFoundError`` naming it."""
    corpus_dir = Path(corpus_dir)
    if not corpus_dir.is_dir():
        raise FileNotFoundError(f"corpus directory {corpus_dir} does not exist")
    return corpus_dir


def annotated_durations(
    turns: Iterable[Turn], uem: Optional[Mapping[str, Sequence[Tuple[float, float]]]] = None
) -> Dict[str, float]:
    """``--duration-from-annotations``, one meaning for every corpus: a recording lasts until
    the end of its last scored (UEM) interval where the corpus gives a UEM with real ends,
    else until the end of its last annotated turn (seconds). For stand-in audio (tests,
    annotation-only copies): statistics can be computed, features cannot."""
    ends: Dict[str, float] = {}
    for t in turns:
        ends[t.recording_id] = max(ends.get(t.recording_id, 0.0), t.end)
    for rec_id, intervals in (uem or {}).items():
        if intervals:
            ends[rec_id] = max(e for _, e in intervals)
    return ends


def read_recordings(
    audio: Mapping[str, Any],
    ids: Iterable[str],
    desc: str,
    progress: bool = True,
    read: Callable[[Any, str], Recording] = None,
    durations: Optional[Mapping[str, float]] = None,
    report: Optional[PrepareReport] = None,
) -> Dict[str, Recording]:
    """The audio-header loop of every corpus: ``read(audio[id], id)`` (default
    :func:`open_recording`) for each id, with a progress bar; with ``durations`` (from
    :func:`annotated_durations`), each recording's duration is replaced by its entry; an id
    without one keeps the header's (noted in ``report`` when given)."""
    read = read or open_recording
    recordings = {}
    for rec_id in tqdm(list(ids), desc=desc, disable=not progress):
        rec = read(audio[rec_id], rec_id)
        if durations is not None:
            if rec_id in durations:
                rec = with_duration(rec, durations[rec_id])
            elif report is not None:
                report.notes.append(f"{rec_id}: no speaker turn; duration kept from the audio")
        recordings[rec_id] = rec
    return recordings


def read_times(path, lineno: int, start: str, end: str) -> Tuple[float, float]:
    """The start and end fields of an annotation line as seconds, or an
    :class:`~recipes.rttm.AnnotationError` naming the file and line."""
    from recipes.rttm import AnnotationError

    try:
        return float(start), float(end)
    except ValueError:
        raise AnnotationError(path, lineno, f"times {start!r} {end!r}", "start and end times in seconds") from None


def global_speaker(recording_id: str, local_label: str) -> str:
    """Speaker id for corpora whose labels are local to a recording (VoxConverse, MSDWild, ...)."""
    return f"{recording_id}_{local_label}"


def build_manifests(
    recordings: Mapping[str, Recording],
    turns: Iterable[Turn],
    report: PrepareReport,
    uem: Optional[Mapping[str, Sequence[Tuple[float, float]]]] = None,
    splits: Optional[Mapping[str, Sequence[str]]] = None,
    channel: Union[int, Sequence[int]] = 0,
    custom: Optional[Mapping[str, Mapping[str, object]]] = None,
    drop_empty_splits: bool = False,
) -> Dict[str, Dict[str, object]]:
    """Manifests for ``recordings`` and their ``turns`` (see the module docstring).

    Turns of recordings not in ``recordings`` must have been reported by the
    caller (``report.annotations_without_audio``); they are ignored here.

    :param channel: an int gives ``MonoCut`` s of that channel; a list gives
        ``MultiCut`` s of those channels (supervisions carry the same list).
    :param custom: recording id -> extra custom fields of its cut (e.g. the
        DIHARD domain, the LibriCSS condition), next to ``uem``.
    :param drop_empty_splits: leave out the splits of ``splits`` without a
        recording (no manifests for them) instead of writing empty ones.
    :return: ``{split: {"recordings", "supervisions", "cuts", "uem"}}``; the
        key ``""`` holds every recording.
    """
    from lhotse import CutSet, RecordingSet, SupervisionSegment, SupervisionSet
    from lhotse.cut import MonoCut, MultiCut
    from lhotse.qa import validate, validate_recordings_and_supervisions

    if drop_empty_splits and splits:
        splits = {name: ids for name, ids in splits.items() if ids}
    rec_ids = sorted(recordings)
    if not rec_ids:
        raise ValueError("no recording to prepare (no audio matched the annotations)")
    channels = [channel] if isinstance(channel, int) else list(channel)
    for rec_id in rec_ids:
        missing = [c for c in channels if c not in recordings[rec_id].channel_ids]
        if missing:
            raise ValueError(
                f"recording {rec_id} has channels {recordings[rec_id].channel_ids}; channel(s) {missing} requested"
            )
    durations = {r: recordings[r].duration for r in rec_ids}
    kept = [t for t in turns if t.recording_id in recordings]
    kept, clipped = clip_to_durations(kept, durations)
    report.clipped.extend(clipped)
    for msg in clipped[:5]:
        logger.warning("clipped: %s", msg)
    if len(clipped) > 5:
        logger.warning("... %d turns clipped in all (see the report)", len(clipped))

    uem = uem or {}
    full_uem: Uem = {}
    for rec_id in rec_ids:
        dur = durations[rec_id]
        if rec_id in uem:
            ivs = [(max(0.0, s), min(e, dur)) for s, e in uem[rec_id]]
            full_uem[rec_id] = [(s, e) for s, e in ivs if e > s]
            if any(e > dur + 1e-3 for _, e in uem[rec_id]):
                report.uem_notes.append(f"{rec_id}: UEM end clipped to the recording duration {dur:.3f} s")
            if not full_uem[rec_id]:
                report.uem_notes.append(f"{rec_id}: UEM lies outside the recording; nothing is scored")
        else:
            if uem:
                report.uem_notes.append(f"{rec_id}: not in the UEM; the whole recording is scored")
            full_uem[rec_id] = [(0.0, dur)]
    for rec_id in sorted(set(uem) - set(rec_ids)):
        report.uem_notes.append(f"{rec_id}: in the UEM but not prepared (no audio or no turns)")
    if uem:  # the console says what the report lists: a recording scored whole is easy to miss
        for what in (
            "not in the UEM; the whole recording is scored",
            "UEM lies outside the recording",
            "UEM end clipped",
            "in the UEM but not prepared",
        ):
            ids = [n.split(": ", 1)[0] for n in report.uem_notes if what in n]
            if ids:
                logger.warning("%d recording(s): %s (listed in the report): %s", len(ids), what, first_items(ids))

    by_rec = group_by_recording(kept)
    sup_channel = channels[0] if isinstance(channel, int) else channels
    supervisions, cuts = [], []
    for rec_id in rec_ids:
        sups = [
            SupervisionSegment(
                id=f"{rec_id}-{t.speaker}-{i:05d}",
                recording_id=rec_id,
                start=round(t.start, 6),
                duration=round(t.end - t.start, 6),
                channel=sup_channel,
                speaker=t.speaker,
            )
            for i, t in enumerate(by_rec.get(rec_id, []))
        ]
        supervisions.extend(sups)
        rec = recordings[rec_id]
        common = dict(
            id=rec_id,
            start=0.0,
            duration=rec.duration,
            recording=rec,
            supervisions=sups,
            custom={"uem": [[s, e] for s, e in full_uem[rec_id]], **(custom or {}).get(rec_id, {})},
        )
        if isinstance(channel, int):
            cuts.append(MonoCut(channel=channel, **common))
        else:
            cuts.append(MultiCut(channel=channels, **common))
    recording_set = RecordingSet.from_recordings(recordings[r] for r in rec_ids)
    supervision_set = SupervisionSet.from_segments(supervisions)
    if len(supervision_set):
        validate_recordings_and_supervisions(recording_set, supervision_set)
    else:  # Lhotse's joint validator indexes the first supervision (IndexError on an empty set)
        validate(recording_set)
        report.notes.append("no speaker turn left in any recording (all outside the audio?)")
    cut_set = CutSet.from_cuts(cuts)

    result = {"": _subset(recording_set, supervision_set, cut_set, full_uem, rec_ids)}
    if splits:
        listed = set()
        for name, ids in splits.items():
            unknown = [i for i in ids if i not in recordings]
            if unknown:
                raise ValueError(
                    f"split {name}: {len(unknown)} recording id(s) have no prepared recording "
                    f"(no audio or no annotations): {', '.join(_with_hint(i, recordings) for i in unknown[:10])}"
                    + (" ..." if len(unknown) > 10 else "")
                )
            listed.update(ids)
            result[name] = _subset(recording_set, supervision_set, cut_set, full_uem, sorted(set(ids)))
        report.unlisted = sorted(set(rec_ids) - listed)
    return result


def _with_hint(rec_id: str, known) -> str:
    """``trñ00 (did you mean trn00?)``: the closest prepared id, for a list that misspells one."""
    import difflib

    close = difflib.get_close_matches(rec_id, list(known), n=1, cutoff=0.75)
    return f"{rec_id} (did you mean {close[0]}?)" if close else rec_id


MIN_DURATION = 0.01  # seconds: one feature frame shift; a shorter file has no frame to label


def check_usable(recording: Recording, path) -> Recording:
    """The recording, or a ValueError naming ``path`` when it is too short to hold one
    10 ms frame (a 5-sample file, an empty WAV)."""
    if recording.duration < MIN_DURATION:
        raise ValueError(
            f"audio {path} is {recording.num_samples} samples ({recording.duration * 1000:.2f} ms) "
            f"long: shorter than one {MIN_DURATION * 1000:.0f} ms frame"
        )
    return recording


def _subset(recordings, supervisions, cuts, uem, ids) -> Dict[str, object]:
    keep = set(ids)
    return {
        "recordings": recordings.filter(lambda r: r.id in keep),
        "supervisions": supervisions.filter(lambda s: s.recording_id in keep),
        "cuts": cuts.filter(lambda c: c.recording_id in keep).to_eager(),
        "uem": {r: uem[r] for r in sorted(keep)},
    }


def write_manifests(
    result: Mapping[str, Mapping[str, object]],
    output_dir,
    name: str,
    report: Optional[PrepareReport] = None,
    write_unsplit: bool = True,
) -> List[Path]:
    """Write ``NAME_{recordings,supervisions,cuts}[_SPLIT].jsonl.gz``, ``NAME[_SPLIT].uem``
    and (with ``report``) ``NAME_prepare_report.txt``, each atomically."""
    output_dir = check_writable_dir(output_dir)
    written = []
    with atomic_group() as stage:  # all or nothing: a failure leaves no manifest that looks finished
        for split, parts in result.items():
            if not split and not write_unsplit and len(result) > 1:
                continue
            for kind in naming.KINDS:
                path = output_dir / naming.manifest_name(name, kind, split)
                parts[kind].to_file(stage(path))
                written.append(path)
            path = output_dir / naming.uem_name(name, split)
            write_uem(parts["uem"], stage(path))
            written.append(path)
    if report is not None:
        written.append(write_text(output_dir / f"{name}_prepare_report.txt", report.text()))
    return written


def read_id_list(path) -> List[str]:
    """Recording ids, one per line (blank lines and '#' comments ignored; a last line without
    a newline, as in the AVA-AVD lists, is read too)."""
    ids = []
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            ids.append(line.split()[0])
    return ids
