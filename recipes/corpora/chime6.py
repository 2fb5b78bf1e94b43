"""CHiME-6: conversational speech at 20 home dinner parties (Watanabe et al., CHiME 2020).

20 sessions of about 2.5 h, 4 speakers each (32 train, 8 dev, 8 eval
speakers): train 16 sessions (S03-S08, S12, S13, S16-S20, S22-S24), dev S02,
S09, eval S01, S21. The audio is that of CHiME-5 after array synchronisation
(github ``chimechallenge/chime6-synchronisation``). The synchronised release is
hosted on OpenSLR as SLR150 (CC BY-SA 4.0): ``diar download chime6`` fetches
``CHiME6_transcriptions.tar.gz`` and ``CHiME6_{train,dev,eval}.tar.gz``
(97 / 11 / 12 GB; file names and mirrors in ``conf/corpora/chime6.yaml``) and
the forced-alignment RTTMs, or links a local copy (``--corpus-dir``).

On-disk layout (the synchronised CHiME-6 release)::

    CORPUS_DIR/
      audio/{train,dev,eval}/
        S02_U01.CH1.wav .. S02_U06.CH4.wav   6 Kinect arrays x 4 channels, 16 kHz mono 16-bit
        S02_P05.wav .. S02_P08.wav           binaural in-ear mics of the 4 speakers, 2 channels (L, R);
                                             train and dev only
      transcriptions/{train,dev,eval}/S02.json
      chime6_rttm/{dev,eval}_rttm           (optional) forced-alignment references, ids <session>_U06.ENH

What the release lacks (``audio_md5sums.txt`` of chime6-synchronisation):

- arrays: U03 in S01 and S22, U05 in S09, U03 and U04 in S05; such a session
  is listed in the report (annotations without audio) and left out for that
  mic, never a crash;
- in-ear audio for eval (64 ``P*.wav`` for train, 8 for dev, 0 for eval), so
  ``--mic binaural`` prepares train and dev only; the report says so.

Annotation format: a JSON list of utterances::

    {"end_time": "00:01:17.02", "start_time": "00:01:15.34", "words": "...",
     "speaker": "P05", "session_id": "S02", "ref": "U02", "location": "kitchen"}

``start_time``/``end_time`` are ``HH:MM:SS.ss`` strings (hours zero-padded in
the release, unpadded accepted, 10 ms resolution) on the synchronised
(CHiME-6) timeline; ``ref`` (reference array) and ``location`` exist for dev
and eval only. The session field is ``session_id`` (as read by Kaldi's
``local/json2text.py``; ``session`` is accepted too) and must match the file
name. The unsynchronised CHiME-5 JSON has per-device times instead
(``{"original": ..., "U01": ..., "P05": ...}``); for those the time of the
chosen device is used (``original`` when the device has none; noted). CHiME-5
JSON also has entries without a ``speaker``, which mark the position of a
redaction: they are skipped (as the synchronisation script
``correct_transcript_for_clock_drift.py`` and Lhotse do) and counted in the
report.

References (``references``): ``json`` (default) = the utterances of the JSON
transcriptions; ``rttm`` = the forced-alignment RTTMs of Kaldi's track-2 recipe
(``github.com/nateanl/chime6_rttm``, dev and eval only; train keeps the JSON
turns, noted). The choice is stored on every cut (custom ``reference``), so
the dataset card says which one was used.

Rules applied (all times in seconds):

- speaker turns = the utterances (supervisions are speaker turns, not ASR
  sentences): same-speaker overlapping utterances are merged (counted); the
  text is not kept, and utterances with ``[redacted]`` words (which Kaldi's ASR
  recipe drops) are kept, since the speaker is talking; utterances with
  ``end <= start`` (the real transcripts have some) are left out and listed in
  the report as ``file[index]``;
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
(``chime6-U06``, ``chime6-U06-ch2`` for channel 2, ``chime6-binaural``: train
and dev), ``chime6-<mic>_<split>.uem`` and ``chime6-<mic>_prepare_report.txt``.

Differences from ``lhotse.recipes.chime6``: Lhotse's supervisions are ASR
utterances (same-speaker overlaps kept, text normalised), its ``mdm`` recording
stacks every array channel of a session in glob order (so a missing array
silently shifts the channel numbers), and it has no scoring regions (the
pre-party part of dev/eval is scored).
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Dict, List, Optional, Sequence, Tuple

if TYPE_CHECKING:  # Lhotse is imported where used (`diar prepare <corpus> --help` needs no torch)
    from lhotse import Recording
from tqdm import tqdm

from recipes.corpora import common
from recipes.corpora.chime6_transcripts import (
    JSON_REFERENCE,
    hms_to_seconds,
    read_transcription,
    rttm_references,
    session_of,
)
from recipes.corpora.common import Option, PrepareReport
from recipes.corpora.config import load_corpus_config
from recipes.download import DownloadError, download_file, link_or_copy_tree
from recipes.rttm import Turn, merge_self_overlaps, read_uem

logger = logging.getLogger(__name__)

CONFIG = load_corpus_config("chime6")
SPLITS = tuple(CONFIG["splits"])
ARRAYS = tuple(CONFIG["arrays"])
MICS = ARRAYS + ("binaural",)
RTTM_CONF = CONFIG["rttm"]
RELEASE_GAPS = {"missing_arrays": CONFIG["missing_arrays"], "no_binaural": CONFIG["no_binaural"]}


# ---------------------------------------------------------------------------
# download: OpenSLR SLR150 (or link a local copy)

REFERENCES = ("json", "rttm")


def _extract_release(archive: Path, target: Path, keep: Sequence[str] = ("audio", "transcriptions")) -> int:
    """Extract the members of a SLR150 tar from their ``audio/`` or ``transcriptions/`` folder on.

    ``CHiME6_dev/CHiME6/audio/dev/S02_U01.CH1.wav`` -> ``target/audio/dev/S02_U01.CH1.wav``; members
    outside those folders (the wrapper directories, a LICENSE) are skipped. Links are refused. A
    ``.<archive>.extracted`` marker is written last (an archive with a marker is not extracted again).
    Returns the number of files written.
    """
    import tarfile

    marker = target / f".{archive.name}.extracted"
    if marker.exists():
        return 0
    target.mkdir(parents=True, exist_ok=True)
    root = target.resolve()
    n = 0
    try:
        tar = tarfile.open(archive)
    except tarfile.TarError as e:
        raise DownloadError(f"{archive}: not a tar archive ({e})") from e
    with tar:
        for member in tar:
            parts = Path(member.name).parts
            idx = next((i for i, x in enumerate(parts) if x in keep), None)
            if idx is None or not (member.isfile() or member.isdir()):
                continue
            dest = (root / Path(*parts[idx:])).resolve()
            if root not in dest.parents:
                raise DownloadError(f"{archive}: member {member.name!r} would be written outside {target}")
            if member.isdir():
                dest.mkdir(parents=True, exist_ok=True)
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_name(dest.name + ".partial")
            with tar.extractfile(member) as src, open(tmp, "wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
            os.replace(tmp, dest)
            n += 1
    if n == 0:
        raise DownloadError(f"{archive}: no audio/ or transcriptions/ members; not a CHiME-6 (SLR150) archive")
    marker.touch()
    return n


def download_chime6(
    target_dir,
    corpus_dir=None,
    base_url: Optional[str] = None,
    splits: Sequence[str] = SPLITS,
    rttm_base_url: Optional[str] = None,
    references: bool = True,
    keep_archives: bool = False,
    force: bool = False,
    progress: bool = True,
) -> Path:
    """Download CHiME-6 from OpenSLR SLR150 into ``target_dir`` (or link ``corpus_dir`` there).

    Fetches ``CHiME6_transcriptions.tar.gz`` and ``CHiME6_<split>.tar.gz`` for ``splits`` from
    ``base_url`` (default: conf/corpora/chime6.yaml, www.openslr.org; mirrors have the same file
    names) into ``target_dir/downloads/`` (resumable ``.part`` files), extracts them into
    ``target_dir/{audio,transcriptions}/`` and, with ``references``, the forced-alignment RTTMs
    ``dev_rttm`` / ``eval_rttm`` (``rttm_base_url``, default the pinned nateanl/chime6_rttm commit)
    into ``target_dir/chime6_rttm/``. The archives are deleted after extraction unless
    ``keep_archives``. OpenSLR publishes no checksums for them (sizes are checked). Returns ``target_dir``.
    """
    if corpus_dir is not None:
        if base_url is not None:
            raise ValueError("give either corpus_dir (link a copy) or base_url (download), not both")
        return link_or_copy_tree(corpus_dir, target_dir)
    common.check_splits(splits, SPLITS)
    conf = CONFIG
    base = (base_url or conf["download"]["base_url"]).rstrip("/")
    target = Path(target_dir)
    dl = target / "downloads"
    names = [conf["download"]["transcriptions"]] + [conf["download"]["audio"][s] for s in SPLITS if s in splits]
    for name in names:
        archive = download_file(f"{base}/{name}", dl / name, force=force, progress=progress)
        n = _extract_release(archive, target)
        logger.info("%s: %d file(s) extracted into %s", name, n, target)
        if not keep_archives:
            archive.unlink()
            (dl / name).with_name(name + ".part").unlink(missing_ok=True)
    if references:
        rbase = (rttm_base_url or conf["rttm"]["base_url"]).rstrip("/")
        for split, name in conf["rttm"]["files"].items():
            if split in splits:
                download_file(f"{rbase}/{name}", target / conf["rttm"]["dir"] / name, force=force, progress=progress)
    return target


# ---------------------------------------------------------------------------
# annotations (the JSON and RTTM readers are in chime6_transcripts.py)


def track2_uem(uem_file=None) -> Dict[str, List[Tuple[float, float]]]:
    """``{session: [(start, end)]}``: from a Kaldi UEM (ids ``<session>_<array>``) or the conf's starts.

    End = ``12000`` (the track-2 sentinel for "to the end of the file"); common.build_manifests clips it to
    the recording. Arrays of one session must agree (they do in the official file).
    """
    if uem_file is None:
        end = float(CONFIG["uem"]["end"])
        return {s: [(float(t), end)] for s, t in CONFIG["uem"]["start"].items()}
    out: Dict[str, List[Tuple[float, float]]] = {}
    for rec, ivs in read_uem(uem_file).items():
        session = session_of(rec)
        if session in out and out[session] != ivs:
            raise ValueError(
                f"{uem_file}: {rec} has scoring regions {ivs}, another array of {session} "
                f"has {out[session]}; expected one set per session"
            )
        out[session] = ivs
    return out


# ---------------------------------------------------------------------------
# audio


def array_path(corpus_dir, split: str, session: str, mic: str, channel: int) -> Path:
    return Path(corpus_dir) / "audio" / split / f"{session}_{mic}.CH{channel}.wav"


def binaural_recording(session: str, paths: Sequence[Path]) -> Tuple[Recording, List[str]]:
    """One recording of the session's in-ear mics (sorted by speaker): channels 2i, 2i+1 = speaker i."""
    rec, note = common.multi_file_recording(session, paths, channels_per_file=2, what="binaural files")
    return rec, [note] if note else []


