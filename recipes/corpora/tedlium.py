"""TED-LIUM release 2 and 3 (LIUM; CC BY-NC-ND 3.0) as single-speaker sources for simulation.

TED talks with aligned transcripts: release 2 has 1,495 talks (train) plus
the 19 dev/test talks; release 3 has 2,351 talks (452 h) and two split
layouts. One talk has one speaker, so every STM segment is a single-speaker
utterance with a global speaker id: the input of ``diar simulate`` (stage 2 of
``egs/mini_librispeech_sim/run.sh`` takes any such CutSet). This is not a
diarization corpus.

On-disk layout (the openslr archives, extracted; ``CORPUS_DIR`` may also be
the release folder itself)::

    CORPUS_DIR/TEDLIUM_release2/               --release v2 (openslr 19)
      {train,dev,test}/sph/<talk>.sph
      {train,dev,test}/stm/<talk>.stm
    CORPUS_DIR/TEDLIUM_release-3/              --release v3 (openslr 51)
      data/{sph,stm}/<talk>.{sph,stm}          all 2,351 talks   (--distribution all, split 'all')
      legacy/{train,dev,test}/{sph,stm}/        TED-LIUM 2 dev/test (--distribution legacy, default)
      speaker-adaptation/{train,dev,test}/{sph,stm}/            (--distribution speaker-adaptation)

Audio: NIST SPHERE, 16 kHz, 1 channel, 16-bit PCM (not shorten-compressed).
Lhotse decodes ``.sph`` only through the ``sph2pipe`` binary (``lhotse
install-sph2pipe``); ``sph_decoder``: ``sph2pipe`` (Lhotse's reader; a clear
error when the binary is not on PATH), ``soundfile`` (libsndfile reads the
SPHERE header and the PCM payload; the recording's audio source is then a
``command`` that decodes the whole talk with Python + soundfile on each load,
slower for many short reads: enable ``lhotse.set_caching_enabled(True)``), or
``auto`` (default: sph2pipe when found, else soundfile).

Annotation format: STM, one segment per line, whitespace-separated:
``<talk> <channel> <speaker> <start s> <end s> <label> <words...>``, e.g.
``AaronHuey_2010X 1 AaronHuey_2010X 17.82 28.81 <o,f0,male> america 's ...``.
Gaps are marked ``<talk> 1 inter_segment_gap <start> <end> <o,,unknown>
ignore_time_segment_in_scoring``.

Rules applied (times in seconds):

- one recording per talk (id = the STM file id); one supervision per STM
  segment, speaker = the STM speaker field (the talk id, global across
  releases); ``ignore_time_segment_in_scoring`` lines are excluded and
  counted in the report; a segment with ``end <= start`` is skipped and
  listed; a line with fewer than 6 fields or a bad time is an
  :class:`recipes.rttm.AnnotationError` naming file and line;
- the cuts (``<name>_cuts_<split>.jsonl.gz``) are one ``MonoCut`` per segment
  spanning it, with that one supervision (``trim_to_supervisions``), custom
  field ``uem`` = the cut's span in recording time; the recordings and
  supervisions manifests are per talk;
- an STM without SPHERE file, or a SPHERE file without STM, is listed in the
  report;
- ``duration_from_annotations``: the talk duration is the last STM end time
  (any line) instead of the SPHERE header.

Outputs: ``tedlium-v2_*`` / ``tedlium-v3_*`` (``tedlium-v3-sa_*`` for the
speaker-adaptation distribution, ``tedlium-v3-all_*`` for ``data/``):
``{recordings,supervisions,cuts}_{train,dev,test}.jsonl.gz``, ``.uem``,
``_prepare_report.txt``.

Differences from ``lhotse.recipes.tedlium`` / ``tedlium2``: the same segments
and speakers (Lhotse also uses the talk as speaker and drops the ignore
lines); Lhotse asserts that every STM has a SPHERE file (here: reported), has
no per-utterance CutSet, and needs sph2pipe.
"""

from __future__ import annotations

import logging
import shlex
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Dict, List, Optional, Sequence, Tuple

import soundfile

if TYPE_CHECKING:  # Lhotse is imported where used (`diar prepare <corpus> --help` needs no torch)
    from lhotse import Recording

from recipes.corpora import common
from recipes.corpora.common import Option, PrepareReport
from recipes.corpora.config import load_corpus_config
from recipes.download import download_archive
from recipes.rttm import AnnotationError, Turn

