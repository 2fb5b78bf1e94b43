"""``diar validate``: every recording of CutSets checked against its audio, and the report.

The checks of one recording (audio facts, annotation/audio agreement, the flags and their
thresholds) are in :mod:`recipes.audio_checks`; this module pools the cuts of each
recording (:func:`recordings_of`), runs the checks one recording per task
(:func:`validate_cutsets`), ranks the flagged channels and renders the report as text,
markdown, JSON (:func:`format_validation`) or a PNG (:func:`plot_validation`).

Nothing here imports click: the ``diar validate`` verb in cli.py is a thin wrapper.
"""

import json
from collections import Counter
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from recipes.audio_checks import (  # noqa: F401 - re-exported: recipes.validate is the public name
    ENTRY_KEYS,
    FLAGS,
    MAX_LAG,
    SEVERITY,
    SPEECH_MARGIN_DB,
    AudioFrames,
    _stream_file,
    analyse_channel,
    read_recording_frames,
    thresholds,
    validate_recording,
)

# ---------------------------------------------------------------------------
# CutSets -> recordings -> report


def recordings_of(cuts, mixtures: bool = False, skipped: Optional[Counter] = None) -> List[tuple]:
    """``(recording, turns, uem, channels)`` per recording of a CutSet, in order of first
    appearance: turns and scored regions (recording time) of all its cuts pooled.

    Simulated mixtures (MixedCut) are rendered and checked only with ``mixtures=True``
    (their annotation is exact by construction, and a simulated set can hold thousands
    of hours); cuts without audio are skipped. Both are counted in ``skipped``."""
    from lhotse.cut import MixedCut

    from recipes.cuts import cut_turns, cut_uem

    skipped = Counter() if skipped is None else skipped
    out: Dict[str, list] = {}
    for cut in cuts:
        if isinstance(cut, MixedCut):
            if not mixtures:
                skipped["mixtures"] += 1
                continue
            rec, key = cut, cut.id
        else:
            if cut.recording is None:
                skipped["without_audio"] += 1
                continue  # features only: no audio to check
            rec, key = cut.recording, cut.recording_id
        item = out.setdefault(key, [rec, [], [], set()])
        item[1].extend((t.start, t.end) for t in cut_turns(cut))
        item[2].extend(cut_uem(cut))
        ch = getattr(cut, "channel", 0)
        item[3].update(ch if isinstance(ch, (list, tuple)) else [0 if isinstance(cut, MixedCut) else ch])
    return [(rec, turns, uem, sorted(chs)) for rec, turns, uem, chs in out.values()]


def _task(rec, turns, uem, channels, name):
    return validate_recording(rec, turns, uem, channels, name)


def summarize(entries: Sequence[dict]) -> dict:
    flagged = [e for e in entries if e["flags"]]
    counts = Counter(f for e in entries for f in e["flags"])
    lags = [e["lag_seconds"] for e in entries if e.get("lag_seconds") is not None]
    gaps = [
        e["speech_db"] - e["nonspeech_db"]
        for e in entries
        if e.get("speech_db") is not None and e.get("nonspeech_db") is not None
    ]
    prec = [e["vad_precision"] for e in entries if e.get("vad_precision") is not None]
    rec = [e["vad_recall"] for e in entries if e.get("vad_recall") is not None]
    return {
        "recordings": len({(e["input"], e["id"]) for e in entries}),
        "channels": len(entries),
        "hours": sum(e.get("duration_file") or 0.0 for e in entries) / 3600,
        "flagged_recordings": len({(e["input"], e["id"]) for e in flagged}),
        "flagged_channels": len(flagged),
        "flags": {f: counts[f] for f in FLAGS if counts[f]},
        "median_lag_seconds": float(np.median(lags)) if lags else None,
        "median_speech_over_nonspeech_db": float(np.median(gaps)) if gaps else None,
        "mean_vad_precision": float(np.mean(prec)) if prec else None,
        "mean_vad_recall": float(np.mean(rec)) if rec else None,
    }


def rank(entries: Sequence[dict]) -> List[dict]:
    """Flagged entries, most serious first (flag severity, then number of flags, then |lag|)."""
    flagged = [e for e in entries if e["flags"]]
    return sorted(
        flagged,
        key=lambda e: (
            -sum(SEVERITY.get(f, 1) for f in e["flags"]),
            -abs(e.get("lag_seconds") or 0.0),
            e["input"],
            e["id"],
            str(e["channel"]),
        ),
    )


def validate_cutsets(
    named_cuts: Sequence[Tuple[str, object]], num_jobs: int = 1, progress: bool = True, mixtures: bool = False
) -> dict:
    """``{"recordings": [entry per channel], "summary": {...}}`` for ``[(name, CutSet), ...]``.
    Recordings are processed one per task on ``num_jobs`` local processes; simulated
    mixtures only with ``mixtures=True`` (see :func:`recordings_of`)."""
    from recipes.parallel import map_tasks

    skipped: Counter = Counter()
    tasks = [
        (rec, turns, uem, chs, name)
        for name, cuts in named_cuts
        for rec, turns, uem, chs in recordings_of(cuts, mixtures, skipped)
    ]
    entries = [
        e for result in map_tasks(_task, tasks, num_jobs=num_jobs, desc="validate", progress=progress) for e in result
    ]
    for e in entries:  # one shape for every entry (an unreadable file has no figures: None)
        e.setdefault("flags", [])
        e.setdefault("reason", e.get("error", ""))
        for key in ENTRY_KEYS:
            e.setdefault(key, None)
    summary = summarize(entries)
    summary["skipped_cuts"] = {"mixtures": skipped["mixtures"], "without_audio": skipped["without_audio"]}
    return {"recordings": entries, "summary": summary, "thresholds": thresholds()}


