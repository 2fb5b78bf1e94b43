"""Generic recipe: your own audio + RTTM (+ UEM, + split lists) -> Lhotse manifests.

Layout expected::

    AUDIO_DIR/**/<uri>.<ext>     any format soundfile reads (wav, flac, ogg, ...)
    RTTM                         one RTTM file, or a directory of *.rttm files
    UEM (optional)               '<uri> <channel> <start> <end>' lines
    LISTFILE (optional, per split)  one recording id (uri) per line

Audio files are matched to annotations by the RTTM file id (``uri``) = the
audio file name without its extension (symlinked directories are followed;
ids that differ only in Unicode normalisation, NFC against NFD, match and are
noted). Annotations without audio and audio without annotations are listed
(log and the report), never silently dropped; so are dangling symbolic links.
Turns past the end of the audio are clipped and reported.

Nothing is written unless everything is: an unreadable or too short audio
file (under one 10 ms frame) stops the recipe naming every such file, or,
with ``skip_bad``, is left out and listed in ``NAME_prepare_rejects.jsonl``.
A listed recording (in a split list; every audio file when there are no
lists) with audio but no turn is an error, or, with ``allow_empty``, a
recording with no speech: all silence inside its UEM (pyannote's semantics).
The report is written in every case, also when the recipe fails.

Outputs (``OUTPUT_DIR``)::

    NAME_{recordings,supervisions,cuts}[_SPLIT].jsonl.gz
    NAME[_SPLIT].uem            scored regions (whole recording when no UEM)
    NAME_prepare_report.txt     everything that was clipped, merged, unmatched or rejected
    NAME_prepare_rejects.jsonl  (with skip_bad) audio files left out: recording id, path, error

One cut per recording (``MonoCut`` of ``channel``), with supervisions = speaker
turns and the UEM in the custom field ``uem`` (list of ``[start, end]``
seconds in recording time).
"""

import json
import logging
import os
import unicodedata
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import soundfile
from tqdm import tqdm

from recipes.corpora.common import (
    PrepareReport,
    build_manifests,
    check_usable,
    open_recording,
    read_id_list,
    write_manifests,
)
from recipes.errors import first_items
from recipes.rttm import group_by_recording, read_rttm, read_uems

logger = logging.getLogger(__name__)

# Every format soundfile reads, by its usual extensions (Opus lives in an Ogg container, NIST in .sph).
AUDIO_EXTENSIONS = tuple(
    sorted(
        {"." + ext.lower() for ext in soundfile.available_formats()}
        | {".wav", ".flac", ".opus", ".oga", ".sph", ".aif", ".aiff"}
    )
)


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def find_audio(
    audio_dir, extensions: Sequence[str] = AUDIO_EXTENSIONS, dangling: Optional[List[str]] = None
) -> Dict[str, Path]:
    """Map recording id (file name without extension) -> audio path, under ``audio_dir``
    (recursive, following symbolic links to directories, each real directory once).

    Two files with the same id (e.g. ``a.wav`` and ``sub/a.flac``, or names that differ
    only in Unicode normalisation) are an error. Symbolic links that point nowhere are
    appended to ``dangling`` (and logged).
    """
    audio_dir = Path(audio_dir)
    if not audio_dir.is_dir():
        raise FileNotFoundError(f"audio directory {audio_dir} does not exist")
    found: Dict[str, Path] = {}
    by_key: Dict[str, Path] = {}
    broken: List[str] = []
    seen_dirs = set()
    for root, dirs, files in os.walk(audio_dir, followlinks=True):
        real = os.path.realpath(root)
        if real in seen_dirs:  # a link loop, or two links to one directory
            dirs[:] = []
            continue
        seen_dirs.add(real)
        dirs.sort()
        for name in sorted(files):  # a dangling link is listed here (it is no directory)
            path = Path(root) / name
            if path.is_symlink() and not path.exists():
                broken.append(str(path))
                continue
            if path.suffix.lower() not in extensions or not path.is_file():
                continue
            rec_id = name[: -len(path.suffix)]
            key = nfc(rec_id)
            if key in by_key:
                raise ValueError(f"two audio files for recording {rec_id!r}: {by_key[key]} and {path}")
            by_key[key] = path
            found[rec_id] = path
    if broken:
        logger.warning(
            "%d dangling symbolic link(s) under %s (target missing; listed in the report): %s",
            len(broken),
            audio_dir,
            first_items(broken),
        )
    if dangling is not None:
        dangling.extend(broken)
    return found


