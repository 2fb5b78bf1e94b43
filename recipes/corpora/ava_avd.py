"""AVA-AVD: audio-visual speaker diarization in the wild (Xu et al., ACM MM 2022).

117 movies of AVA-ActiveSpeaker / AVA v2, three consecutive clips of about 5
minutes from each movie's annotated 15-minute window (about 900-1800 s of the
movie): 351 clips, split 243 train / 54 val / 54 test by the lists of github
``zcxu-eric/AVA-AVD``. Lhotse has no AVA-AVD recipe.

On-disk layout (the repository's ``dataset/`` folder; CORPUS_DIR is that
folder or its parent)::

    dataset/
      split/train.list  val.list  test.list    clip ids, one per line (last line without newline)
      split/video.list                         <video_id>.<ext> (mp4, mkv, webm), one per line
      split/offsets.txt                        '<clip_id> <seconds>': clip start in the movie
      rttms/<clip_id>.rttm                     speaker turns (annotations.tar.gz)
      videos/<video_id>.<ext>                  the AVA movies (s3 ava-dataset/trainval)
      waves/<clip_id>.wav                      clip audio, extracted here (or pass audio_dir)

Clip ids are ``<video_id>_c_<NN>`` (``NN`` = 01, 02, 03); the 11-character
YouTube video id may start with ``-`` (``-FaXLcSFjUI_c_01``), so every file
name is passed to ffmpeg as an absolute path and ids are never CLI arguments.

Annotation format: RTTM, ``SPEAKER <clip> 1 <onset s> <duration s> <NA> <NA>
<label> <NA> <NA>``, times in seconds **of the movie**, labels local to the
clip. The repository's ``dataset/scripts/preprocessing.py`` defines the clip
audio as the movie audio from the first turn start to the last turn end of
the clip's RTTM and writes that first start as the clip offset
(``offsets.txt``); its data loaders subtract the offset from RTTM times. This
recipe does the same:

- clip offset = ``offsets.txt`` entry when there is one, else the first turn
  start (the same definition; the GitHub copy of ``offsets.txt`` has 3 lines,
  the annotation tarball the rest); the report counts both kinds;
- clip length = last turn end - offset (seconds); turns are shifted by
  ``-offset`` into clip time, so supervisions start at 0 at the clip start;
  the offset stays on each cut (custom ``clip_offset``, seconds, and ``movie``),
  and ``diar export kaldi|pyannote --time-base movie`` writes RTTMs and UEMs in
  movie time again, as the official references and scorer use (so results
  compare with published numbers);
- the clip audio (16 kHz mono 16-bit WAV) is cut from the movie with ffmpeg
  (``-ss offset -t length``), written to ``<clip>.partial.wav`` and renamed
  when complete, so an existing ``<clip>.wav`` is always whole and is reused
  (idempotent, safe to kill); ffmpeg is needed only for clips whose WAV is
  missing;
- speaker id = ``global_speaker(<clip>, <label>)`` = ``<clip>_<label>``;
- the RTTM file name (not field 2) names the clip, as in the repository's
  loaders; a different field 2 is noted in the report;
- listed clips without RTTM or audio, RTTMs in no list, WAVs and movies
  without RTTM are listed in the report.

No UEM is shipped: the whole clip is scored.

Outputs: ``ava_avd_{recordings,supervisions,cuts}_{train,val,test}.jsonl.gz``,
``ava_avd_<split>.uem``, ``ava_avd_prepare_report.txt``.
"""

import logging
import shutil
import subprocess
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Tuple

from tqdm import tqdm

from recipes.corpora import common
from recipes.corpora.common import Option, PrepareReport
from recipes.corpora.config import load_corpus_config
from recipes.download import download_file, extract_archive
from recipes.fileio import atomic_path
from recipes.rttm import AnnotationError, Turn, read_rttm

logger = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
SAMPLING_RATE = 16000
VIDEO_EXTENSIONS = (".mp4", ".mkv", ".webm")
FFMPEG_HELP = (
    "install ffmpeg (apt-get install ffmpeg, conda install -c conda-forge ffmpeg or brew install ffmpeg) "
    "or pass --audio-dir with the extracted clip WAVs (<clip_id>.wav, 16 kHz mono)"
)


def video_of(clip_id: str) -> str:
    """``-FaXLcSFjUI_c_01`` -> ``-FaXLcSFjUI``."""
    video, sep, index = clip_id.rpartition("_c_")
    if not sep or not video or not index.isdigit():
        raise ValueError(f"clip id {clip_id!r} is not <video_id>_c_<NN>")
    return video


