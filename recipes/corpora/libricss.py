"""LibriCSS: LibriSpeech utterances replayed in a meeting room (Chen et al., ICASSP 2020).

10 sessions of about 1 h, each cut into 6 mini-sessions of about 10 min, one
per overlap condition: ``0L`` (no overlap, 2.9-3.0 s silences between
utterances), ``0S`` (no overlap, 0.1-0.5 s silences), ``OV10`` .. ``OV40``
(nominal overlap ratio 10-40 %). 8 speakers per session, drawn from
LibriSpeech test-clean. Recorded at 16 kHz with a 7-microphone array.

On-disk layout (``for_release.zip``, as extracted by :func:`download_libricss`)::

    CORPUS_DIR/for_release/                  (CORPUS_DIR may also be for_release/ itself)
      all_res.json                           (not used)
      <subset>/                              0L, 0S, OV10, OV20, OV30, OV40
        overlap_ratio_<nominal>_sil<min>_<max>_session<k>_actual<measured>/
          record/raw_recording.wav           7-channel far-field recording   (--mic raw)
          clean/mix.wav                      1-channel clean mixture         (--mic clean)
          clean/each_spk.wav                 8-channel clean sources (not used)
          transcription/meeting_info.txt     the utterances (below)

e.g. ``OV10/overlap_ratio_10.0_sil0.1_1.0_session0_actual10.1``. The folder
name gives the condition (nominal overlap and silence range), the session
``k`` (0-9) and the overlap ratio the organisers measured (``actual``, %).

Annotation format: ``meeting_info.txt`` is a tab-separated file with the header
``start_time end_time speaker utterance_id transcription``; one line per played
LibriSpeech utterance: start and end in seconds from the start of the
mini-session, the LibriSpeech speaker id (``1089``), the utterance id
(``1089-134686-0000``) and the text. The times are the exact playback times and
include the utterance's own leading/trailing silence.

Rules applied (times in seconds):

- recording id ``<subset>_session<k>`` (as Lhotse), one recording per
  mini-session and mic; ``--mic raw`` gives a ``MonoCut`` of channel
  ``--channel`` (default 0) of the 7-channel recording, ``--mic clean`` the
  mono clean mixture;
- one speaker turn per utterance line; the speaker id is the LibriSpeech
  speaker id, which is global (the same reader in several sessions is the
  same speaker); strictly overlapping turns of one speaker are merged
  (counted in the report);
- every cut carries the custom fields ``condition`` (``0L`` .. ``OV40``),
  ``session`` (0-9), ``nominal_overlap_pct`` and ``actual_overlap_pct``
  (from the folder name);
- splits: ``dev`` = session 0, ``eval`` = sessions 1-9. This is the
  convention of the CSS / diarization papers, not a split shipped with the
  data. With ``by_condition`` the splits ``dev_<cond>`` and ``eval_<cond>``
  are added (files ``libricss-<mic>_cuts_eval_OV40.jsonl.gz``, ...);
- no UEM is shipped: the whole recording is scored;
- a session folder without ``meeting_info.txt`` is audio without annotations,
  one without the mic's audio file is annotations without audio (both listed
  in the report); a folder whose name does not parse is listed in the notes;
  a malformed line is an :class:`recipes.rttm.AnnotationError` naming file
  and line.

The overlap ratio of the paper is overlapped time / speech time of a
mini-session, which is ``overlap_ratio`` of ``recipes.stats``.

Outputs: ``libricss-<mic>_{recordings,supervisions,cuts}_{dev,eval}.jsonl.gz``
(``libricss-raw-ch<N>`` for ``--channel N`` other than 0),
``libricss-<mic>_<split>.uem``, ``libricss-<mic>_prepare_report.txt``.

Differences from ``lhotse.recipes.libricss``: Lhotse keeps one supervision per
utterance with its text (also a speaker turn here), puts every mini-session in
one unsplit set, and does not keep the condition on the cut.
"""

import logging
import re
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from recipes.corpora import common
from recipes.corpora.common import Option, PrepareReport
from recipes.corpora.config import load_corpus_config
from recipes.download import download_archive
from recipes.rttm import AnnotationError, Turn, merge_self_overlaps

logger = logging.getLogger(__name__)

CONDITIONS = ("0L", "0S", "OV10", "OV20", "OV30", "OV40")
MICS = {"raw": "record/raw_recording.wav", "clean": "clean/mix.wav"}
HEADER = ["start_time", "end_time", "speaker", "utterance_id", "transcription"]
DEV_SESSIONS = (0,)
FOLDER_RE = re.compile(
    r"^overlap_ratio_(?P<nominal>\d+(?:\.\d+)?)_sil(?P<smin>\d+(?:\.\d+)?)_(?P<smax>\d+(?:\.\d+)?)"
    r"_session(?P<session>\d+)_actual(?P<actual>\d+(?:\.\d+)?)$"
)


