"""ICSI Meeting Corpus: speaker turns from the NXT word timings.

The ICSI Meeting Corpus (CC BY 4.0) has 75 natural research meetings (about
72 h, 3-10 speakers each, 53 speakers in all) recorded at ICSI Berkeley with
close-talking headsets and desktop microphones, 16 kHz. There is no official
partition; we use the Kaldi / Lhotse split (Renals & Swietojanski 2014):
dev = Bmr021, Bns001; test = Bmr013, Bmr018, Bro021; train = the other 70
(``conf/corpora/icsi.yaml``). It is not speaker-disjoint.

On-disk layout (``CORPUS_DIR``; what :func:`download_icsi` writes)::

    CORPUS_DIR/
      ICSI/                                from ICSI_core_NXT.zip (NXT format)
        Words/<meeting>.<agent>.words.xml  one file per participant (agent letter A, B, ...)
        Segments/<meeting>.<agent>.segs.xml  transcriber segments, attribute participant = speaker
        speakers.xml, ICSI-metadata.xml, ...  (not used)
      speech/<meeting>/Mix-Headset.wav     mic ihm-mix: the headset mix <meeting>.interaction.wav
      speech/<meeting>/chan6.sph           mic sdm: channel 6 = D3, the desktop PZM microphone in the
                                           middle of the table (Lhotse's and Kaldi's sdm / sdm1);
                                           NIST SPHERE (shorten-compressed: loading the samples needs
                                           sph2pipe, ``lhotse install-sph2pipe``; the header is read here)

(``speech/<meeting>/...`` is Lhotse's audio layout; ``--transcripts-dir`` points at
another copy of the NXT files, e.g. Lhotse's ``transcripts/``.)

Annotation format (NXT XML, ISO-8859-1)::

    <nite:root nite:id="Bmr021.A.words" xmlns:nite="http://nite.sourceforge.net/">
      <w nite:id="Bmr021.w.1" c="W" starttime="10.51" endtime="10.70">so</w>
      <w nite:id="Bmr021.w.2" c="CM">,</w>                       punctuation (c = CM . QM EXCLM HYPH ...)
      <vocalsound nite:id="..." starttime=".." endtime=".." type="laugh"/>
      <pause/>, <disfmarker/>, <nonvocalsound/>, <comment/>        not speech here
    <segment nite:id="Bmr021.segment.1" starttime=".." endtime=".." participant="me013">
      <nite:child href="Bmr021.A.words.xml#id(Bmr021.w.1)..id(Bmr021.w.9)"/></segment>

The speaker of an agent's words file is the ``participant`` of its segments file
(the ICSI speaker tags ``me013``, ``fe008``, ... are corpus-global, so they are
used as they are; this is also where Lhotse takes the speaker from).

Rules (seconds):

- speech = the timed ``<w>`` words of a speaker, punctuation (``c`` in
  CM . QM EXCLM HYPH LQUOTE RQUOTE QUOTE) excluded; with ``vocalsounds=True``
  the timed ``<vocalsound>`` elements count too (like the AMI
  ``word_and_vocalsounds`` references);
- a run of words timed only at its edges (first word has only a start, a later
  one only an end) is one stretch of speech from that start to that end;
- words without times (about 5 % of ICSI's words, mostly in the digit-reading
  sections) are speech with unknown times: they are no turn, and the stretch
  between the nearest timed neighbours of each untimed run (end of the timed
  word before it, start of the timed word after it, in the speaker's words
  file; the recording start / end when there is none) is taken out of the
  scored region (a hole in the UEM on each cut), so it is neither trained nor
  scored as silence; the report counts the runs and the unscored seconds;
  zero-length words are left out; a word with end < start is reported
  (file:line) and left out;
- words -> turns, as the BUT AMI ``only_words`` references were built: per
  speaker, sort the words and join consecutive ones when the pause between them
  is at most ``max_gap`` (default 0.0 s: they must touch, so any pause splits a
  turn; overlapping words are always joined);
- a words file whose segments name no participant gets no speaker: its timed
  words are left out and the file is named in the report;
- non-numeric times or XML that is not well formed raise
  :class:`recipes.rttm.AnnotationError` naming file and line.

Recordings: one per meeting; ``duration_from_annotations`` takes the last turn
end (ICSI has no UEM: the whole recording is scored, except the untimed-word holes). Meetings of a split list
that have no annotations or no audio are left out of it and listed in the report.

Outputs: ``icsi-<mic>_{recordings,supervisions,cuts}_{train,dev,test}.jsonl.gz``,
``icsi-<mic>_<split>.uem`` and ``icsi-<mic>_prepare_report.txt``.
"""

