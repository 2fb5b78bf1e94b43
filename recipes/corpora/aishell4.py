"""AISHELL-4: 211 Mandarin meetings (about 120 h), 8-channel circular array, 4-8 speakers each.

Source: OpenSLR SLR111 (https://www.openslr.org/111/), CC BY-SA 4.0. Paper: Y. Fu et al.,
"AISHELL-4: An Open Source Dataset for Speech Enhancement, Separation, Recognition and Speaker
Diarization in Conference Scenario", Interspeech 2021.

On-disk layout (one tar.gz per split, each extracting to its own folder)::

    CORPUS_DIR/
      train_L/  train_M/  train_S/  test/
        wav/<session>.flac           8 channels, 16 kHz, FLAC
        TextGrid/<session>.TextGrid  Praat long-format TextGrid, UTF-8
        TextGrid/<session>.rttm      the same turns as RTTM (4 decimals, channel 1); not read:
                                     the TextGrid is the source (5 decimals, text for the rules below)

Session ids: ``20200706_L_R001S01C01`` in the train splits (date, room size L/M/S, room,
session, condition), ``L_R003S01C02`` in test (no date).

Annotation format: one ``IntervalTier`` per speaker; the tier name is the speaker label
(``001-M``, ``006-F``: participant number + gender), each interval has ``xmin``/``xmax``
in seconds and the transcript as ``text`` (Chinese, with markup such as ``<sil>``, ``<%>``,
``<$>``). Intervals with an empty text are the silences between a speaker's sentences.

Rules applied here (units: seconds):

- a speaker turn is an interval whose text, stripped of whitespace, is not ``''``, ``<%>`` or
  ``<$>``: the rule of the official baseline (``data_preparation/generate_nospk_testdata.py``,
  ``speech_rule="official"``, the default). So a ``<sil>``-only interval is speech (the official
  test STMs have segments with an empty transcript: such intervals after the markup was
  removed) and a ``<%>``- or ``<$>``-only interval is not. ``speech_rule="sil"`` is the
  earlier rule of this recipe (drop ``<sil>``-only intervals, keep markup-only ones). Lhotse's
  ``aishell4`` recipe keeps every interval with a non-empty text, so it has the official turns
  plus the ``<%>`` / ``<$>``-only intervals;
- supervisions are these turns, one per interval (sentences of one speaker that touch stay
  separate; same-speaker overlaps, possible only with two tiers of the same name, are
  merged and counted in the report);
- speaker ids are global: ``<session>_<tier name>`` (:func:`global_speaker`), because tier
  labels are local (``002-F`` in room L_R003 but ``002-M`` in L_R004 in the official test
  STMs). The sessions of one room (``L_R003S01C02`` ... ``L_R003S04C02``) carry the same label
  set, which suggests the same participants, but the corpus does not document identity across
  sessions: per-session ids may split one person into several ids, never merge two people.
  Lhotse's recipe numbers ``SPK0001...`` per (session, label) in directory-walk order, which
  is not deterministic across filesystems;
- the TextGrids are read with the ``textgrid`` package; when it refuses a file, a tolerant
  parser of this module reads it (the package drops zero-length intervals without a word;
  Praat cannot write them, and the tolerant parser lists them). Known defect of the public
  release (AISHELL-4 issue #11, also named in Lhotse's recipe, which skips these recordings): in
  ``train_M/TextGrid/20200622_M_R002S07C01.TextGrid`` and ``20200710_M_R002S06C01`` a tier's
  ``xmax`` (2104.492) is smaller than the file ``xmax`` (2187.436) while its intervals run to
  the end, so ``textgrid`` raises ``ValueError``; the tolerant parser keeps those intervals
  (they are clipped to the audio by :func:`build_manifests`). A file neither parser can read
  is reported as ``file:line: problem``; preparation then fails with the list of such files,
  unless ``skip_bad_annotations`` is set, which leaves them out and lists them in the report;
- one ``MonoCut`` per session of audio channel ``channel`` (0 by default); UEM = whole
  recording (the corpus ships none); splits = the four release folders.

Outputs: ``aishell4_{recordings,supervisions,cuts}_{train_L,train_M,train_S,test}.jsonl.gz``
(prefix ``aishell4-ch<N>`` for another channel than 0), ``.uem`` files and the report.
"""

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from tqdm import tqdm