def parse_session_folder(name: str) -> Optional[dict]:
    """``{condition, session, nominal_overlap_pct, actual_overlap_pct, sil_min, sil_max}`` from a
    mini-session folder name, or None when it does not match the official pattern."""
    m = FOLDER_RE.match(name)
    if not m:
        return None
    nominal = float(m["nominal"])
    smin, smax = float(m["smin"]), float(m["smax"])
    if nominal == 0:
        condition = "0L" if smin >= 2.0 else "0S"
    else:
        condition = f"OV{int(round(nominal))}"
    return dict(
        condition=condition,
        session=int(m["session"]),
        nominal_overlap_pct=nominal,
        actual_overlap_pct=float(m["actual"]),
        sil_min=smin,
        sil_max=smax,
    )


def read_meeting_info(path, recording_id: str) -> List[Turn]:
    """Turns of one ``meeting_info.txt`` (see the module docstring); errors name file and line."""
    path = Path(path)
    turns = []
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    if not lines or lines[0].strip().split("\t") != HEADER:
        raise AnnotationError(
            path,
            1,
            f"header {lines[0][:80]!r}" if lines else "empty file",
            "the tab-separated header " + " ".join(HEADER),
        )
    for lineno, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < 4:
            raise AnnotationError(
                path,
                lineno,
                f"{len(fields)} tab-separated field(s)",
                "start_time, end_time, speaker, utterance_id, transcription",
            )
        start, end = common.read_times(path, lineno, fields[0], fields[1])
        if not (0 <= start < end):
            raise AnnotationError(path, lineno, f"start {start} end {end}", "0 <= start < end (seconds)")
        speaker = fields[2].strip()
        if not speaker:
            raise AnnotationError(path, lineno, "an empty speaker field", "a LibriSpeech speaker id")
        turns.append(Turn(recording_id, start, end, speaker, "1"))
    return turns


def find_release_dir(corpus_dir) -> Path:
    """``CORPUS_DIR/for_release`` or ``CORPUS_DIR`` itself, whichever holds the condition folders."""
    corpus_dir = Path(corpus_dir)
    for cand in (corpus_dir / "for_release", corpus_dir):
        if any((cand / c).is_dir() for c in CONDITIONS):
            return cand
    raise FileNotFoundError(
        f"no {'/'.join(CONDITIONS)} folder under {corpus_dir} or {corpus_dir / 'for_release'}; "
        "expected the extracted for_release.zip"
    )


# ---------------------------------------------------------------------------
# download


def download_libricss(target_dir, **fetch) -> Path:
    """Download ``for_release.zip`` (about 6.4 GB) into ``target_dir/downloads/`` (resumable
    ``.part`` file) and extract it into ``target_dir`` (giving ``target_dir/for_release/``).

    ``fetch`` takes :func:`recipes.download.download_archive`'s keywords: ``base_url`` (a
    mirror holding ``for_release.zip``), ``url`` (the full URL; default: the Google Drive
    link of conf/corpora/libricss.yaml), ``sha256`` (none is published, so by default only
    the size is checked), ``force`` and ``progress``.

    :return: ``target_dir``.
    """
    download_archive(load_corpus_config("libricss")["archive"], target_dir, **fetch)
    return Path(target_dir)


# ---------------------------------------------------------------------------
# prepare