from __future__ import annotations

import logging
import re
import xml.parsers.expat
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Dict, List, Mapping, Optional, Sequence, Tuple

if TYPE_CHECKING:  # Lhotse is imported where used (`diar prepare <corpus> --help` needs no torch)
    from lhotse import Recording
from tqdm import tqdm

from recipes.corpora import common
from recipes.corpora.common import Option, PrepareReport
from recipes.corpora.config import load_corpus_config
from recipes.download import download_each, download_file, extract_archive
from recipes.rttm import AnnotationError, Turn

logger = logging.getLogger(__name__)

CONFIG = load_corpus_config("icsi")
MICS: Dict[str, Dict[str, str]] = CONFIG["mics"]
SPLITS: Dict[str, List[str]] = CONFIG["splits"]
# recipe defaults (ours, not facts of the release)
DEFAULT_MIC = "ihm-mix"
# Word -> turn merging: consecutive words of a speaker are one turn when the pause between them is at
# most MAX_GAP seconds (0: they must touch, the rule of the BUT AMI only_words RTTMs).
MAX_GAP = 0.0
PUNCTUATION = {"CM", ".", "QM", "EXCLM", "HYPH", "LQUOTE", "RQUOTE", "QUOTE"}
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")


@dataclass
class _Element:
    tag: str
    attrs: Dict[str, str]
    line: int


def read_nxt(path) -> List[_Element]:
    """The elements of an NXT XML file in document order, with their line numbers."""
    path = Path(path)
    out: List[_Element] = []
    parser = xml.parsers.expat.ParserCreate()
    parser.StartElementHandler = lambda tag, attrs: out.append(_Element(tag, attrs, parser.CurrentLineNumber))
    try:
        with path.open("rb") as f:
            parser.ParseFile(f)
    except xml.parsers.expat.ExpatError as e:
        raise AnnotationError(
            path, e.lineno, f"not well-formed XML ({xml.parsers.expat.errors.messages[e.code]})", "an NXT XML file"
        ) from e
    return out


def _time(path, el: _Element, name: str) -> Optional[float]:
    text = el.attrs.get(name, "").strip()
    if not text:
        return None
    if not _NUMBER.match(text):
        raise AnnotationError(path, el.line, f"<{el.tag}> {name}={text!r} is not a number", "seconds")
    return float(text)


@dataclass
class WordCounts:
    timed: int = 0
    untimed: int = 0
    edge_timed_runs: int = 0
    zero_length: int = 0
    bad: List[str] = field(default_factory=list)  # file:line of words with end < start


