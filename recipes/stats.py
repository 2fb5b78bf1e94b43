"""Corpus statistics for diarization data: speech, overlap, speakers, turns.

All times are in seconds internally and reported in hours. Definitions (the
text, markdown and LaTeX outputs repeat them):

- ``duration``: the scored length of a recording: the sum of its UEM
  intervals when a UEM exists, else the audio duration, else (RTTM input
  without audio or UEM) the end of the last turn, a lower bound; the report
  says which (``duration_source``).
- ``speech``: time with at least one active speaker (union over speakers).
- ``overlap``: time with at least two active speakers.
- ``speaker time``: sum over speakers of their own speech (each speaker's turns
  are unioned first, so a same-speaker self-overlap is not counted twice).
- ``overlap_ratio`` = overlap / speech.
- ``overlap_ratio_of_duration`` = overlap / duration.
- ``missed_at_oracle_sad`` = (speaker time - speech) / speaker time: the share
  of speaker time that a system with oracle speech activity and one speaker per
  frame must miss (what Kaldi's AMI recipe calls "overlap").

Turns are clipped to the UEM (when given) before anything is measured.

Distributions (seconds; percentiles 10 / 50 / 90 in the report, histograms in the plot),
on each speaker's unioned turns:

- ``turn_duration``: length of each turn;
- ``pause_same_speaker`` / ``pause_speaker_change``: the silence before a turn, measured
  from the end of the latest-ending earlier turn (Landini et al. 2022), split by whether
  that turn was the same speaker's;
- ``overlap_segment``: length of each maximal stretch with at least two active speakers.

Simulated mixtures carrying ``custom["sim"]`` (method, num_speakers, target_overlap,
target_silence, overlap_ratio, silence_ratio, index) are also tabulated per
(speaker count, target overlap) from that metadata (``simulated`` in the report).
"""

import json
import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from recipes.cuts import cut_custom, cut_recording_id, cut_sim, cut_turns, cut_uem
from recipes.rttm import Turn, clip_to_uem, group_by_recording, union_intervals

DEFINITIONS = {
    "duration_hours": "scored length: UEM when given, else audio duration, else last turn end (lower bound)",
    "speech_hours": "time with >= 1 active speaker",
    "overlap_hours": "time with >= 2 active speakers",
    "speaker_hours": "sum over speakers of their own (unioned) speech",
    "overlap_ratio": "overlap / speech",
    "overlap_ratio_of_duration": "overlap / duration",
    "missed_at_oracle_sad": "(speaker time - speech) / speaker time",
    "speakers_per_recording": "distinct speaker labels per recording (min / mean / max)",
    "oracle_der_c0": "DER (md-eval, collar 0) of oracle speech activity with one speaker: all speech given to "
    "each recording's most talkative speaker (recipes.score)",
    "oracle_der_c025": "the same with a 0.25 s collar",
    "turn_duration": "seconds per (speaker-unioned) turn",
    "pause_same_speaker": "silence before a turn after the same speaker's turn (from the latest-ending earlier turn)",
    "pause_speaker_change": "silence before a turn after another speaker's turn (from the latest-ending earlier turn)",
    "overlap_segment": "seconds per maximal stretch with >= 2 active speakers",
}
DISTRIBUTIONS = ("turn_duration", "pause_same_speaker", "pause_speaker_change", "overlap_segment")
PERCENTILES = (10, 50, 90)


@dataclass
class RecordingStats:
    """Statistics of one recording, in seconds."""

    recording_id: str
    duration: float
    duration_source: str  # "uem" | "audio" | "last_turn_end"
    speech: float
    overlap: float
    speaker_time: float
    turns: int
    speakers: List[str]
    # seconds with exactly k active speakers, k = 0, 1, 2, ... (k = 0 within the duration)
    time_by_speaker_count: List[float] = field(default_factory=list)
    # which annotation the turns come from, when the corpus offers several (cut custom ``reference``)
    reference: Optional[str] = None
    # seconds, one value per event: DISTRIBUTIONS -> values
    events: Dict[str, List[float]] = field(default_factory=dict)
    audio_duration: Optional[float] = None  # the cut's (audio) length, when known
    sim: Optional[dict] = None  # a simulated mixture's custom["sim"]
    # oracle SAD, one speaker (recipes.score): collar -> (error seconds, scored speaker seconds)
    oracle: Dict[float, Tuple[float, float]] = field(default_factory=dict)


