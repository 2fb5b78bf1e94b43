"""AMI Meeting Corpus with the BUT diarization references (Full-corpus-ASR partition).

The AMI corpus (CC BY 4.0) has about 100 h of meetings with 3-5 participants,
recorded with headsets and two 8-microphone arrays at 16 kHz. For diarization we
use the references of the BUT setup (github.com/BUTSpeechFIT/AMI-diarization-setup,
commit pinned in ``conf/corpora/ami.yaml``), generated from the AMI manual
annotations 1.6.2: 136 train / 18 dev / 16 test meetings.

On-disk layout (``CORPUS_DIR``; what :func:`download_ami` writes)::

    CORPUS_DIR/
      amicorpus/                           audio, the layout of the official AMI download script
                                           (Lhotse's download_ami writes wav_db/ instead: read too)
        ES2011a/audio/ES2011a.Mix-Headset.wav    mic ihm-mix
        ES2011a/audio/ES2011a.Array1-01.wav      mic sdm (mdm: Array1-01 .. Array1-08)
        ...
      AMI-diarization-setup/               the BUT setup (same paths as the repository)
        lists/{train,dev,test}.meetings.txt        one meeting id per line
        uems/{train,dev,test}/<meeting>.uem        '<meeting> 1 <start> <end>' (seconds)
        only_words/rttms/{train,dev,test}/<meeting>.rttm
        word_and_vocalsounds/rttms/{train,dev,test}/<meeting>.rttm

Annotations: RTTM ``SPEAKER <meeting> 1 <onset> <dur> <NA> <NA> <speaker> <NA> <NA>``
(seconds), speaker ids are AMI's global participant ids (``FEE005``,
``MTD026UID``), so they are used as they are. BUT built ``only_words`` from the
word timings: consecutive words of one speaker form one turn only when they
touch (any pause splits the turn); ``word_and_vocalsounds`` also counts
annotated vocal sounds (laughs, ...) as speech. One UEM per meeting covers the
whole recording.

Rules applied here (all through :func:`recipes.corpora.common.build_manifests`):

- one recording per meeting and mic; ``mdm`` is ONE recording of 8 sources
  (channels 0-7 = Array1-01 .. Array1-08) and gives ``MultiCut`` s over
  channels 0-7; when the 8 files differ in length the shortest is used (noted);
- turns past the recording end are clipped and listed in the report (the real
  ``train/TS3007c`` turns run up to 10 s past its UEM end 2420.0 s);
- split lists give the splits; a listed meeting without audio or without an
  RTTM is left out of its split and listed in the report;
- ``duration_from_annotations``: the duration is the UEM end (else the last
  turn end) instead of the audio header, for stand-in audio.

Outputs: ``ami-<mic>_{recordings,supervisions,cuts}_{train,dev,test}.jsonl.gz``,
``ami-<mic>_<split>.uem`` and ``ami-<mic>_prepare_report.txt``. Times in seconds.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Dict, List, Mapping, Optional, Sequence, Tuple

if TYPE_CHECKING:  # Lhotse is imported where used (`diar prepare <corpus> --help` needs no torch)
    from lhotse import Recording
from tqdm import tqdm

from recipes.corpora import common
from recipes.corpora.common import Option, PrepareReport
from recipes.corpora.config import load_corpus_config
from recipes.download import download_each, download_file
from recipes.rttm import group_by_recording, read_rttm, read_uem

logger = logging.getLogger(__name__)

CONFIG = load_corpus_config("ami")
MICS: Dict[str, List[str]] = CONFIG["mics"]
ANNOTATIONS: List[str] = CONFIG["annotations"]
SPLITS: List[str] = CONFIG["splits"]
# recipe defaults (ours, not facts of the release)
DEFAULT_MIC = "sdm"  # one distant mic, Array1-01
DEFAULT_ANNOTATIONS = "only_words"  # the BUT flavour without vocal sounds
AUDIO_DIR = "amicorpus"
SETUP_DIR = "AMI-diarization-setup"


AUDIO_DIRS = (AUDIO_DIR, "wav_db")  # amicorpus/: the official AMI script; wav_db/: lhotse.recipes.ami.download_ami
# The release has no array audio for these meetings (headsets only): sdm/mdm train has 134 meetings, not 136
NO_ARRAY_AUDIO = tuple(CONFIG["no_array_audio"])


def audio_path(corpus_dir, meeting: str, stream: str) -> Path:
    """``CORPUS_DIR/amicorpus/<meeting>/audio/<meeting>.<stream>.wav``, or the same under
    ``CORPUS_DIR/wav_db/`` (a corpus downloaded by Lhotse) when only that exists."""
    rel = Path(meeting) / "audio" / f"{meeting}.{stream}.wav"
    for d in AUDIO_DIRS:
        if (Path(corpus_dir) / d / rel).is_file():
            return Path(corpus_dir) / d / rel
    return Path(corpus_dir) / AUDIO_DIR / rel


def setup_files(meetings_by_split: Mapping[str, Sequence[str]], annotations: str) -> List[str]:
    """Relative paths (in the BUT repository) of the UEM and RTTM of every listed meeting."""
    out = []
    for split, meetings in meetings_by_split.items():
        for m in meetings:
            out.append(f"uems/{split}/{m}.uem")
            out.append(f"{annotations}/rttms/{split}/{m}.rttm")
    return out


# ---------------------------------------------------------------------------
# download


def download_ami(
    target_dir,
    mic: str = DEFAULT_MIC,
    annotations: str = DEFAULT_ANNOTATIONS,
    splits: Sequence[str] = tuple(SPLITS),
    meetings: Optional[Sequence[str]] = None,
    setup_base_url: Optional[str] = None,
    base_url: Optional[str] = None,
    sha256: Optional[Mapping[str, str]] = None,
    force: bool = False,
    progress: bool = True,
) -> Path:
    """Download the BUT references and the ``mic`` audio of every listed meeting into ``target_dir``.

    :param setup_base_url: where the BUT repository files are (default: the
        pinned raw GitHub URL of ``conf/corpora/ami.yaml``).
    :param base_url: audio base URL (default: the AMI mirror; files are
        ``<base_url>/<meeting>/audio/<meeting>.<stream>.wav``).
    :param meetings: only these meetings (default: every meeting of ``splits``).
    :param sha256: relative path under ``target_dir`` -> expected sha256, for
        the files that have one (AMI publishes none; tests and mirrors may).
    :return: ``target_dir``. Audio files that the server does not have (HTTP
        404) are logged and skipped; :func:`prepare_ami` reports the meetings.
    """
    if mic not in MICS:
        raise ValueError(f"unknown mic {mic!r}; expected one of {', '.join(MICS)}")
    if annotations not in ANNOTATIONS:
        raise ValueError(f"unknown annotations {annotations!r}; expected one of {', '.join(ANNOTATIONS)}")
    target = Path(target_dir)
    setup_url = (setup_base_url or CONFIG["setup_base_url"]).rstrip("/")
    audio_url = (base_url or CONFIG["audio_base_url"]).rstrip("/")
    sha256 = dict(sha256 or {})

    def get(url, rel):
        return download_file(url, target / rel, sha256=sha256.get(rel), force=force, progress=progress)

    by_split = {}
    for split in splits:
        rel = f"{SETUP_DIR}/lists/{split}.meetings.txt"
        by_split[split] = common.read_id_list(get(f"{setup_url}/lists/{split}.meetings.txt", rel))
        if meetings is not None:
            by_split[split] = [m for m in by_split[split] if m in set(meetings)]
    for rel in tqdm(setup_files(by_split, annotations), desc="BUT references", disable=not progress):
        get(f"{setup_url}/{rel}", f"{SETUP_DIR}/{rel}")
    all_meetings = sorted({m for ms in by_split.values() for m in ms})
    urls = {
        audio_path("", m, stream).as_posix(): f"{audio_url}/{m}/audio/{m}.{stream}.wav"
        for m in all_meetings
        for stream in MICS[mic]
    }
    download_each(
        urls,
        lambda rel: get(urls[rel], rel),
        f"AMI audio ({mic})",
        progress,
        note="their meetings will be reported by prepare",
    )
    return target


# ---------------------------------------------------------------------------
# prepare


def _recording(meeting: str, paths: List[Path]) -> Tuple[Recording, Optional[str]]:
    """One recording of ``paths`` (one mono file per channel, in channel order)."""
    if len(paths) == 1:
        return common.open_recording(paths[0], meeting), None
    return common.multi_file_recording(meeting, paths)


def prepare_ami(
    corpus_dir,
    mic: str = DEFAULT_MIC,
    annotations: str = DEFAULT_ANNOTATIONS,
    setup_dir=None,
    splits: Sequence[str] = tuple(SPLITS),
    duration_from_annotations: bool = False,
    progress: bool = True,
):
    """Manifests of the AMI meetings of ``splits`` for ``mic`` (see the module docstring).

    :param corpus_dir: holds ``amicorpus/`` (audio) and, unless ``setup_dir`` is
        given, ``AMI-diarization-setup/``.
    :param setup_dir: the BUT setup (lists/, uems/, <annotations>/rttms/).
    :return: ``(common.build_manifests result, PrepareReport)``.
    """
    if mic not in MICS:
        raise ValueError(f"unknown mic {mic!r}; expected one of {', '.join(MICS)}")
    if annotations not in ANNOTATIONS:
        raise ValueError(f"unknown annotations {annotations!r}; expected one of {', '.join(ANNOTATIONS)}")
    corpus_dir = Path(corpus_dir)
    setup = Path(setup_dir) if setup_dir else corpus_dir / SETUP_DIR
    if not setup.is_dir():
        raise FileNotFoundError(f"BUT AMI setup directory {setup} does not exist")
    report = PrepareReport()
    listed: Dict[str, List[str]] = {}
    rttm_files, uem = [], {}
    for split in splits:
        list_file = setup / "lists" / f"{split}.meetings.txt"
        if not list_file.is_file():
            raise FileNotFoundError(f"split list {list_file} does not exist")
        listed[split] = common.read_id_list(list_file)
        for m in listed[split]:
            rttm = setup / annotations / "rttms" / split / f"{m}.rttm"
            if rttm.is_file():
                rttm_files.append(rttm)
            else:
                report.notes.append(f"{split}/{m}: no RTTM {rttm}; left out")
            uem_file = setup / "uems" / split / f"{m}.uem"
            if uem_file.is_file():
                uem.update(read_uem(uem_file))
            else:
                report.notes.append(f"{split}/{m}: no UEM {uem_file}; the whole recording is scored")
    if not rttm_files:
        raise FileNotFoundError(f"no RTTM of the listed meetings under {setup / annotations / 'rttms'}")
    turns, rttm_report = read_rttm(rttm_files)
    report.annotation_summary = f"{annotations}: " + rttm_report.summary()
    by_rec = group_by_recording(turns)
    for f in rttm_files:  # an RTTM whose file id is not its meeting would silently miss its audio
        if f.stem not in by_rec:
            report.notes.append(f"{f}: no turn for meeting {f.stem} (empty, or another file id)")

    streams = MICS[mic]
    recordings = {}
    for m in tqdm(sorted(by_rec), desc=f"AMI audio headers ({mic})", disable=not progress):
        paths = [audio_path(corpus_dir, m, s) for s in streams]
        absent = [p for p in paths if not p.is_file()]
        if absent:
            report.annotations_without_audio.append(
                m + (f" (missing {', '.join(p.name for p in absent)})" if len(absent) < len(paths) else "")
            )
            continue
        rec, note = _recording(m, paths)
        if note:
            report.notes.append(note)
        if duration_from_annotations:
            end = max(e for _, e in uem[m]) if m in uem else max(t.end for t in by_rec[m])
            rec = common.with_duration(rec, end)
        recordings[m] = rec
    found = {p.parent.parent.name for d in AUDIO_DIRS for p in (corpus_dir / d).glob(f"*/audio/*.{streams[0]}.wav")}
    lacking = sorted(m for m in NO_ARRAY_AUDIO if m in by_rec) if mic != "ihm-mix" else []
    if lacking:
        report.notes.append(
            f"the AMI release has no array audio for {', '.join(lacking)} (headsets only): not in the {mic} manifests"
        )
    # meetings of splits not requested here are not "audio without annotations"
    other = {
        m
        for s in SPLITS
        if s not in listed and (setup / "lists" / f"{s}.meetings.txt").is_file()
        for m in common.read_id_list(setup / "lists" / f"{s}.meetings.txt")
    }
    report.audio_without_annotations = sorted(found - set(by_rec) - other)
    report.log_unmatched()

    split_ids = {}
    for split, ids in listed.items():
        split_ids[split] = [m for m in ids if m in recordings]
        for m in ids:
            if m not in recordings and m in by_rec:
                report.notes.append(f"{split}/{m}: listed, no audio; left out of the split")
    result = common.build_manifests(
        recordings,
        turns,
        report,
        uem={m: uem[m] for m in recordings if m in uem},
        splits=split_ids,
        channel=list(range(len(streams))) if len(streams) > 1 else 0,
    )
    return result, report


# ---------------------------------------------------------------------------
# command-line declarations (built into click commands by recipes.cli_corpora)

_MIC = Option(
    "--mic",
    "ihm-mix: Mix-Headset.wav; sdm: Array1-01.wav; mdm: Array1-01..08.wav as one "
    "8-channel recording (MultiCut, channels 0-7).",
    choices=tuple(MICS),
    default=DEFAULT_MIC,
)
_ANNOTATIONS = Option(
    "--annotations",
    "BUT reference flavour: words only, or words and vocal sounds.",
    choices=tuple(ANNOTATIONS),
    default=DEFAULT_ANNOTATIONS,
)
CORPUS_DIR_HELP = (
    "Link this existing copy (amicorpus/ or Lhotse's wav_db/, + AMI-diarization-setup/) as TARGET_DIR "
    "instead of downloading."
)
DOWNLOAD_HELP = """Download AMI audio for one mic and the BUT references into TARGET_DIR (resumable, no checksums
    published), or link an existing copy with --corpus-dir."""
DOWNLOAD_OPTIONS = (
    _MIC,
    _ANNOTATIONS,
    Option(
        "--meeting",
        "Download only this meeting id (repeatable). Default: every meeting of the split lists.",
        dest="meetings",
        multiple=True,
    ),
    Option(
        "--setup-base-url",
        "Base URL of the BUT setup files. Default: the pinned commit's raw URL in conf/corpora/ami.yaml.",
    ),
    Option("--base-url", "Base URL of the AMI audio. Default: the AMI mirror in conf/corpora/ami.yaml."),
    Option("--force", "Download again files that are already there.", type=bool),
)
PREPARE_HELP = """AMI CORPUS_DIR (audio + BUT references) -> speaker-turn manifests in OUTPUT_DIR.

    Writes OUTPUT_DIR/ami-<mic>_{recordings,supervisions,cuts}_<split>.jsonl.gz,
    ami-<mic>_<split>.uem and ami-<mic>_prepare_report.txt (meetings without
    audio or annotations, turns clipped to the recording end)."""
PREPARE_OPTIONS = (
    _MIC,
    _ANNOTATIONS,
    Option(
        "--setup-dir",
        "BUT setup directory (lists/, uems/, <annotations>/rttms/). Default: CORPUS_DIR/AMI-diarization-setup.",
        type="dir",
    ),
    Option(
        "--split",
        "Prepare only this split (repeatable). Default: train, dev and test.",
        dest="splits",
        choices=tuple(SPLITS),
        multiple=True,
    ),
)
NAME_HELP = "Default: ami-<mic>."


def output_name(mic: str = DEFAULT_MIC, **_) -> str:
    """Prefix of the output files: ``ami-<mic>``."""
    return f"ami-{mic}"