def read_words(
    path,
    vocalsounds: bool = False,
    counts: Optional[WordCounts] = None,
    holes: Optional[List[Tuple[float, float]]] = None,
) -> List[Tuple[float, float]]:
    """Speech intervals (start, end) in seconds of one ``*.words.xml`` file (rules in the module docstring).

    ``holes`` (when given) receives one ``(start, end)`` per run of untimed words: from the end of
    the last timed word before the run (0.0 when none) to the start of the first timed word after
    it (``inf`` when none, i.e. the end of the recording)."""
    counts = counts if counts is not None else WordCounts()
    tags = {"w", "vocalsound"} if vocalsounds else {"w"}
    out = []
    open_start: Optional[float] = None  # start of a run timed only at its edges
    last_end = 0.0  # end of the latest timed word so far
    hole_from: Optional[float] = None  # an untimed run started after a word ending here
    for el in read_nxt(path):
        if el.tag not in tags or (el.tag == "w" and el.attrs.get("c") in PUNCTUATION):
            continue
        start, end = _time(path, el, "starttime"), _time(path, el, "endtime")
        if start is None and end is None:
            counts.untimed += open_start is None  # a word inside an edge-timed run is not "untimed"
            if open_start is None and hole_from is None:
                hole_from = last_end
            continue
        if hole_from is not None:
            nxt = start if start is not None else end
            if holes is not None and nxt > hole_from:
                holes.append((hole_from, nxt))
            hole_from = None
        if end is not None:
            last_end = max(last_end, end)
        if start is not None and end is None:
            counts.untimed += open_start is not None  # an earlier run that never closed
            open_start = start
            continue
        if start is None and end is not None and open_start is not None:
            start, open_start = open_start, None
            counts.edge_timed_runs += 1
        if start is None or end is None:
            counts.untimed += 1
            continue
        if open_start is not None and el.attrs.get("starttime", "").strip():  # a run that never closed
            counts.untimed += 1
            open_start = None
        if end < start:
            counts.bad.append(f"{path}:{el.line}")
            continue
        if end == start:
            counts.zero_length += 1
            continue
        counts.timed += 1
        out.append((start, end))
    counts.untimed += open_start is not None
    if hole_from is not None and holes is not None:
        holes.append((hole_from, float("inf")))
    return out


def words_to_turns(words: Sequence[Tuple[float, float]], max_gap: float = 0.0) -> List[Tuple[float, float]]:
    """Join one speaker's words into turns: a word starting at most ``max_gap`` seconds after the
    current turn's end extends it (``max_gap=0``: only touching or overlapping words)."""
    turns: List[List[float]] = []
    for s, e in sorted(words):
        if turns and s - turns[-1][1] <= max_gap + 1e-9:
            turns[-1][1] = max(turns[-1][1], e)
        else:
            turns.append([s, e])
    return [(s, e) for s, e in turns]


def read_participant(path) -> Optional[str]:
    """The speaker of a ``*.segs.xml`` file (its segments' ``participant``); an error if they disagree."""
    found = None
    for el in read_nxt(path):
        if el.tag == "segment" and el.attrs.get("participant"):
            p = el.attrs["participant"]
            if found is not None and p != found:
                raise AnnotationError(
                    path, el.line, f"participant {p!r} after {found!r}", "one participant per segments file"
                )
            found = p
    return found


def find_transcripts(corpus_dir) -> Path:
    """``CORPUS_DIR/ICSI`` (the NXT zip's layout), else ``CORPUS_DIR/transcripts`` (Lhotse's)."""
    for name in ("ICSI", "transcripts"):
        if (Path(corpus_dir) / name / "Words").is_dir():
            return Path(corpus_dir) / name
    raise FileNotFoundError(f"no ICSI/Words or transcripts/Words under {corpus_dir}")