def pooled_events(recs: Sequence[RecordingStats], key: str) -> np.ndarray:
    """All recordings' values of one distribution, in recording order, as one float64 array
    (no Python float per value: 20,000 h of mixtures have ~7 M turns)."""
    from array import array

    pooled = array("d")
    for r in recs:
        pooled.extend(r.events.get(key, ()))  # a C-level copy for the stream's array("d") events
    return np.frombuffer(pooled, dtype=np.float64) if len(pooled) else np.zeros(0)


def distribution(values: Sequence[float]) -> dict:
    """``{"count", "mean", "p10", "p50", "p90"}`` (seconds; None when empty)."""
    v = np.asarray(values, dtype=float)
    out = {"count": int(len(v)), "mean": float(v.mean()) if len(v) else None}
    for q in PERCENTILES:
        out[f"p{q}"] = float(np.percentile(v, q)) if len(v) else None
    return out


def recording_stats(
    recording_id: str,
    turns: Sequence[Turn],
    duration: Optional[float] = None,
    uem: Optional[Sequence[Tuple[float, float]]] = None,
    duration_source: Optional[str] = None,
) -> RecordingStats:
    """Measure one recording. ``uem`` (recording time) clips the turns and sets the duration."""
    if uem is not None:
        turns = clip_to_uem(turns, {recording_id: list(uem)})
        duration, source = sum(e - s for s, e in union_intervals(uem)), duration_source or "uem"
    elif duration is not None:
        source = duration_source or "audio"
    else:
        duration, source = max((t.end for t in turns), default=0.0), "last_turn_end"
    speakers = sorted({t.speaker for t in turns})
    code = {s: i for i, s in enumerate(speakers)}
    n = len(turns)
    return interval_stats(
        recording_id,
        np.fromiter((t.start for t in turns), np.float64, n),
        np.fromiter((t.end for t in turns), np.float64, n),
        np.fromiter((code[t.speaker] for t in turns), np.int64, n),
        speakers,
        duration,
        source,
        list(uem) if uem is not None else [(0.0, max(duration, 0.0))],
    )


def interval_stats(
    recording_id: str,
    start: np.ndarray,
    end: np.ndarray,
    speaker: np.ndarray,
    speakers: List[str],
    duration: float,
    duration_source: str,
    scored: Sequence[Tuple[float, float]],
) -> RecordingStats:
    """:func:`recording_stats` of turns already clipped to the scored regions, as arrays:
    ``start``, ``end`` (seconds), ``speaker`` (int64 codes into ``speakers``, the sorted
    names); ``scored``: the regions the oracle baseline scores (the UEM, else the audio).
    One recording of :func:`batch_interval_stats`."""
    rec = np.zeros(len(start), np.int64)
    record = (recording_id, speakers, duration, duration_source, scored)
    return batch_interval_stats(rec, start, end, speaker, [record])[0]


