"""VoxConverse: audio-visual speaker diarisation of YouTube videos (Chung et al., Interspeech 2020).

216 dev and 232 test recordings (about 20 h and 43 h), news, debates, talk
shows; 1 to 21 speakers per recording. Labels v0.3 from github
``joonson/voxconverse`` (commit ``24bf60be``); audio from the VGG site.

On-disk layout (what :func:`download_voxconverse` leaves, i.e. the three
archives extracted side by side)::

    CORPUS_DIR/
      audio/<id>.wav                       voxconverse_dev_wav.zip   (216 files)
      voxconverse_test_wav/<id>.wav        voxconverse_test_wav.zip  (232 files)
      voxconverse-<commit>/                github archive of joonson/voxconverse
        dev/<id>.rttm                      one RTTM per dev recording
        test/<id>.rttm                     one RTTM per test recording

``<id>`` is a 5-letter recording id (``abjxc``). Audio is 16 kHz mono 16-bit
WAV. Also accepted: Lhotse's layout (``CORPUS_DIR/{dev,test}/<id>.{wav,rttm}``)
and a checkout of the label repository directly under ``CORPUS_DIR``
(``CORPUS_DIR/{dev,test}/<id>.rttm``); ``--rttm-dir`` names the folder holding
``dev/`` and ``test/`` when several candidates exist. The split of a recording
is the folder of its RTTM (``dev/`` or ``test/``), never the folder of its audio.

Annotation format: RTTM, 10 fields, ``SPEAKER <id> 1 <onset s> <duration s>
<NA> <NA> spkNN <NA> <NA>`` (dev 6 decimals, test 5), read by
:func:`recipes.rttm.read_rttm`. No UEM is shipped: the whole recording is
scored.

Rules applied (all times in seconds):

- turns are sorted (the files are not time-sorted);
- same-speaker overlapping turns (v0.3 test: ``utial`` spk00, ``optsn``
  spk01) are merged into one turn; the count is in the prepare report;
- speaker labels ``spkNN`` are local to a recording: the speaker id is
  ``global_speaker(<id>, spkNN)`` = ``<id>_spkNN``;
- optional train/dev split of dev (``split_dev_ratio`` or ``dev_list``): by
  recording, deterministic: recordings are ranked by
  ``sha256("<seed>:<id>")`` (independent of file-system order) and the first
  ``round(ratio * n)`` form the held-out ``dev``, the rest ``train``. The
  ranking covers every dev recording that has an RTTM, so a missing audio file
  does not move other recordings between train and dev;
- annotations without audio and audio without annotations are listed in the
  report; turns past the end of the audio are clipped and listed.

Outputs: ``voxconverse_{recordings,supervisions,cuts}_{dev,test}.jsonl.gz``
(plus ``_train`` with a dev split), ``voxconverse_<split>.uem`` and
``voxconverse_prepare_report.txt``.

Differences from ``lhotse.recipes.voxconverse``: Lhotse keeps the local
labels ``spk00`` as speaker ids (so ``spk00`` of every recording is one
"speaker"), does not merge same-speaker overlaps, and its ``split_test``
option uses the whole dev set as train and splits *test* into halves by file
order, so the official test set is no longer a test set.
"""

import hashlib
import logging
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from recipes.corpora import common
from recipes.corpora.common import Option, PrepareReport
from recipes.corpora.config import load_corpus_config
from recipes.download import download_file, extract_archive
from recipes.rttm import Turn, read_rttm

logger = logging.getLogger(__name__)

OFFICIAL_SPLITS = ("dev", "test")
AUDIO_SUBDIRS = ("audio", "voxconverse_test_wav", "dev", "test")


# ---------------------------------------------------------------------------
# download


def _url(url: str, base_url: Optional[str]) -> str:
    """``url`` with its directory replaced by ``base_url`` (a mirror, or the tests' local server)."""
    return f"{base_url.rstrip('/')}/{url.rsplit('/', 1)[1]}" if base_url else url


def download_voxconverse(
    target_dir,
    base_url: Optional[str] = None,
    parts: Sequence[str] = ("dev", "test", "annotations"),
    sha256: Optional[Mapping[str, str]] = None,
    force: bool = False,
    progress: bool = True,
) -> Path:
    """Download and extract the dev/test audio zips and the v0.3 labels into ``target_dir``.

    Each archive goes to ``target_dir/downloads/<file>`` through a resumable
    ``.part`` file (renamed when complete) and is extracted once (a marker file
    records the extraction). ``base_url`` replaces the directory part of every
    URL (same file names). No checksums are published for VoxConverse, so
    downloads are verified by size only, unless ``sha256`` maps a part
    (``dev``, ``test``, ``annotations``) to a digest you trust (a mirror's).
    Returns ``target_dir``.
    """
    conf = load_corpus_config("voxconverse")
    target = Path(target_dir)
    entries = {"dev": conf["audio"]["dev"], "test": conf["audio"]["test"], "annotations": conf["annotations"]}
    unknown = sorted(set(parts) - set(entries))
    if unknown:
        raise ValueError(f"unknown part(s) {unknown}; choose from {sorted(entries)}")
    for part in parts:
        entry = entries[part]
        url = _url(entry["url"], base_url)
        digest = (sha256 or {}).get(part) or entry.get("sha256")
        archive = download_file(
            url, target / "downloads" / entry["file"], sha256=digest, force=force, progress=progress
        )
        extract_archive(archive, target)
        logger.info("voxconverse %s: %s extracted into %s", part, archive.name, target)
    return target


