"""MSDWild: multi-modal speaker diarization in the wild (3143 video clips, about 80 h labelled).

Source: https://github.com/X-LANCE/MSDWILD (labels), audio on Google Drive / Baidu (7.56 GB
zip, md5 ``0057f82daaddf2ce993d1bf0679929c4`` per the README). Research-only licence. Paper:
T. Liu et al., "MSDWild: Multi-modal Speaker Diarization Dataset in the Wild", Interspeech 2022.
Lhotse has no MSDWild recipe.

On-disk layout::

    CORPUS_DIR/
      wav/<id>.wav                    5-digit ids 00001 ... 03143, 16 kHz mono
      rttms/all.rttm                  every clip (3143)
      rttms/few.train.rttm            few-talker train split (2476 clips)
      rttms/few.val.rttm              few-talker validation (490)
      rttms/many.val.rttm             many-talker validation (177)
      rttm_per_file/<id>.rttm         optional: the repo's visualization/rttm_per_file (one per clip)

Annotation format: RTTM, ``SPEAKER <id> 0 <onset> <duration> <NA> <NA> <label> <NA> <NA>``
(channel field ``0``, 6 decimals). Labels are local to a clip: ``0``, ``1``, ... (face ids)
and ``h0``, ``h1``, ... for off-screen voices (one clip, ``01935``, has a bare ``h``).

Rules (seconds):

- turns come from ``rttms/all.rttm``; when it is absent (as in snapshots without the large
  files) from ``rttm_per_file/*.rttm``, else from the union of the split RTTMs (the report
  says which). All RTTM reading goes through :func:`recipes.rttm.read_rttm` (zero-duration
  turns omitted, same-speaker overlaps merged, both reported);
- split membership = the clip ids in ``rttms/<split>.rttm``; when ``few.train.rttm`` is
  absent, ``few.train`` = all clips minus ``few.val`` and ``many.val`` (noted in the report).
  A clip of a split whose turns in the split file differ from the main source is noted;
- speaker ids are global: ``<clip id>_<label>`` (:func:`global_speaker`), e.g. ``01935_h``;
- one ``MonoCut`` per clip (channel 0), UEM = whole clip (none is shipped).

Outputs: ``msdwild_{recordings,supervisions,cuts}_{few.train,few.val,many.val}.jsonl.gz``
(split names keep their dots), ``msdwild_<split>.uem`` and the report.
"""

import logging
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Set, Tuple

from recipes.corpora import common
from recipes.corpora.common import Option, PrepareReport
from recipes.corpora.config import load_corpus_config
from recipes.download import download_file, extract_archive
from recipes.errors import first_items
from recipes.rttm import Turn, group_by_recording, read_rttm

logger = logging.getLogger(__name__)

SPLITS = ("few.train", "few.val", "many.val")
RTTM_FILES = ("all.rttm",) + tuple(f"{s}.rttm" for s in SPLITS)


# ---------------------------------------------------------------------------
# download


def download_msdwild(
    target_dir,
    base_url: Optional[str] = None,
    wav_url: Optional[str] = None,
    wav_md5: Optional[str] = None,
    checksums: Optional[Dict[str, str]] = None,
    force: bool = False,
) -> Path:
    """Download the RTTMs (and, with ``wav_url``, the audio archive) into ``target_dir``.

    :param base_url: folder URL holding ``all.rttm``, ``few.train.rttm``, ``few.val.rttm``,
        ``many.val.rttm`` (default: ``rttm_base_url`` in conf/corpora/msdwild.yaml, the GitHub
        repository pinned to a commit). They go to ``target_dir/rttms/``.
    :param wav_url: URL of the audio zip (the official copy is on Google Drive / Baidu, which need a
        browser; give a direct URL or mirror). Without it, only labels are fetched and the audio
        must be put in ``target_dir/wav/`` by hand.
    :param wav_md5: md5 of the zip (default: ``wav_md5`` in the config, from the MSDWild README).
    :param checksums: RTTM file name -> sha256 (none is published; default none).
    :return: ``target_dir``.
    """
    cfg = load_corpus_config("msdwild")
    base_url = (base_url or cfg["rttm_base_url"]).rstrip("/")
    checksums = dict(checksums or cfg.get("rttm_sha256") or {})
    target_dir = Path(target_dir)
    for name in RTTM_FILES:
        download_file(f"{base_url}/{name}", target_dir / "rttms" / name, sha256=checksums.get(name), force=force)
    if wav_url:
        md5 = wav_md5 if wav_md5 is not None else cfg.get("wav_md5")
        name = Path(wav_url.split("?")[0]).name
        if not name.endswith((".zip", ".tar", ".tar.gz", ".tgz")):  # e.g. a drive link ending in 'uc'
            name = "msdwild_wavs.zip"
        archive = download_file(wav_url, target_dir / name, md5=md5, force=force)
        extract_archive(archive, target_dir)
        if not find_wavs(target_dir):
            raise FileNotFoundError(f"{archive} holds no .wav file")
    else:
        logger.warning(
            "no --wav-url: labels only. Download the audio zip (%s, md5 %s) and unpack it so that "
            "the clips are %s/wav/<id>.wav",
            cfg.get("wav_page"),
            cfg.get("wav_md5"),
            target_dir,
        )
    return target_dir


