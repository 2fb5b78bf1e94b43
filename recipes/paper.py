"""The paper's Datasets section, from the measured statistics and the corpus YAML.

``conf/corpora/<corpus>.yaml`` holds, under ``paper:``, the facts a paper states
(every key is required and read here):

    short_name   the name in tables (``AMI``)
    full_name    the corpus' full name
    citation     BibTeX entry or entries (their keys are cited)
    licence      the licence, as the release states it
    languages    list of languages
    domain       what is recorded (meetings, broadcast, ...)
    conditions   recording conditions (rooms, microphones, rate)
    url          where the corpus is published
    reference    which reference annotation the recipe uses

:func:`annotate` adds to a ``stats.build_report`` report a ``cite`` key per input
(the LaTeX table cites it), the facts per corpus (``corpora``) and one short
factual paragraph per corpus (``paragraphs``): hours, recordings, speakers,
overlap, domain, the reference annotation, and what the recipe changed
(merged self-overlaps, clipped turns, scoring regions), read from the prepare
report (``data/manifests/<prefix>_prepare_report.txt``) and from the cuts (UEM
coverage). :func:`bibliography` gives the ``.bib`` text. The card's tables of
distributions and of simulated sets, and the distribution histograms, are drawn
here too (``recipes.stats`` holds the measurements and the main table).
"""

import re
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from recipes.corpora.config import CONF_DIR, load_corpus_config
from recipes.stats import DISTRIBUTIONS, PERCENTILES, _latex_escape

PAPER_KEYS = ("short_name", "full_name", "citation", "licence", "languages", "domain", "conditions", "url", "reference")
_BIB_KEY = re.compile(r"@\s*(\w+)\s*\{\s*([^,\s]+)\s*,")


def known_corpora() -> List[str]:
    return sorted(p.stem for p in CONF_DIR.glob("*.yaml"))


def corpus_of(name: str) -> Optional[str]:
    """The corpus of a describe input name (``ami-sdm/dev`` -> ``ami``,
    ``ava_avd/test`` -> ``ava_avd``, ``dihard3-core/dev`` -> ``dihard3``), or None."""
    prefix = name.split("/", 1)[0]
    hits = [c for c in known_corpora() if prefix == c or prefix.startswith(c + "-")]
    return max(hits, key=len) if hits else None


def load_paper_facts(corpus: str) -> dict:
    """The ``paper:`` block of ``conf/corpora/<corpus>.yaml``, checked to hold every key."""
    conf = load_corpus_config(corpus)
    facts = conf.get("paper")
    path = CONF_DIR / f"{corpus}.yaml"
    if not isinstance(facts, dict):
        raise ValueError(f"{path}: no 'paper:' mapping (expected keys {', '.join(PAPER_KEYS)})")
    missing = [k for k in PAPER_KEYS if not facts.get(k)]
    if missing:
        raise ValueError(f"{path}: paper: lacks {', '.join(missing)}")
    unknown = sorted(set(facts) - set(PAPER_KEYS))
    if unknown:
        raise ValueError(f"{path}: paper: unknown key(s) {', '.join(unknown)} (expected {', '.join(PAPER_KEYS)})")
    if not isinstance(facts["languages"], list):
        raise ValueError(f"{path}: paper.languages must be a list")
    keys = cite_keys(facts["citation"])
    if not keys:
        raise ValueError(f"{path}: paper.citation holds no BibTeX entry (@type{{key, ...}})")
    return dict(facts, corpus=corpus, cite=",".join(keys))


def cite_keys(bibtex: str) -> List[str]:
    """Keys of the BibTeX entries in ``bibtex``, in order."""
    return [m.group(2) for m in _BIB_KEY.finditer(bibtex)]


# ---------------------------------------------------------------------------
# the prepare report


def prepare_report_for(path) -> Optional[Path]:
    """``<prefix>_prepare_report.txt`` of an input ``.../cuts/<prefix>_cuts_<split>.jsonl.gz``: next to
    it, or in the sibling ``manifests/`` directory (the recipe layout); None when absent."""
    path = Path(path)
    stem = path.name.split("_cuts", 1)[0] if "_cuts" in path.name else None
    if not stem:
        return None
    for directory in (path.parent, path.parent.parent / "manifests"):
        candidate = directory / f"{stem}_prepare_report.txt"
        if candidate.is_file():
            return candidate
    return None


