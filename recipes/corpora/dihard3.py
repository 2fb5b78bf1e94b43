"""DIHARD III: multi-domain "hard" speaker diarization (Ryant et al., Interspeech 2021).

Development set 254 recordings (34.15 h), evaluation set 259 recordings
(33.01 h), 5-10 minute excerpts from 11 domains (audiobooks, broadcast
interview, clinical, court, CTS, map task, meeting, restaurant,
sociolinguistic field/lab, web video). Distributed by LDC only (LDC2020E12 /
LDC2021E02 for participants, LDC2022S12 dev / LDC2022S14 eval as general
releases); there is nothing to download.

On-disk layout (one folder per release, found anywhere up to two levels below
``CORPUS_DIR``; a release is a folder holding ``data/flac/``)::

    CORPUS_DIR/
      third_dihard_challenge_dev/          LDC2022S12 (or LDC2020E12)
        data/
          flac/<id>.flac                   16 kHz mono 16-bit FLAC
          rttm/<id>.rttm                   reference speaker turns
          sad/<id>.lab                     reference SAD (HTK labels; not used)
          uem/<id>.uem                     per-file scoring regions (when present)
          uem_scoring/core/all.uem         scoring regions of the core partition
          uem_scoring/core/<domain>.uem    ... per domain
          uem_scoring/full/all.uem         scoring regions of the full partition
          uem_scoring/full/<domain>.uem
        docs/recordings.tbl                per-recording metadata
      third_dihard_challenge_eval/         LDC2022S14 (or LDC2021E02), same layout

``<id>`` is ``DH_DEV_0001`` .. ``DH_DEV_0254`` / ``DH_EVAL_0001`` .. ``DH_EVAL_0259``.
The split of a release is ``dev`` when its ids start with ``DH_DEV_`` and
``eval`` for ``DH_EVAL_``; otherwise the release folder name decides (``dev``
or ``eval`` in it).

Annotation formats (all times in seconds):

- RTTM, 10 fields, ``SPEAKER <id> 1 <onset> <duration> <NA> <NA> speakerN <NA> <NA>``,
  read by :func:`recipes.rttm.read_rttm`. Labels are local to a recording.
- UEM ``<id> 1 <start> <end>``, several lines per file where PII was excised
  (ADOS, CIR, DASS), read by :func:`recipes.rttm.read_uem`.
- ``docs/recordings.tbl``: tab-separated with a header row naming the columns;
  used: ``uri`` (recording id; ``file_id`` accepted), ``in_core`` (``True`` /
  ``False``), ``lang`` (or ``language``), ``domain``, ``source``. Other columns
  are ignored; a row with the wrong number of fields is an error naming
  ``file:line``.

Rules applied:

- speaker ids are global: ``global_speaker(<id>, speakerN)`` = ``<id>_speakerN``;
- same-speaker overlapping turns are merged (counted in the report);
- partitions: ``full`` (every recording, UEM ``uem_scoring/full/all.uem``) or
  ``core`` (recordings with ``in_core == True`` in recordings.tbl, else the ids
  of ``uem_scoring/core/all.uem``; UEM ``uem_scoring/core/all.uem``). When the
  partition's ``all.uem`` is absent the per-file ``data/uem/<id>.uem`` are used,
  else the whole recording (noted). Turns outside the UEM stay in the
  supervisions; the UEM is the cut's custom ``uem`` and labels ignore frames
  outside it;
- every cut carries custom ``domain``, ``source``, ``lang`` and ``in_core`` from
  recordings.tbl; the report lists recordings per split and domain;
- annotations without audio and audio without annotations are listed in the
  report; recordings outside the chosen partition are counted in the report.

Outputs: ``dihard3[-core]_{recordings,supervisions,cuts}_{dev,eval}.jsonl.gz``,
``dihard3[-core]_{dev,eval}.uem`` and ``..._prepare_report.txt`` (the full
partition is named ``dihard3``, the core partition ``dihard3-core``).

Differences from ``lhotse.recipes.dihard3``: Lhotse keeps the local labels
``speaker1`` as speaker ids (so ``speaker1`` of every file is one "speaker"),
returns the UEM as a separate SupervisionSet rather than a scoring region on
the cut, has no core/full partition choice (it reads the ``in_core`` flag into
each supervision's custom field), and fails with an IndexError when a FLAC
file has no RTTM or per-file UEM.
"""

import logging
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from recipes.corpora import common
from recipes.corpora.common import Option, PrepareReport
from recipes.corpora.config import load_corpus_config
from recipes.download import link_or_copy_tree
from recipes.rttm import AnnotationError, Turn, read_rttm, read_uem

logger = logging.getLogger(__name__)

