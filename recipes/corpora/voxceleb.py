"""VoxCeleb 1 and 2 (Nagrani et al. 2017, Chung et al. 2018; CC BY 4.0) as single-speaker sources.

Short interview clips of celebrities from YouTube: VoxCeleb1 has 153,516
utterances of 1,251 speakers (16 kHz WAV), VoxCeleb2 1,128,246 utterances of
6,112 speakers (AAC in ``.m4a``). Every file is one utterance of one speaker
(the clip may hold background voices, which are not annotated), so every file
becomes one single-speaker cut: the input of ``diar simulate`` (stage 2 of
``egs/mini_librispeech_sim/run.sh`` takes any such CutSet). Not a diarization
corpus.

On-disk layout (what :func:`download_voxceleb` leaves)::

    CORPUS_DIR/voxceleb1/                  (--version 1; CORPUS_DIR may be this folder itself)
      wav/<id>/<video>/<utt>.wav           vox1_dev_wav_parta{a..d} (concatenated zip) + vox1_test_wav.zip
      vox1_meta.csv                        tab-separated: VoxCeleb1 ID, VGGFace1 ID, Gender, Nationality, Set
      iden_split.txt                       (optional) '<1|2|3> <id>/<video>/<utt>.wav'
      veri_test2.txt | veri_test.txt       (optional) '<0|1> <utt path> <utt path>' trial pairs
    CORPUS_DIR/voxceleb2/                  (--version 2)
      dev/aac/<id>/<video>/<utt>.m4a       vox2_dev_aac_parta{a..h} (concatenated zip)
      test/aac/<id>/<video>/<utt>.m4a      vox2_test_aac.zip (it extracts to aac/; an aac/ folder
                                           directly under voxceleb2/, as Lhotse's downloader leaves it,
                                           is read as test too)
      vox2_meta.csv                        (not needed)

``<id>`` is the VoxCeleb speaker id (``id10001``, ``id00012``), ``<video>``
the YouTube id, ``<utt>`` a 5-digit number.

Rules applied (times in seconds):

- recording id ``<id>-<video>-<utt>`` (as Lhotse); one cut per file, with one
  supervision spanning the whole file, speaker = ``<id>`` (global: the same id
  in any split is the same person; VoxCeleb1 and VoxCeleb2 ids do not overlap);
- VoxCeleb1 splits, ``split_by="veri"`` (default): the verification split by
  speaker: ``test`` = the speakers whose ``Set`` is ``test`` in
  ``vox1_meta.csv`` (id10270-id10309), else the speakers of the trial list,
  ``dev`` = the others; a speaker unknown to ``vox1_meta.csv`` is in no split
  (listed in the report). With neither file, one split ``all``.
  ``split_by="iden"``: ``iden_split.txt`` (1 = train, 2 = dev, 3 = test, by
  utterance: speakers are shared between the splits, unlike ``veri``); a
  listed file that is missing is listed as annotations without audio, a file
  not listed is in no split;
- VoxCeleb2 splits: ``dev`` and ``test`` from the folder (``dev/aac``,
  ``test/aac``);
- ``.m4a`` is decoded through Lhotse's audioread backend, which runs the
  ``ffmpeg`` binary: without ffmpeg on PATH preparation stops with an error
  that says what to install (before reading any file);
- no annotation times exist, so ``duration_from_annotations`` does not apply.

Outputs: ``voxceleb1_{recordings,supervisions,cuts}_{dev,test}.jsonl.gz``
(``voxceleb1-iden_*_{train,dev,test}`` with ``split_by="iden"``),
``voxceleb2_*_{dev,test}``, ``.uem``, ``_prepare_report.txt``.

Differences from ``lhotse.recipes.voxceleb``: Lhotse merges VoxCeleb1 dev and
all of VoxCeleb2 into one ``train`` split, needs the meta CSV files (a speaker
missing from them is a KeyError), downloads the trial list into the current
directory during preparation (so it fails offline), and ignores the VoxCeleb2
dev/test folders (its progress bar shows the ``Set`` of the last line of
``vox2_meta.csv`` as the split name).
"""

import logging
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from tqdm import tqdm