def release_gaps_note() -> str:
    """One line saying what the CHiME-6 release lacks (conf/corpora/chime6.yaml)."""
    arrays = "; ".join(f"{s}: {', '.join(a)}" for s, a in sorted(RELEASE_GAPS["missing_arrays"].items()))
    return (
        f"the CHiME-6 release lacks in-ear (binaural) audio for {', '.join(RELEASE_GAPS['no_binaural'])} and "
        f"these arrays ({arrays}); sessions without the chosen mic are listed as annotations without audio"
    )


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
    references: str = "json",
    rttm_dir=None,
    progress: bool = True,
) -> Tuple[Dict[str, Dict[str, object]], PrepareReport]:
    """Manifests for CHiME-6 (see the module docstring).

    :param mic: ``U01``..``U06`` (one array channel) or ``binaural`` (all in-ear mics, MultiCut).
    :param channel: array channel 1..4 (``CH<channel>``); ignored for ``binaural``.
    :param splits: which of ``train``, ``dev``, ``eval`` to prepare (those with transcriptions).
    :param uem_file: Kaldi track-2 UEM (``<session>_<array> 1 <start> <end>``, seconds) for dev/eval;
        default: the starts in conf/corpora/chime6.yaml, end of file.
    :param duration_from_annotations: recording duration = last turn end (seconds), not the audio header.
    :param references: ``json`` (the transcription utterances) or ``rttm`` (the forced-alignment RTTMs
        ``dev_rttm`` / ``eval_rttm`` for dev and eval; train keeps the JSON turns).
    :param rttm_dir: folder of ``dev_rttm`` / ``eval_rttm``; default ``CORPUS_DIR/chime6_rttm``.
    :return: ``({split: {...}}, report)``; every cut carries custom ``reference`` (which turns it has).
    """
    if references not in REFERENCES:
        raise ValueError(f"references {references!r}: choose from {', '.join(REFERENCES)}")
    if mic not in MICS:
        raise ValueError(f"mic {mic!r}: choose from {', '.join(MICS)}")
    if mic != "binaural" and channel not in (1, 2, 3, 4):
        raise ValueError(f"channel {channel}: the arrays have channels 1..4")
    common.check_splits(splits, SPLITS)
    corpus_dir = common.corpus_path(corpus_dir)
    if not (corpus_dir / "transcriptions").is_dir():
        raise FileNotFoundError(
            f"{corpus_dir / 'transcriptions'} not found; expected the CHiME-6 layout "
            "audio/{train,dev,eval}/ and transcriptions/{train,dev,eval}/<session>.json"
        )
    report = PrepareReport()
    report.notes.append(release_gaps_note())
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
        kinds = {"device": 0, "original": 0, "speakerless": 0}
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
        summaries.append(
            f"{split}: {len(jsons)} session(s), {n_utts} utterance(s), "
            f"{n_skipped} with end <= start left out, "
            f"{kinds['speakerless']} speakerless entr(ies) (CHiME-5 redaction markers) skipped"
        )
        if kinds["device"] or kinds["original"]:
            report.notes.append(
                f"{split}: CHiME-5 per-device times: {kinds['device']} time(s) of {device}, "
                f"{kinds['original']} 'original' time(s) (device missing)"
            )
    if not split_of:
        raise FileNotFoundError(f"no transcriptions/<split>/<session>.json under {corpus_dir} for {list(splits)}")
    reference_of = {sp: JSON_REFERENCE for sp in SPLITS}
    if references == "rttm":
        rttm_dir = rttm_dir or corpus_dir / RTTM_CONF["dir"]
        turns = rttm_references(turns, split_of, splits, rttm_dir, report, summaries, reference_of, RTTM_CONF["files"])
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
            elif split in RELEASE_GAPS["no_binaural"]:
                report.notes.append(
                    f"{session}: no binaural audio/{split}/{session}_P*.wav (the CHiME-6 release "
                    f"has no in-ear audio for {split}): {split} is not prepared for binaural"
                )
            else:
                report.notes.append(f"{session}: no binaural audio/{split}/{session}_P*.wav")
        else:
            p = array_path(corpus_dir, split, session, mic, channel)
            if p.is_file():
                audio[session] = p
            elif mic in RELEASE_GAPS["missing_arrays"].get(session, ()):
                report.notes.append(
                    f"{session}: no audio/{split}/{p.name} (array {mic} missing in this session: "
                    "the CHiME-6 release lacks it)"
                )
            else:
                report.notes.append(
                    f"{session}: no audio/{split}/{p.name} (array {mic} missing in this session; "
                    "the release has it: incomplete copy?)"
                )
    report.annotations_without_audio = sorted(set(split_of) - set(audio))
    pattern = "*_P*.wav" if mic == "binaural" else f"*_{mic}.CH{channel}.wav"
    on_disk = {p.name.split("_", 1)[0] for s in splits for p in (corpus_dir / "audio" / s).glob(pattern)}
    report.audio_without_annotations = sorted(on_disk - set(split_of))
    report.log_unmatched()
    if not audio:
        raise ValueError(f"no session has audio for mic {mic} under {corpus_dir / 'audio'}")

    last_end = common.annotated_durations(turns)  # the track-2 UEM ends at the end of the file: no annotated end
    recordings = {}
    for session in tqdm(sorted(audio), desc=f"CHiME-6 {mic} audio headers", disable=not progress):
        if mic == "binaural":
            rec, notes = binaural_recording(session, audio[session])
            report.notes.extend(notes)
        else:
            rec = common.open_recording(audio[session], session)
            if rec.num_channels != 1:
                raise ValueError(f"{audio[session]}: expected a mono array channel, got {rec.num_channels} channels")
        if duration_from_annotations:
            if session not in last_end:
                raise ValueError(f"{session}: no turn to take the duration from")
            rec = common.with_duration(rec, last_end[session])
        recordings[session] = rec

    uem_all = track2_uem(uem_file)
    uem = {s: ivs for s, ivs in uem_all.items() if s in recordings and split_of[s] in ("dev", "eval")}
    for s in sorted(recordings):
        if split_of[s] in ("dev", "eval") and s not in uem:
            report.uem_notes.append(f"{s}: {split_of[s]} session without a track-2 UEM entry; whole recording scored")
    channels = 0 if mic != "binaural" else None
    if mic == "binaural":
        # common.build_manifests takes one channel list for every recording: sessions with the most common
        # number of in-ear files are prepared, the others (a missing in-ear mic) are reported.
        counts: Dict[int, int] = {}
        for r in recordings.values():
            counts[r.num_channels] = counts.get(r.num_channels, 0) + 1
        n_ch = max(counts, key=lambda n: (counts[n], n))
        for s in sorted(s for s, r in recordings.items() if r.num_channels != n_ch):
            report.notes.append(
                f"{s}: {recordings[s].num_channels // 2} in-ear file(s), not {n_ch // 2}; "
                "left out of the binaural manifests"
            )
            report.annotations_without_audio.append(s)
            del recordings[s]
        report.annotations_without_audio.sort()
        channels = list(range(n_ch))
        report.notes.append(
            "binaural: one MultiCut per session over every in-ear channel; channels 2i, 2i+1 = "
            "left/right of the i-th speaker file in sorted order: "
            + "; ".join(f"{s}: " + ", ".join(Path(p).stem.split("_")[1] for p in audio[s]) for s in sorted(recordings))
        )
    # after the binaural block, which may leave sessions out
    split_ids = {sp: sorted(s for s in recordings if split_of[s] == sp) for sp in splits}
    result = common.build_manifests(
        recordings,
        turns,
        report,
        uem=uem or None,
        splits=split_ids,
        drop_empty_splits=True,
        channel=channels,
    )
    from lhotse import CutSet

    for part in result.values():
        part["cuts"] = CutSet.from_cuts(
            _with_custom(c, reference=reference_of[split_of[c.recording_id]]) for c in part["cuts"]
        )
    return result, report


