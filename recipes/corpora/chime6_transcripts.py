"""CHiME-6 annotation readers (used by :mod:`recipes.corpora.chime6`, whose docstring gives the rules).

The JSON transcriptions (``transcriptions/<split>/<session>.json``: ``HH:MM:SS.ss`` times, CHiME-5
per-device times, speakerless redaction markers) read into speaker turns, and the track-2
forced-alignment RTTMs (ids ``<session>_U06.ENH``) that replace them for dev and eval with
``references=rttm``. All times in seconds. Kept apart from chime6.py, which assembles the
recordings (array channels, binaural MultiCuts) and the manifests.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from recipes.corpora.common import PrepareReport
from recipes.rttm import AnnotationError, Turn

_HMS = re.compile(r"(\d+):([0-5]?\d):(\d+(?:\.\d*)?)\Z")


def hms_to_seconds(text: str) -> float:
    """``HH:MM:SS.ss`` (or ``H:MM:SS.ss``) -> seconds (exact decimal arithmetic, one rounding). Raises ValueError."""
    m = _HMS.match(text.strip()) if isinstance(text, str) else None
    if not m:
        raise ValueError(f"{text!r} is not H:MM:SS.ss")
    try:
        return float(int(m.group(1)) * 3600 + int(m.group(2)) * 60 + Decimal(m.group(3)))
    except InvalidOperation:  # pragma: no cover - the regex admits only decimals
        raise ValueError(f"{text!r} is not H:MM:SS.ss") from None


def session_of(recording_id: str) -> str:
    """``S02_U06.ENH`` / ``S02_U06`` / ``S02`` -> ``S02`` (the Kaldi scorer's rule: strip ``_U0[1-6]...``)."""
    return recording_id.split("_", 1)[0].split(".", 1)[0]


def _time(path: Path, index: int, utt: dict, key: str, device: Optional[str], counts: Dict[str, int]) -> float:
    value = utt.get(key)
    if isinstance(value, dict):  # CHiME-5 per-device times
        if device and device in value:
            value = value[device]
            counts["device"] += 1
        elif "original" in value:
            value = value["original"]
            counts["original"] += 1
        else:
            raise ValueError(
                f"{path}[{index}]: {key} has no {device!r} or 'original' time "
                f"(speaker {utt.get('speaker')}); expected an H:MM:SS.ss string"
            )
    try:
        return hms_to_seconds(value)
    except ValueError as e:
        raise ValueError(
            f"{path}[{index}]: {key} {e} (speaker {utt.get('speaker')}); expected an H:MM:SS.ss string"
        ) from None


def read_transcription(path, device: Optional[str] = None) -> Tuple[List[Turn], List[str], Dict[str, int]]:
    """Utterances of one ``transcriptions/<split>/<session>.json`` -> turns (not merged).

    ``device`` picks per-device times of CHiME-5 style JSON (``U06``, ``P05``...).
    Returns ``(turns, ["file[index]: ..." for utterances with end <= start], counts)``; ``counts``:
    ``device`` / ``original`` (CHiME-5 per-device times used) and ``speakerless`` (redaction markers
    without a ``speaker``, skipped).
    Malformed JSON raises :class:`AnnotationError` with the JSON line; a malformed
    utterance raises ``ValueError`` naming ``file[index]``.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise AnnotationError(path, e.lineno, f"invalid JSON ({e.msg})", "a JSON list of utterances") from None
    if not isinstance(data, list):
        raise AnnotationError(path, 1, f"top-level {type(data).__name__}", "a JSON list of utterances")
    turns, skipped = [], []
    counts = {"device": 0, "original": 0, "speakerless": 0}
    for i, utt in enumerate(data):
        if isinstance(utt, dict) and utt.get("speaker") is None:
            # CHiME-5 marks the position of a redaction with an entry without a speaker; the
            # synchronisation script and Lhotse drop them: nobody is talking there
            counts["speakerless"] += 1
            continue
        if not isinstance(utt, dict) or not all(k in utt for k in ("speaker", "start_time", "end_time")):
            raise ValueError(
                f"{path}[{i}]: utterance {str(utt)[:80]!r} lacks speaker/start_time/end_time; "
                'expected {"speaker", "session_id", "start_time", "end_time", ...}'
            )
        session = utt.get("session_id", utt.get("session", path.stem))
        if session != path.stem:
            raise ValueError(f"{path}[{i}]: session_id {session!r} in the file of session {path.stem}")
        start = _time(path, i, utt, "start_time", device, counts)
        end = _time(path, i, utt, "end_time", device, counts)
        if end <= start:
            skipped.append(f"{path}[{i}]: speaker {utt['speaker']} end {utt['end_time']} <= start {utt['start_time']}")
            continue
        turns.append(Turn(path.stem, start, end, str(utt["speaker"])))
    return turns, skipped, counts


JSON_REFERENCE = "CHiME-6 JSON transcription utterances"
RTTM_REFERENCE = "CHiME-6 track-2 forced-alignment RTTM (nateanl/chime6_rttm, as Kaldi s5_track2)"


def rttm_references(
    json_turns: List[Turn],
    split_of: Dict[str, str],
    splits: Sequence[str],
    rttm_dir,
    report: PrepareReport,
    summaries: List[str],
    reference_of: Dict[str, str],
    files: Dict[str, str],
) -> List[Turn]:
    """Replace the JSON turns of dev/eval by the forced-alignment RTTM turns (ids ``S02_U06.ENH`` -> ``S02``).

    ``files``: split -> RTTM file name under ``rttm_dir`` (``rttm.files`` of conf/corpora/chime6.yaml).
    The choice per split goes into ``reference_of``, one line per replaced split into ``summaries``."""
    from recipes.rttm import read_rttm

    rttm_dir = Path(rttm_dir)
    turns = list(json_turns)
    for split, name in files.items():
        if split not in splits or split not in split_of.values():
            continue
        path = rttm_dir / name
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} not found: the forced-alignment references come with "
                "`diar download chime6` (or give the folder of dev_rttm/eval_rttm with --rttm-dir)"
            )
        rttm_turns, _ = read_rttm(path, merge_self_overlaps=False)
        sessions = {s for s, sp in split_of.items() if sp == split}
        mapped = [Turn(session_of(t.recording_id), t.start, t.end, t.speaker) for t in rttm_turns]
        unknown = sorted({t.recording_id for t in mapped} - sessions)
        if unknown:
            report.notes.append(
                f"{path.name}: session(s) {', '.join(unknown)} have no {split} transcription; "
                "their RTTM turns are not used"
            )
        without = sorted(sessions - {t.recording_id for t in mapped})
        if without:
            report.notes.append(f"{path.name}: no turns for {', '.join(without)}; their JSON turns are used")
        replaced = sessions - set(without)
        turns = [t for t in turns if t.recording_id not in replaced] + [t for t in mapped if t.recording_id in replaced]
        reference_of[split] = RTTM_REFERENCE
        summaries.append(
            f"{split}: turns of {len(replaced)} session(s) from the forced-alignment {path.name} "
            f"({sum(t.recording_id in replaced for t in mapped)} lines)"
        )
    if "train" in split_of.values():
        report.notes.append(
            "references=rttm: the forced-alignment RTTMs cover dev and eval only; train keeps the JSON utterances"
        )
    return turns