logger = logging.getLogger(__name__)

RELEASE_DIRS = {"v2": "TEDLIUM_release2", "v3": "TEDLIUM_release-3"}
DISTRIBUTIONS = ("legacy", "speaker-adaptation", "all")
SPLITS = ("train", "dev", "test")
IGNORE = "ignore_time_segment_in_scoring"
SPH_DECODERS = ("auto", "sph2pipe", "soundfile")
_DECODE_SCRIPT = (
    "import io,sys,soundfile as s;d,r=s.read(sys.argv[1],dtype='int16');b=io.BytesIO();"
    "s.write(b,d,r,format='WAV',subtype='PCM_16');sys.stdout.buffer.write(b.getvalue())"
)


def manifest_name(release: str, distribution: str = "legacy") -> str:
    suffix = {"legacy": "", "speaker-adaptation": "-sa", "all": "-all"}[distribution]
    return f"tedlium-{release}" + (suffix if release == "v3" else "")


def split_dirs(corpus_dir, release: str, distribution: str = "legacy") -> Dict[str, Path]:
    """``{split: folder holding sph/ and stm/}`` for a release and distribution (existing folders only)."""
    if release not in RELEASE_DIRS:
        raise ValueError(f"unknown release {release!r}; expected v2 or v3")
    if distribution not in DISTRIBUTIONS:
        raise ValueError(f"unknown distribution {distribution!r}; expected one of {', '.join(DISTRIBUTIONS)}")
    corpus_dir = Path(corpus_dir)
    root = corpus_dir / RELEASE_DIRS[release]
    if not root.is_dir():
        root = corpus_dir
    if release == "v2":
        if distribution != "legacy":
            raise ValueError("TED-LIUM 2 has one distribution (train/dev/test); --distribution is for v3")
        dirs = {s: root / s for s in SPLITS}
    elif distribution == "all":
        dirs = {"all": root / "data"}
    else:
        dirs = {s: root / distribution / s for s in SPLITS}
    found = {s: d for s, d in dirs.items() if (d / "stm").is_dir() or (d / "sph").is_dir()}
    if not found:
        raise FileNotFoundError(
            f"no TED-LIUM {release} {distribution} folders ({', '.join(str(d) for d in dirs.values())}) "
            f"with sph/ or stm/ under {corpus_dir}"
        )
    return found


def read_stm(path, report: PrepareReport) -> Tuple[List[Turn], int, float]:
    """``(turns, ignored lines, last end time)`` of one STM file (see the module docstring)."""
    path = Path(path)
    turns, ignored, last_end = [], 0, 0.0
    with open(path, encoding="utf-8", errors="strict") as f:
        try:
            lines = f.read().splitlines()
        except UnicodeDecodeError as e:
            raise AnnotationError(path, 1, f"invalid UTF-8 ({e.reason})", "a UTF-8 STM file") from None
    for lineno, line in enumerate(lines, start=1):
        fields = line.split()
        if not fields or fields[0].startswith(";;"):
            continue
        if len(fields) < 6:
            raise AnnotationError(
                path, lineno, f"{len(fields)} field(s)", "<talk> <channel> <speaker> <start> <end> <label> [words]"
            )
        start, end = common.read_times(path, lineno, fields[3], fields[4])
        if start < 0:
            raise AnnotationError(path, lineno, f"start {start}", "a non-negative start time (seconds)")
        last_end = max(last_end, end)
        if " ".join(fields[6:]) == IGNORE:
            ignored += 1
            continue
        if end <= start:
            report.notes.append(f"{path}:{lineno}: segment with end {end} <= start {start} skipped")
            continue
        turns.append(Turn(fields[0], start, end, fields[2], fields[1]))
    return turns, ignored, last_end