# ---------------------------------------------------------------------------
# prepare


def find_wavs(corpus_dir) -> Dict[str, Path]:
    """Clip id -> wav path: ``corpus_dir/wav/**/*.wav``, or any ``*.wav`` below ``corpus_dir``
    when there is no ``wav/`` folder (archives unpacked one level deeper). Duplicates are an error."""
    corpus_dir = Path(corpus_dir)
    base = corpus_dir / "wav" if (corpus_dir / "wav").is_dir() else corpus_dir
    found: Dict[str, Path] = {}
    for p in sorted(base.rglob("*.wav")):
        if p.stem in found:
            raise ValueError(f"two audio files for clip {p.stem}: {found[p.stem]} and {p}")
        found[p.stem] = p
    return found


def _turn_key(turns: Sequence[Turn]) -> List[Tuple[float, float, str]]:
    return sorted((round(t.start, 4), round(t.end, 4), t.speaker) for t in turns)


def prepare_msdwild(
    corpus_dir,
    splits: Optional[Sequence[str]] = None,
    duration_from_annotations: bool = False,
    progress: bool = True,
):
    """Manifests for MSDWild (see the module docstring).

    :param splits: subset of ``few.train``, ``few.val``, ``many.val`` (default: all three).
    :param duration_from_annotations: recording duration = end of the clip's last turn instead
        of the audio header (stand-in audio).
    :return: ``(result, report)`` as :func:`build_manifests` returns.
    """
    corpus_dir = Path(corpus_dir)
    rttm_dir = corpus_dir / "rttms"
    if not corpus_dir.is_dir():
        raise FileNotFoundError(f"MSDWild directory {corpus_dir} does not exist")
    splits = list(splits or SPLITS)
    for s in splits:
        if s not in SPLITS:
            raise ValueError(f"unknown MSDWild split {s!r}; expected one of {', '.join(SPLITS)}")
    report = PrepareReport()

    split_turns: Dict[str, Dict[str, List[Turn]]] = {}
    summaries = []
    for s in SPLITS:
        path = rttm_dir / f"{s}.rttm"
        if path.is_file():
            t, r = read_rttm(path)
            split_turns[s] = group_by_recording(t)
            summaries.append(f"{path.name}: {r.summary()}")
    per_file = next(
        (d for d in (corpus_dir / "rttm_per_file", corpus_dir / "visualization" / "rttm_per_file") if d.is_dir()), None
    )
    if (rttm_dir / "all.rttm").is_file():
        source = rttm_dir / "all.rttm"
    elif per_file is not None:
        source = per_file
    elif split_turns:
        source = None
    else:
        raise FileNotFoundError(
            f"no annotations: neither {rttm_dir}/all.rttm, a rttm_per_file/ folder nor split RTTMs under {corpus_dir}"
        )
    if source is not None:
        turns, r = read_rttm(source)
        summaries.insert(0, f"{source.name}: {r.summary()}")
        by_rec = group_by_recording(turns)
    else:
        by_rec = {}
        for per_split in split_turns.values():
            for rec, t in per_split.items():
                by_rec.setdefault(rec, []).extend(t)
        summaries.insert(0, "no all.rttm / rttm_per_file: turns from the split RTTMs")
    report.annotation_summary = "; ".join(summaries)

    # split membership
    members: Dict[str, Set[str]] = {}
    for s in ("few.val", "many.val"):
        if s not in split_turns:
            raise FileNotFoundError(f"{rttm_dir / (s + '.rttm')} not found: the split lists come from it")
        members[s] = set(split_turns[s])
    if "few.train" in split_turns:
        members["few.train"] = set(split_turns["few.train"])
    else:
        members["few.train"] = set(by_rec) - members["few.val"] - members["many.val"]
        report.notes.append(
            "rttms/few.train.rttm absent: few.train = all clips minus few.val and many.val "
            f"({len(members['few.train'])} clips)"
        )
    overlap = members["few.val"] & members["many.val"]
    if overlap:
        raise ValueError(f"clips in both few.val and many.val: {', '.join(sorted(overlap)[:10])}")
    for s, per_split in split_turns.items():
        if source is None:
            continue
        for rec in sorted(per_split):
            if rec not in by_rec:
                report.notes.append(f"{s}: clip {rec} is not in {source.name}; its turns are not used")
            elif _turn_key(per_split[rec]) != _turn_key(by_rec[rec]):
                report.notes.append(
                    f"{s}: clip {rec} has other turns in {s}.rttm than in {source.name}; {source.name} is used"
                )

    # global speaker ids
    turns = [
        Turn(t.recording_id, t.start, t.end, common.global_speaker(t.recording_id, t.speaker), t.channel)
        for rec in sorted(by_rec)
        for t in by_rec[rec]
    ]

    audio = find_wavs(corpus_dir)
    rec_ids = common.match_audio(
        report, by_rec, audio, none_matched=f"no annotated clip has audio under {corpus_dir} (expected wav/<id>.wav)"
    )
    recordings = common.read_recordings(
        audio,
        rec_ids,
        "Reading audio headers",
        progress,
        durations=common.annotated_durations(turns) if duration_from_annotations else None,
    )
    split_ids = {s: sorted(members[s] & set(recordings)) for s in splits}
    for s in splits:
        missing = sorted(members[s] - set(recordings))
        if missing:
            report.notes.append(f"{s}: {len(missing)} clip(s) without audio left out: {first_items(missing, 20)}")
    result = common.build_manifests(recordings, turns, report, splits=split_ids, channel=0)
    return result, report