def _with_custom(cut, **fields):
    cut.custom = dict(cut.custom or {}, **fields)
    return cut


# ---------------------------------------------------------------------------
# command-line declarations (built into click commands by recipes.cli_corpora)

CORPUS_DIR_HELP = (
    "Your synchronised CHiME-6 copy (audio/, transcriptions/), linked as TARGET_DIR instead of "
    "downloading. Default: download from OpenSLR SLR150."
)
DOWNLOAD_HELP = """Download CHiME-6 (OpenSLR SLR150) into TARGET_DIR, or link a local copy (--corpus-dir).

    Fetches CHiME6_transcriptions.tar.gz and CHiME6_<split>.tar.gz (97 / 11 / 12 GB for train / dev /
    eval), extracts them into TARGET_DIR/{audio,transcriptions}/, and the forced-alignment RTTMs into
    TARGET_DIR/chime6_rttm/. Downloads resume (.part files); OpenSLR publishes no checksums (sizes checked).
    """
DOWNLOAD_OPTIONS = (
    Option(
        "--base-url",
        "OpenSLR mirror holding CHiME6_{transcriptions,train,dev,eval}.tar.gz. Default: "
        "https://www.openslr.org/resources/150 (mirrors: openslr.elda.org, us.openslr.org).",
    ),
    Option(
        "--split",
        "Download only the audio of these splits (repeatable). Default: train, dev and eval.",
        dest="splits",
        choices=tuple(SPLITS),
        multiple=True,
    ),
    Option(
        "--rttm-base-url",
        "Where dev_rttm / eval_rttm (forced-alignment references) are. Default: the pinned "
        "github.com/nateanl/chime6_rttm commit of conf/corpora/chime6.yaml.",
    ),
    Option("--keep-archives", "Keep the .tar.gz files after extraction. Default: deleted.", type=bool),
    Option("--force", "Download again even when the files exist. Default: off.", type=bool),
)
PREPARE_HELP = """CHiME-6 CORPUS_DIR -> manifests in OUTPUT_DIR (splits train, dev, eval).

    Layout: CORPUS_DIR/audio/<split>/<session>_<U0x>.CH<n>.wav and <session>_<Pxx>.wav,
    CORPUS_DIR/transcriptions/<split>/<session>.json (times HH:MM:SS.ss). Recording id = session,
    speaker ids Pxx; supervisions are speaker turns (utterances, same-speaker overlaps merged).
    The release has no in-ear audio for eval (binaural: train and dev) and lacks some arrays
    (U03 in S01 and S22, U05 in S09, U03 and U04 in S05): those sessions are reported, not fatal.
    """