def dataset_dir(corpus_dir) -> Path:
    """CORPUS_DIR itself when it holds ``split/`` or ``rttms/``, else ``CORPUS_DIR/dataset``."""
    corpus_dir = common.corpus_path(corpus_dir)
    if (corpus_dir / "split").is_dir() or (corpus_dir / "rttms").is_dir():
        return corpus_dir
    if (corpus_dir / "dataset").is_dir():
        return corpus_dir / "dataset"
    raise FileNotFoundError(f"{corpus_dir}: expected the AVA-AVD dataset/ folder (split/, rttms/, videos/)")


# ---------------------------------------------------------------------------
# download


def download_ava_avd(
    target_dir,
    base_url: Optional[str] = None,
    annotations: Optional[str] = None,
    videos: bool = True,
    sha256: Optional[Mapping[str, str]] = None,
    force: bool = False,
    progress: bool = True,
) -> Path:
    """Fetch AVA-AVD into ``target_dir/dataset``: split lists, annotations, movies.

    :param base_url: a mirror holding ``split/<list>``, ``videos/<video file>`` and
        ``annotations.tar.gz`` (replaces every default URL; the tests' local server).
    :param annotations: URL or local path of ``annotations.tar.gz`` (Google Drive only,
        see conf/corpora/ava_avd.yaml); extracted into ``dataset/``. Without it (and
        without ``base_url``) a warning says how to get it.
    :param videos: download the 117 movies (tens of GB). Default True.
    :param sha256: ``{file name: digest}`` to verify (none are published).
    Each file goes through a resumable ``.part`` file renamed when complete.
    """
    conf = load_corpus_config("ava_avd")
    sha256 = dict(sha256 or {})
    data = Path(target_dir) / "dataset"
    split_base = f"{base_url.rstrip('/')}/split" if base_url else conf["split_base_url"]
    video_base = f"{base_url.rstrip('/')}/videos" if base_url else conf["video_base_url"]
    for name in conf["split_files"]:
        download_file(
            f"{split_base}/{name}", data / "split" / name, sha256=sha256.get(name), force=force, progress=progress
        )
    if annotations is None and base_url:
        annotations = f"{base_url.rstrip('/')}/annotations.tar.gz"
    if annotations is None:
        annotations = conf.get("annotations_url")
    if annotations:
        url = annotations if "://" in annotations else Path(annotations).resolve().as_uri()
        archive = download_file(
            url,
            Path(target_dir) / "downloads" / "annotations.tar.gz",
            sha256=sha256.get("annotations.tar.gz") or conf.get("annotations_sha256"),
            force=force,
            progress=progress,
        )
        extract_archive(archive, data)
    else:
        logger.warning(
            "annotations.tar.gz not fetched: it is on Google Drive only; run `gdown --id %s` and pass "
            "--annotations annotations.tar.gz",
            conf["annotations_gdrive_id"],
        )
    if videos:
        names = common.read_id_list(data / "split" / "video.list")
        for name in tqdm(names, desc="AVA-AVD movies", disable=not progress):
            download_file(
                f"{video_base}/{name}", data / "videos" / name, sha256=sha256.get(name), force=force, progress=progress
            )
    return Path(target_dir)


# ---------------------------------------------------------------------------
# audio extraction


