"""Generic recipe: your own audio + RTTM (+ UEM, + split lists) -> Lhotse manifests.

Layout expected::

    AUDIO_DIR/**/<uri>.<ext>     any format soundfile reads (wav, flac, ogg, ...)
    RTTM                         one RTTM file, or a directory of *.rttm files
    UEM (optional)               '<uri> <channel> <start> <end>' lines
    LISTFILE (optional, per split)  one recording id (uri) per line

Audio files are matched to annotations by the RTTM file id (``uri``) = the
audio file name without its extension. Annotations without audio and audio
without annotations are listed (log and ``NAME_unmatched.txt``), never
silently dropped. Turns past the end of the audio are clipped and reported.

Outputs (``OUTPUT_DIR``)::

    NAME_{recordings,supervisions,cuts}[_SPLIT].jsonl.gz
    NAME[_SPLIT].uem            scored regions (whole recording when no UEM)
    NAME_prepare_report.txt     everything that was clipped, merged or unmatched

One cut per recording (``MonoCut`` of ``channel``), with supervisions = speaker
turns and the UEM in the custom field ``uem`` (list of ``[start, end]``
seconds in recording time).
"""
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import soundfile
from lhotse import CutSet, Recording, RecordingSet, SupervisionSegment, SupervisionSet
from lhotse.cut import MonoCut
from lhotse.qa import validate_recordings_and_supervisions
from tqdm import tqdm

from recipes.fileio import check_writable_dir, save_manifest, write_text
from recipes.rttm import (
    AnnotationError,
    Turn,
    clip_to_durations,
    group_by_recording,
    read_rttm,
    read_uem,
    write_uem,
)

logger = logging.getLogger(__name__)

AUDIO_EXTENSIONS = tuple(sorted({"." + ext.lower() for ext in soundfile.available_formats()} | {".wav", ".flac"}))


@dataclass
class PrepareReport:
    annotations_without_audio: List[str] = field(default_factory=list)
    audio_without_annotations: List[str] = field(default_factory=list)
    clipped: List[str] = field(default_factory=list)
    rttm_summary: str = ""
    uem_notes: List[str] = field(default_factory=list)
    unlisted: List[str] = field(default_factory=list)  # recordings in no split

    def text(self) -> str:
        def section(title, items):
            return f"# {title}: {len(items)}\n" + "".join(f"{x}\n" for x in items)

        return (
            f"# RTTM: {self.rttm_summary}\n"
            + section("annotations without audio (not in the manifests)", self.annotations_without_audio)
            + section("audio without annotations (not in the manifests)", self.audio_without_annotations)
            + section("turns clipped to the audio duration", self.clipped)
            + section("UEM notes", self.uem_notes)
            + section("recordings in no split list (only in the unsplit manifests)", self.unlisted)
        )


def find_audio(audio_dir, extensions: Sequence[str] = AUDIO_EXTENSIONS) -> Dict[str, Path]:
    """Map recording id (file name without extension) -> audio path, under ``audio_dir`` (recursive).

    Two files with the same id (e.g. ``a.wav`` and ``sub/a.flac``) are an error.
    """
    audio_dir = Path(audio_dir)
    if not audio_dir.is_dir():
        raise FileNotFoundError(f"audio directory {audio_dir} does not exist")
    found: Dict[str, Path] = {}
    for path in sorted(audio_dir.rglob("*")):
        if not path.is_file() or path.suffix.lower() not in extensions:
            continue
        rec_id = path.name[: -len(path.suffix)]
        if rec_id in found:
            raise ValueError(f"two audio files for recording {rec_id!r}: {found[rec_id]} and {path}")
        found[rec_id] = path
    return found


def read_split_list(path) -> List[str]:
    """Recording ids, one per line (blank lines and '#' comments ignored; a last line without newline is fine)."""
    ids = []
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            ids.append(line.split()[0])
    return ids