from recipes.corpora import common
from recipes.corpora.common import Option, PrepareReport
from recipes.corpora.config import load_corpus_config
from recipes.download import download_file, extract_archive
from recipes.rttm import AnnotationError, Turn, merge_self_overlaps

logger = logging.getLogger(__name__)

SPLITS = ("train_L", "train_M", "train_S", "test")
SILENCE_TOKEN = "<sil>"


# ---------------------------------------------------------------------------
# TextGrid reading


@dataclass
class Tier:
    """One interval tier: ``intervals`` are ``(start, end, text, line)`` (seconds; ``line`` is the
    1-based line of the interval header in the file, 0 when the ``textgrid`` package read it)."""

    name: str
    intervals: List[Tuple[float, float, str, int]] = field(default_factory=list)


@dataclass
class ParsedTextGrid:
    path: Path
    xmax: float
    tiers: List[Tier]
    parser: str  # "textgrid" | "tolerant"
    notes: List[str] = field(default_factory=list)  # what the tolerant parser had to tolerate


def read_textgrid(path) -> ParsedTextGrid:
    """Read a TextGrid with the ``textgrid`` package, or with :func:`read_textgrid_tolerant`
    when the package refuses it (the reason is kept in ``notes``).

    Raises :class:`AnnotationError` (``file:line: problem; expected ...``) when neither can.
    """
    import textgrid

    path = Path(path)
    try:
        tg = textgrid.TextGrid.fromFile(str(path))
    except FileNotFoundError:
        raise
    except Exception as e:  # ValueError (interval past tier xmax), TextGridError, EOFError, ...
        parsed = read_textgrid_tolerant(path)
        parsed.notes.insert(
            0, f"{path}: textgrid package failed ({type(e).__name__}: {e}); read by the tolerant parser"
        )
        return parsed
    tiers = []
    for tier in tg.tiers:
        if not isinstance(tier, textgrid.IntervalTier):
            continue
        tiers.append(Tier(tier.name, [(float(i.minTime), float(i.maxTime), i.mark, 0) for i in tier.intervals]))
    return ParsedTextGrid(path, float(tg.maxTime), tiers, "textgrid")


_NUM = r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_RE = {
    "item": re.compile(r"^item \[(\d+)\]:$"),
    "interval": re.compile(r"^intervals \[(\d+)\]:$"),
    "point": re.compile(r"^points \[(\d+)\]:$"),
    "class": re.compile(r'^class = "(.*)"$'),
    "name": re.compile(r'^name = "(.*)"$'),
    "xmin": re.compile(r"^xmin = (\S+)$"),
    "xmax": re.compile(r"^xmax = (\S+)$"),
    "number": re.compile(r"^number = (\S+)$"),
    "text": re.compile(r'^(?:text|mark) = "'),
    "skip": re.compile(
        r"^(?:File type = .*|Object class = .*|tiers\? <exists>|size = \d+|item \[\]:|"
        r"intervals: size = \d+|points: size = \d+)$"
    ),
}


def _decode(path: Path) -> str:
    raw = path.read_bytes()
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise AnnotationError(
            path, line, f"bytes are not valid UTF-8 ({e.reason})", "UTF-8 (or UTF-16 with a byte-order mark) text"
        ) from None