_MERGED = (re.compile(r"merged (\d+) same-speaker"), re.compile(r"(\d+) same-speaker overlapping \S+ merged"))


def parse_prepare_report(text: str) -> dict:
    """Counts of a ``PrepareReport.text()``: its ``# title: N`` sections, the annotation
    summary line, and the merged same-speaker overlaps stated in that summary (None when
    the summary does not say)."""
    out: Dict[str, object] = {"annotations": "", "sections": {}}
    for line in text.splitlines():
        if line.startswith("# annotations:"):
            out["annotations"] = line.split(":", 1)[1].strip()
        elif line.startswith("# "):
            title, _, count = line[2:].rpartition(":")
            if count.strip().isdigit():
                out["sections"][title.strip()] = int(count)
    merged = [int(m.group(1)) for rx in _MERGED for m in rx.finditer(out["annotations"])]
    out["merged_self_overlaps"] = sum(merged) if merged else None
    sec = out["sections"]
    out["clipped_turns"] = next((v for k, v in sec.items() if k.startswith("turns clipped")), None)
    out["uem_notes"] = next((v for k, v in sec.items() if k.startswith("UEM notes")), None)
    out["annotations_without_audio"] = next((v for k, v in sec.items() if k.startswith("annotations without")), None)
    out["audio_without_annotations"] = next((v for k, v in sec.items() if k.startswith("audio without")), None)
    return out


# ---------------------------------------------------------------------------
# paragraphs


def _esc(s: str, latex: bool) -> str:
    if not latex:
        return s
    return _latex_escape(s).replace("~", r"\textasciitilde{}")


def _cite(facts: dict, latex: bool) -> str:
    return f"~\\cite{{{facts['cite']}}}" if latex else " [" + "; ".join(facts["cite"].split(",")) + "]"


def _split_sentence(split: str, row: dict, latex: bool) -> str:
    pct = r"\%" if latex else "%"
    spr = row["speakers_per_recording"]
    spk = (
        f"{spr['min']}"
        if spr["min"] == spr["max"]
        else f"{spr['min']}--{spr['max']}"
        if latex
        else f"{spr['min']}-{spr['max']}"
    )
    scored = "h (to the last turn end: a lower bound)" if row.get("duration_source") == "last_turn_end" else "h scored"
    text = (
        f"{_esc(split or 'all', latex)}: {row['recordings']:,} recordings, {row['duration_hours']:.1f} {scored}, "
        f"{row['speech_ratio'] * 100:.1f}{pct} speech, overlap {row['overlap_ratio'] * 100:.1f}{pct} of speech, "
        f"{spk} speakers per recording ({row['num_speakers']:,} in all)"
    )
    turn = row["distributions"]["turn_duration"]
    if turn["count"]:
        text += f", median turn {turn['p50']:.1f} s"
    return text


def paragraph(facts: dict, splits: Sequence[Tuple[str, dict]], prepared: Optional[dict], latex: bool) -> str:
    """A short factual paragraph for one corpus: YAML facts + measured figures + what the recipe changed."""
    name = _esc(facts["short_name"], latex)
    langs = ", ".join(facts["languages"])
    head = f"\\paragraph{{{name}}} " if latex else f"**{name}**. "
    text = (
        head + f"{_esc(facts['full_name'], latex)}{_cite(facts, latex)}: {_esc(facts['domain'], latex)}; "
        f"{_esc(langs, latex)}; {_esc(facts['conditions'], latex)}. Licence: {_esc(facts['licence'], latex)}. "
        + (f"Available at \\url{{{facts['url']}}}. " if latex else f"Available at <{facts['url']}>. ")
        + f"Reference: {_esc(facts['reference'], latex)}. "
    )
    text += "; ".join(_split_sentence(split, row, latex) for split, row in splits) + "."
    scored = [(row["duration_hours"], row["audio_hours"]) for _, row in splits if row.get("audio_hours")]
    changes = []
    if prepared:
        if prepared.get("merged_self_overlaps") is not None:
            changes.append(f"merged {prepared['merged_self_overlaps']:,} same-speaker overlapping turn(s)")
        if prepared.get("clipped_turns") is not None:
            changes.append(f"clipped {prepared['clipped_turns']:,} turn(s) to the audio duration")
        if prepared.get("annotations_without_audio"):
            changes.append(f"left out {prepared['annotations_without_audio']:,} annotated recording(s) without audio")
    if scored:
        share = sum(s for s, _ in scored) / sum(a for _, a in scored)
        pct = r"\%" if latex else "%"
        changes.append(
            f"scores {share * 100:.1f}{pct} of the audio (UEM)"
            if share < 0.9995
            else "scores the whole audio (no UEM exclusion)"
        )
    if changes:
        text += " The recipe " + ", ".join(changes) + "."
    if prepared and prepared.get("annotations"):
        text += f" Annotations as prepared: {_esc(prepared['annotations'], latex)}."
    if not prepared:
        text += (
            " No preparation report was found next to the cuts, so merged and clipped turns are not stated."
            if not latex
            else " (No preparation report was found: merged and clipped turns are not stated.)"
        )
    return text.strip()