# ---------------------------------------------------------------------------
# formatting


def _f(v, fmt):
    return "-" if v is None else fmt.format(v)


def _label(e: dict) -> str:
    return f"{e['input']}:{e['id']}" + (
        f" ch{e['channel']}" if e.get("channel") not in (None, 0) or e.get("channels_file", 1) > 1 else ""
    )


def format_validation(report: dict, fmt: str = "text") -> str:
    """The report as text (ranked list + summary), markdown or json."""
    if fmt == "json":
        return json.dumps(report, indent=2)
    ranked = rank(report["recordings"])
    s = report["summary"]
    flags = ", ".join(f"{k} {v}" for k, v in s["flags"].items()) or "none"
    if fmt == "markdown":
        lines = [
            "# Validation: audio against annotations\n",
            f"{s['recordings']} recordings ({s['channels']} channels, {s['hours']:.2f} h); "
            f"{s['flagged_recordings']} flagged. Flags: {flags}.\n",
            f"Median lag {_f(s['median_lag_seconds'], '{:+.2f}')} s; median speech - non-speech "
            f"{_f(s['median_speech_over_nonspeech_db'], '{:.1f}')} dB; energy VAD precision "
            f"{_f(s['mean_vad_precision'], '{:.2f}')}, recall {_f(s['mean_vad_recall'], '{:.2f}')} (means).\n",
            "| rank | recording | channel | flags | reason |",
            "|---:|---|---:|---|---|",
        ]
        lines += [
            f"| {i} | {e['input']}:{e['id']} | {e['channel']} | {', '.join(e['flags'])} | {e['reason']} |"
            for i, e in enumerate(ranked, 1)
        ]
        lines += [
            "",
            "| recording | channel | lag s | speech dB | non-speech dB | VAD P | VAD R | floor dB | flags |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        lines += [
            f"| {e['input']}:{e['id']} | {e['channel']} | {_f(e.get('lag_seconds'), '{:+.2f}')} | "
            f"{_f(e.get('speech_db'), '{:.1f}')} | {_f(e.get('nonspeech_db'), '{:.1f}')} | "
            f"{_f(e.get('vad_precision'), '{:.2f}')} | {_f(e.get('vad_recall'), '{:.2f}')} | "
            f"{_f(e.get('noise_floor_db'), '{:.1f}')} | {', '.join(e['flags'])} |"
            for e in report["recordings"]
        ]
        return "\n".join(lines) + "\n"
    if fmt != "text":
        raise ValueError(f"format {fmt!r}; expected text, markdown or json")
    out = [
        f"{len(ranked)} suspicious recording channel(s) of {s['channels']}:"
        if ranked
        else f"no recording flagged ({s['channels']} channel(s) checked)"
    ]
    out += [f"{i:4d}. {_label(e)}  [{', '.join(e['flags'])}]  {e['reason']}" for i, e in enumerate(ranked, 1)]
    skip = s.get("skipped_cuts") or {}
    if any(skip.values()):
        out.append(
            f"not checked: {skip.get('mixtures', 0)} simulated mixture cut(s) (--mixtures renders them), "
            f"{skip.get('without_audio', 0)} cut(s) without audio"
        )
    out.append(
        f"summary: {s['recordings']} recordings, {s['hours']:.2f} h; flags: {flags}; median lag "
        f"{_f(s['median_lag_seconds'], '{:+.2f}')} s; median speech - non-speech "
        f"{_f(s['median_speech_over_nonspeech_db'], '{:.1f}')} dB; VAD precision "
        f"{_f(s['mean_vad_precision'], '{:.2f}')} recall {_f(s['mean_vad_recall'], '{:.2f}')}"
    )
    return "\n".join(out) + "\n"


def plot_validation(report: dict, path) -> None:
    """PNG: best lags, speech - non-speech level, and VAD precision against recall."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    rows = report["recordings"]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    lags = [e["lag_seconds"] for e in rows if e.get("lag_seconds") is not None]
    axes[0].hist(lags, bins=np.arange(-MAX_LAG, MAX_LAG + 0.25, 0.25))
    axes[0].set(xlabel="best lag (s; + = annotation late)", ylabel="channels", title="Annotation / audio lag")
    gaps = [
        e["speech_db"] - e["nonspeech_db"]
        for e in rows
        if e.get("speech_db") is not None and e.get("nonspeech_db") is not None
    ]
    axes[1].hist(gaps, bins=20)
    axes[1].axvline(SPEECH_MARGIN_DB, color="r", ls="--")
    axes[1].set(xlabel="annotated - unannotated level (dB)", ylabel="channels", title="Speech over non-speech")
    pr = [(e["vad_recall"], e["vad_precision"]) for e in rows if e.get("vad_precision") is not None]
    if pr:
        axes[2].scatter(*zip(*pr), s=12)
    axes[2].set(
        xlim=(0, 1.02),
        ylim=(0, 1.02),
        xlabel="VAD recall",
        ylabel="VAD precision",
        title="Energy VAD against the annotation",
    )
    for ax in axes[:2]:
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
