"""CHiME-6: conversational speech at 20 home dinner parties (Watanabe et al., CHiME 2020).

20 sessions of about 2.5 h, 4 speakers each (32 train, 8 dev, 8 eval
speakers): train 16 sessions (S03-S08, S12, S13, S16-S20, S22-S24), dev S02,
S09, eval S01, S21. The audio is that of CHiME-5 after array synchronisation
(github ``chimechallenge/chime6-synchronisation``, or Lhotse's
``prepare_chime6(perform_array_sync=True)``); it is licensed by the University
of Sheffield and has no public URL, so ``diar download chime6`` links a local
copy (``--corpus-dir``) and otherwise explains where to get it.

On-disk layout (the synchronised CHiME-6 release)::

    CORPUS_DIR/
      audio/{train,dev,eval}/
        S02_U01.CH1.wav .. S02_U06.CH4.wav   6 Kinect arrays x 4 channels, 16 kHz mono 16-bit
        S02_P05.wav .. S02_P08.wav           binaural in-ear mics of the 4 speakers, 2 channels (L, R)
      transcriptions/{train,dev,eval}/S02.json

Some arrays are missing in some sessions (U05 is not usable in every
session; S22 has no U05 in the real release); such a session is listed in the
report (annotations without audio) and left out for that mic, never a crash.

Annotation format: a JSON list of utterances::

    {"end_time": "0:01:17.02", "start_time": "0:01:15.34", "words": "...",
     "speaker": "P05", "session_id": "S02", "ref": "U02", "location": "kitchen"}

``start_time``/``end_time`` are ``H:MM:SS.ss`` strings (hours unpadded, 10 ms
resolution, e.g. ``1:10:05.55``) on the synchronised (CHiME-6) timeline;
``ref`` (reference array) and ``location`` exist for dev and eval only. The
session field is ``session_id`` (as read by Kaldi's ``local/json2text.py``;
``session`` is accepted too) and must match the file name. The unsynchronised CHiME-5 JSON has per-device times instead
(``{"original": ..., "U01": ..., "P05": ...}``); for those the time of the
chosen device is used (``original`` when the device has none; noted).

Rules applied (all times in seconds):

- speaker turns = the utterances (supervisions are speaker turns, not ASR
  sentences): same-speaker overlapping utterances are merged (counted); the
  text is not kept, and utterances with ``[redacted]`` words (which Kaldi's ASR
  recipe drops) are kept, since the speaker is talking; utterances with ``end <= start`` (the real transcripts
  have some) are left out and listed in the report as ``file[index]``;
- speaker ids ``Pxx`` are corpus-global and kept; recording id = session (``S02``);
- mic: ``--mic U01..U06 --channel 1..4`` gives one mono array channel
  (``<session>_<mic>.CH<channel>.wav``); ``--mic binaural`` gives every in-ear
  mic of the session as one recording, channels ``2i, 2i+1`` = left/right of
  the i-th speaker in sorted speaker order (``P05`` -> 0, 1; ``P06`` -> 2, 3; ...)
  as Lhotse's ``ihm``, and ``MultiCut`` s over all those channels (the mix of
  all in-ear mics, not one speaker's);
- UEM: dev and eval use the CHiME-6 track-2 scoring regions (Kaldi
  ``egs/chime6/s5_track2/local/uem_file``: start 0 / 75 / 64 / 59 s for
  S01 / S02 / S09 / S21, end ``12000`` = to the end of the file; the starts are
  in ``conf/corpora/chime6.yaml``; ``uem_file`` reads a Kaldi UEM instead, whose
  ``<session>_<array>`` ids are mapped to sessions); train has no UEM (whole
  recording);
- ``duration_from_annotations``: recording duration = last turn end (the UEM
  end 12000 is a sentinel, not a length).

Outputs: ``chime6-<mic>_{recordings,supervisions,cuts}_{train,dev,eval}.jsonl.gz``
(``chime6-U06``, ``chime6-U06-ch2`` for channel 2, ``chime6-binaural``),
``chime6-<mic>_<split>.uem`` and ``chime6-<mic>_prepare_report.txt``.

Differences from ``lhotse.recipes.chime6``: Lhotse's supervisions are ASR
utterances (same-speaker overlaps kept, text normalised), its ``mdm`` recording
stacks every array channel of a session in glob order (so a missing array
silently shifts the channel numbers), and it has no scoring regions (the
pre-party part of dev/eval is scored).
"""
import json
import logging
import re
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from lhotse import Recording
from tqdm import tqdm

from recipes.corpora.common import (
    Option,
    PrepareReport,
    annotated_durations,
    build_manifests,
    multi_file_recording,
    open_recording,
    with_duration,
)
from recipes.corpora.config import load_corpus_config
from recipes.download import link_or_copy_tree
from recipes.rttm import AnnotationError, Turn, merge_self_overlaps, read_uem