# ---------------------------------------------------------------------------
# prepare


def find_annotation_root(corpus_dir, rttm_dir=None) -> Path:
    """The folder holding ``dev/*.rttm`` and/or ``test/*.rttm``."""
    corpus_dir = Path(corpus_dir)
    if rttm_dir is not None:
        candidates = [Path(rttm_dir)]
    else:
        candidates = [corpus_dir] + sorted(p for p in corpus_dir.glob("voxconverse-*") if p.is_dir())
    found = [c for c in candidates if any(any((c / s).glob("*.rttm")) for s in OFFICIAL_SPLITS)]
    if not found:
        raise FileNotFoundError(
            f"no dev/*.rttm or test/*.rttm under {', '.join(str(c) for c in candidates)}; "
            "expected the joonson/voxconverse labels (CORPUS_DIR/voxconverse-<commit>/{dev,test}/<id>.rttm)"
        )
    if len(found) > 1:
        raise ValueError(f"several label folders found ({', '.join(map(str, found))}); choose one with --rttm-dir")
    return found[0]


def find_voxconverse_audio(corpus_dir, extra_dirs: Sequence[Path] = ()) -> Dict[str, Path]:
    """``{recording id: wav path}`` from ``audio/``, ``voxconverse_test_wav/`` (and ``dev/``,
    ``test/`` of Lhotse's layout). The same id in two places is an error."""
    corpus_dir = Path(corpus_dir)
    found: Dict[str, Path] = {}
    dirs = [corpus_dir / d for d in AUDIO_SUBDIRS] + list(extra_dirs)
    seen = set()
    for d in dirs:
        if not d.is_dir() or d.resolve() in seen:
            continue
        seen.add(d.resolve())
        for path in sorted(d.glob("*.wav")):
            if path.stem in found:
                raise ValueError(f"two audio files for recording {path.stem!r}: {found[path.stem]} and {path}")
            found[path.stem] = path
    return found


def split_dev_recordings(ids: Sequence[str], ratio: float, seed: int = 0) -> Tuple[List[str], List[str]]:
    """Split dev recording ids into ``(train, held-out dev)``, both sorted.

    Recordings are ranked by ``sha256("<seed>:<id>")``; the first
    ``round(ratio * n)`` (at least 1 and at most n - 1 when n >= 2) are the
    held-out dev part. Same result for the same ids whatever their order.
    """
    if not 0.0 < ratio < 1.0:
        raise ValueError(f"split-dev ratio must lie strictly between 0 and 1, got {ratio}")
    ids = sorted(set(ids))
    if len(ids) < 2:
        raise ValueError(f"cannot split {len(ids)} dev recording(s) into train and dev")
    n_dev = min(len(ids) - 1, max(1, int(round(ratio * len(ids)))))
    ranked = sorted(ids, key=lambda i: (hashlib.sha256(f"{seed}:{i}".encode()).hexdigest(), i))
    held = set(ranked[:n_dev])
    return [i for i in ids if i not in held], sorted(held)