def annotate(report: dict, inputs: Sequence[Tuple[str, Optional[Path]]], latex: bool) -> dict:
    """Add ``cite`` per input, ``corpora`` (facts) and ``paragraphs`` to a describe report.

    ``inputs`` are ``(name, path)`` in the report's order; inputs of an unknown corpus
    get no citation and no paragraph (listed in ``uncited``)."""
    by_corpus: Dict[str, List[Tuple[str, dict, Optional[Path]]]] = {}
    uncited = []
    for (name, path), row in zip(inputs, report["inputs"]):
        corpus = corpus_of(name)
        if corpus is None:
            uncited.append(name)
            continue
        by_corpus.setdefault(corpus, []).append((name, row, path))
    corpora = {}
    paragraphs = []
    for corpus, items in by_corpus.items():
        facts = load_paper_facts(corpus)
        corpora[corpus] = facts
        for _, row, _ in items:
            row["corpus"], row["cite"] = corpus, facts["cite"]
        prepared = None
        for _, _, path in items:
            rp = prepare_report_for(path) if path else None
            if rp:
                prepared = parse_prepare_report(rp.read_text())
                break
        splits = [(name.partition("/")[2], row) for name, row, _ in items]
        paragraphs.append(paragraph(facts, splits, prepared, latex))
    report["corpora"] = corpora
    report["paragraphs"] = paragraphs
    report["uncited"] = uncited
    return report


def bibliography(report: dict) -> str:
    """The ``.bib`` text: every cited corpus' entries once, in table order."""
    out, seen = [], set()
    for facts in report.get("corpora", {}).values():
        for entry in re.split(r"(?m)^(?=@)", facts["citation"].strip()):
            keys = cite_keys(entry)
            if entry.strip() and keys and keys[0] not in seen:
                seen.add(keys[0])
                out.append(entry.strip() + "\n")
    return "\n".join(out)


# ---------------------------------------------------------------------------
# the card's extra tables and plots (called by recipes.stats.format_report / plot_report)


def _pcts(d: dict) -> str:
    if not d or not d["count"]:
        return "-"
    return " / ".join(f"{d[f'p{q}']:.2f}" for q in PERCENTILES)


def distribution_lines(rows, cells, fmt: str) -> List[str]:
    """Percentiles 10 / 50 / 90 (seconds) of turns, pauses and overlap segments, one row per input."""
    heads = ["Turn dur.", "Pause, same spk.", "Pause, spk. change", "Overlap seg."]
    if fmt == "latex":
        lines = [
            r"\begin{table}[t]",
            r"  \centering",
            r"  \caption{Distributions, 10th / 50th / 90th percentiles in seconds: turn duration, pause before "
            r"a turn (from the end of the latest-ending earlier turn) after the same speaker and after another "
            r"speaker, and duration of overlapped stretches.}",
            r"  \begin{tabular}{llrrrr}",
            r"    \toprule",
            "    Corpus & Split & " + " & ".join(heads) + r" \\",
            r"    \midrule",
        ]
        for (name, row), (corpus, split) in zip(rows, cells):
            if name == "total":
                lines.append(r"    \midrule")
            vals = " & ".join(_pcts(row["distributions"][k]) for k in DISTRIBUTIONS)
            lines.append(f"    {_latex_escape(corpus)} & {_latex_escape(split)} & {vals} \\\\")
        return lines + [r"    \bottomrule", r"  \end{tabular}", r"\end{table}"]
    if fmt == "markdown":
        lines = [
            "",
            "Distributions (seconds, percentiles 10 / 50 / 90; counts in the JSON):",
            "",
            "| Corpus | Split | " + " | ".join(heads) + " |",
            "|---|---|" + "---:|" * len(heads),
        ]
        lines += [
            "| "
            + corpus
            + " | "
            + split
            + " | "
            + " | ".join(_pcts(row["distributions"][k]) for k in DISTRIBUTIONS)
            + " |"
            for (name, row), (corpus, split) in zip(rows, cells)
        ]
        return lines
    lines = ["Distributions (seconds, p10 / p50 / p90):"]
    for name, row in rows:
        dists = row["distributions"]
        lines.append(f"  {name}: " + "; ".join(f"{k} {_pcts(dists[k])} (n={dists[k]['count']})" for k in DISTRIBUTIONS))
    return lines + [""]