from recipes.corpora import common
from recipes.corpora.common import Option, PrepareReport
from recipes.corpora.config import load_corpus_config
from recipes.download import DownloadError, credentials, download_file, extract_archive, file_digest
from recipes.fileio import atomic_path
from recipes.rttm import AnnotationError, Turn

logger = logging.getLogger(__name__)

VERSIONS = ("1", "2")
TRIAL_LISTS = ("veri_test2.txt", "veri_test.txt", "voxceleb1_test_v2.txt")
IDEN_SPLITS = {"1": "train", "2": "dev", "3": "test"}


class MissingDecoderError(RuntimeError):
    pass


def check_m4a_decoder() -> None:
    """Raise :class:`MissingDecoderError` unless ffmpeg (what Lhotse's audioread backend runs) is on PATH."""
    if shutil.which("ffmpeg") is None:
        raise MissingDecoderError(
            "VoxCeleb2 audio is AAC in .m4a files, which Lhotse decodes through audioread and the ffmpeg "
            "binary, and no ffmpeg is on PATH: install ffmpeg (e.g. `apt-get install ffmpeg` or "
            "`conda install -c conda-forge ffmpeg`) and rerun"
        )


def version_root(corpus_dir, version: str) -> Path:
    corpus_dir = Path(corpus_dir)
    sub = corpus_dir / f"voxceleb{version}"
    return sub if sub.is_dir() else corpus_dir


def manifest_name(version: str, split_by: str = "veri") -> str:
    return f"voxceleb{version}" + ("-iden" if version == "1" and split_by == "iden" else "")


def _utt_path_key(path: str) -> str:
    """``id10001/1zcIwhmdeo4/00001.wav`` -> ``id10001-1zcIwhmdeo4-00001``."""
    spk, video, utt = path.strip().split("/")[-3:]
    return f"{spk}-{video}-{utt.rsplit('.', 1)[0]}"


def read_vox1_meta(path) -> Dict[str, str]:
    """``{speaker id: Set}`` of ``vox1_meta.csv`` (tab-separated, header line)."""
    path = Path(path)
    out = {}
    lines = path.read_text(encoding="utf-8").splitlines()
    for lineno, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        fields = [f.strip() for f in line.split("\t")]
        if len(fields) != 5 or fields[4] not in ("dev", "test"):
            raise AnnotationError(
                path,
                lineno,
                f"{line[:80]!r}",
                "5 tab-separated fields: VoxCeleb1 ID, VGGFace1 ID, Gender, Nationality, dev|test",
            )
        out[fields[0]] = fields[4]
    return out