CONFIG = load_corpus_config("dihard3")
SPLITS = tuple(CONFIG["splits"])
PARTITIONS = tuple(CONFIG["partitions"])
LDC_CATALOG: Dict[str, str] = CONFIG["ldc"]  # split -> "general release (participants' release)"
RELEASE_DIRS: Dict[str, str] = CONFIG["release_dirs"]  # split -> the folder name of the LDC release
TABLE_ID_COLUMNS = ("uri", "file_id")
TABLE_LANG_COLUMNS = ("lang", "language")


# ---------------------------------------------------------------------------
# "download": LDC corpus, link a local copy only


def download_dihard3(target_dir, corpus_dir=None, base_url: Optional[str] = None) -> Path:
    """Link an existing LDC copy ``corpus_dir`` as ``target_dir`` (DIHARD III cannot be downloaded).

    ``base_url`` is accepted for the common signature and must be None. Raises
    ``RuntimeError`` naming the LDC catalogue numbers when ``corpus_dir`` is not given.
    """
    if base_url is not None:
        raise ValueError("DIHARD III has no download URL; link a local LDC copy with corpus_dir")
    if corpus_dir is None:
        raise RuntimeError(
            "DIHARD III is LDC-licensed (dev "
            + LDC_CATALOG["dev"]
            + ", eval "
            + LDC_CATALOG["eval"]
            + ") and cannot be downloaded; pass your local copy with --corpus-dir DIR "
            "(DIR holding third_dihard_challenge_{dev,eval}/data/flac/...)"
        )
    return link_or_copy_tree(corpus_dir, target_dir)


# ---------------------------------------------------------------------------
# layout


def find_releases(corpus_dir) -> Dict[str, Path]:
    """``{split: release folder}``: folders with ``data/flac/`` at most two levels below ``corpus_dir``."""
    corpus_dir = Path(corpus_dir)
    candidates = (
        [corpus_dir]
        + sorted(p for p in corpus_dir.glob("*") if p.is_dir())
        + sorted(p for p in corpus_dir.glob("*/*") if p.is_dir())
    )
    found: Dict[str, Path] = {}
    for cand in candidates:
        if not (cand / "data" / "flac").is_dir():
            continue
        split = _split_of_release(cand)
        if split is None:
            raise ValueError(
                f"{cand}: cannot tell whether this DIHARD III release is dev or eval "
                "(ids are not DH_DEV_*/DH_EVAL_* and the folder name has no 'dev'/'eval')"
            )
        if split in found and found[split].resolve() != cand.resolve():
            raise ValueError(f"two DIHARD III {split} releases: {found[split]} and {cand}")
        found[split] = cand
    if not found:
        raise FileNotFoundError(
            f"no DIHARD III release under {corpus_dir}: expected "
            f"{RELEASE_DIRS['dev']}/ and {RELEASE_DIRS['eval']}/ holding data/flac/<id>.flac "
            f"({LDC_CATALOG['dev']} / {LDC_CATALOG['eval']})"
        )
    return found


def _split_of_release(release: Path) -> Optional[str]:
    ids = [p.stem for p in (release / "data" / "flac").glob("*.flac")] + [
        p.stem for p in (release / "data" / "rttm").glob("*.rttm")
    ]
    if ids and all(i.startswith("DH_DEV_") for i in ids):
        return "dev"
    if ids and all(i.startswith("DH_EVAL_") for i in ids):
        return "eval"
    name = release.name.lower()
    has_dev, has_eval = "dev" in name, "eval" in name
    if has_dev != has_eval:
        return "dev" if has_dev else "eval"
    return None