def batch_interval_stats(rec: np.ndarray, start: np.ndarray, end: np.ndarray, speaker: np.ndarray, recordings) -> list:
    """:class:`RecordingStats` of many recordings at once. Turn ``i`` (seconds, clipped to
    the scored regions) belongs to ``recordings[rec[i]]``, a tuple ``(recording_id,
    speakers, duration, duration_source, scored regions)``; ``speaker[i]`` is a code into
    that recording's sorted ``speakers``.

    Vectorised over all recordings (numpy on the sorted boundaries), with exactly the
    arithmetic of the per-recording sweep it replaced (``tests/test_stats.py`` checks
    equality to the last bit): each speaker's turns unioned (touching turns joined); the
    active-speaker profile between consecutive distinct boundary times; the seconds of each
    speaker count summed piece by piece in time order (``np.bincount``), and those sums
    added in the order the counts first occur; pauses from the latest-ending earlier turn
    (a running maximum, the earliest of equal ends); overlap stretches joined across
    pieces closer than 1e-9 s."""
    from recipes.score import oracle_one_speaker_batch, union_by_group

    n_rec = len(recordings)
    oracle = oracle_one_speaker_batch(rec, start, end, speaker, [r[4] for r in recordings])
    columns = {k: None for k in DISTRIBUTIONS}  # per distribution: a list per recording (None: all empty)
    by_k: List[Dict[int, float]] = [{} for _ in range(n_rec)]
    nonempty = end > start
    width = int(speaker.max()) + 1 if len(speaker) else 1
    g, us, ue = union_by_group(rec[nonempty] * width + speaker[nonempty], start[nonempty], end[nonempty])
    if len(us):
        ur, spk = g // width, g % width

        def split(values, owner):  # per recording: a list of values (owner sorted)
            bounds = np.searchsorted(owner, np.arange(n_rec + 1))
            flat = values.tolist()
            return [flat[bounds[i] : bounds[i + 1]] for i in range(n_rec)]

        # active-speaker profile: pieces between consecutive distinct boundary times of a recording
        t = np.concatenate([us, ue])
        tr = np.concatenate([ur, ur])
        d = np.concatenate([np.ones(len(us), np.int64), -np.ones(len(us), np.int64)])
        order = np.lexsort((t, tr))
        t, tr, d = t[order], tr[order], d[order]
        new = np.concatenate([[True], (t[1:] != t[:-1]) | (tr[1:] != tr[:-1])])
        at = np.flatnonzero(new)
        times, times_rec = t[at], tr[at]
        k = np.cumsum(np.add.reduceat(d, at))  # speakers active after each time (0 after a recording's last)
        piece = k[:-1] > 0
        a, b, k, pr = times[:-1][piece], times[1:][piece], k[:-1][piece], times_rec[:-1][piece]
        kmax = int(k.max()) + 1
        sums = np.bincount(pr * kmax + k, weights=b - a, minlength=n_rec * kmax)  # in time order
        keys, first = np.unique(pr * kmax + k, return_index=True)
        keys = keys[np.lexsort((first, keys // kmax))]  # per recording, in the order the counts first occur
        for key, v in zip(keys.tolist(), sums[keys].tolist()):
            by_k[key // kmax][key % kmax] = v
        # unioned turns in (recording, start, end, speaker name) order
        order = np.lexsort((spk, ue, us, ur))
        s_, e_, g_, r_ = us[order], ue[order], spk[order], ur[order]
        columns["turn_duration"] = split(e_ - s_, r_)
        # the latest-ending earlier turn of the same recording: a running maximum of ranks
        # in (recording, end, earliest first) order (earlier recordings rank lower)
        n = len(e_)
        by_end = np.lexsort((-np.arange(n), e_, r_))
        rank = np.empty(n, np.int64)
        rank[by_end] = np.arange(n)
        latest = by_end[np.maximum.accumulate(rank)[:-1]]  # for turns 1 .. n-1
        cont = r_[1:] == r_[:-1]  # not the first turn of its recording
        latest_end = e_[latest]
        pause = cont & (s_[1:] > latest_end)
        gap = s_[1:][pause] - latest_end[pause]
        same = (g_[latest] == g_[1:])[pause]
        pr_ = r_[1:][pause]
        for key, mask in (("pause_same_speaker", same), ("pause_speaker_change", ~same)):
            columns[key] = split(gap[mask], pr_[mask])
        two = k >= 2
        a2, b2, r2 = a[two], b[two], pr[two]
        if len(a2):
            brk = ~(np.abs(a2[1:] - b2[:-1]) < 1e-9) | (r2[1:] != r2[:-1])
            starts = np.concatenate([[0], np.flatnonzero(brk) + 1])
            ends = np.concatenate([starts[1:] - 1, [len(a2) - 1]])
            columns["overlap_segment"] = split(b2[ends] - a2[starts], r2[starts])
    turns = np.bincount(rec, minlength=n_rec).tolist()
    out = []
    for i, (recording_id, speakers, duration, source, _) in enumerate(recordings):
        bk = by_k[i]
        speech = sum(bk.values())
        hist = [max(duration - speech, 0.0)] + [bk.get(k, 0.0) for k in range(1, max(bk, default=0) + 1)]
        out.append(
            RecordingStats(
                recording_id=recording_id,
                duration=duration,
                duration_source=source,
                speech=speech,
                overlap=sum(v for k, v in bk.items() if k >= 2),
                speaker_time=sum(k * v for k, v in bk.items()),
                turns=turns[i],
                speakers=list(speakers),
                time_by_speaker_count=hist,
                events={k: (c[i] if c is not None else []) for k, c in columns.items()},
                oracle=oracle[i],
            )
        )
    return out


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else 0.0


def summarize(recs: Sequence[RecordingStats]) -> dict:
    """Pool per-recording statistics into the report dictionary (hours, ratios in [0, 1])."""
    dur = sum(r.duration for r in recs)
    speech = sum(r.speech for r in recs)
    overlap = sum(r.overlap for r in recs)
    spk_time = sum(r.speaker_time for r in recs)
    nspk = [len(r.speakers) for r in recs]
    sources = sorted({r.duration_source for r in recs})
    width = max((len(r.time_by_speaker_count) for r in recs), default=1)
    by_k = [sum(r.time_by_speaker_count[k] for r in recs if k < len(r.time_by_speaker_count)) for k in range(width)]
    references = sorted({r.reference for r in recs if r.reference})
    return {
        **({"references": references} if references else {}),
        "recordings": len({r.recording_id for r in recs}),  # windows / segments of one recording count once
        "duration_hours": dur / 3600,
        "duration_source": "+".join(sources) if sources else "none",
        "speech_hours": speech / 3600,
        "speaker_hours": spk_time / 3600,
        "overlap_hours": overlap / 3600,
        "speech_ratio": _ratio(speech, dur),
        "overlap_ratio": _ratio(overlap, speech),
        "overlap_ratio_of_duration": _ratio(overlap, dur),
        "missed_at_oracle_sad": _ratio(spk_time - speech, spk_time),
        "oracle_der_c0": _ratio(
            sum(r.oracle.get(0.0, (0, 0))[0] for r in recs), sum(r.oracle.get(0.0, (0, 0))[1] for r in recs)
        ),
        "oracle_der_c025": _ratio(
            sum(r.oracle.get(0.25, (0, 0))[0] for r in recs), sum(r.oracle.get(0.25, (0, 0))[1] for r in recs)
        ),
        "turns": sum(r.turns for r in recs),
        "num_speakers": len({s for r in recs for s in r.speakers}),
        "speakers_per_recording": {
            "min": min(nspk) if nspk else 0,
            "mean": float(np.mean(nspk)) if nspk else 0.0,
            "max": max(nspk) if nspk else 0,
        },
        "hours_by_active_speakers": [h / 3600 for h in by_k],
        "audio_hours": (
            sum(r.audio_duration for r in recs) / 3600
            if recs and all(r.audio_duration is not None for r in recs)
            else None
        ),
        "distributions": {k: distribution(pooled_events(recs, k)) for k in DISTRIBUTIONS},
        "simulated": simulated_table(recs),
    }


def simulated_table(recs: Sequence[RecordingStats]) -> List[dict]:
    """One row per (num_speakers, target_overlap) of the mixtures with ``custom["sim"]``:
    mixtures, hours, realised overlap / silence ratios from the metadata (duration-weighted
    means) next to their targets, and the overlap / speech measured here from the turns."""
    groups: Dict[tuple, List[RecordingStats]] = {}
    for r in recs:
        if r.sim:
            groups.setdefault((r.sim.get("num_speakers"), r.sim.get("target_overlap")), []).append(r)
    rows = []
    for (nspk, target), rs in sorted(groups.items(), key=lambda kv: tuple(-1 if x is None else x for x in kv[0])):
        dur = sum(r.duration for r in rs)

        def weighted(key):
            vals = [(r.sim[key], r.duration) for r in rs if r.sim.get(key) is not None]
            w = sum(d for _, d in vals)
            return sum(v * d for v, d in vals) / w if w else None

        targets_sil = sorted({r.sim["target_silence"] for r in rs if r.sim.get("target_silence") is not None})
        rows.append(
            {
                "num_speakers": nspk,
                "target_overlap": target,
                "target_silence": targets_sil[0] if len(targets_sil) == 1 else (targets_sil or None),
                "methods": sorted({str(r.sim.get("method")) for r in rs}),
                "mixtures": len(rs),
                "hours": dur / 3600,
                "overlap_ratio": weighted("overlap_ratio"),
                "silence_ratio": weighted("silence_ratio"),
                "measured_overlap_ratio": _ratio(sum(r.overlap for r in rs), sum(r.speech for r in rs)),
            }
        )
    return rows


def turns_stats(
    turns: Iterable[Turn],
    durations: Optional[Mapping[str, float]] = None,
    uem: Optional[Mapping[str, Sequence[Tuple[float, float]]]] = None,
) -> List[RecordingStats]:
    """Per-recording statistics of a set of turns (e.g. a whole RTTM)."""
    durations = durations or {}
    uem = uem or {}
    grouped = group_by_recording(turns)
    for rec in list(durations) + list(uem):
        grouped.setdefault(rec, [])
    return [
        recording_stats(rec, grouped[rec], duration=durations.get(rec), uem=uem.get(rec)) for rec in sorted(grouped)
    ]


def cutset_stats(cuts, uem: Optional[Mapping[str, Sequence[Tuple[float, float]]]] = None) -> List[RecordingStats]:
    """Per-recording statistics of a CutSet (or of a manifest path, streamed by
    :mod:`recipes.stats_stream`): one entry per cut (turns clipped to the cut).

    The UEM is taken from ``uem`` (recording time), else from the cut's custom
    ``uem`` field, else the cut's own duration is scored. Target-speaker cuts
    (custom ``target_speaker``) are counted once per original cut, and cuts of
    other channels of the same recording span once.
    """
    if isinstance(cuts, (str, os.PathLike)):  # a manifest file: one streaming pass, plain JSON where it can
        from recipes.stats_stream import cutset_stats_from_file

        return cutset_stats_from_file(cuts, uem=uem)
    out = []
    seen = set()
    spans = set()
    for cut in cuts:
        custom = cut_custom(cut)
        rec_id = cut_recording_id(cut)
        span = (rec_id, round(cut.start, 3), round(cut.duration, 3))
        if span in spans and "target_speaker" not in custom:
            continue  # another channel of the same span (per-channel cuts of a multi-channel recording)
        spans.add(span)
        if "target_speaker" in custom:
            base = cut.id.rsplit("#", 1)[0]
            if base in seen:
                continue
            seen.add(base)
        regions = cut_uem(cut, uem)
        whole = union_intervals(regions) == [(cut.start, cut.start + cut.duration)]
        # a UEM covering the whole cut is just the audio duration
        rs = recording_stats(rec_id, cut_turns(cut), uem=regions, duration_source="audio" if whole else "uem")
        rs.audio_duration = cut.duration
        rs.sim = cut_sim(cut)
        rs.reference = custom.get("reference")
        out.append(rs)
    return out


# ---------------------------------------------------------------------------
# Formatting


COLUMNS = [
    ("recordings", "Rec.", "{:d}"),
    ("duration_hours", "Hours", "{:.2f}"),
    ("speech_ratio", "Speech %", "{:.1%}"),
    ("overlap_ratio", "Ov./speech %", "{:.2%}"),
    ("overlap_ratio_of_duration", "Ov./dur. %", "{:.2%}"),
    ("missed_at_oracle_sad", "Missed@SAD %", "{:.2%}"),
    ("oracle_der_c0", "Oracle 1-spk DER c=0 %", "{:.2%}"),
    ("oracle_der_c025", "Oracle 1-spk DER c=0.25 %", "{:.2%}"),
    ("turns", "Turns", "{:d}"),
    ("num_speakers", "Spk.", "{:d}"),
    ("speakers_per_recording", "Spk./rec. min/mean/max", None),
]


def _cell(key: str, fmt: Optional[str], row: dict, latex: bool = False) -> str:
    v = row[key]
    if key == "speakers_per_recording":
        return f"{v['min']} / {v['mean']:.2f} / {v['max']}"
    s = fmt.format(v)
    return s.replace("%", r"\%") if latex else s


def format_report(report: dict, fmt: str = "text") -> str:
    """Render ``{"inputs": [{"name", ...stats}], "total": {...}}`` as text, markdown, latex or json."""
    if fmt == "json":
        return json.dumps(report, indent=2)
    from recipes.paper import distribution_lines, simulated_lines

    rows = [(r["name"], r) for r in report["inputs"]]
    if len(rows) > 1:
        rows.append(("total", report["total"]))
    # "corpus/split" names become two table columns; a repeated corpus is shown once
    cells, previous = [], None
    for name, _ in rows:
        corpus, _, split = name.partition("/") if name != "total" else ("total", "", "")
        cells.append(("" if corpus == previous else corpus, split))
        previous = corpus
    notes = [r for r in report["inputs"] if r.get("duration_source") == "last_turn_end"]
    if fmt == "latex":
        lines = [
            r"\begin{table}[t]",
            r"  \centering",
            r"  \caption{Corpus statistics. Speech \%: time with at least one speaker / duration. "
            r"Ov./speech: overlapped time (at least two speakers) / speech time. Ov./dur.: overlapped time / duration. "
            r"Missed@SAD: (speaker time $-$ speech time) / speaker time, the share of speaker time missed by a system "
            r"with oracle speech activity and one speaker per frame. Duration is the scored (UEM) length, "
            r"else the audio length."
            + (
                ""
                if not notes
                else " For "
                + ", ".join(_latex_escape(r["name"]) for r in notes)
                + ", no audio or UEM was available and the duration is the end of the last turn (a lower bound)."
            )
            + r"} % needs \usepackage{booktabs,url}",
            r"  \begin{tabular}{ll" + "r" * len(COLUMNS) + "}",
            r"    \toprule",
            "    Corpus & Split & " + " & ".join(h.replace("%", r"\%") for _, h, _ in COLUMNS) + r" \\",
            r"    \midrule",
        ]
        for (name, row), (corpus, split) in zip(rows, cells):
            if name == "total":
                lines.append(r"    \midrule")
            values = " & ".join(_cell(k, f, row, latex=True) for k, _, f in COLUMNS)
            label = _latex_escape(corpus) + (f"~\\cite{{{row['cite']}}}" if corpus and row.get("cite") else "")
            lines.append(f"    {label} & {_latex_escape(split)} & {values} \\\\")
        lines += [r"    \bottomrule", r"  \end{tabular}", r"\end{table}"]
        lines += distribution_lines(rows, cells, "latex") + simulated_lines(rows, "latex")
        lines += [p for p in report.get("paragraphs", [])]
        return "\n".join(lines) + "\n"
    if fmt == "markdown":
        head = "| Corpus | Split | " + " | ".join(h for _, h, _ in COLUMNS) + " |"
        sep = "|---|---|" + "---:|" * len(COLUMNS)
        body = [
            "| " + corpus + " | " + split + " | " + " | ".join(_cell(k, f, row) for k, _, f in COLUMNS) + " |"
            for (name, row), (corpus, split) in zip(rows, cells)
        ]
        defs = "\n".join(f"- **{k}**: {v}" for k, v in DEFINITIONS.items())
        extra = distribution_lines(rows, cells, "markdown") + simulated_lines(rows, "markdown")
        paragraphs = [""] + [p + "\n" for p in report.get("paragraphs", [])]
        text = "\n".join([head, sep] + body + extra + paragraphs) + "\n\nDefinitions:\n\n" + defs + "\n"
        if notes:
            text += (
                "\nDuration from the last turn end (no audio or UEM; a lower bound) for: "
                + ", ".join(r["name"] for r in notes)
                + "\n"
            )
        return text + _references_line(report)
    if fmt != "text":
        raise ValueError(f"format {fmt!r}; expected text, markdown, latex or json")
    out = []
    for name, row in rows:
        spr = row["speakers_per_recording"]
        out.append(
            f"{name}\n"
            f"  recordings                 {row['recordings']}\n"
            f"  duration                   {row['duration_hours']:.3f} h "
            f"(from {row['duration_source'].replace('_', ' ')})\n"
            f"  speech                     {row['speech_hours']:.3f} h ({row['speech_ratio']:.1%} of duration)\n"
            f"  overlap                    {row['overlap_hours']:.3f} h\n"
            f"  speaker time               {row['speaker_hours']:.3f} h\n"
            f"  overlap / speech           {row['overlap_ratio']:.2%}\n"
            f"  overlap / duration         {row['overlap_ratio_of_duration']:.2%}\n"
            f"  missed at oracle SAD       {row['missed_at_oracle_sad']:.2%}\n"
            f"  oracle SAD, 1 speaker DER  {row['oracle_der_c0']:.2%} (collar 0) / "
            f"{row['oracle_der_c025']:.2%} (collar 0.25 s)\n"
            f"  turns                      {row['turns']}\n"
            f"  speakers                   {row['num_speakers']} distinct; per recording "
            f"{spr['min']} / {spr['mean']:.2f} / {spr['max']} (min / mean / max)\n"
        )
    out += [line for line in distribution_lines(rows, cells, "text") + simulated_lines(rows, "text")]
    out += [p + "\n" for p in report.get("paragraphs", [])]
    out.append("Definitions:\n" + "\n".join(f"  {k}: {v}" for k, v in DEFINITIONS.items()) + "\n")
    return "\n".join(out) + _references_line(report)


def _references_line(report: dict) -> str:
    """``Reference annotations: ami/dev: X; ...`` for inputs whose cuts say which annotation they carry."""
    refs = [f"{r['name']}: {' + '.join(r['references'])}" for r in report["inputs"] if r.get("references")]
    return "\nReference annotations: " + "; ".join(refs) + "\n" if refs else ""


def _latex_escape(s: str) -> str:
    return (
        s.replace("\\", r"\textbackslash{}")
        .replace("_", r"\_")
        .replace("&", r"\&")
        .replace("%", r"\%")
        .replace("#", r"\#")
    )


def build_report(named: Sequence[Tuple[str, Sequence[RecordingStats]]]) -> dict:
    """Report dictionary for several inputs, each summarised, plus the pooled total."""
    inputs = [dict(name=name, **summarize(recs)) for name, recs in named]
    total = summarize([r for _, recs in named for r in recs])
    # recording ids are unique within an input, not across corpora: add the inputs' counts
    total["recordings"] = sum(i["recordings"] for i in inputs)
    return {"inputs": inputs, "total": total, "definitions": DEFINITIONS}


def plot_report(named: Sequence[Tuple[str, Sequence[RecordingStats]]], path) -> None:
    """PNG with three panels, one bar group per input: speakers per recording,
    per-recording overlap / speech, and the share of time with k active speakers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    from recipes.paper import plot_distributions

    fig, grid = plt.subplots(2, 3, figsize=(15, 8))
    axes, lower = grid[0], grid[1]
    n = max(len(named), 1)
    width = 0.8 / n
    max_spk = max((len(r.speakers) for _, recs in named for r in recs), default=1)
    max_k = max((len(r.time_by_speaker_count) for _, recs in named for r in recs), default=1)
    overlaps = [100 * _ratio(r.overlap, r.speech) for _, recs in named for r in recs]
    bins = np.linspace(0, max(overlaps + [1.0]), 21)
    for i, (name, recs) in enumerate(named):
        counts = Counter(len(r.speakers) for r in recs)
        ks = np.arange(0, max_spk + 1)
        axes[0].bar(ks + (i - (n - 1) / 2) * width, [counts.get(k, 0) for k in ks], width, label=name)
        hist, _ = np.histogram([100 * _ratio(r.overlap, r.speech) for r in recs], bins=bins)
        centres = (bins[:-1] + bins[1:]) / 2
        step = bins[1] - bins[0]
        axes[1].bar(centres + (i - (n - 1) / 2) * step * 0.8 / n, hist, step * 0.8 / n, label=name)
        by_k = summarize(recs)["hours_by_active_speakers"]
        by_k = by_k + [0.0] * (max_k - len(by_k))
        tot = sum(by_k) or 1.0
        axes[2].bar(np.arange(max_k) + (i - (n - 1) / 2) * width, [100 * h / tot for h in by_k], width, label=name)
    axes[0].set(xlabel="speakers per recording", ylabel="recordings", title="Speakers per recording")
    axes[1].set(xlabel="overlap / speech per recording (%)", ylabel="recordings", title="Overlap per recording")
    axes[2].set(xlabel="active speakers", ylabel="% of scored time", title="Time by number of active speakers")
    for ax in (axes[0], axes[2]):
        ax.xaxis.get_major_locator().set_params(integer=True)
    plot_distributions(named, lower)
    for ax in (axes[0], axes[1], *lower):  # count axes: whole numbers only
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    for ax in (*axes, *lower):
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
        ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