# ---------------------------------------------------------------------------
# command-line declarations (built into click commands by recipes.cli_corpora)

CORPUS_DIR_HELP = "Link this existing copy (holding wav/ and rttms/) as TARGET_DIR instead of downloading."
DOWNLOAD_HELP = """Download the MSDWild RTTMs (and audio with --wav-url) into TARGET_DIR, or link a copy.

    Files are fetched resumably (<name>.part until complete) into TARGET_DIR/rttms/; the audio
    zip is verified against its md5 and unpacked into TARGET_DIR (clips in TARGET_DIR/wav/).
    """
DOWNLOAD_OPTIONS = (
    Option(
        "--base-url",
        "Folder URL of the four RTTMs. Default: rttm_base_url in "
        "conf/corpora/msdwild.yaml (GitHub X-LANCE/MSDWILD at a pinned commit).",
    ),
    Option(
        "--wav-url",
        "Direct URL of the audio zip (7.56 GB; the official copy is on Google Drive / "
        "Baidu). Default: none, labels only.",
    ),
    Option(
        "--wav-md5",
        "md5 of the audio zip. Default: wav_md5 in the config (0057f82daaddf2ce993d1bf0679929c4, from the README).",
    ),
)
PREPARE_HELP = """MSDWild CORPUS_DIR (wav/, rttms/) -> speaker-turn manifests in OUTPUT_DIR.

    Writes OUTPUT_DIR/msdwild_{recordings,supervisions,cuts}_<split>.jsonl.gz (e.g.
    msdwild_cuts_few.train.jsonl.gz), msdwild_<split>.uem (whole clips) and
    msdwild_prepare_report.txt. Speakers are <clip id>_<label>.
    """
PREPARE_OPTIONS = (
    Option(
        "--split",
        "Split to write; repeatable. Default: few.train, few.val and many.val.",
        dest="splits",
        choices=tuple(SPLITS),
        multiple=True,
    ),
)


def output_name(**_) -> str:
    """Prefix of the output files."""
    return "msdwild"


__all__ = ["download_msdwild", "prepare_msdwild", "find_wavs", "SPLITS"]