def read_recordings_table(path) -> Dict[str, Dict[str, object]]:
    """``docs/recordings.tbl`` -> ``{id: {"in_core", "lang", "domain", "source"}}`` (see the module docstring)."""
    path = Path(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    if not lines:
        raise AnnotationError(
            path, 1, "empty file", "a header row naming the columns (uri, in_core, lang, domain, ...)"
        )
    sep = "\t" if "\t" in lines[0] else None
    header = [h.strip().lower() for h in lines[0].split(sep)]
    id_col = next((c for c in TABLE_ID_COLUMNS if c in header), None)
    if id_col is None or "domain" not in header:
        raise AnnotationError(
            path,
            1,
            f"header {lines[0].strip()!r} has no uri/domain column",
            "a header row with the columns uri (or file_id) and domain",
        )
    lang_col = next((c for c in TABLE_LANG_COLUMNS if c in header), None)
    table: Dict[str, Dict[str, object]] = {}
    for lineno, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        fields = [f.strip() for f in line.split(sep)]
        if len(fields) != len(header):
            raise AnnotationError(path, lineno, f"{len(fields)} fields", f"{len(header)} fields as in the header")
        row = dict(zip(header, fields))
        in_core = row.get("in_core")
        if in_core is not None and in_core.lower() not in ("true", "false"):
            raise AnnotationError(path, lineno, f"in_core {in_core!r}", "True or False")
        rec = row[id_col]
        if rec in table:
            raise AnnotationError(path, lineno, f"recording {rec} listed twice", "one row per recording")
        table[rec] = {
            "in_core": None if in_core is None else in_core.lower() == "true",
            "lang": row.get(lang_col) if lang_col else None,
            "domain": row["domain"],
            "source": row.get("source"),
        }
    return table


def _partition_uem(release: Path, partition: str, report: PrepareReport, split: str):
    """The partition's scoring regions: ``uem_scoring/<partition>/all.uem``, else per-file UEMs, else None."""
    all_uem = release / "data" / "uem_scoring" / partition / "all.uem"
    if all_uem.is_file():
        return read_uem(all_uem), all_uem
    per_file = sorted((release / "data" / "uem").glob("*.uem")) if (release / "data" / "uem").is_dir() else []
    if per_file:
        uem = {}
        for p in per_file:
            uem.update(read_uem(p))
        report.uem_notes.append(f"{split}: {all_uem} absent; per-file UEMs data/uem/*.uem used")
        return uem, release / "data" / "uem"
    report.uem_notes.append(f"{split}: no UEM ({all_uem} or data/uem/*.uem); whole recordings scored")
    return None, None


# ---------------------------------------------------------------------------
# prepare


def prepare_dihard3(
    corpus_dir,
    partition: str = "full",
    splits: Sequence[str] = SPLITS,
    duration_from_annotations: bool = False,
    progress: bool = True,
) -> Tuple[Dict[str, Dict[str, object]], PrepareReport]:
    """Manifests for DIHARD III dev and eval (see the module docstring).

    :param partition: ``full`` (every recording) or ``core`` (the domain-balanced subset).
    :param splits: which of ``dev``, ``eval`` to prepare (those found on disk).
    :param duration_from_annotations: recording duration = end of the last UEM interval (else the
        last turn end), in seconds, instead of the audio header (stand-in audio).
    :return: ``({split: {...}}, report)``.
    """
    if partition not in PARTITIONS:
        raise ValueError(f"partition {partition!r}: choose from {PARTITIONS}")
    common.check_splits(splits, SPLITS)
    corpus_dir = common.corpus_path(corpus_dir)
    releases = {s: r for s, r in find_releases(corpus_dir).items() if s in splits}
    if not releases:
        raise FileNotFoundError(f"no DIHARD III {'/'.join(splits)} release under {corpus_dir}")
    report = PrepareReport()
    turns: List[Turn] = []
    uem_all: Dict[str, List[Tuple[float, float]]] = {}
    split_ids: Dict[str, List[str]] = {}
    metadata: Dict[str, Dict[str, object]] = {}
    audio: Dict[str, Path] = {}
    summaries = []
    for split, release in sorted(releases.items()):
        # metadata
        tbl = release / "docs" / "recordings.tbl"
        table = read_recordings_table(tbl) if tbl.is_file() else {}
        if not table:
            report.notes.append(f"{split}: no {tbl}; domain unknown")
        # annotations
        rttm_dir = release / "data" / "rttm"
        split_turns: List[Turn] = []
        if rttm_dir.is_dir() and any(rttm_dir.glob("*.rttm")):
            split_turns, rttm_report = read_rttm(rttm_dir)
            summaries.append(f"{split}: {rttm_report.summary()}")
            report.notes.append(
                f"{split}: {rttm_report.merged_self_overlaps} same-speaker overlapping "
                "turn(s) merged into their neighbours"
            )
        flacs = {p.stem: p for p in sorted((release / "data" / "flac").glob("*.flac"))}
        keyless = not split_turns
        if keyless:
            # the early eval release (LDC2021E02 before the keys) has audio and UEMs but no RTTMs:
            # a recordings-only split, for inference, instead of nothing
            report.notes.append(
                f"{split}: no RTTM under {rttm_dir} (a release without keys): {len(flacs)} "
                "recording(s) prepared without supervisions, for inference only"
            )
            summaries.append(f"{split}: no references (recordings only)")
        annotated = set(flacs) if keyless else {t.recording_id for t in split_turns}
        report.annotations_without_audio.extend(sorted(annotated - set(flacs)))
        report.audio_without_annotations.extend(sorted(set(flacs) - annotated))
        # partition
        uem, uem_path = _partition_uem(release, partition, report, split)
        ids = sorted(annotated & set(flacs))
        if partition == "core":
            if table and all(table[i]["in_core"] is not None for i in table):
                core = {i for i, m in table.items() if m["in_core"]}
                how = f"in_core column of {tbl}"
                if uem is not None and uem_path.name == "all.uem" and set(uem) != core:
                    report.notes.append(
                        f"{split}: core ids of {tbl} and {uem_path} differ ({len(core ^ set(uem))} ids); {tbl} used"
                    )
            elif uem is not None and uem_path.name == "all.uem":
                core, how = set(uem), str(uem_path)
            else:
                raise ValueError(
                    f"{split}: cannot tell the core partition: no in_core column in {tbl} "
                    f"and no {release / 'data/uem_scoring/core/all.uem'}"
                )
            outside = [i for i in ids if i not in core]
            if outside:
                more = " ..." if len(outside) > 10 else ""
                report.notes.append(
                    f"{split}: {len(outside)} recording(s) outside the core partition "
                    f"({how}) left out: {', '.join(outside[:10])}{more}"
                )
            ids = [i for i in ids if i in core]
        missing_meta = [i for i in ids if i not in table]
        if table and missing_meta:
            report.notes.append(
                f"{split}: {len(missing_meta)} recording(s) not in {tbl}: {', '.join(missing_meta[:10])}"
            )
        keep = set(ids)
        for t in split_turns:
            if t.recording_id in keep:
                turns.append(
                    Turn(t.recording_id, t.start, t.end, common.global_speaker(t.recording_id, t.speaker), t.channel)
                )
        for i in ids:
            audio[i] = flacs[i]
            metadata[i] = table.get(i, {"in_core": None, "lang": None, "domain": None, "source": None})
            if uem is not None and i in uem:
                uem_all[i] = uem[i]
        split_ids[split] = ids
    report.annotation_summary = "; ".join(summaries)
    report.annotations_without_audio.sort()
    report.audio_without_annotations.sort()
    report.log_unmatched()
    if not audio:
        raise ValueError(f"no DIHARD III FLAC file to prepare under {corpus_dir} (partition {partition})")

    recordings = common.read_recordings(
        audio,
        sorted(audio),
        "DIHARD III audio headers",
        progress,
        durations=common.annotated_durations(turns, uem_all) if duration_from_annotations else None,
    )

    result = common.build_manifests(
        recordings,
        turns,
        report,
        uem=uem_all or None,
        splits=split_ids,
        drop_empty_splits=True,
        custom={r: dict(metadata[r]) for r in recordings},
    )
    for split, ids in split_ids.items():
        per_domain: Dict[str, int] = {}
        for i in ids:
            d = metadata[i]["domain"] or "unknown"
            per_domain[d] = per_domain.get(d, 0) + 1
        report.notes.append(
            f"{split} ({partition}): {len(ids)} recordings by domain: "
            + ", ".join(f"{d} {n}" for d, n in sorted(per_domain.items()))
        )
    return result, report


def manifest_name(partition: str) -> str:
    """``dihard3`` for the full partition, ``dihard3-core`` for the core partition."""
    return "dihard3" if partition == "full" else f"dihard3-{partition}"


# ---------------------------------------------------------------------------
# command-line declarations (built into click commands by recipes.cli_corpora)

CORPUS_DIR_HELP = (
    "Your local LDC copy (holding third_dihard_challenge_{dev,eval}/), linked as TARGET_DIR. "
    "Required: DIHARD III is LDC-licensed and cannot be downloaded. Default: none (error)."
)
DOWNLOAD_HELP = "Link a local DIHARD III copy (LDC2022S12 dev, LDC2022S14 eval) as TARGET_DIR (no download)."
PREPARE_HELP = """DIHARD III CORPUS_DIR -> manifests in OUTPUT_DIR (splits dev, eval).

    Layout: CORPUS_DIR/third_dihard_challenge_{dev,eval}/data/{flac/<id>.flac, rttm/<id>.rttm,
    uem_scoring/{core,full}/all.uem}, docs/recordings.tbl. Speaker ids are <id>_speakerN; the
    UEM (seconds) is each cut's custom 'uem'; the domain is each cut's custom 'domain'.
    """
PREPARE_OPTIONS = (
    Option(
        "--partition",
        "full: every recording; core: the domain-balanced core subset (in_core in recordings.tbl).",
        choices=tuple(PARTITIONS),
        default="full",
    ),
    Option(
        "--split",
        "Prepare only these splits (repeatable). Default: dev and eval (those present).",
        dest="splits",
        choices=tuple(SPLITS),
        multiple=True,
    ),
)
NAME_HELP = "Default: dihard3 (full) or dihard3-core (core)."


def output_name(partition: str = "full", **_) -> str:
    """Prefix of the output files (:func:`manifest_name`)."""
    return manifest_name(partition)


__all__ = ["download_dihard3", "prepare_dihard3", "find_releases", "read_recordings_table", "manifest_name"]