def read_textgrid_tolerant(path) -> ParsedTextGrid:
    """Line-by-line reader of Praat long-format TextGrids that tolerates what the ``textgrid``
    package refuses: intervals past their tier's ``xmax``, zero-length or reversed intervals
    (dropped and listed in ``notes``), a declared ``size`` that differs from the intervals found.

    Raises :class:`AnnotationError` naming the line for anything it cannot read: a missing
    header, an unknown line, a time that is not a number, an interval without ``xmin``,
    ``xmax`` or ``text``, an unterminated text.
    """
    path = Path(path)
    lines = _decode(path).splitlines()
    if not lines or "ooTextFile" not in lines[0]:
        raise AnnotationError(
            path,
            1,
            f"first line {lines[0][:40]!r}" if lines else "empty file",
            "'File type = \"ooTextFile\"' (Praat long-format TextGrid)",
        )
    notes: List[str] = []
    tiers: List[Tier] = []
    file_xmax: Optional[float] = None
    tier: Optional[Tier] = None
    tier_xmax: Optional[float] = None
    tier_class = None
    cur: Optional[dict] = None  # interval being read: {"line", "xmin", "xmax", "text"}

    def number(text: str, lineno: int, what: str) -> float:
        if not re.fullmatch(_NUM, text):
            raise AnnotationError(path, lineno, f"{what} {text!r} is not a number", "a time in seconds")
        return float(text)

    def close_interval():
        nonlocal cur
        if cur is None:
            return
        missing = [k for k in ("xmin", "xmax", "text") if k not in cur]
        if missing:
            raise AnnotationError(
                path,
                cur["line"],
                f"interval without {', '.join(missing)}",
                "xmin, xmax and text lines after 'intervals [N]:'",
            )
        s, e = round(cur["xmin"], 5), round(cur["xmax"], 5)
        if e <= s:
            if cur["text"].strip():
                notes.append(
                    f"{path}:{cur['line']}: interval [{s}, {e}] of tier {tier.name!r} has no duration "
                    f"(text {cur['text'][:20]!r}); dropped"
                )
        else:
            if tier_xmax is not None and e > tier_xmax + 1e-6 and cur["text"].strip():
                notes.append(
                    f"{path}:{cur['line']}: interval ends at {e} after its tier's xmax {tier_xmax} "
                    f"(tier {tier.name!r}); kept"
                )
            tier.intervals.append((s, e, cur["text"], cur["line"]))
        cur = None

    i = 0
    while i < len(lines):
        lineno = i + 1
        line = lines[i].strip()
        i += 1
        if not line or _RE["skip"].match(line):
            continue
        m = _RE["item"].match(line)
        if m:
            close_interval()
            tier, tier_xmax, tier_class = None, None, None
            continue
        m = _RE["class"].match(line)
        if m:
            tier_class = m.group(1)
            continue
        m = _RE["name"].match(line)
        if m:
            if tier_class is None:
                raise AnnotationError(path, lineno, "tier name before its class line", "'class = \"IntervalTier\"'")
            tier = Tier(m.group(1).replace('""', '"'))
            if tier_class == "IntervalTier":
                tiers.append(tier)
            else:
                notes.append(f"{path}:{lineno}: {tier_class} {tier.name!r} is not an interval tier; ignored")
            continue
        m = _RE["interval"].match(line) or _RE["point"].match(line)
        if m:
            if tier is None:
                raise AnnotationError(path, lineno, "interval outside a tier", "'item [N]:' and a tier name first")
            close_interval()
            cur = {"line": lineno}
            continue
        m = _RE["xmin"].match(line) or _RE["xmax"].match(line) or _RE["number"].match(line)
        if m:
            key = line.split("=")[0].strip()
            value = number(m.group(1), lineno, key)
            if cur is not None:
                cur["xmin" if key in ("xmin", "number") else "xmax"] = value
                if key == "number":
                    cur["xmax"] = value  # points have no length: dropped as zero-length
            elif tier is not None:
                if key == "xmax":
                    tier_xmax = value
            elif key == "xmax":
                file_xmax = value
            continue
        if _RE["text"].match(line):
            if cur is None:
                raise AnnotationError(path, lineno, "text outside an interval", "'intervals [N]:' first")
            body = lines[i - 1].split('"', 1)[1]
            start_line = lineno
            # Praat doubles the quotes inside a text: the text ends at an odd number of quotes
            while body.count('"') % 2 == 0:
                if i >= len(lines):
                    raise AnnotationError(path, start_line, "text is not terminated", "a closing '\"'")
                body += "\n" + lines[i]
                i += 1
            body = body.rstrip()
            if not body.endswith('"'):
                raise AnnotationError(
                    path,
                    start_line,
                    f"text line {lines[start_line - 1].strip()[:40]!r} has characters after its closing quote",
                    'text = "..."',
                )
            cur["text"] = body[:-1].replace('""', '"')
            continue
        raise AnnotationError(path, lineno, f"unexpected line {line[:60]!r}", "a Praat long-format TextGrid line")
    close_interval()
    if file_xmax is None:
        raise AnnotationError(path, len(lines), "no file xmax", "'xmax = <seconds>' in the header")
    return ParsedTextGrid(path, file_xmax, tiers, "tolerant", notes)