def sph_recording(path: Path, rec_id: str, decoder: str) -> Recording:
    """A Recording of a SPHERE file read by ``decoder`` (``sph2pipe`` or ``soundfile``)."""
    from lhotse import Recording
    from lhotse.audio import AudioSource

    if decoder == "sph2pipe":
        if shutil.which("sph2pipe") is None:
            raise RuntimeError(
                f"cannot read {path}: Lhotse decodes .sph only through the sph2pipe binary, which is not on "
                "PATH; install it with `lhotse install-sph2pipe` and add its folder to PATH, "
                "or use --sph-decoder soundfile"
            )
        return common.open_recording(path, rec_id)
    try:
        info = soundfile.info(str(path))
    except Exception as e:  # noqa: BLE001 - libsndfile error
        raise RuntimeError(
            f"cannot read {path} with libsndfile ({e}); a shorten-compressed SPHERE file needs "
            "sph2pipe (`lhotse install-sph2pipe`, then --sph-decoder sph2pipe)"
        ) from e
    cmd = " ".join(shlex.quote(x) for x in (sys.executable, "-c", _DECODE_SCRIPT, str(path.resolve())))
    return Recording(
        id=rec_id,
        sources=[AudioSource(type="command", channels=list(range(info.channels)), source=cmd)],
        sampling_rate=info.samplerate,
        num_samples=info.frames,
        duration=info.frames / info.samplerate,
    )


def resolve_sph_decoder(decoder: str) -> str:
    if decoder not in SPH_DECODERS:
        raise ValueError(f"unknown sph decoder {decoder!r}; expected one of {', '.join(SPH_DECODERS)}")
    if decoder == "auto":
        return "sph2pipe" if shutil.which("sph2pipe") else "soundfile"
    return decoder


# ---------------------------------------------------------------------------
# download


def download_tedlium(
    target_dir,
    release: str = "v3",
    base_url: Optional[str] = None,
    sha256: Optional[str] = None,
    force: bool = False,
    progress: bool = True,
) -> Path:
    """Download the release archive (v2: TEDLIUM_release2.tar.gz, 35 GB; v3:
    TEDLIUM_release-3.tgz, 51 GB) into ``target_dir/downloads/`` (resumable
    ``.part``) and extract it into ``target_dir``. ``base_url`` replaces the
    directory of the URL (same file name). No checksum is published, so by
    default only the size is checked. Returns ``target_dir``."""
    conf = load_corpus_config("tedlium")
    if release not in conf["releases"]:
        raise ValueError(f"unknown release {release!r}; expected one of {', '.join(conf['releases'])}")
    download_archive(
        conf["releases"][release], target_dir, base_url=base_url, sha256=sha256, force=force, progress=progress
    )
    return Path(target_dir)


# ---------------------------------------------------------------------------
# prepare


def prepare_tedlium(
    corpus_dir,
    release: str = "v3",
    distribution: str = "legacy",
    splits: Optional[Sequence[str]] = None,
    sph_decoder: str = "auto",
    duration_from_annotations: bool = False,
    progress: bool = True,
) -> Tuple[Dict[str, Dict[str, object]], PrepareReport]:
    """Single-speaker utterance manifests of TED-LIUM (see the module docstring).

    :param release: ``v2`` or ``v3``.
    :param distribution: v3 only: ``legacy`` (default), ``speaker-adaptation`` or ``all`` (``data/``).
    :param splits: only these splits (default: every split folder found).
    :param sph_decoder: ``auto``, ``sph2pipe`` or ``soundfile`` (see the module docstring).
    :param duration_from_annotations: talk duration = last STM end time (seconds) instead of the
        SPHERE header (stand-in audio).
    :return: ``({split: {...}}, report)``; the split's ``cuts`` are one cut per segment.
    """
    decoder = resolve_sph_decoder(sph_decoder)
    dirs = split_dirs(corpus_dir, release, distribution)
    if splits:
        unknown = [s for s in splits if s not in dirs]
        if unknown:
            raise ValueError(f"split(s) {unknown} not found; found {sorted(dirs)}")
        dirs = {s: d for s, d in dirs.items() if s in splits}
    report = PrepareReport()
    turns: List[Turn] = []
    split_of: Dict[str, str] = {}
    last_end: Dict[str, float] = {}
    audio: Dict[str, Path] = {}
    summaries = []
    for split, d in dirs.items():
        n_turns, n_ignored, stms = 0, 0, sorted((d / "stm").glob("*.stm"))
        for stm in stms:
            t, ignored, end = read_stm(stm, report)
            n_turns += len(t)
            n_ignored += ignored
            ids = {x.recording_id for x in t} or {stm.stem}
            for rec_id in ids:
                other = split_of.setdefault(rec_id, split)
                if other != split:
                    raise ValueError(f"talk {rec_id} is in both {other} and {split} ({stm})")
                last_end[rec_id] = max(last_end.get(rec_id, 0.0), end)
            turns.extend(t)
        for sph in sorted((d / "sph").glob("*.sph")):
            audio.setdefault(sph.stem, sph)
        summaries.append(
            f"{split}: {len(stms)} STM files, {n_turns} segments, "
            f"{n_ignored} ignore_time_segment_in_scoring lines excluded"
        )
    report.annotation_summary = "; ".join(summaries)
    annotated = {t.recording_id for t in turns}
    for rec_id in sorted(set(split_of) - annotated):
        report.notes.append(f"{rec_id}: STM without any scored segment")
    none_matched = f"no STM segment of {', '.join(map(str, dirs.values()))} matches a SPHERE file"
    rec_ids = common.match_audio(report, annotated, audio, listed=split_of, none_matched=none_matched)

    recordings = common.read_recordings(
        audio,
        rec_ids,
        f"TED-LIUM {release} SPHERE headers",
        progress,
        read=lambda path, rec_id: sph_recording(path, rec_id, decoder),
        durations=last_end if duration_from_annotations else None,
    )
    split_ids = {s: [r for r in rec_ids if split_of[r] == s] for s in dirs}
    split_ids = {s: ids for s, ids in split_ids.items() if ids}
    result = common.build_manifests(recordings, turns, report, splits=split_ids)
    for parts in result.values():
        parts["cuts"] = utterance_cuts(parts["cuts"])
    return result, report