logger = logging.getLogger(__name__)

CONFIG = load_corpus_config("chime6")
SPLITS = tuple(CONFIG["splits"])
ARRAYS = tuple(CONFIG["arrays"])
MICS = ARRAYS + ("binaural",)
_HMS = re.compile(r"(\d+):([0-5]?\d):(\d+(?:\.\d*)?)\Z")


# ---------------------------------------------------------------------------
# "download": licensed corpus, link a local copy only


def download_chime6(target_dir, corpus_dir=None, base_url: Optional[str] = None) -> Path:
    """Link an existing synchronised CHiME-6 copy ``corpus_dir`` as ``target_dir``.

    The audio has no public URL (University of Sheffield licence), so there is
    nothing to download; ``base_url`` must be None. Raises ``RuntimeError``
    explaining where to get the corpus when ``corpus_dir`` is not given.
    """
    if base_url is not None:
        raise ValueError("CHiME-6 has no download URL; link a local copy with corpus_dir")
    if corpus_dir is None:
        raise RuntimeError(
            "CHiME-6 audio is licensed (CHiME-5 from the University of Sheffield, then array-synchronised "
            "with chimechallenge/chime6-synchronisation) and cannot be downloaded here; pass your copy with "
            "--corpus-dir DIR (DIR holding audio/{train,dev,eval}/ and transcriptions/{train,dev,eval}/)")
    return link_or_copy_tree(corpus_dir, target_dir)


# ---------------------------------------------------------------------------
# annotations


def hms_to_seconds(text: str) -> float:
    """``H:MM:SS.ss`` -> seconds (exact decimal arithmetic, one rounding). Raises ValueError."""
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
            raise ValueError(f"{path}[{index}]: {key} has no {device!r} or 'original' time "
                             f"(speaker {utt.get('speaker')}); expected an H:MM:SS.ss string")
    try:
        return hms_to_seconds(value)
    except ValueError as e:
        raise ValueError(f"{path}[{index}]: {key} {e} (speaker {utt.get('speaker')}); "
                         "expected an H:MM:SS.ss string") from None


def read_transcription(path, device: Optional[str] = None) -> Tuple[List[Turn], List[str], Dict[str, int]]:
    """Utterances of one ``transcriptions/<split>/<session>.json`` -> turns (not merged).

    ``device`` picks per-device times of CHiME-5 style JSON (``U06``, ``P05``...).
    Returns ``(turns, ["file[index]: ..." for utterances with end <= start], time-kind counts)``.
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
    counts = {"device": 0, "original": 0}
    for i, utt in enumerate(data):
        if not isinstance(utt, dict) or not all(k in utt for k in ("speaker", "start_time", "end_time")):
            raise ValueError(f"{path}[{i}]: utterance {str(utt)[:80]!r} lacks speaker/start_time/end_time; "
                             "expected {\"speaker\", \"session_id\", \"start_time\", \"end_time\", ...}")
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


def track2_uem(uem_file=None) -> Dict[str, List[Tuple[float, float]]]:
    """``{session: [(start, end)]}``: from a Kaldi UEM (ids ``<session>_<array>``) or the conf's starts.

    End = ``12000`` (the track-2 sentinel for "to the end of the file"); build_manifests clips it to
    the recording. Arrays of one session must agree (they do in the official file).
    """
    if uem_file is None:
        end = float(CONFIG["uem"]["end"])
        return {s: [(float(t), end)] for s, t in CONFIG["uem"]["start"].items()}
    out: Dict[str, List[Tuple[float, float]]] = {}
    for rec, ivs in read_uem(uem_file).items():
        session = session_of(rec)
        if session in out and out[session] != ivs:
            raise ValueError(f"{uem_file}: {rec} has scoring regions {ivs}, another array of {session} "
                             f"has {out[session]}; expected one set per session")
        out[session] = ivs
    return out


# ---------------------------------------------------------------------------
# audio


def array_path(corpus_dir, split: str, session: str, mic: str, channel: int) -> Path:
    return Path(corpus_dir) / "audio" / split / f"{session}_{mic}.CH{channel}.wav"


def binaural_recording(session: str, paths: Sequence[Path]) -> Tuple[Recording, List[str]]:
    """One recording of the session's in-ear mics (sorted by speaker): channels 2i, 2i+1 = speaker i."""
    rec, note = multi_file_recording(session, paths, channels_per_file=2, what="binaural files")
    return rec, [note] if note else []


def manifest_name(mic: str, channel: int = 1) -> str:
    """``chime6-U06`` (channel 1), ``chime6-U06-ch2``, ``chime6-binaural``."""
    if mic == "binaural" or channel == 1:
        return f"chime6-{mic}"
    return f"chime6-{mic}-ch{channel}"


# ---------------------------------------------------------------------------
# prepare