NON_SPEECH_TEXTS = ("", "<%>", "<$>")  # generate_nospk_testdata.py: '', ' ', '<%>', '<$>' are not speech
SPEECH_RULES = ("official", "sil")


def is_speech(text: str, rule: str = "official") -> bool:
    """Whether an interval is a speaker turn. ``official``: its stripped text is not ``''``, ``<%>``
    or ``<$>`` (the official baseline); ``sil``: its text is not empty after removing whitespace and
    ``<sil>`` (this recipe's earlier rule)."""
    if rule == "official":
        return text.strip() not in NON_SPEECH_TEXTS
    if rule == "sil":
        return bool(text.replace(SILENCE_TOKEN, "").strip())
    raise ValueError(f"speech rule {rule!r}: choose from {', '.join(SPEECH_RULES)}")


def textgrid_turns(
    parsed: ParsedTextGrid, recording_id: str, rule: str = "official"
) -> Tuple[List[Turn], Dict[str, int]]:
    """Speaker turns of a parsed TextGrid (speaker = ``global_speaker(recording_id, tier name)``)
    and counts of what was left out (``silence``: empty text, ``sil_only``: a non-empty text that
    is not speech under ``rule``: ``<%>`` / ``<$>`` only (official) or ``<sil>`` only (sil))."""
    turns, counts = [], {"silence": 0, "sil_only": 0}
    for tier in parsed.tiers:
        label = tier.name.strip()
        if not label:
            line = tier.intervals[0][3] if tier.intervals else 0
            raise AnnotationError(parsed.path, line, "tier with an empty name", "a speaker label as tier name")
        speaker = common.global_speaker(recording_id, label)
        for start, end, text, _ in tier.intervals:
            if is_speech(text, rule):
                turns.append(Turn(recording_id, start, end, speaker, "0"))
            elif text.strip():
                counts["sil_only"] += 1
            else:
                counts["silence"] += 1
    return turns, counts


# ---------------------------------------------------------------------------
# download


def download_aishell4(
    target_dir,
    splits: Sequence[str] = SPLITS,
    base_url: Optional[str] = None,
    checksums: Optional[Mapping[str, str]] = None,
    force: bool = False,
) -> Path:
    """Download ``<split>.tar.gz`` from OpenSLR 111 and extract it into ``target_dir``.

    :param base_url: where the archives are (default: ``base_url`` in conf/corpora/aishell4.yaml).
    :param checksums: archive name -> sha256; default: ``sha256`` in the config (OpenSLR publishes
        none for SLR111, so downloads are checked by size only unless you give them).
    :return: ``target_dir`` (holding ``train_L/``, ``train_M/``, ``train_S/``, ``test/``).
    """
    cfg = load_corpus_config("aishell4")
    base_url = (base_url or cfg["base_url"]).rstrip("/")
    checksums = dict(cfg.get("sha256") or {}) if checksums is None else dict(checksums)
    target_dir = Path(target_dir)
    for split in splits:
        if split not in SPLITS:
            raise ValueError(f"unknown AISHELL-4 split {split!r}; expected one of {', '.join(SPLITS)}")
        name = f"{split}.tar.gz"
        archive = download_file(f"{base_url}/{name}", target_dir / name, sha256=checksums.get(name), force=force)
        extract_archive(archive, target_dir)
        if not (target_dir / split / "wav").is_dir():
            raise FileNotFoundError(f"{archive} did not extract to {target_dir / split / 'wav'}")
    return target_dir