def _match_forms(ids, canonical: Mapping[str, str], what: str, report: PrepareReport) -> Dict[str, str]:
    """``{id: the recording id it names}`` where ``id`` equals a recording id up to Unicode
    normalisation (NFC / NFD); each such match is a note in the report."""
    out = {}
    for i in ids:
        rec = canonical.get(nfc(i))
        if rec is not None and rec != i:
            form = "NFD" if unicodedata.is_normalized("NFD", i) else "another normal form"
            report.notes.append(
                f"{what} {i!r} ({form}) matched recording {rec!r}: same text, different Unicode normalisation"
            )
            out[i] = rec
    return out


def prepare_rttm(
    audio_dir,
    rttm,
    uem=None,
    splits: Optional[Mapping[str, str]] = None,
    channel: int = 0,
    progress: bool = True,
    skip_bad: bool = False,
    allow_empty: bool = False,
    report: Optional[PrepareReport] = None,
) -> Tuple[Dict[str, Dict[str, object]], PrepareReport]:
    """Build manifests from audio + RTTM (see the module docstring).

    :param uem: a UEM file, or several (their union; a recording in two files is an error).
    :param splits: split name -> list file of recording ids.
    :param skip_bad: leave out unreadable / too short audio (``report.rejects``) instead of failing.
    :param allow_empty: keep listed recordings that have audio and no turn, with no speech.
    :param report: filled in place (pass one to keep what was found when this raises).
    :return: ``({split: {"recordings", "supervisions", "cuts", "uem"}}, report)``; the key
        ``""`` holds every recording.
    """
    report = report if report is not None else PrepareReport()
    turns, rttm_report = read_rttm(rttm)
    report.annotation_summary = rttm_report.summary()
    audio = find_audio(audio_dir, dangling=report.dangling_links)
    turns_by_rec = group_by_recording(turns)

    # Match RTTM ids to file names up to Unicode normalisation; the RTTM's form is the id.
    canonical_audio = {nfc(r): r for r in audio}
    renamed = _match_forms(turns_by_rec, canonical_audio, "RTTM id", report)
    to_rttm_form = {a: t for t, a in renamed.items()}
    audio = {to_rttm_form.get(r, r): p for r, p in audio.items()}
    rec_canonical = {nfc(r): r for r in set(turns_by_rec) | set(audio)}

    split_ids = {}
    for name, list_file in (splits or {}).items():
        ids = read_id_list(list_file)
        fixed = _match_forms(ids, rec_canonical, f"split {name} id", report)
        split_ids[name] = [fixed.get(i, i) for i in ids]
    listed = set().union(*split_ids.values()) if split_ids else set(audio)
    empty = sorted((listed & set(audio)) - set(turns_by_rec))
    if empty and not allow_empty and split_ids:
        report.notes.append(f"listed recordings with audio and no speaker turn: {', '.join(empty)}")
        raise ValueError(
            f"{len(empty)} listed recording(s) have audio but no speaker turn in {rttm}: "
            f"{', '.join(empty[:5])}{' ...' if len(empty) > 5 else ''} "
            "(--allow-empty keeps them as recordings with no speech)"
        )
    if not allow_empty:
        empty = []
    if not turns and not empty:
        raise ValueError(
            f"{rttm}: no SPEAKER line ({rttm_report.summary()}): nothing to prepare "
            "(--allow-empty with split lists keeps the listed recordings as recordings with no speech)"
        )

    report.annotations_without_audio = sorted(set(turns_by_rec) - set(audio))
    report.audio_without_annotations = sorted(set(audio) - set(turns_by_rec) - set(empty))
    report.log_unmatched()
    rec_ids = sorted((set(turns_by_rec) & set(audio)) | set(empty))
    if not rec_ids:
        raise ValueError(_no_match_message(audio_dir, rttm, turns_by_rec, audio))
    if empty:
        report.notes.append(f"{len(empty)} recording(s) with no speech (--allow-empty): {', '.join(empty)}")
        logger.warning(
            "%d listed recording(s) have no speaker turn: kept with no speech (--allow-empty): %s",
            len(empty),
            first_items(empty),
        )

    recordings, rejects = {}, []
    for rec_id in tqdm(rec_ids, desc="Reading audio headers", disable=not progress):
        try:
            recordings[rec_id] = check_usable(open_recording(audio[rec_id], rec_id), audio[rec_id])
        except Exception as e:  # noqa: BLE001 - any decoder error, named with its file
            rejects.append(
                {
                    "recording_id": rec_id,
                    "audio": str(audio[rec_id]),
                    "error": _reason(e),
                    "detail": _reason(e.__cause__) if e.__cause__ else "",
                }
            )
    report.rejects = rejects
    if rejects:
        listing = "; ".join(r["error"] for r in rejects[:3]) + (" ..." if len(rejects) > 3 else "")
        if not skip_bad:
            raise ValueError(
                f"{len(rejects)} of {len(rec_ids)} audio file(s) cannot be used ({listing}); "
                "--skip-bad leaves them out and lists them in the rejects file"
            )
        if len(rejects) == len(rec_ids):
            raise ValueError(f"no usable audio: all {len(rejects)} file(s) rejected ({listing})")
        logger.warning(
            "left out %d of %d recording(s) whose audio cannot be used (--skip-bad): %s",
            len(rejects),
            len(rec_ids),
            listing,
        )
        bad = {r["recording_id"] for r in rejects}
        for name, ids in split_ids.items():
            split_ids[name] = [i for i in ids if i not in bad]

    uem_map = None
    if uem:
        uem_files = [uem] if isinstance(uem, (str, os.PathLike)) else list(uem)
        if uem_files:
            uem_map = read_uems(uem_files)
            fixed = _match_forms(uem_map, rec_canonical, "UEM id", report)
            uem_map = {fixed.get(r, r): ivs for r, ivs in uem_map.items()}
    try:
        result = build_manifests(recordings, turns, report, uem=uem_map, splits=split_ids, channel=channel)
    except ValueError as e:
        # name the list file in split errors
        for name, list_file in (splits or {}).items():
            if str(e).startswith(f"split {name}:"):
                raise ValueError(f"split {name} ({list_file}):" + str(e)[len(f"split {name}:") :]) from e
        raise
    return result, report


def _reason(error: BaseException) -> str:
    from recipes.clitools import one_line

    return one_line(error)


def _no_match_message(audio_dir, rttm, turns_by_rec, audio) -> str:
    def some(ids):
        ids = sorted(ids)
        return ", ".join(repr(i) for i in ids[:3]) + (" ..." if len(ids) > 3 else "") if ids else "none"

    return (
        f"no RTTM file id matches an audio file name under {audio_dir}: RTTM ids {some(turns_by_rec)}; "
        f"audio files (name without extension) {some(audio)}"
    )


def write_prepared(result, output_dir, name: str, report: PrepareReport) -> List[Path]:
    """:func:`write_manifests` plus ``NAME_prepare_rejects.jsonl`` when audio was left out."""
    from recipes.fileio import write_text

    written = write_manifests(result, output_dir, name, report)
    rejects = Path(output_dir) / f"{name}_prepare_rejects.jsonl"
    if report.rejects:
        written.append(write_text(rejects, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in report.rejects)))
    elif rejects.exists():
        rejects.unlink()  # from an earlier run: nothing was rejected this time
    return written


__all__ = ["prepare_rttm", "write_manifests", "write_prepared", "find_audio", "PrepareReport"]