def utterance_cuts(cuts):
    """One MonoCut per supervision, spanning it, with that supervision only; custom ``uem`` = its span."""
    from lhotse import CutSet
    from lhotse.utils import fastcopy

    out = []
    for cut in cuts.trim_to_supervisions(keep_overlapping=False):
        custom = dict(cut.custom or {})
        custom["uem"] = [[round(cut.start, 6), round(cut.start + cut.duration, 6)]]
        out.append(fastcopy(cut, custom=custom))
    return CutSet.from_cuts(out)


# ---------------------------------------------------------------------------
# command-line declarations (built into click commands by recipes.cli_corpora)

_RELEASE = Option(
    "--release",
    "TED-LIUM release: v2 (TEDLIUM_release2) or v3 (TEDLIUM_release-3).",
    choices=tuple(RELEASE_DIRS),
    default="v3",
)
CORPUS_DIR_HELP = (
    "Link this existing copy (holding TEDLIUM_release2/ or TEDLIUM_release-3/) as TARGET_DIR "
    "instead of downloading. Default: download."
)
DOWNLOAD_HELP = "Download TED-LIUM (v2: 35 GB, v3: 51 GB, from openslr) into TARGET_DIR and extract it."
DOWNLOAD_OPTIONS = (
    _RELEASE,
    Option("--base-url", "Mirror replacing the directory of the openslr URL (same file name). Default: openslr.org."),
    Option("--force", "Download again even when the archive exists. Default: off.", type=bool),
)
PREPARE_HELP = """TED-LIUM CORPUS_DIR -> single-speaker utterance manifests in OUTPUT_DIR (sources for `diar simulate`).

    Cuts: one per STM segment (ignore_time_segment_in_scoring lines excluded), speaker = the talk
    (STM speaker field). Times in seconds.
    """
PREPARE_OPTIONS = (
    _RELEASE,
    Option(
        "--distribution",
        "v3 only: legacy/{train,dev,test}, speaker-adaptation/{train,dev,test}, or all (data/, split 'all').",
        choices=tuple(DISTRIBUTIONS),
        default="legacy",
    ),
    Option(
        "--split",
        "Prepare only this split (repeatable). Default: every split folder found.",
        dest="splits",
        multiple=True,
    ),
    Option(
        "--sph-decoder",
        "sph2pipe: Lhotse's reader (needs the sph2pipe binary on PATH, `lhotse "
        "install-sph2pipe`); soundfile: libsndfile via a Python command source (PCM SPHERE "
        "only, decodes the whole talk per load); auto: sph2pipe when on PATH, else soundfile.",
        choices=tuple(SPH_DECODERS),
        default="auto",
    ),
)
NAME_HELP = "Default: tedlium-<release>[-sa|-all]."


def output_name(release: str = "v3", distribution: str = "legacy", **_) -> str:
    """Prefix of the output files (:func:`manifest_name`)."""
    return manifest_name(release, distribution)


__all__ = [
    "download_tedlium",
    "prepare_tedlium",
    "read_stm",
    "split_dirs",
    "sph_recording",
    "utterance_cuts",
    "manifest_name",
]