# ---------------------------------------------------------------------------
# prepare


def prepare_aishell4(
    corpus_dir,
    splits: Optional[Sequence[str]] = None,
    channel: int = 0,
    skip_bad_annotations: bool = False,
    duration_from_annotations: bool = False,
    speech_rule: str = "official",
    progress: bool = True,
):
    """Manifests for AISHELL-4 (see the module docstring for the rules).

    :param speech_rule: ``official`` (the baseline's: ``''``, ``<%>``, ``<$>`` are not speech) or
        ``sil`` (``<sil>``-only intervals are not speech, markup-only ones are).

    :param splits: release folders to prepare (default: those of ``train_L``, ``train_M``,
        ``train_S``, ``test`` that exist under ``corpus_dir``).
    :param channel: audio channel of the 8-channel array for the ``MonoCut`` s.
    :param skip_bad_annotations: leave out sessions whose TextGrid cannot be parsed (listed in the
        report) instead of failing with the list of those files.
    :param duration_from_annotations: recording duration = end of the last turn instead of the
        audio header (stand-in audio).
    :return: ``(result, report)`` as :func:`build_manifests` returns, keys ``""`` and the splits.
    """
    corpus_dir = Path(corpus_dir)
    if not corpus_dir.is_dir():
        raise FileNotFoundError(f"AISHELL-4 directory {corpus_dir} does not exist")
    if splits is None:
        splits = [s for s in SPLITS if (corpus_dir / s).is_dir()]
        if not splits:
            raise FileNotFoundError(f"none of {', '.join(SPLITS)} found under {corpus_dir}")
    for s in splits:
        if s not in SPLITS:
            raise ValueError(f"unknown AISHELL-4 split {s!r}; expected one of {', '.join(SPLITS)}")
        if not (corpus_dir / s).is_dir():
            raise FileNotFoundError(f"split folder {corpus_dir / s} does not exist")

    report = PrepareReport()
    audio: Dict[str, Path] = {}
    grids: Dict[str, Path] = {}
    split_of: Dict[str, str] = {}
    for s in splits:
        for kind, folder, suffix, found in (
            ("audio", "wav", ".flac", audio),
            ("TextGrid", "TextGrid", ".TextGrid", grids),
        ):
            for p in sorted((corpus_dir / s / folder).glob(f"*{suffix}")):
                rec_id = p.name[: -len(suffix)]
                if rec_id in found:
                    raise ValueError(f"session {rec_id} has two {kind} files: {found[rec_id]} and {p}")
                found[rec_id] = p
                if split_of.setdefault(rec_id, s) != s:
                    raise ValueError(f"session {rec_id} occurs in two splits: {split_of[rec_id]} and {s}")

    report.annotations_without_audio = sorted(set(grids) - set(audio))
    report.audio_without_annotations = sorted(set(audio) - set(grids))
    report.log_unmatched()

    turns: List[Turn] = []
    bad: Dict[str, str] = {}  # session -> 'file:line: problem; expected ...'
    n_tolerant = 0
    counts = {"silence": 0, "sil_only": 0}
    for rec_id in tqdm(sorted(set(grids) & set(audio)), desc="Reading TextGrids", disable=not progress):
        try:
            parsed = read_textgrid(grids[rec_id])
            rec_turns, c = textgrid_turns(parsed, rec_id, speech_rule)
        except AnnotationError as e:
            bad[rec_id] = str(e)
            continue
        n_tolerant += parsed.parser == "tolerant"
        report.notes.extend(parsed.notes)
        turns.extend(rec_turns)
        for k in counts:
            counts[k] += c[k]
    if bad:
        if not skip_bad_annotations:
            raise ValueError(
                f"{len(bad)} TextGrid file(s) cannot be parsed (--skip-bad-annotations leaves "
                f"them out): " + " | ".join(bad.values())
            )
        for msg in bad.values():
            report.notes.append(f"unparseable TextGrid left out (session not in the manifests): {msg}")
        logger.warning(
            "%d unparseable TextGrid(s) left out (listed in the report): %s", len(bad), next(iter(bad.values()))
        )
    turns, merged = merge_self_overlaps(turns)
    report.annotation_summary = (
        f"read {len(grids) - len(report.annotations_without_audio) - len(bad)} TextGrid(s) "
        f"({n_tolerant} by the tolerant parser), {len(turns)} speaker turn(s); left out {counts['silence']} "
        f"empty interval(s) and {counts['sil_only']} "
        + ("'<%>'/'<$>'-only" if speech_rule == "official" else "'<sil>'-only")
        + f" interval(s) (speech rule {speech_rule}); merged {merged} "
        f"same-speaker overlapping turn(s); {len(bad)} unparseable TextGrid(s)"
    )

    rec_ids = sorted((set(grids) & set(audio)) - set(bad))
    if not rec_ids:
        raise ValueError(f"no session under {corpus_dir} has both audio and a readable TextGrid")
    recordings = common.read_recordings(
        audio,
        rec_ids,
        "Reading audio headers",
        progress,
        report=report,
        durations=common.annotated_durations(turns) if duration_from_annotations else None,
    )
    split_ids = {s: [r for r in rec_ids if split_of[r] == s] for s in splits}
    result = common.build_manifests(recordings, turns, report, splits=split_ids, channel=channel)
    return result, report