def extract_clip_audio(video: Path, wav: Path, offset: float, duration: float, ffmpeg: Optional[str] = None) -> Path:
    """Cut ``[offset, offset + duration]`` seconds of ``video``'s audio into ``wav`` (16 kHz mono
    16-bit), through ``<clip>.partial.wav`` renamed when ffmpeg succeeded. An existing ``wav``
    is kept (it was renamed complete)."""
    wav = Path(wav)
    if wav.exists():
        return wav
    ffmpeg = ffmpeg or shutil.which("ffmpeg")
    if ffmpeg is None:
        raise RuntimeError(
            f"ffmpeg not found on PATH; it is needed to extract the clip audio {wav.name} from {video}: {FFMPEG_HELP}"
        )
    wav.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(wav, what=f"clip audio {wav.name}") as tmp:  # <clip>.partial.wav until ffmpeg succeeded
        # absolute paths: ids may start with '-', which ffmpeg would read as an option
        cmd = [
            ffmpeg,
            "-nostdin",
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-ss",
            f"{offset:.3f}",
            "-i",
            str(Path(video).resolve()),
            "-t",
            f"{duration:.3f}",
            "-vn",
            "-ac",
            "1",
            "-ar",
            str(SAMPLING_RATE),
            "-c:a",
            "pcm_s16le",
            str(tmp.resolve()),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(
                f"ffmpeg failed on {video} (clip {wav.stem}, {offset:.3f} s + {duration:.3f} s): "
                f"{proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else proc.returncode}"
            )
    return wav


# ---------------------------------------------------------------------------
# prepare


def read_offsets(path) -> Dict[str, float]:
    """``offsets.txt``: ``<clip_id> <seconds>`` per line (last line may lack a newline)."""
    offsets: Dict[str, float] = {}
    path = Path(path)
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        try:
            if len(fields) != 2:
                raise ValueError
            value = float(fields[1])
        except ValueError:
            raise AnnotationError(path, lineno, f"{line.strip()!r}", "'<clip_id> <offset seconds>'") from None
        offsets[fields[0]] = value
    return offsets


def _read_clip_rttms(rttm_dir: Path, report: PrepareReport) -> Dict[str, List[Turn]]:
    """``{clip id: turns in movie time}``, clip id = RTTM file stem."""
    clips: Dict[str, List[Turn]] = {}
    files = sorted(rttm_dir.glob("*.rttm"))
    merged = lines = 0
    for path in tqdm(files, desc="AVA-AVD RTTMs", disable=len(files) < 50):
        turns, rr = read_rttm(path)
        merged += rr.merged_self_overlaps
        lines += rr.lines
        clip = path.stem
        other = sorted({t.recording_id for t in turns} - {clip})
        if other:
            report.notes.append(f"{path}: file id(s) {', '.join(other)} in field 2; the file name {clip} is used")
        clips[clip] = [Turn(clip, t.start, t.end, common.global_speaker(clip, t.speaker), t.channel) for t in turns]
        if not turns:
            report.notes.append(f"{path}: no speaker turn (clip left out)")
    report.annotation_summary = (
        f"read {len(files)} RTTM file(s), {lines} SPEAKER line(s); merged {merged} same-speaker overlapping turn(s)"
    )
    if merged:
        report.notes.append(f"{merged} same-speaker overlapping turn(s) merged into their neighbours")
    return {c: t for c, t in clips.items() if t}


def _find_videos(data: Path) -> Dict[str, Path]:
    videos: Dict[str, Path] = {}
    vdir = data / "videos"
    if vdir.is_dir():
        for p in sorted(vdir.iterdir()):
            if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS:
                if p.stem in videos:
                    raise ValueError(f"two movie files for video {p.stem!r}: {videos[p.stem]} and {p}")
                videos[p.stem] = p
    return videos


def prepare_ava_avd(
    corpus_dir,
    audio_dir=None,
    extract: bool = True,
    duration_from_annotations: bool = False,
    progress: bool = True,
) -> Tuple[Dict[str, Dict[str, object]], PrepareReport]:
    """Manifests for the AVA-AVD clips (see the module docstring).

    :param audio_dir: folder of clip WAVs ``<clip_id>.wav``; missing ones are extracted there
        from the movies (needs ffmpeg). Default ``<dataset>/waves``.
    :param extract: extract missing clip WAVs (False: clips without WAV are reported).
    :param duration_from_annotations: clip length = last turn end - offset (seconds) instead of
        the WAV header (stand-in audio).
    :return: ``({"": ..., "train": ..., "val": ..., "test": ...}, report)``.
    """
    data = dataset_dir(corpus_dir)
    report = PrepareReport()
    rttm_dir = data / "rttms"
    if not rttm_dir.is_dir() or not any(rttm_dir.glob("*.rttm")):
        raise FileNotFoundError(f"no RTTM under {rttm_dir} (the rttms/ folder of annotations.tar.gz)")
    clips = _read_clip_rttms(rttm_dir, report)

    offsets_file = data / "split" / "offsets.txt"
    offsets = read_offsets(offsets_file) if offsets_file.is_file() else {}
    clip_offset, clip_length, shifted = {}, {}, []
    derived = 0
    for clip, turns in clips.items():
        first, last = min(t.start for t in turns), max(t.end for t in turns)
        if clip in offsets:
            offset = offsets[clip]
            if first < offset - 1e-3:
                report.notes.append(
                    f"{clip}: first turn at {first:.3f} s starts before the offset {offset:.3f} s "
                    f"in {offsets_file.name}; clipped"
                )
        else:
            offset, derived = first, derived + 1
        if last <= offset:
            report.notes.append(f"{clip}: every turn ends before the offset {offset:.3f} s (clip left out)")
            continue
        clip_offset[clip], clip_length[clip] = offset, last - offset
        shifted.extend(Turn(clip, t.start - offset, t.end - offset, t.speaker, t.channel) for t in turns)
    report.notes.append(
        f"clip offsets: {len(clip_offset) - derived} from {offsets_file.name}, {derived} = first "
        "turn start (the definition of the repository's preprocessing.py)"
    )

    audio_dir = Path(audio_dir) if audio_dir is not None else data / "waves"
    wavs = {p.stem: p for p in sorted(audio_dir.glob("*.wav"))} if audio_dir.is_dir() else {}
    wavs = {k: v for k, v in wavs.items() if not k.endswith(".partial")}
    videos = _find_videos(data)
    missing = [c for c in sorted(clip_offset) if c not in wavs]
    to_extract = [c for c in missing if extract and video_of(c) in videos]
    if to_extract:
        ffmpeg = shutil.which("ffmpeg")
        if ffmpeg is None:
            raise RuntimeError(
                f"ffmpeg not found on PATH; it is needed to extract the audio of {len(to_extract)} "
                f"clip(s) ({', '.join(to_extract[:3])}{' ...' if len(to_extract) > 3 else ''}) "
                f"from {data / 'videos'} into {audio_dir}: {FFMPEG_HELP}"
            )
        for clip in tqdm(to_extract, desc="AVA-AVD clip audio (ffmpeg)", disable=not progress):
            wavs[clip] = extract_clip_audio(
                videos[video_of(clip)], audio_dir / f"{clip}.wav", clip_offset[clip], clip_length[clip], ffmpeg=ffmpeg
            )
    report.annotations_without_audio = sorted(set(clip_offset) - set(wavs))
    with_rttm_videos = {video_of(c) for c in clips}
    report.audio_without_annotations = sorted(set(wavs) - set(clips)) + sorted(
        f"videos/{videos[v].name}" for v in set(videos) - with_rttm_videos
    )
    report.log_unmatched()
    rec_ids = sorted(set(clip_offset) & set(wavs))
    if not rec_ids:
        raise ValueError(
            f"no clip has both an RTTM in {rttm_dir} and audio in {audio_dir} (or a movie in {data / 'videos'})"
        )

    recordings = common.read_recordings(
        wavs, rec_ids, "AVA-AVD audio headers", progress, durations=clip_length if duration_from_annotations else None
    )

    splits = {}
    prepared = set(rec_ids)
    for split in SPLITS:
        list_file = data / "split" / f"{split}.list"
        if not list_file.is_file():
            report.notes.append(f"{list_file}: missing; no {split} split")
            continue
        ids = common.read_id_list(list_file)
        absent = [i for i in ids if i not in prepared]
        if absent:
            report.notes.append(
                f"{split}: {len(absent)} listed clip(s) not prepared (no RTTM or no audio): " + ", ".join(absent)
            )
        if any(i in prepared for i in ids):
            splits[split] = [i for i in ids if i in prepared]
    # the official references and scorer are in movie time: keep each clip's start in its movie
    result = common.build_manifests(
        recordings,
        shifted,
        report,
        splits=splits,
        custom={c: {"clip_offset": clip_offset[c], "movie": video_of(c)} for c in recordings},
    )
    return result, report


# ---------------------------------------------------------------------------
# command-line declarations (built into click commands by recipes.cli_corpora)

CORPUS_DIR_HELP = (
    "Link this existing copy (the repository's dataset/ folder or its parent) as TARGET_DIR "
    "instead of downloading. Default: download."
)
DOWNLOAD_HELP = "Download AVA-AVD (split lists, annotations, AVA movies) into TARGET_DIR/dataset."
DOWNLOAD_OPTIONS = (
    Option(
        "--base-url",
        "Mirror with split/<list>, videos/<video file>, annotations.tar.gz. "
        "Default: GitHub raw (lists) and s3 ava-dataset/trainval (movies).",
    ),
    Option(
        "--annotations",
        "URL or local file of annotations.tar.gz (Google Drive only: "
        "gdown --id 18kjJJbebBg7e8umI6HoGE4_tI3OWufzA). Default: not fetched, with a warning.",
    ),
    Option(
        "--videos/--no-videos",
        "--no-videos skips the 117 movies (tens of GB). Default: download them.",
        dest="videos",
        type=bool,
        default=True,
    ),
    Option("--force", "Download again even when the files exist. Default: off.", type=bool),
)
PREPARE_HELP = """AVA-AVD CORPUS_DIR -> manifests in OUTPUT_DIR (splits train, val, test).

    CORPUS_DIR is the repository's dataset/ folder (or its parent): split/*.list, split/offsets.txt,
    rttms/<clip_id>.rttm (movie time, seconds), videos/<video_id>.<ext>. Clip audio is cut from the
    movies with ffmpeg at the clip offset (seconds); turns are shifted into clip time. Speaker ids
    are <clip_id>_<label>.
    """
PREPARE_OPTIONS = (
    Option(
        "--audio-dir",
        "Folder of clip WAVs <clip_id>.wav (16 kHz mono); missing ones are extracted there from "
        "the movies with ffmpeg. Default: CORPUS_DIR's dataset/waves.",
        type="outdir",
    ),
    Option(
        "--extract/--no-extract",
        "--no-extract does not run ffmpeg; clips without a WAV are listed in the report. Default: extract.",
        dest="extract",
        type=bool,
        default=True,
    ),
)


def output_name(**_) -> str:
    """Prefix of the output files."""
    return "ava_avd"


__all__ = ["download_ava_avd", "prepare_ava_avd", "extract_clip_audio", "read_offsets", "video_of"]