def read_icsi_turns(
    transcripts_dir,
    max_gap: float = 0.0,
    vocalsounds: bool = False,
    report: Optional[PrepareReport] = None,
    progress: bool = False,
    holes: Optional[Dict[str, List[Tuple[float, float]]]] = None,
) -> List[Turn]:
    """Speaker turns of every meeting under ``transcripts_dir`` (Words/ and Segments/); ``holes``
    (when given) receives ``meeting -> [(start, end)]``: the stretches around untimed words."""
    transcripts_dir = Path(transcripts_dir)
    report = report if report is not None else PrepareReport()
    counts = WordCounts()
    turns: List[Turn] = []
    files = sorted((transcripts_dir / "Words").glob("*.words.xml"))
    if not files:
        raise FileNotFoundError(f"no *.words.xml under {transcripts_dir / 'Words'}")
    owners: Dict[Tuple[str, str], str] = {}
    words_of: Dict[Tuple[str, str], List[Tuple[float, float]]] = {}
    for path in tqdm(files, desc="ICSI words", disable=not progress):
        parts = path.name.split(".")
        if len(parts) != 4:
            report.notes.append(f"{path}: not named <meeting>.<agent>.words.xml; skipped")
            continue
        meeting, agent = parts[0], parts[1]
        segs = transcripts_dir / "Segments" / f"{meeting}.{agent}.segs.xml"
        speaker = read_participant(segs) if segs.is_file() else None
        file_holes: List[Tuple[float, float]] = []
        words = read_words(path, vocalsounds=vocalsounds, counts=counts, holes=file_holes)
        if holes is not None and file_holes:
            holes.setdefault(meeting, []).extend(file_holes)
        if speaker is None:
            if words:
                report.notes.append(f"{path}: {len(words)} timed words but no participant in {segs}; left out")
            continue
        if (meeting, speaker) in owners:
            report.notes.append(f"{path}: speaker {speaker} also has {owners[(meeting, speaker)]}; words pooled")
        owners[(meeting, speaker)] = path.name
        words_of.setdefault((meeting, speaker), []).extend(words)
    for (meeting, speaker), words in sorted(words_of.items()):
        for s, e in words_to_turns(words, max_gap):
            turns.append(Turn(meeting, round(s, 6), round(e, 6), speaker))
    report.notes.extend(f"{x}: word ends before it starts; left out" for x in counts.bad)
    what = "words and vocal sounds" if vocalsounds else "words"
    report.annotation_summary = (
        f"{len(files)} NXT words file(s): {counts.timed} timed {what}, {counts.edge_timed_runs} run(s) timed "
        f"only at the edges, {counts.untimed} without times and {counts.zero_length} of zero length left out, "
        f"{len(counts.bad)} with end < start left out; joined into {len(turns)} turns (max gap {max_gap} s)"
    )
    return sorted(turns)


# ---------------------------------------------------------------------------
# audio


def sph_header(path) -> Dict[str, str]:
    """The fields of a NIST SPHERE header (``name -type value`` lines up to ``end_head``)."""
    with open(path, "rb") as f:
        head = f.read(1024)
    if not head.startswith(b"NIST_1A"):
        raise ValueError(f"{path}: not a NIST SPHERE file (no NIST_1A header)")
    fields = {}
    for line in head.decode("latin-1").splitlines()[2:]:
        if line.strip() == "end_head":
            break
        parts = line.split(None, 2)
        if len(parts) == 3:
            fields[parts[0]] = parts[2].strip()
    return fields


def read_recording(meeting: str, path: Path) -> Recording:
    """A Recording of one audio file; SPHERE headers are read here (Lhotse needs sph2pipe even for that)."""
    from lhotse import Recording
    from lhotse.audio import AudioSource

    try:
        if path.suffix.lower() != ".sph":
            return Recording.from_file(path, recording_id=meeting)
        h = sph_header(path)
        sr, n, ch = int(h["sample_rate"]), int(h["sample_count"]), int(h.get("channel_count", "1"))
    except Exception as e:
        raise RuntimeError(f"cannot read audio {path}: {e}") from e
    return Recording(
        id=meeting,
        sources=[AudioSource(type="file", channels=list(range(ch)), source=str(path))],
        sampling_rate=sr,
        num_samples=n,
        duration=n / sr,
    )


# ---------------------------------------------------------------------------
# prepare