def output_name(channel: int = 0, **_) -> str:
    return "aishell4" if channel == 0 else f"aishell4-ch{channel}"


# ---------------------------------------------------------------------------
# command-line declarations (built into click commands by recipes.cli_corpora)

CORPUS_DIR_HELP = "Link this existing copy (holding train_L/ ... test/) as TARGET_DIR instead of downloading."
DOWNLOAD_HELP = """Download AISHELL-4 (OpenSLR 111) into TARGET_DIR, or link an existing copy.

    Archives are fetched resumably (TARGET_DIR/<split>.tar.gz.part until complete) and extracted
    into TARGET_DIR/<split>/{wav,TextGrid}.
    """
DOWNLOAD_OPTIONS = (
    Option(
        "--split",
        "Archive to download; repeatable. Default: all four (about 120 h, 8-channel FLAC).",
        dest="splits",
        choices=tuple(SPLITS),
        multiple=True,
    ),
    Option(
        "--base-url", "Mirror holding <split>.tar.gz. Default: base_url in conf/corpora/aishell4.yaml (OpenSLR 111)."
    ),
)
PREPARE_HELP = """AISHELL-4 CORPUS_DIR -> speaker-turn manifests in OUTPUT_DIR.

    Writes OUTPUT_DIR/aishell4_{recordings,supervisions,cuts}_<split>.jsonl.gz, aishell4_<split>.uem
    (whole recordings) and aishell4_prepare_report.txt. Speakers are <session>_<tier name>.
    """
PREPARE_OPTIONS = (
    Option(
        "--split",
        "Split folder to prepare; repeatable. Default: every one of train_L, train_M, train_S, "
        "test found in CORPUS_DIR.",
        dest="splits",
        choices=tuple(SPLITS),
        multiple=True,
    ),
    Option(
        "--channel",
        "Array channel (0-7) of the 8-channel FLAC for the cuts; outputs are named aishell4 for "
        "channel 0, aishell4-ch<N> otherwise.",
        type=int,
        default=0,
        min=0,
        max=7,
    ),
    Option(
        "--skip-bad-annotations",
        "Leave out sessions whose TextGrid cannot be parsed (listed in the report). "
        "Default: fail with the list of those files.",
        type=bool,
    ),
    Option(
        "--speech-rule",
        "official: an interval is speech unless its text is '', <%> or <$> (the official "
        "baseline, generate_nospk_testdata.py); sil: unless it is empty or only <sil>.",
        choices=SPEECH_RULES,
        default="official",
    ),
)
NAME_HELP = "Default: aishell4 (channel 0), aishell4-ch<N> otherwise."


__all__ = ["download_aishell4", "prepare_aishell4", "read_textgrid", "read_textgrid_tolerant", "SPLITS"]