def simulated_lines(rows, fmt: str) -> List[str]:
    """One table per simulated input: a row per (speaker count, target overlap), from custom["sim"]."""
    out: List[str] = []

    def pct(v):
        return "-" if v is None else (f"{v:.1%}" if not isinstance(v, list) else "/".join(f"{x:.0%}" for x in v))

    for name, row in rows:
        sim = row.get("simulated") or []
        if not sim or name == "total":
            continue
        cols = [
            (
                r["num_speakers"],
                pct(r["target_overlap"]),
                pct(r["target_silence"]),
                r["mixtures"],
                f"{r['hours']:.2f}",
                pct(r["overlap_ratio"]),
                pct(r["measured_overlap_ratio"]),
                pct(r["silence_ratio"]),
                ",".join(r["methods"]),
            )
            for r in sim
        ]
        heads = [
            "Spk.",
            "Target ov.",
            "Target sil.",
            "Mixtures",
            "Hours",
            "Overlap (meta)",
            "Ov./speech (turns)",
            "Silence (meta)",
            "Method",
        ]
        if fmt == "latex":
            out += [
                r"\begin{table}[t]",
                r"  \centering",
                r"  \caption{Simulated set " + _latex_escape(name) + r" per speaker count and target overlap: "
                r"realised overlap and silence ratios from each mixture's metadata (duration-weighted), and "
                r"overlap / speech measured on its turns.}",
                r"  \begin{tabular}{rrrrrrrrl}",
                r"    \toprule",
                "    " + " & ".join(heads) + r" \\",
                r"    \midrule",
            ]
            out += ["    " + " & ".join(_latex_escape(str(c)) for c in r) + r" \\" for r in cols]
            out += [r"    \bottomrule", r"  \end{tabular}", r"\end{table}"]
        elif fmt == "markdown":
            out += [
                "",
                f'Simulated set {name}, per (speaker count, target overlap), from custom["sim"]:',
                "",
                "| " + " | ".join(heads) + " |",
                "|" + "---:|" * (len(heads) - 1) + "---|",
            ]
            out += ["| " + " | ".join(str(c) for c in r) + " |" for r in cols]
        else:
            out += [
                f"Simulated set {name} (speakers, target overlap, target silence, mixtures, hours, "
                "overlap meta, overlap/speech turns, silence meta, method):"
            ]
            out += ["  " + "  ".join(str(c) for c in r) for r in cols]
    return out


def plot_distributions(named, axes) -> None:
    """Histograms (counts) of turn durations, pauses (same speaker / speaker change) and
    overlap segment durations, one step outline per input, on shared bins."""

    def values(key):
        return [(name, [x for r in recs for x in r.events.get(key, [])]) for name, recs in named]

    panels = [
        (axes[0], ["turn_duration"], "turn duration (s)", "turns", "Turn duration"),
        (
            axes[1],
            ["pause_same_speaker", "pause_speaker_change"],
            "pause (s)",
            "pauses",
            "Pauses: same speaker (solid), speaker change (dashed)",
        ),
        (axes[2], ["overlap_segment"], "overlap segment (s)", "segments", "Overlap segment duration"),
    ]
    for ax, keys, xlabel, ylabel, title in panels:
        pooled = [x for key in keys for _, v in values(key) for x in v]
        top = float(np.percentile(pooled, 99)) if pooled else 1.0
        bins = np.linspace(0.0, max(top, 0.1), 31)
        for key, style in zip(keys, ("-", "--")):
            which = "" if len(keys) == 1 else (", same speaker" if style == "-" else ", speaker change")
            for i, (name, v) in enumerate(values(key)):
                if v:
                    ax.hist(
                        np.clip(v, 0, bins[-1]), bins=bins, histtype="step", ls=style, color=f"C{i}", label=name + which
                    )
        ax.set(xlabel=xlabel + " (last bin: at or above it)", ylabel=ylabel, title=title)