def prepare_rttm(
    audio_dir,
    rttm,
    uem: Optional[str] = None,
    splits: Optional[Mapping[str, str]] = None,
    channel: int = 0,
    progress: bool = True,
) -> Tuple[Dict[str, Dict[str, object]], PrepareReport]:
    """Build manifests from audio + RTTM.

    :param splits: split name -> list file of recording ids. Without splits the
        result has one entry, ``""`` (the whole set).
    :return: ``({split: {"recordings", "supervisions", "cuts", "uem"}}, report)``.
    """
    report = PrepareReport()
    turns, rttm_report = read_rttm(rttm)
    report.rttm_summary = rttm_report.summary()
    audio = find_audio(audio_dir)
    turns_by_rec = group_by_recording(turns)
    report.annotations_without_audio = sorted(set(turns_by_rec) - set(audio))
    report.audio_without_annotations = sorted(set(audio) - set(turns_by_rec))
    for what, items in (("annotations without audio", report.annotations_without_audio),
                        ("audio files without annotations", report.audio_without_annotations)):
        if items:
            logger.warning("%d %s (listed in the report): %s%s", len(items), what,
                           ", ".join(items[:5]), " ..." if len(items) > 5 else "")
    rec_ids = sorted(set(turns_by_rec) & set(audio))
    if not rec_ids:
        raise ValueError(f"no RTTM file id matches an audio file name under {audio_dir}")

    recordings = {}
    for rec_id in tqdm(rec_ids, desc="Reading audio headers", disable=not progress):
        try:
            recordings[rec_id] = Recording.from_file(audio[rec_id], recording_id=rec_id)
        except Exception as e:  # report which file, not a bare decoder traceback
            raise RuntimeError(f"cannot read audio {audio[rec_id]}: {e}") from e
        if channel >= recordings[rec_id].num_channels:
            raise ValueError(
                f"{audio[rec_id]} has {recordings[rec_id].num_channels} channel(s); channel {channel} requested"
            )
    durations = {r: recordings[r].duration for r in rec_ids}
    kept = [t for r in rec_ids for t in turns_by_rec[r]]
    kept, report.clipped = clip_to_durations(kept, durations)
    for msg in report.clipped[:5]:
        logger.warning("clipped: %s", msg)
    if len(report.clipped) > 5:
        logger.warning("... %d turns clipped in all (see the report)", len(report.clipped))

    uem_map = read_uem(uem) if uem else {}
    full_uem: Dict[str, List[Tuple[float, float]]] = {}
    for rec_id in rec_ids:
        dur = durations[rec_id]
        if rec_id in uem_map:
            ivs = [(max(0.0, s), min(e, dur)) for s, e in uem_map[rec_id]]
            ivs = [(s, e) for s, e in ivs if e > s]
            if any(e > dur + 1e-3 for _, e in uem_map[rec_id]):
                report.uem_notes.append(f"{rec_id}: UEM end clipped to the audio duration {dur:.3f} s")
            full_uem[rec_id] = ivs
        else:
            if uem:
                report.uem_notes.append(f"{rec_id}: not in the UEM; the whole recording is scored")
            full_uem[rec_id] = [(0.0, dur)]
    for rec_id in sorted(set(uem_map) - set(rec_ids)):
        report.uem_notes.append(f"{rec_id}: in the UEM but not prepared (no audio or no turns)")

    by_rec = group_by_recording(kept)
    supervisions = []
    cuts = []
    for rec_id in rec_ids:
        sups = [
            SupervisionSegment(
                id=f"{rec_id}-{t.speaker}-{i:05d}",
                recording_id=rec_id,
                start=round(t.start, 6),
                duration=round(t.end - t.start, 6),
                channel=channel,
                speaker=t.speaker,
            )
            for i, t in enumerate(by_rec.get(rec_id, []))
        ]
        supervisions.extend(sups)
        rec = recordings[rec_id]
        cuts.append(
            MonoCut(
                id=rec_id, start=0.0, duration=rec.duration, channel=channel, recording=rec,
                supervisions=sups, custom={"uem": [[s, e] for s, e in full_uem[rec_id]]},
            )
        )
    recording_set = RecordingSet.from_recordings(recordings[r] for r in rec_ids)
    supervision_set = SupervisionSet.from_segments(supervisions)
    validate_recordings_and_supervisions(recording_set, supervision_set)
    cut_set = CutSet.from_cuts(cuts)

    result: Dict[str, Dict[str, object]] = {}
    if not splits:
        result[""] = _subset(recording_set, supervision_set, cut_set, full_uem, rec_ids)
        return result, report
    listed = set()
    for name, list_file in splits.items():
        ids = read_split_list(list_file)
        unknown = [i for i in ids if i not in recordings]
        if unknown:
            raise ValueError(
                f"split {name} ({list_file}): {len(unknown)} recording id(s) have no prepared recording "
                f"(no audio or no turns): {', '.join(unknown[:10])}"
            )
        listed.update(ids)
        result[name] = _subset(recording_set, supervision_set, cut_set, full_uem, sorted(set(ids)))
    report.unlisted = sorted(set(rec_ids) - listed)
    result[""] = _subset(recording_set, supervision_set, cut_set, full_uem, rec_ids)
    return result, report


def _subset(recordings, supervisions, cuts, uem, ids) -> Dict[str, object]:
    keep = set(ids)
    return {
        "recordings": recordings.filter(lambda r: r.id in keep),
        "supervisions": supervisions.filter(lambda s: s.recording_id in keep),
        "cuts": cuts.filter(lambda c: c.recording_id in keep).to_eager(),
        "uem": {r: uem[r] for r in sorted(keep)},
    }


def write_manifests(result: Mapping[str, Mapping[str, object]], output_dir, name: str) -> List[Path]:
    """Write ``NAME_{recordings,supervisions,cuts}[_SPLIT].jsonl.gz`` and ``NAME[_SPLIT].uem`` atomically."""
    output_dir = check_writable_dir(output_dir)
    written = []
    for split, parts in result.items():
        suffix = f"_{split}" if split else ""
        for kind in ("recordings", "supervisions", "cuts"):
            written.append(save_manifest(parts[kind], output_dir / f"{name}_{kind}{suffix}.jsonl.gz"))
        uem_path = output_dir / f"{name}{suffix}.uem"
        from io import StringIO

        buf = StringIO()
        write_uem(parts["uem"], buf)
        written.append(write_text(uem_path, buf.getvalue()))
    return written


__all__ = ["prepare_rttm", "write_manifests", "find_audio", "read_split_list", "PrepareReport",
           "AnnotationError", "Turn"]