def prepare_libricss(
    corpus_dir,
    mic: str = "raw",
    channel: int = 0,
    by_condition: bool = False,
    duration_from_annotations: bool = False,
    progress: bool = True,
) -> Tuple[Dict[str, Dict[str, object]], PrepareReport]:
    """Manifests of the 60 LibriCSS mini-sessions (see the module docstring).

    :param mic: ``raw`` (7-channel far-field recording) or ``clean`` (the clean mixture).
    :param channel: channel of the raw recording (0-6); ``clean`` has only channel 0.
    :param by_condition: also write the splits ``dev_<cond>`` / ``eval_<cond>``.
    :param duration_from_annotations: recording duration = last utterance end (seconds)
        instead of the audio header (stand-in audio).
    :return: ``({split: {...}}, report)``; splits ``dev``, ``eval`` (and per condition).
    """
    if mic not in MICS:
        raise ValueError(f"unknown mic {mic!r}; expected one of {', '.join(MICS)}")
    if mic == "clean" and channel != 0:
        raise ValueError("--mic clean is a 1-channel file: only channel 0 exists")
    release = find_release_dir(corpus_dir)
    report = PrepareReport()
    turns: List[Turn] = []
    info: Dict[str, dict] = {}
    audio: Dict[str, Path] = {}
    annotated = set()
    for cond in CONDITIONS:
        cdir = release / cond
        if not cdir.is_dir():
            report.notes.append(f"{cond}: no folder {cdir}")
            continue
        for folder in sorted(p for p in cdir.iterdir() if p.is_dir()):
            meta = parse_session_folder(folder.name)
            if meta is None:
                report.notes.append(
                    f"{folder}: not a mini-session folder name "
                    "(overlap_ratio_<r>_sil<a>_<b>_session<k>_actual<x>); skipped"
                )
                continue
            if meta["condition"] != cond:
                report.notes.append(
                    f"{folder}: its name says condition {meta['condition']}, its folder {cond}; {cond} used"
                )
                meta["condition"] = cond
            rec_id = f"{cond}_session{meta['session']}"
            if rec_id in info:
                raise ValueError(f"two folders for {rec_id}: {info[rec_id]['folder']} and {folder}")
            meta["folder"] = folder.name
            info[rec_id] = meta
            mi = folder / "transcription" / "meeting_info.txt"
            if mi.is_file():
                turns.extend(read_meeting_info(mi, rec_id))
                annotated.add(rec_id)
            wav = folder / MICS[mic]
            if wav.is_file():
                audio[rec_id] = wav
    if not info:
        raise FileNotFoundError(f"no mini-session folder under {release}/{{{','.join(CONDITIONS)}}}")
    n_lines = len(turns)
    turns, merged = merge_self_overlaps(turns)
    report.annotation_summary = (
        f"{len(annotated)} meeting_info.txt files, {n_lines} utterances, {len({t.speaker for t in turns})} speakers"
    )
    report.notes.append(f"{merged} same-speaker overlapping utterance(s) merged into their neighbours")
    for r in sorted(set(info) - annotated - set(audio)):
        report.notes.append(f"{r} ({info[r]['folder']}): neither {MICS[mic]} nor transcription/meeting_info.txt")
    rec_ids = common.match_audio(
        report,
        annotated,
        audio,
        missing_audio=lambda r: f"{r} ({info[r]['folder']}: no {MICS[mic]})",
        missing_annotations=lambda r: f"{r} ({info[r]['folder']}: no transcription/meeting_info.txt)",
        none_matched=f"no mini-session under {release} has both {MICS[mic]} and meeting_info.txt",
    )

    recordings = common.read_recordings(
        audio,
        rec_ids,
        f"LibriCSS audio headers ({mic})",
        progress,
        durations=common.annotated_durations(turns) if duration_from_annotations else None,
    )

    splits = {
        "dev": [r for r in rec_ids if info[r]["session"] in DEV_SESSIONS],
        "eval": [r for r in rec_ids if info[r]["session"] not in DEV_SESSIONS],
    }
    if by_condition:
        for split in ("dev", "eval"):
            for cond in CONDITIONS:
                splits[f"{split}_{cond}"] = [r for r in splits[split] if info[r]["condition"] == cond]
    splits = {s: ids for s, ids in splits.items() if ids}
    fields = ("condition", "session", "nominal_overlap_pct", "actual_overlap_pct")
    result = common.build_manifests(
        recordings,
        turns,
        report,
        splits=splits,
        channel=channel,
        custom={r: {k: info[r][k] for k in fields} for r in recordings},
    )
    return result, report


def manifest_name(mic: str, channel: int = 0) -> str:
    """``libricss-<mic>``, or ``libricss-raw-ch<N>`` for a raw channel other than 0."""
    return f"libricss-{mic}" + (f"-ch{channel}" if mic == "raw" and channel else "")


# ---------------------------------------------------------------------------
# command-line declarations (built into click commands by recipes.cli_corpora)

CORPUS_DIR_HELP = (
    "Link this existing copy (holding for_release/) as TARGET_DIR instead of downloading. Default: download."
)
DOWNLOAD_HELP = "Download LibriCSS for_release.zip (about 6.4 GB) into TARGET_DIR and extract it."
DOWNLOAD_OPTIONS = (
    Option(
        "--base-url",
        "Mirror holding for_release.zip (same file name). Default: the Google Drive link in "
        "conf/corpora/libricss.yaml.",
    ),
    Option("--force", "Download again even when the archive exists. Default: off.", type=bool),
)
PREPARE_HELP = """LibriCSS CORPUS_DIR (extracted for_release.zip) -> speaker-turn manifests in OUTPUT_DIR.

    Splits: dev = session 0, eval = sessions 1-9 (the community convention). Speaker ids are the
    LibriSpeech speaker ids; times in seconds.
    """
PREPARE_OPTIONS = (
    Option(
        "--mic",
        "raw: record/raw_recording.wav (7 channels, one used, see --channel); clean: clean/mix.wav (1 channel).",
        choices=tuple(MICS),
        default="raw",
    ),
    Option(
        "--channel",
        "Channel (0-6) of the raw recording; outputs are named libricss-raw-ch<N> when N > 0.",
        type=int,
        default=0,
        min=0,
        max=6,
    ),
    Option(
        "--by-condition",
        "Also write per-condition splits dev_<cond> / eval_<cond> (cond: 0L 0S OV10 OV20 "
        "OV30 OV40). Default: off (the condition is the cut's custom field 'condition' "
        "either way).",
        type=bool,
    ),
)
NAME_HELP = "Default: libricss-<mic>[-ch<N>]."


def output_name(mic: str = "raw", channel: int = 0, **_) -> str:
    """Prefix of the output files (:func:`manifest_name`)."""
    return manifest_name(mic, channel)


__all__ = ["download_libricss", "prepare_libricss", "parse_session_folder", "read_meeting_info", "manifest_name"]