def prepare_icsi(
    corpus_dir,
    mic: str = DEFAULT_MIC,
    transcripts_dir=None,
    max_gap: float = MAX_GAP,
    vocalsounds: bool = False,
    splits: Optional[Mapping[str, Sequence[str]]] = None,
    duration_from_annotations: bool = False,
    progress: bool = True,
):
    """Manifests of the ICSI meetings for ``mic`` (see the module docstring).

    :param transcripts_dir: the NXT files (Words/, Segments/); default
        ``CORPUS_DIR/ICSI`` (else ``CORPUS_DIR/transcripts``).
    :param max_gap: seconds; words of a speaker closer than this form one turn.
    :param splits: split name -> meeting ids (default: the Kaldi/Lhotse split).
    :return: ``(common.build_manifests result, PrepareReport)``.
    """
    if mic not in MICS:
        raise ValueError(f"unknown mic {mic!r}; expected one of {', '.join(MICS)}")
    if max_gap < 0:
        raise ValueError(f"max_gap must be >= 0 seconds, got {max_gap}")
    corpus_dir = Path(corpus_dir)
    transcripts = Path(transcripts_dir) if transcripts_dir else find_transcripts(corpus_dir)
    report = PrepareReport()
    holes: Dict[str, List[Tuple[float, float]]] = {}
    turns = read_icsi_turns(
        transcripts, max_gap=max_gap, vocalsounds=vocalsounds, report=report, progress=progress, holes=holes
    )
    ends = common.annotated_durations(turns)
    file_name = MICS[mic]["file"]
    found = {p.parent.name: p for p in sorted((corpus_dir / "speech").glob(f"*/{file_name}"))}
    meetings = common.match_audio(report, ends, found)
    recordings = common.read_recordings(
        found,
        meetings,
        f"ICSI audio headers ({mic})",
        progress,
        read=lambda path, m: read_recording(m, path),
        durations=ends if duration_from_annotations else None,
    )
    split_ids = {}
    for name, ids in (splits if splits is not None else SPLITS).items():
        split_ids[name] = [m for m in ids if m in recordings]
        missing = [m for m in ids if m not in recordings]
        if missing:
            report.notes.append(
                f"split {name}: {len(missing)} listed meeting(s) not prepared (no audio or no "
                f"annotations): {' '.join(missing)}"
            )
    uem = untimed_uem(recordings, holes, report)
    result = common.build_manifests(recordings, turns, report, uem=uem, splits=split_ids, channel=0)
    return result, report


def untimed_uem(
    recordings, holes: Dict[str, List[Tuple[float, float]]], report: PrepareReport
) -> Dict[str, List[Tuple[float, float]]]:
    """Scored regions: each whole recording minus the untimed-word holes (seconds); counted in the report."""
    from recipes.rttm import union_intervals

    uem, n_runs, unscored = {}, 0, 0.0
    for m, rec in recordings.items():
        cut = union_intervals(
            [(max(0.0, a), min(b, rec.duration)) for a, b in holes.get(m, ()) if min(b, rec.duration) > max(0.0, a)]
        )
        regions, t = [], 0.0
        for a, b in cut:
            if a > t:
                regions.append((t, a))
            t = max(t, b)
        if t < rec.duration:
            regions.append((t, rec.duration))
        uem[m] = regions
        n_runs += len(holes.get(m, ()))
        unscored += sum(b - a for a, b in cut)
        if cut:
            report.uem_notes.append(
                f"{m}: {len(holes[m])} run(s) of untimed words; {sum(b - a for a, b in cut):.2f} s "
                f"not scored: " + ", ".join(f"{a:.2f}-{b:.2f}" for a, b in cut[:5]) + (" ..." if len(cut) > 5 else "")
            )
    report.notes.append(
        f"untimed words: {n_runs} run(s) between timed neighbours, {unscored:.2f} s taken out of "
        "the scored region (UEM holes: neither turn nor silence)"
    )
    return uem


# ---------------------------------------------------------------------------
# download