PREPARE_OPTIONS = (
    Option(
        "--mic",
        "U01..U06: one channel of that Kinect array; binaural: all in-ear mics of the session "
        "(MultiCut, channels 2i/2i+1 = speaker i in sorted order; train and dev only).",
        choices=tuple(MICS),
        default="U06",
    ),
    Option(
        "--channel", "Array channel (CH1..CH4) with --mic U0x; ignored for binaural.", type=int, default=1, min=1, max=4
    ),
    Option(
        "--split",
        "Prepare only these splits (repeatable). Default: train, dev and eval (those present).",
        dest="splits",
        choices=tuple(SPLITS),
        multiple=True,
    ),
    Option(
        "--uem",
        "Kaldi track-2 UEM (<session>_<array> 1 <start s> <end s>) for dev/eval. Default: the "
        "official starts (S01 0, S02 75, S09 64, S21 59 seconds) to the end of the file.",
        dest="uem_file",
        type="file",
    ),
    Option(
        "--references",
        "Speaker turns of dev/eval: json = the transcription utterances; rttm = the track-2 "
        "forced-alignment RTTMs (nateanl/chime6_rttm, used by Kaldi's s5_track2; train keeps "
        "json). Stored on each cut (custom 'reference') and named in the dataset card.",
        choices=REFERENCES,
        default="json",
    ),
    Option(
        "--rttm-dir",
        "Folder of dev_rttm / eval_rttm for --references rttm. Default: CORPUS_DIR/chime6_rttm.",
        type="dir",
    ),
)
NAME_HELP = "Default: chime6-<mic> (chime6-<mic>-ch<N> for channel N > 1)."


def output_name(mic: str = "U06", channel: int = 1, **_) -> str:
    """Prefix of the output files (:func:`manifest_name`)."""
    return manifest_name(mic, channel)


__all__ = [
    "download_chime6",
    "prepare_chime6",
    "read_transcription",
    "hms_to_seconds",
    "session_of",
    "track2_uem",
    "manifest_name",
]