def read_trial_speakers(path) -> List[str]:
    """Speakers of a verification trial list (``<0|1> <utt> <utt>`` per line)."""
    path = Path(path)
    speakers = set()
    for lineno, line in enumerate(path.read_text().splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 3 or fields[0] not in ("0", "1"):
            raise AnnotationError(
                path, lineno, f"{line[:80]!r}", "'<0|1> <id>/<video>/<utt>.wav <id>/<video>/<utt>.wav'"
            )
        speakers.update(f.split("/")[0] for f in fields[1:])
    return sorted(speakers)


def read_iden_split(path) -> Dict[str, str]:
    """``{recording id: train|dev|test}`` of ``iden_split.txt``."""
    path = Path(path)
    out = {}
    for lineno, line in enumerate(path.read_text().splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2 or fields[0] not in IDEN_SPLITS or fields[1].count("/") != 2:
            raise AnnotationError(path, lineno, f"{line[:80]!r}", "'<1|2|3> <id>/<video>/<utt>.wav'")
        out[_utt_path_key(fields[1])] = IDEN_SPLITS[fields[0]]
    return out


def find_vox1_audio(root: Path) -> Dict[str, Path]:
    return {_utt_path_key(p.relative_to(root / "wav").as_posix()): p for p in sorted((root / "wav").glob("*/*/*.wav"))}


def find_vox2_audio(root: Path) -> Dict[str, Tuple[Path, str]]:
    """``{recording id: (path, dev|test)}`` from ``dev/aac``, ``test/aac`` (and ``aac/`` = test)."""
    found: Dict[str, Tuple[Path, str]] = {}
    for sub, split in (("dev/aac", "dev"), ("test/aac", "test"), ("aac", "test")):
        d = root / sub
        for p in sorted(d.glob("*/*/*.m4a")):
            key = _utt_path_key(p.relative_to(d).as_posix())
            if key in found:
                raise ValueError(f"two files for {key}: {found[key][0]} and {p}")
            found[key] = (p, split)
    return found


# ---------------------------------------------------------------------------
# download


def download_voxceleb(
    target_dir,
    versions: Sequence[str] = VERSIONS,
    base_url: Optional[str] = None,
    sha256: Optional[Dict[str, str]] = None,
    md5: Optional[Dict[str, str]] = None,
    user: Optional[str] = None,
    password: Optional[str] = None,
    netrc_file=None,
    lists: bool = True,
    force: bool = False,
    progress: bool = True,
) -> Path:
    """Download, join and extract VoxCeleb ``versions`` into ``target_dir/voxceleb<v>/``.

    The dev archives come in parts (``vox1_dev_wav_partaa`` ..); each part and
    file goes to ``target_dir/downloads/`` through a resumable ``.part`` file,
    is verified (the published MD5s, and sha256 where known, from
    conf/corpora/voxceleb.yaml; ``sha256`` / ``md5``: file name -> digest
    replace them for that file), the parts are joined into the zip (under a
    temporary name, renamed when complete; the joined zip's published MD5 is
    checked too) and extracted once. ``base_url`` replaces the directory of
    every URL (same file names). The VGG URLs now answer 401 (the data moved):
    a 401/403 raises an error saying where to request access; ``user`` /
    ``password`` or a ``netrc_file`` (``machine <host> login .. password ..``)
    are sent as HTTP Basic authentication to the server or mirror. Returns ``target_dir``.
    """
    conf = load_corpus_config("voxceleb")
    target = Path(target_dir)
    dl = target / "downloads"
    overrides = {f: ("sha256", d) for f, d in (sha256 or {}).items()}
    overrides.update({f: ("md5", d) for f, d in (md5 or {}).items()})
    hint = (
        f"the VGG download moved and needs an account: request access at {conf['access']}, then pass "
        "the mirror with --base-url and its credentials with --user/--password or --netrc "
        "(or link an existing copy with --corpus-dir)"
    )

    def digests(file: str, entry: dict) -> Dict[str, Optional[str]]:
        if file in overrides:
            kind, digest = overrides[file]
            return {"sha256": digest if kind == "sha256" else None, "md5": digest if kind == "md5" else None}
        return {"sha256": entry.get("sha256"), "md5": entry.get("md5")}

    def get(entry: dict) -> Path:
        file = entry["file"]
        url = f"{base_url.rstrip('/')}/{file}" if base_url else entry["url"]
        return download_file(
            url,
            dl / file,
            force=force,
            progress=progress,
            auth=credentials(url, user, password, netrc_file),
            hint=hint,
            **digests(file, entry),
        )

    for version in versions:
        if version not in VERSIONS:
            raise ValueError(f"unknown VoxCeleb version {version!r}; expected 1 or 2")
        vconf = conf[f"voxceleb{version}"]
        root = target / f"voxceleb{version}"
        for archive in vconf["archives"]:
            parts = [get(p) for p in archive.get("parts", [])]
            if parts:
                joined = dl / archive["file"]
                if not joined.exists() or force:
                    with atomic_path(joined) as tmp, open(tmp, "wb") as out:
                        for p in parts:
                            with open(p, "rb") as f:
                                shutil.copyfileobj(f, out, 1 << 20)
                expected = digests(archive["file"], archive)
                if archive["file"] not in overrides and any(q["file"] in overrides for q in archive["parts"]):
                    expected = {}  # parts with digests of their own: the published zip digest does not apply
                for algorithm, digest in expected.items():
                    if digest and file_digest(joined, algorithm) != digest.lower():
                        joined.unlink()
                        raise DownloadError(
                            f"{joined}: {algorithm} of the joined parts is not the published "
                            f"{digest}; the parts were verified one by one, so they changed since"
                        )
            else:
                joined = get(archive)
            extract_archive(joined, root / archive.get("extract_into", "."))
        for meta in vconf.get("meta", []) + (vconf.get("lists", []) if lists else []):
            path = get(meta)
            shutil.copyfile(path, root / meta["file"])
    return target


# ---------------------------------------------------------------------------
# prepare


def prepare_voxceleb(
    corpus_dir,
    version: str = "1",
    split_by: str = "veri",
    num_jobs: int = 1,
    duration_from_annotations: bool = False,
    progress: bool = True,
) -> Tuple[Dict[str, Dict[str, object]], PrepareReport]:
    """Single-speaker utterance manifests of VoxCeleb ``version`` (see the module docstring).

    :param version: ``"1"`` or ``"2"``.
    :param split_by: VoxCeleb1 only: ``veri`` (dev/test by speaker) or ``iden`` (iden_split.txt).
    :param num_jobs: threads reading audio headers (m4a durations need a full decode by ffmpeg).
    :param duration_from_annotations: not applicable (no annotation times); True is an error.
    :return: ``({split: {...}}, report)``; one cut per file.
    """
    version = str(version)
    if version not in VERSIONS:
        raise ValueError(f"unknown VoxCeleb version {version!r}; expected 1 or 2")
    if split_by not in ("veri", "iden"):
        raise ValueError(f"unknown split_by {split_by!r}; expected veri or iden")
    if duration_from_annotations:
        raise ValueError("VoxCeleb has no annotation times (a cut is a whole file): durations come from the audio")
    root = version_root(corpus_dir, version)
    report = PrepareReport()
    split_of: Dict[str, str] = {}
    if version == "1":
        audio = find_vox1_audio(root)
        if not audio:
            raise FileNotFoundError(f"no wav/<id>/<video>/<utt>.wav under {root}")
        if split_by == "iden":
            listed = read_iden_split(root / "iden_split.txt") if (root / "iden_split.txt").is_file() else None
            if listed is None:
                raise FileNotFoundError(f"{root / 'iden_split.txt'} not found (needed for split_by='iden')")
            report.annotations_without_audio = sorted(set(listed) - set(audio))
            split_of = {k: s for k, s in listed.items() if k in audio}
            report.notes.append(
                "iden_split.txt: identification split by utterance; speakers are shared by train/dev/test"
            )
        else:
            meta_file = root / "vox1_meta.csv"
            trials = [root / f for f in TRIAL_LISTS if (root / f).is_file()]
            if meta_file.is_file():
                sets = read_vox1_meta(meta_file)
                unknown = sorted({k.split("-")[0] for k in audio} - set(sets))
                for spk in unknown:
                    report.notes.append(f"speaker {spk} is not in {meta_file.name}: in no split")
                split_of = {k: sets[k.split("-")[0]] for k in audio if k.split("-")[0] in sets}
                how = meta_file.name
            elif trials:
                test_spk = set(read_trial_speakers(trials[0]))
                split_of = {k: "test" if k.split("-")[0] in test_spk else "dev" for k in audio}
                how = f"speakers of {trials[0].name}"
            else:
                split_of = {k: "all" for k in audio}
                how = "no vox1_meta.csv or trial list: one split 'all'"
            report.notes.append(f"VoxCeleb1 verification split (test speakers from {how})")
        paths = audio
    else:
        found = find_vox2_audio(root)
        if not found:
            raise FileNotFoundError(f"no {{dev,test}}/aac/<id>/<video>/<utt>.m4a under {root}")
        check_m4a_decoder()
        paths = {k: p for k, (p, _) in found.items()}
        split_of = {k: s for k, (_, s) in found.items()}
    report.annotation_summary = (
        f"VoxCeleb{version}: {len(paths)} files, {len({k.split('-')[0] for k in paths})} speakers"
    )
    report.log_unmatched()

    rec_ids = sorted(paths)
    with ThreadPoolExecutor(max(1, num_jobs)) as ex:
        recs = list(
            tqdm(
                ex.map(lambda r: common.open_recording(paths[r], r), rec_ids),
                total=len(rec_ids),
                desc=f"VoxCeleb{version} audio headers",
                disable=not progress,
            )
        )
    recordings = {r.id: r for r in recs}
    turns = [Turn(r.id, 0.0, r.duration, r.id.split("-")[0]) for r in recs if r.duration > 0]
    for r in recs:
        if r.duration <= 0:
            report.notes.append(f"{paths[r.id]}: empty audio file; no supervision")
    splits: Dict[str, List[str]] = {}
    for rec_id in rec_ids:
        if rec_id in split_of:
            splits.setdefault(split_of[rec_id], []).append(rec_id)
    result = common.build_manifests(recordings, turns, report, splits=splits)
    return result, report


# ---------------------------------------------------------------------------
# command-line declarations (built into click commands by recipes.cli_corpora)

_VERSION = Option(
    "--version",
    "VoxCeleb version, 1 and/or 2 (repeatable). Default: both.",
    dest="versions",
    choices=tuple(VERSIONS),
    multiple=True,
)
CORPUS_DIR_HELP = (
    "Link this existing copy (holding voxceleb1/ and/or voxceleb2/) as TARGET_DIR instead of "
    "downloading. Default: download."
)
DOWNLOAD_HELP = "Download VoxCeleb1 (about 39 GB of WAV) and/or VoxCeleb2 (about 72 GB of m4a) into TARGET_DIR."
DOWNLOAD_OPTIONS = (
    _VERSION,
    Option(
        "--base-url",
        "Mirror replacing the directory of every URL in conf/corpora/voxceleb.yaml (same file "
        "names). Default: the VGG URLs, which now answer 401 (the data moved; see the error).",
    ),
    Option("--user", "User name for HTTP Basic authentication at the server or mirror. Default: none."),
    Option("--password", "Password that goes with --user. Default: none."),
    Option(
        "--netrc",
        "netrc file with 'machine <host> login <user> password <password>' for the server or "
        "mirror (instead of --user/--password). Default: none.",
        dest="netrc_file",
        type="file",
    ),
    Option("--force", "Download again even when the files exist. Default: off.", type=bool),
)
PREPARE_HELP = """VoxCeleb CORPUS_DIR -> single-speaker utterance manifests in OUTPUT_DIR (sources for `diar simulate`).

    One cut per file with one supervision spanning it (durations in seconds from the audio),
    speaker = the VoxCeleb id. VoxCeleb2 .m4a needs ffmpeg on PATH.
    """
PREPARE_OPTIONS = (
    _VERSION,
    Option(
        "--split-by",
        "VoxCeleb1 splits: veri = dev/test by speaker (vox1_meta.csv or the trial list); "
        "iden = train/dev/test of iden_split.txt (by utterance, speakers shared).",
        choices=("veri", "iden"),
        default="veri",
    ),
    Option(
        "--num-jobs",
        "Threads reading audio headers (an m4a duration needs a full ffmpeg decode).",
        type=int,
        default=1,
        min=1,
    ),
)
NAME_HELP = "Default: voxceleb<version>[-iden]."


def output_names(versions: Sequence[str] = VERSIONS, split_by: str = "veri", **_) -> List[str]:
    """Prefixes of the output files, one per version (:func:`manifest_name`)."""
    return [manifest_name(v, split_by) for v in versions]


def output_name(versions: Sequence[str] = ("1",), split_by: str = "veri", **_) -> str:
    """Prefix of the output files of the first version (:func:`manifest_name`)."""
    return manifest_name(versions[0], split_by)


def prepare_outputs(corpus_dir, name: Optional[str] = None, versions: Sequence[str] = VERSIONS, **options):
    """``(name, manifests, report)`` for each version in ``versions`` found under ``corpus_dir``
    (one version: its root may be ``corpus_dir`` itself)."""
    if name and len(versions) > 1:
        raise ValueError("--name needs a single --version")
    prepared = 0
    for version in versions:
        if len(versions) > 1 and not (Path(corpus_dir) / f"voxceleb{version}").is_dir():
            logger.warning("no %s/voxceleb%s: VoxCeleb%s skipped", corpus_dir, version, version)
            continue
        result, report = prepare_voxceleb(corpus_dir, version=version, **options)
        yield name or manifest_name(version, options.get("split_by", "veri")), result, report
        prepared += 1
    if not prepared:
        raise FileNotFoundError(
            f"neither {corpus_dir}/voxceleb1 nor {corpus_dir}/voxceleb2 exists; "
            "give --version for a folder that is one version's root"
        )


__all__ = [
    "download_voxceleb",
    "prepare_voxceleb",
    "check_m4a_decoder",
    "MissingDecoderError",
    "read_vox1_meta",
    "read_iden_split",
    "read_trial_speakers",
    "manifest_name",
    "DownloadError",
]