def prepare_chime6(
    corpus_dir,
    mic: str = "U06",
    channel: int = 1,
    splits: Sequence[str] = SPLITS,
    uem_file=None,
    duration_from_annotations: bool = False,
    progress: bool = True,
) -> Tuple[Dict[str, Dict[str, object]], PrepareReport]:
    """Manifests for CHiME-6 (see the module docstring).

    :param mic: ``U01``..``U06`` (one array channel) or ``binaural`` (all in-ear mics, MultiCut).
    :param channel: array channel 1..4 (``CH<channel>``); ignored for ``binaural``.
    :param splits: which of ``train``, ``dev``, ``eval`` to prepare (those with transcriptions).
    :param uem_file: Kaldi track-2 UEM (``<session>_<array> 1 <start> <end>``, seconds) for dev/eval;
        default: the starts in conf/corpora/chime6.yaml, end of file.
    :param duration_from_annotations: recording duration = last turn end (seconds), not the audio header.
    :return: ``({split: {...}}, report)``.
    """
    if mic not in MICS:
        raise ValueError(f"mic {mic!r}: choose from {', '.join(MICS)}")
    if mic != "binaural" and channel not in (1, 2, 3, 4):
        raise ValueError(f"channel {channel}: the arrays have channels 1..4")
    unknown = sorted(set(splits) - set(SPLITS))
    if unknown:
        raise ValueError(f"unknown split(s) {unknown}; choose from {SPLITS}")
    corpus_dir = Path(corpus_dir)
    if not corpus_dir.is_dir():
        raise FileNotFoundError(f"corpus directory {corpus_dir} does not exist")
    if not (corpus_dir / "transcriptions").is_dir():
        raise FileNotFoundError(f"{corpus_dir / 'transcriptions'} not found; expected the CHiME-6 layout "
                                "audio/{train,dev,eval}/ and transcriptions/{train,dev,eval}/<session>.json")
    report = PrepareReport()
    device = None if mic == "binaural" else mic
    turns: List[Turn] = []
    split_of: Dict[str, str] = {}
    summaries = []
    for split in splits:
        jsons = sorted((corpus_dir / "transcriptions" / split).glob("*.json"))
        if not jsons:
            report.notes.append(f"{split}: no transcriptions under {corpus_dir / 'transcriptions' / split}")
            continue
        n_utts = n_skipped = 0
        kinds = {"device": 0, "original": 0}
        for path in tqdm(jsons, desc=f"CHiME-6 {split} transcriptions", disable=not progress):
            t, skipped, counts = read_transcription(path, device)
            if path.stem in split_of:
                raise ValueError(f"session {path.stem} has transcriptions in {split_of[path.stem]}/ and {split}/")
            split_of[path.stem] = split
            turns.extend(t)
            n_utts += len(t) + len(skipped)
            n_skipped += len(skipped)
            report.notes.extend(skipped)
            for k in kinds:
                kinds[k] += counts[k]
        summaries.append(f"{split}: {len(jsons)} session(s), {n_utts} utterance(s), "
                         f"{n_skipped} with end <= start left out")
        if kinds["device"] or kinds["original"]:
            report.notes.append(f"{split}: CHiME-5 per-device times: {kinds['device']} time(s) of {device}, "
                                f"{kinds['original']} 'original' time(s) (device missing)")
    if not split_of:
        raise FileNotFoundError(f"no transcriptions/<split>/<session>.json under {corpus_dir} for {list(splits)}")
    turns, absorbed = merge_self_overlaps(turns)
    summaries.append(f"{absorbed} same-speaker overlapping utterance(s) merged into one turn")
    report.annotation_summary = "; ".join(summaries)

    # audio of the chosen mic
    audio: Dict[str, object] = {}
    for session, split in sorted(split_of.items()):
        if mic == "binaural":
            paths = sorted((corpus_dir / "audio" / split).glob(f"{session}_P*.wav"))
            if paths:
                audio[session] = paths
            else:
                report.notes.append(f"{session}: no binaural audio/{split}/{session}_P*.wav")
        else:
            p = array_path(corpus_dir, split, session, mic, channel)
            if p.is_file():
                audio[session] = p
            else:
                report.notes.append(f"{session}: no audio/{split}/{p.name} (array {mic} missing in this session)")
    report.annotations_without_audio = sorted(set(split_of) - set(audio))
    pattern = "*_P*.wav" if mic == "binaural" else f"*_{mic}.CH{channel}.wav"
    on_disk = {p.name.split("_", 1)[0] for s in splits for p in (corpus_dir / "audio" / s).glob(pattern)}
    report.audio_without_annotations = sorted(on_disk - set(split_of))
    report.log_unmatched()
    if not audio:
        raise ValueError(f"no session has audio for mic {mic} under {corpus_dir / 'audio'}")

    last_end = annotated_durations(turns)  # the track-2 UEM ends at the end of the file: no annotated end
    recordings = {}
    for session in tqdm(sorted(audio), desc=f"CHiME-6 {mic} audio headers", disable=not progress):
        if mic == "binaural":
            rec, notes = binaural_recording(session, audio[session])
            report.notes.extend(notes)
        else:
            rec = open_recording(audio[session], session)
            if rec.num_channels != 1:
                raise ValueError(f"{audio[session]}: expected a mono array channel, got {rec.num_channels} channels")
        if duration_from_annotations:
            if session not in last_end:
                raise ValueError(f"{session}: no turn to take the duration from")
            rec = with_duration(rec, last_end[session])
        recordings[session] = rec

    uem_all = track2_uem(uem_file)
    uem = {s: ivs for s, ivs in uem_all.items() if s in recordings and split_of[s] in ("dev", "eval")}
    for s in sorted(recordings):
        if split_of[s] in ("dev", "eval") and s not in uem:
            report.uem_notes.append(f"{s}: {split_of[s]} session without a track-2 UEM entry; whole recording scored")
    channels = 0 if mic != "binaural" else None
    if mic == "binaural":
        # build_manifests takes one channel list for every recording: sessions with the most common
        # number of in-ear files are prepared, the others (a missing in-ear mic) are reported.
        counts: Dict[int, int] = {}
        for r in recordings.values():
            counts[r.num_channels] = counts.get(r.num_channels, 0) + 1
        n_ch = max(counts, key=lambda n: (counts[n], n))
        for s in sorted(s for s, r in recordings.items() if r.num_channels != n_ch):
            report.notes.append(f"{s}: {recordings[s].num_channels // 2} in-ear file(s), not {n_ch // 2}; "
                                "left out of the binaural manifests")
            report.annotations_without_audio.append(s)
            del recordings[s]
        report.annotations_without_audio.sort()
        channels = list(range(n_ch))
        report.notes.append("binaural: one MultiCut per session over every in-ear channel; channels 2i, 2i+1 = "
                            "left/right of the i-th speaker file in sorted order: " + "; ".join(
                                f"{s}: " + ", ".join(Path(p).stem.split("_")[1] for p in audio[s])
                                for s in sorted(recordings)))
    # after the binaural block, which may leave sessions out
    split_ids = {sp: sorted(s for s in recordings if split_of[s] == sp) for sp in splits}
    result = build_manifests(recordings, turns, report, uem=uem or None,
                             splits={sp: ids for sp, ids in split_ids.items() if ids}, channel=channels)
    return result, report


