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
from pathlib import Path
from typing import Dict, Mapping, Optional, Sequence, Tuple

import soundfile

from recipes.corpora.common import (
    PrepareReport,
    build_manifests,
    match_audio,
    read_id_list,
    read_recordings,
    write_manifests,
)
from recipes.rttm import group_by_recording, read_rttm, read_uem

logger = logging.getLogger(__name__)

AUDIO_EXTENSIONS = tuple(sorted({"." + ext.lower() for ext in soundfile.available_formats()} | {".wav", ".flac"}))


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


def prepare_rttm(
    audio_dir,
    rttm,
    uem: Optional[str] = None,
    splits: Optional[Mapping[str, str]] = None,
    channel: int = 0,
    progress: bool = True,
) -> Tuple[Dict[str, Dict[str, object]], PrepareReport]:
    """Build manifests from audio + RTTM.

    :param splits: split name -> list file of recording ids.
    :return: ``({split: {"recordings", "supervisions", "cuts", "uem"}}, report)``; the key
        ``""`` holds every recording.
    """
    report = PrepareReport()
    turns, rttm_report = read_rttm(rttm)
    report.annotation_summary = rttm_report.summary()
    audio = find_audio(audio_dir)
    turns_by_rec = group_by_recording(turns)
    rec_ids = match_audio(report, turns_by_rec, audio)
    if not rec_ids:
        raise ValueError(f"no RTTM file id matches an audio file name under {audio_dir}")
    recordings = read_recordings(audio, rec_ids, "Reading audio headers", progress)
    split_ids = {}
    for name, list_file in (splits or {}).items():
        split_ids[name] = read_id_list(list_file)
    try:
        result = build_manifests(recordings, turns, report, uem=read_uem(uem) if uem else None,
                                 splits=split_ids, channel=channel)
    except ValueError as e:
        # name the list file in split errors
        for name, list_file in (splits or {}).items():
            if str(e).startswith(f"split {name}:"):
                raise ValueError(f"split {name} ({list_file}):" + str(e)[len(f"split {name}:"):]) from e
        raise
    return result, report


__all__ = ["prepare_rttm", "write_manifests", "find_audio", "PrepareReport"]