def download_icsi(
    target_dir,
    mic: str = DEFAULT_MIC,
    meetings: Optional[Sequence[str]] = None,
    base_url: Optional[str] = None,
    sha256: Optional[Mapping[str, str]] = None,
    force: bool = False,
    progress: bool = True,
) -> Path:
    """Download ICSI_core_NXT.zip (extracted into ``target_dir``) and the ``mic`` audio.

    :param base_url: the mirror (default ``conf/corpora/icsi.yaml``: ``https://groups.inf.ed.ac.uk/ami``).
    :param meetings: only these meetings (default: all 75 of the split lists).
    :param sha256: relative path under ``target_dir`` -> expected sha256 (none is published).
    :return: ``target_dir``. Audio files the server does not have (HTTP 404) are logged and
        skipped; :func:`prepare_icsi` reports their meetings.
    """
    if mic not in MICS:
        raise ValueError(f"unknown mic {mic!r}; expected one of {', '.join(MICS)}")
    target = Path(target_dir)
    url = (base_url or CONFIG["base_url"]).rstrip("/")
    sha256 = dict(sha256 or {})
    archive = CONFIG["annotations_archive"]
    rel = Path(archive).name
    zip_path = download_file(f"{url}/{archive}", target / rel, sha256=sha256.get(rel), force=force, progress=progress)
    extract_archive(zip_path, target)
    ids = list(meetings) if meetings else [m for ids in SPLITS.values() for m in ids]
    urls = {f"speech/{m}/{MICS[mic]['file']}": f"{url}/{MICS[mic]['url'].format(m=m)}" for m in ids}
    download_each(
        urls,
        lambda rel: download_file(urls[rel], target / rel, sha256=sha256.get(rel), force=force, progress=progress),
        f"ICSI audio ({mic})",
        progress,
        note="prepare reports their meetings",
    )
    return target


# ---------------------------------------------------------------------------
# command-line declarations (built into click commands by recipes.cli_corpora)

_MIC = Option(
    "--mic",
    "ihm-mix: the headset mix speech/<meeting>/Mix-Headset.wav; sdm: far-field channel 6 "
    "(D3, desktop PZM) speech/<meeting>/chan6.sph.",
    choices=tuple(MICS),
    default=DEFAULT_MIC,
)
CORPUS_DIR_HELP = "Link this existing copy (ICSI/ + speech/) as TARGET_DIR instead of downloading."
DOWNLOAD_HELP = """Download ICSI_core_NXT.zip (extracted) and one mic's audio into TARGET_DIR (resumable; no
    checksums are published), or link an existing copy with --corpus-dir."""
DOWNLOAD_OPTIONS = (
    _MIC,
    Option("--meeting", "Download only this meeting (repeatable). Default: all 75.", dest="meetings", multiple=True),
    Option("--base-url", "Mirror base URL. Default: https://groups.inf.ed.ac.uk/ami (conf/corpora/icsi.yaml)."),
    Option("--force", "Download again files that are already there.", type=bool),
)
PREPARE_HELP = """ICSI CORPUS_DIR (NXT words + audio) -> speaker-turn manifests in OUTPUT_DIR.

    Writes OUTPUT_DIR/icsi-<mic>_{recordings,supervisions,cuts}_{train,dev,test}.jsonl.gz,
    icsi-<mic>_<split>.uem (whole recordings) and icsi-<mic>_prepare_report.txt
    (meetings without audio or annotations, words left out)."""
PREPARE_OPTIONS = (
    _MIC,
    Option(
        "--transcripts-dir",
        "NXT files (Words/, Segments/). Default: CORPUS_DIR/ICSI, else CORPUS_DIR/transcripts.",
        type="dir",
    ),
    Option(
        "--max-gap",
        "Seconds: words of one speaker separated by at most this pause form one turn "
        "(0 = only touching words, the BUT AMI only_words rule).",
        type=float,
        default=MAX_GAP,
        min=0.0,
    ),
    Option(
        "--vocalsounds",
        "Count timed <vocalsound> elements (laughs, ...) as speech too. Default: words only.",
        type=bool,
    ),
)
NAME_HELP = "Default: icsi-<mic>."


def output_name(mic: str = DEFAULT_MIC, **_) -> str:
    """Prefix of the output files: ``icsi-<mic>``."""
    return f"icsi-{mic}"