# ---------------------------------------------------------------------------
# command-line declarations (built into click commands by recipes.cli_corpora)

CORPUS_DIR_HELP = ("Your synchronised CHiME-6 copy (audio/, transcriptions/), linked as TARGET_DIR. Required: "
                   "the audio is licensed and has no public URL. Default: none (error).")
DOWNLOAD_HELP = "Link a local CHiME-6 copy as TARGET_DIR (no download: licensed audio)."
PREPARE_HELP = """CHiME-6 CORPUS_DIR -> manifests in OUTPUT_DIR (splits train, dev, eval).

    Layout: CORPUS_DIR/audio/<split>/<session>_<U0x>.CH<n>.wav and <session>_<Pxx>.wav,
    CORPUS_DIR/transcriptions/<split>/<session>.json (times H:MM:SS.ss). Recording id = session,
    speaker ids Pxx; supervisions are speaker turns (utterances, same-speaker overlaps merged).
    """
PREPARE_OPTIONS = (
    Option("--mic", "U01..U06: one channel of that Kinect array; binaural: all in-ear mics of the session "
                    "(MultiCut, channels 2i/2i+1 = speaker i in sorted order).", choices=tuple(MICS), default="U06"),
    Option("--channel", "Array channel (CH1..CH4) with --mic U0x; ignored for binaural.", type=int, default=1,
           min=1, max=4),
    Option("--split", "Prepare only these splits (repeatable). Default: train, dev and eval (those present).",
           dest="splits", choices=tuple(SPLITS), multiple=True),
    Option("--uem", "Kaldi track-2 UEM (<session>_<array> 1 <start s> <end s>) for dev/eval. Default: the "
                    "official starts (S01 0, S02 75, S09 64, S21 59 seconds) to the end of the file.",
           dest="uem_file", type="file"),
)
NAME_HELP = "Default: chime6-<mic> (chime6-<mic>-ch<N> for channel N > 1)."


def output_name(mic: str = "U06", channel: int = 1, **_) -> str:
    """Prefix of the output files (:func:`manifest_name`)."""
    return manifest_name(mic, channel)


__all__ = ["download_chime6", "prepare_chime6", "read_transcription", "hms_to_seconds", "session_of", "track2_uem",
           "manifest_name"]