def prepare_voxconverse(
    corpus_dir,
    rttm_dir=None,
    split_dev_ratio: Optional[float] = None,
    dev_list=None,
    seed: int = 0,
    duration_from_annotations: bool = False,
    progress: bool = True,
) -> Tuple[Dict[str, Dict[str, object]], PrepareReport]:
    """Manifests for VoxConverse dev and test (see the module docstring).

    :param rttm_dir: folder holding ``dev/`` and ``test/`` RTTMs (default: found under ``corpus_dir``).
    :param split_dev_ratio: fraction (0 < r < 1) of the dev recordings held out as ``dev``; the
        rest become ``train``.
    :param dev_list: file of dev recording ids to hold out as ``dev`` (the rest: ``train``);
        exclusive with ``split_dev_ratio``.
    :param seed: seed of the ``split_dev_ratio`` ranking.
    :param duration_from_annotations: recording duration = last turn end (seconds), not the
        audio header (stand-in audio).
    :return: ``({split: {...}}, report)``, splits ``dev``, ``test`` (and ``train``).
    """
    if split_dev_ratio is not None and dev_list is not None:
        raise ValueError("give either split_dev_ratio or dev_list, not both")
    corpus_dir = common.corpus_path(corpus_dir)
    root = find_annotation_root(corpus_dir, rttm_dir)
    report = PrepareReport()

    turns: List[Turn] = []
    split_of: Dict[str, str] = {}
    summaries, merged = [], {}
    for split in OFFICIAL_SPLITS:
        if not any((root / split).glob("*.rttm")):
            report.notes.append(f"{split}: no RTTM under {root / split}")
            continue
        split_turns, rttm_report = read_rttm(root / split)
        summaries.append(f"{split}: {rttm_report.summary()}")
        merged[split] = rttm_report.merged_self_overlaps
        for t in split_turns:
            other = split_of.setdefault(t.recording_id, split)
            if other != split:
                raise ValueError(f"recording {t.recording_id} has RTTMs in both {other}/ and {split}/ under {root}")
            turns.append(
                Turn(t.recording_id, t.start, t.end, common.global_speaker(t.recording_id, t.speaker), t.channel)
            )
    report.annotation_summary = "; ".join(summaries)
    for split, n in merged.items():
        report.notes.append(f"{split}: {n} same-speaker overlapping turn(s) merged into their neighbours")

    audio = find_voxconverse_audio(corpus_dir, [root / s for s in OFFICIAL_SPLITS])
    none_matched = f"no RTTM under {root} matches a WAV file under {corpus_dir}"
    rec_ids = common.match_audio(report, split_of, audio, none_matched=none_matched)

    recordings = common.read_recordings(
        audio,
        rec_ids,
        "VoxConverse audio headers",
        progress,
        durations=common.annotated_durations(turns) if duration_from_annotations else None,
    )

    prepared = set(rec_ids)
    splits = {s: sorted(r for r, sp in split_of.items() if sp == s and r in prepared) for s in OFFICIAL_SPLITS}
    splits = {s: ids for s, ids in splits.items() if ids}
    annotated_dev = sorted(r for r, sp in split_of.items() if sp == "dev")
    if split_dev_ratio is not None or dev_list is not None:
        if dev_list is not None:
            held = common.read_id_list(dev_list)
            outside = [i for i in held if split_of.get(i) != "dev"]
            if outside:
                raise ValueError(
                    f"{dev_list}: {len(outside)} id(s) are not VoxConverse dev recordings: {', '.join(outside[:10])}"
                )
            held_set = set(held)
            train_ids = [i for i in annotated_dev if i not in held_set]
            how = f"held-out dev from {dev_list}"
        else:
            train_ids, held = split_dev_recordings(annotated_dev, split_dev_ratio, seed)
            how = f"held-out dev = {split_dev_ratio:g} of dev, ranked by sha256('{seed}:<id>')"
        splits["train"] = [i for i in train_ids if i in prepared]
        splits["dev"] = sorted(i for i in set(held) if i in prepared)
        report.notes.append(f"dev split into train ({len(splits['train'])}) and dev ({len(splits['dev'])}): {how}")
        splits = {s: ids for s, ids in splits.items() if ids}
    result = common.build_manifests(recordings, turns, report, splits=splits)
    return result, report


# ---------------------------------------------------------------------------
# command-line declarations (built into click commands by recipes.cli_corpora)

CORPUS_DIR_HELP = (
    "Link this existing copy (layout in `diar prepare voxconverse --help`) as TARGET_DIR "
    "instead of downloading. Default: download."
)
DOWNLOAD_HELP = "Download VoxConverse (dev/test WAV zips, about 4 GB and 8 GB, and the v0.3 RTTMs) into TARGET_DIR."
DOWNLOAD_OPTIONS = (
    Option(
        "--base-url",
        "Mirror replacing the directory of every URL in conf/corpora/voxconverse.yaml "
        "(same file names). Default: the official URLs.",
    ),
    Option(
        "--part",
        "Download only these parts (repeatable). Default: all three.",
        dest="parts",
        choices=("dev", "test", "annotations"),
        multiple=True,
    ),
    Option("--force", "Download again even when the archives exist. Default: off.", type=bool),
)
PREPARE_HELP = """VoxConverse CORPUS_DIR -> manifests in OUTPUT_DIR (splits dev, test; train with a dev split).

    Layout: CORPUS_DIR/audio/<id>.wav (dev), CORPUS_DIR/voxconverse_test_wav/<id>.wav (test),
    CORPUS_DIR/voxconverse-<commit>/{dev,test}/<id>.rttm (labels v0.3). Speaker ids are
    <id>_spkNN; same-speaker overlapping turns are merged (counted in the report).
    """
PREPARE_OPTIONS = (
    Option(
        "--rttm-dir",
        "Folder holding dev/ and test/ RTTMs. Default: found under CORPUS_DIR "
        "(CORPUS_DIR/voxconverse-*/ or CORPUS_DIR itself).",
        type="dir",
    ),
    Option(
        "--split-dev-ratio",
        "Split dev by recording: this fraction (0-1) is held out as 'dev', the rest is "
        "'train'. Deterministic (sha256 ranking with --seed). Default: no split "
        "(splits dev, test).",
        type=float,
        min=0.0,
        max=1.0,
        open=True,
    ),
    Option(
        "--dev-list",
        "File of dev recording ids (one per line) held out as 'dev'; the rest of dev is 'train'. Default: none.",
        type="file",
    ),
    Option("--seed", "Seed of the --split-dev-ratio ranking.", type=int, default=0),
)


def output_name(**options) -> str:
    """Prefix of the output files."""
    return "voxconverse"


__all__ = [
    "download_voxconverse",
    "prepare_voxconverse",
    "split_dev_recordings",
    "find_voxconverse_audio",
    "find_annotation_root",
]
