"""Diarization error rate (DER) and Jaccard error rate (JER), as NIST md-eval-22.pl and dscore compute them.

Semantics (``md-eval-22.pl -af -c COLLAR -u UEM [-1]`` as dscore runs it), per file:

- times are those dscore hands md-eval: turns clipped to the UEM, then written with
  3 decimals (onset and duration each rounded to 1 ms); UEM bounds rounded to 1 ms.
  Everything below is exact integer arithmetic on those times (microseconds).
- speakers are mapped one-to-one to maximise the time both are active inside the
  UEM (collars not removed), the optimum md-eval's bipartite matcher finds
  (``scipy.optimize.linear_sum_assignment`` here);
- scored region = UEM minus ``[b - collar, b + collar]`` around every boundary ``b`` of
  every (UEM-clipped) reference turn, minus time with two or more reference
  speakers when ``skip_overlap`` (md-eval's ``-1``);
- on the scored region, with ``n_ref`` / ``n_sys`` active speakers and ``n_map``
  mapped pairs both active: scored speaker time = sum of ``n_ref``, missed =
  ``max(n_ref - n_sys, 0)``, false alarm = ``max(n_sys - n_ref, 0)``, confusion =
  ``min(n_ref, n_sys) - n_map``; DER = (missed + false alarm + confusion) / scored.
- JER (dscore's definition; no collar, overlap kept): per reference speaker
  ``1 - |ref & sys| / |ref | sys|`` for the system speaker it is paired with by a
  one-to-one assignment minimising that error (unpaired reference speakers count 1,
  unpaired system speakers do not count); a file's JER is the mean over its
  reference speakers, the total the mean over all reference speakers. A file
  with no reference speakers has JER 100 when it has system speech (and adds no
  speaker to the total), 0 otherwise. dscore samples 10 ms frames; here the
  times are exact (the same as dscore with ``--step 0.001`` on 1 ms input).

A file in the UEM with no reference turns scores its system speech as false
alarm (its DER is 100 %; md-eval leaves such a file out of its ``ALL`` line,
here it counts in the total). A file with no system turns is all missed.
Percentages are of scored speaker time; a file with none has 0 (nothing wrong)
or 100 (false alarm), as dscore reports it.
"""

from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from recipes.errors import first_items
from recipes.rttm import Turn, union_intervals

US = 1_000_000  # time unit of the computation: microseconds

METRICS = ("der", "missed", "false_alarm", "confusion", "jer", "scored_seconds")


@dataclass
class FileScore:
    """Raw DER parts of one file in seconds, and its JER inputs."""

    uri: str
    scored: float = 0.0  # scored speaker time
    missed: float = 0.0
    false_alarm: float = 0.0
    confusion: float = 0.0
    speaker_jers: List[float] = field(default_factory=list)  # one error in [0, 1] per reference speaker
    jer_no_ref: Optional[float] = None  # JER of a file without reference speakers (0 or 1)
    ref_speakers: int = 0
    sys_speakers: int = 0

    @property
    def error(self) -> float:
        return self.missed + self.false_alarm + self.confusion


def _pct(part: float, scored: float) -> float:
    if scored > 0:
        return 100.0 * part / scored
    return 100.0 if part > 0 else 0.0


def summarize(scores: Sequence[FileScore]) -> dict:
    """``{"der", "missed", "false_alarm", "confusion", "jer", "scored_seconds"}`` pooled over
    files: percent of the summed scored speaker time; JER the mean over all reference speakers."""
    scored = sum(s.scored for s in scores)
    jers = [j for s in scores for j in s.speaker_jers]
    if jers:
        jer = 100.0 * float(np.mean(jers))
    elif len(scores) == 1 and scores[0].jer_no_ref is not None:
        jer = 100.0 * scores[0].jer_no_ref
    else:  # dscore: no reference speaker anywhere -> 100 if any system speaker, else 0
        jer = 100.0 if any(s.sys_speakers for s in scores) else 0.0
    return {
        "der": _pct(sum(s.error for s in scores), scored),
        "missed": _pct(sum(s.missed for s in scores), scored),
        "false_alarm": _pct(sum(s.false_alarm for s in scores), scored),
        "confusion": _pct(sum(s.confusion for s in scores), scored),
        "jer": jer,
        "scored_seconds": scored,
    }


# ---------------------------------------------------------------------------
# times as dscore writes them for md-eval


def _ms(x) -> np.ndarray:
    return np.rint(np.asarray(x, dtype=np.float64) * 1000.0).astype(np.int64)


def _uem_us(regions: Sequence[Tuple[float, float]]) -> np.ndarray:
    """UEM regions rounded to 1 ms, unioned: ``(n, 2)`` int64 microseconds."""
    if not len(regions):
        return np.zeros((0, 2), np.int64)
    r = _ms(np.asarray(regions, dtype=np.float64).reshape(-1, 2))
    merged = union_intervals((int(a), int(b)) for a, b in r)
    return np.asarray(merged, dtype=np.int64).reshape(-1, 2) * 1000


def _turns_us(turns: Sequence[Turn], uem_us: np.ndarray, speakers: Dict[str, int]):
    """Turns clipped to the UEM, onset and duration rounded to 1 ms, same-speaker overlaps
    merged: ``(starts, ends, speaker index)`` int64 microseconds."""
    if not turns or not len(uem_us):
        z = np.zeros(0, np.int64)
        return z, z, z
    s = np.fromiter((t.start for t in turns), np.float64, len(turns))
    e = np.fromiter((t.end for t in turns), np.float64, len(turns))
    k = np.fromiter((speakers.setdefault(t.speaker, len(speakers)) for t in turns), np.int64, len(turns))
    ua, ub = uem_us[:, 0] / US, uem_us[:, 1] / US
    # each turn meets UEM regions first..last-1 (regions are sorted and disjoint)
    first = np.searchsorted(ub, s, side="right")
    last = np.searchsorted(ua, e, side="left")
    n = np.maximum(last - first, 0)
    idx = np.repeat(np.arange(len(s)), n)
    reg = np.repeat(first - np.cumsum(n) + n, n) + np.arange(n.sum()) if n.sum() else np.zeros(0, np.int64)
    cs = np.maximum(s[idx], ua[reg])
    ce = np.minimum(e[idx], ub[reg])
    on = _ms(cs)
    end = on + _ms(ce - cs)
    keep = end > on
    on, end, spk = on[keep], end[keep], k[idx][keep]
    # merge same-speaker overlaps (rounding can make neighbours overlap by 1 ms)
    order = np.lexsort((on, spk))
    on, end, spk = on[order], end[order], spk[order]
    if len(on) > 1:
        big = np.int64(1) << 50
        run_end = np.maximum.accumulate(end + spk * big) - spk * big
        new = np.ones(len(on), bool)
        new[1:] = (spk[1:] != spk[:-1]) | (on[1:] >= run_end[:-1])
        heads = np.flatnonzero(new)
        on, end, spk = on[heads], np.maximum.reduceat(end, heads), spk[heads]
    return on * 1000, end * 1000, spk


def _cover(bounds: np.ndarray, starts, ends, cols=None, ncols: int = 1) -> np.ndarray:
    """Counts of intervals covering each elementary segment ``bounds[i]..bounds[i+1]``:
    ``(nseg,)`` without ``cols``, else ``(nseg, ncols)``."""
    nb = len(bounds)
    i = np.searchsorted(bounds, starts)
    j = np.searchsorted(bounds, ends)
    if cols is None:
        d = np.bincount(i, minlength=nb) - np.bincount(j, minlength=nb)
        return np.cumsum(d)[:-1]
    d = (
        np.bincount(i * ncols + cols, minlength=nb * ncols) - np.bincount(j * ncols + cols, minlength=nb * ncols)
    ).reshape(nb, ncols)
    return np.cumsum(d, axis=0)[:-1]


def score_file(
    uri: str,
    ref: Sequence[Turn],
    hyp: Sequence[Turn],
    uem: Sequence[Tuple[float, float]],
    collar: float = 0.0,
    skip_overlap: bool = False,
) -> FileScore:
    """DER parts and JER of one file (see the module docstring). ``collar`` in seconds;
    ``uem`` the scoring regions in seconds."""
    from scipy.optimize import linear_sum_assignment

    u = _uem_us(uem)
    ref_spk: Dict[str, int] = {}
    sys_spk: Dict[str, int] = {}
    rs, re_, rk = _turns_us(ref, u, ref_spk)
    ss, se, sk = _turns_us(hyp, u, sys_spk)
    nr, ns = len(ref_spk), len(sys_spk)
    nr_act = len(np.unique(rk))
    ns_act = len(np.unique(sk))
    out = FileScore(uri, ref_speakers=nr_act, sys_speakers=ns_act)
    if not len(u):
        return out
    c = int(round(collar * US))
    parts = [u[:, 0], u[:, 1], rs, re_, ss, se]
    if c > 0 and len(rs):
        b = np.concatenate([rs, re_])
        parts += [b - c, b + c]
    bounds = np.unique(np.concatenate(parts))
    dur = np.diff(bounds)
    in_uem = _cover(bounds, u[:, 0], u[:, 1]) > 0
    R = _cover(bounds, rs, re_, rk, max(nr, 1)) > 0
    S = _cover(bounds, ss, se, sk, max(ns, 1)) > 0
    R &= in_uem[:, None]
    S &= in_uem[:, None]
    nref = R.sum(1)
    nsys = S.sum(1)
    # mapping on the whole UEM (md-eval maps before collars are taken out)
    w = dur.astype(np.float64)
    overlap = (R.T * w) @ S.astype(np.float64) if nr and ns else np.zeros((nr, ns))
    nmap = np.zeros(len(dur), np.int64)
    if nr and ns:
        ri, si = linear_sum_assignment(overlap, maximize=True)
        for r, s in zip(ri, si):
            if overlap[r, s] > 0:
                nmap += R[:, r] & S[:, s]
    scored = in_uem.copy()
    if c > 0 and len(rs):
        scored &= _cover(bounds, b - c, b + c) == 0
    if skip_overlap:
        scored &= nref < 2
    d = np.where(scored, dur, 0)
    out.scored = float(d @ nref) / US
    out.missed = float(d @ np.maximum(nref - nsys, 0)) / US
    out.false_alarm = float(d @ np.maximum(nsys - nref, 0)) / US
    out.confusion = float(d @ (np.minimum(nref, nsys) - nmap)) / US
    # JER on the whole UEM, no collar
    if nr_act == 0:
        out.jer_no_ref = 1.0 if ns_act else 0.0
        return out
    ref_dur = (R.T * w).sum(1)
    if ns_act == 0:
        out.speaker_jers = [1.0] * nr_act
        return out
    sys_dur = (S.T * w).sum(1)
    ra, sa = ref_dur > 0, sys_dur > 0
    inter = overlap[ra][:, sa]
    union = ref_dur[ra][:, None] + sys_dur[sa][None, :] - inter
    err = 1.0 - inter / union
    jers = np.ones(len(inter))
    ri, si = linear_sum_assignment(err)
    jers[ri] = err[ri, si]
    out.speaker_jers = [float(x) for x in jers]
    return out


# ---------------------------------------------------------------------------
# many files


@dataclass
class Scores:
    """What :func:`score` returns: per-file scores and what was reported about the inputs."""

    files: Dict[str, FileScore]
    missing_sys: List[str]  # reference files without any system turn (scored as all missed)
    sys_not_scored: List[str]  # system files outside the scored file set (not scored)
    ref_not_in_uem: List[str]  # reference files absent from the UEM (not scored, as dscore)
    collar: float = 0.0
    skip_overlap: bool = False

    def report(self, groups: Optional[Mapping[str, str]] = None) -> dict:
        """The JSON report: ``{"files": {uri: {...}}, "total": {...}}`` in percent of scored
        speaker time (``scored_seconds`` in seconds); ``groups`` maps uri -> group value."""
        rep = {
            "files": {uri: summarize([fs]) for uri, fs in self.files.items()},
            "total": summarize(list(self.files.values())),
            "settings": {"collar": self.collar, "skip_overlap": self.skip_overlap},
            "missing_sys": self.missing_sys,
            "sys_not_scored": self.sys_not_scored,
            "ref_not_in_uem": self.ref_not_in_uem,
        }
        if groups is not None:
            by: Dict[str, List[FileScore]] = {}
            for uri, fs in self.files.items():
                by.setdefault(str(groups.get(uri)), []).append(fs)
            rep["groups"] = {g: summarize(v) for g, v in sorted(by.items())}
        return rep


def _by_recording(turns: Iterable[Turn]) -> Dict[str, List[Turn]]:
    """Turns per recording, in input order (the scorer does not need them sorted)."""
    out: Dict[str, List[Turn]] = {}
    for t in turns:
        out.setdefault(t.recording_id, []).append(t)
    return out


def score(
    ref: Iterable[Turn],
    hyp: Iterable[Turn],
    uem: Optional[Mapping[str, Sequence[Tuple[float, float]]]] = None,
    collar: float = 0.0,
    skip_overlap: bool = False,
    progress: bool = False,
) -> Scores:
    """Score system turns ``hyp`` against reference turns ``ref``.

    Files scored: those of ``uem`` when given (a reference file absent from it is
    reported and left out, as dscore does), else every reference file, each with the
    span from its earliest to its latest turn, reference or system (dscore's
    ``gen_uem``). System files outside that set are reported and left out.
    """
    from tqdm import tqdm

    refs = _by_recording(ref)
    hyps = _by_recording(hyp)
    if uem is not None:
        files = sorted(uem)
        ref_not_in_uem = sorted(set(refs) - set(uem))
        regions = {f: list(uem[f]) for f in files}
    else:
        files = sorted(refs)
        ref_not_in_uem = []
        regions = {}
        for f in files:
            ts = refs[f] + hyps.get(f, [])
            regions[f] = [(min(t.start for t in ts), max(t.end for t in ts))]
    missing = [f for f in files if refs.get(f) and f not in hyps]
    out = {}
    for f in tqdm(files, desc="score", unit="file", disable=not progress):
        out[f] = score_file(f, refs.get(f, []), hyps.get(f, []), regions[f], collar, skip_overlap)
    return Scores(out, missing, sorted(set(hyps) - set(files)), ref_not_in_uem, collar, skip_overlap)


def union_by_group(group: np.ndarray, start: np.ndarray, end: np.ndarray, join_touching: bool = True):
    """Union of each group's intervals: ``(group, start, end)`` arrays of the maximal
    intervals, sorted by (group, start). Every input interval must be non-empty (``end >
    start``). ``join_touching``: intervals that only touch are joined (as
    :func:`recipes.rttm.union_intervals`); else kept apart (md-eval's merge of a speaker's
    turns). A sweep over the boundaries: the values are the inputs' own, no arithmetic."""
    n = len(start)
    t = np.concatenate([start, end])
    g = np.concatenate([group, group]).astype(np.int64)
    times, rank = np.unique(t, return_inverse=True)
    # one integer sort key: (group, time, at a tie starts first when joining, else ends first)
    first = 0 if join_touching else 1
    tie = np.concatenate([np.full(n, first, np.int64), np.full(n, 1 - first, np.int64)])
    order = np.argsort((g * len(times) + rank.reshape(-1)) * 2 + tie)
    d = np.concatenate([np.ones(n, np.int64), -np.ones(n, np.int64)])[order]
    c = np.cumsum(d)  # intervals of the group open after each boundary (each group ends at 0)
    t, g = t[order], g[order]
    opens, closes = (d > 0) & (c == 1), (d < 0) & (c == 0)
    return g[opens], t[opens], t[closes]


def oracle_one_speaker(
    turns: Sequence[Turn], uem: Sequence[Tuple[float, float]], collars: Sequence[float] = (0.0, 0.25)
) -> Dict[float, Tuple[float, float]]:
    """The oracle baseline of a dataset card: oracle speech activity with one speaker, i.e.
    all reference speech given to the recording's most talkative speaker (speaker time
    inside ``uem``). Returns ``{collar: (error seconds, scored speaker seconds)}``.

    The same rules as :func:`score_file` (1 ms times, UEM clipping, collars around the
    clipped reference boundaries; the one system speaker maps to the most talkative
    speaker, so there is no false alarm and error = scored speaker time - that speaker's
    scored time), in exact integer arithmetic on numpy arrays (:func:`oracle_one_speaker_arrays`;
    ``tests/test_score.py`` checks it against :func:`score_file`'s brute force).
    """
    names = sorted({t.speaker for t in turns})
    code = {s: i for i, s in enumerate(names)}
    return oracle_one_speaker_arrays(
        np.fromiter((t.start for t in turns), np.float64, len(turns)),
        np.fromiter((t.end for t in turns), np.float64, len(turns)),
        np.fromiter((code[t.speaker] for t in turns), np.int64, len(turns)),
        uem,
        collars,
    )


def oracle_one_speaker_arrays(
    start: np.ndarray,
    end: np.ndarray,
    speaker: np.ndarray,
    uem: Sequence[Tuple[float, float]],
    collars: Sequence[float] = (0.0, 0.25),
) -> Dict[float, Tuple[float, float]]:
    """:func:`oracle_one_speaker` of turns given as arrays (seconds; ``speaker``: integer
    codes in the order of the speakers' names, which breaks ties between equally talkative
    speakers)."""
    rec = np.zeros(len(start), np.int64)
    return oracle_one_speaker_batch(rec, start, end, speaker, [uem], collars)[0]


_KEY = 1 << 42  # microseconds per recording in the combined (recording, time) search keys
_SHIFT = 1 << 40  # collar zones may start before 0


def oracle_one_speaker_batch(
    rec: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    speaker: np.ndarray,
    uems: Sequence[Sequence[Tuple[float, float]]],
    collars: Sequence[float] = (0.0, 0.25),
) -> List[Dict[float, Tuple[float, float]]]:
    """:func:`oracle_one_speaker` of many recordings at once: turn ``i`` belongs to recording
    ``rec[i]`` (``0 .. len(uems) - 1``), speaker codes per recording in name order. Exact
    integer arithmetic on millisecond / microsecond arrays, one pass for all recordings."""
    n_rec = len(uems)
    out = [{c: (0.0, 0.0) for c in collars} for _ in range(n_rec)]
    regions = [_uem_us(u) // 1000 for u in uems]  # ms, unioned
    counts = np.array([len(r) for r in regions], np.int64)
    if not len(start) or not counts.any():
        return out
    flat = np.concatenate([r for r in regions if len(r)]).reshape(-1, 2)
    first_region = np.concatenate([[0], np.cumsum(counts)[:-1]])
    # each turn against each region of its recording
    per_turn = counts[rec]
    t_idx = np.repeat(np.arange(len(start)), per_turn)
    r_idx = first_region[rec][t_idx] + (np.arange(len(t_idx)) - np.repeat(np.cumsum(per_turn) - per_turn, per_turn))
    cs = np.maximum(start[t_idx], flat[r_idx, 0] / 1000)
    ce = np.minimum(end[t_idx], flat[r_idx, 1] / 1000)
    ok = ce > cs
    cs, ce, t_idx = cs[ok], ce[ok], t_idx[ok]
    on = np.rint(cs * 1000).astype(np.int64)  # onset and duration rounded to 1 ms, as dscore writes them
    off = on + np.rint((ce - cs) * 1000).astype(np.int64)
    keep = off > on
    if not keep.any():
        return out
    width = int(speaker.max()) + 1
    gid = rec[t_idx][keep] * width + speaker[t_idx][keep]
    # strict overlaps merged, touching turns kept apart (as dscore)
    g, a, b = union_by_group(gid, on[keep], off[keep], join_touching=False)
    groups, first = np.unique(g, return_index=True)
    g_rec, g_spk = groups // width, groups % width
    talk = np.add.reduceat(b - a, first)  # ms per (recording, speaker)
    order = np.lexsort((g_spk, -talk, g_rec))  # per recording: the most talkative, ties: the first name
    recs, at = np.unique(g_rec[order], return_index=True)
    top = order[at]  # group index of each recording's top speaker
    rec_first = np.searchsorted(g_rec, recs)  # groups are sorted by recording
    iv_rec = g // width
    for c in collars:
        cm = round(c * 1000 * 1000)  # microseconds; the intervals are milliseconds
        if cm <= 0:  # no collar: every (clipped) speaker second is scored, the top speaker's are right
            per = talk * 1000
        else:
            x = np.concatenate([a, b]) * 1000
            xr = np.concatenate([iv_rec, iv_rec])
            zr, zs, ze = union_by_group(xr, x - cm, x + cm)  # collar zones, per recording
            cum = np.concatenate([[0], np.cumsum(ze - zs)])
            zfirst = np.searchsorted(zr, zr)  # each zone's recording's first zone
            before = cum[:-1] - cum[zfirst]  # collar time before each zone, in its recording
            keys = zr * _KEY + (zs + _SHIFT)

            def upto(t, r):  # collar time before t (microseconds) in recording r
                k = np.searchsorted(keys, r * _KEY + (t + _SHIFT), side="right") - 1
                kk = np.maximum(k, 0)
                inside = (k >= 0) & (zr[kk] == r)
                return np.where(inside, before[kk] + np.minimum(t, ze[kk]) - zs[kk], 0)

            free = (b - a) * 1000 - (upto(b * 1000, iv_rec) - upto(a * 1000, iv_rec))
            per = np.add.reduceat(free, first)
        scored = np.add.reduceat(per, rec_first)
        for r, sc, ok_ in zip(recs.tolist(), scored.tolist(), per[top].tolist()):
            out[r][c] = ((sc - ok_) / US, sc / US)
    return out


def reference_from_cuts(cuts, group_by: Optional[str] = None, uem=None):
    """Reference turns, UEM and groups of a CutSet: ``(turns, {recording: regions},
    {recording: value of the custom field group_by})``. A recording's regions are the
    union of its cuts' custom ``uem`` (else the cuts' spans), intersected with each cut;
    ``uem`` (recording time) replaces them. Several cuts of one recording (channels,
    windows) pool their turns; identical turns merge when scored."""
    from recipes.cuts import cut_custom, cut_recording_id, cut_turns, cut_uem

    turns: List[Turn] = []
    regions: Dict[str, List[Tuple[float, float]]] = {}
    groups: Dict[str, str] = {}
    for cut in cuts:
        rec = cut_recording_id(cut)
        turns.extend(cut_turns(cut))
        regions.setdefault(rec, []).extend(cut_uem(cut, uem))
        if group_by is not None:
            custom = cut_custom(cut)
            if group_by not in custom:
                raise ValueError(
                    f"cut {cut.id}: no custom field {group_by!r} to group by "
                    f"(custom fields: {', '.join(sorted(custom)) or 'none'})"
                )
            value = str(custom[group_by])
            if groups.setdefault(rec, value) != value:
                raise ValueError(f"recording {rec}: cuts disagree on {group_by!r} ({groups[rec]!r} and {value!r})")
    return turns, {rec: union_intervals(r) for rec, r in regions.items()}, groups


# ---------------------------------------------------------------------------
# text / markdown


def format_report(rep: dict, fmt: str = "text", per_file: bool = False) -> str:
    """Render :meth:`Scores.report` as ``text``, ``markdown`` or ``json``."""
    import json

    if fmt == "json":
        return json.dumps(rep, indent=2) + "\n"
    rows: List[Tuple[str, dict]] = []
    if per_file:
        rows += sorted(rep["files"].items())
    rows += [(f"{rep.get('group_field', 'group')}={g}", v) for g, v in rep.get("groups", {}).items()]
    rows.append(("*** OVERALL ***", rep["total"]))
    heads = ["File", "DER %", "Missed %", "FA %", "Conf. %", "JER %", "Scored (s)"]

    def cells(v):
        return [
            f"{v['der']:.2f}",
            f"{v['missed']:.2f}",
            f"{v['false_alarm']:.2f}",
            f"{v['confusion']:.2f}",
            f"{v['jer']:.2f}",
            f"{v['scored_seconds']:.2f}",
        ]

    s = rep["settings"]
    note = (
        f"collar {s['collar']:g} s, overlap {'skipped' if s['skip_overlap'] else 'scored'}; "
        "percent of scored speaker time (md-eval-22 / dscore semantics)"
    )
    notes = []
    if rep["missing_sys"]:
        notes.append(
            f"{len(rep['missing_sys'])} reference file(s) without system output (scored as missed): "
            + first_items(rep["missing_sys"], 10)
        )
    if rep["sys_not_scored"]:
        notes.append(f"{len(rep['sys_not_scored'])} system file(s) not in the reference/UEM (not scored)")
    if rep["ref_not_in_uem"]:
        notes.append(f"{len(rep['ref_not_in_uem'])} reference file(s) not in the UEM (not scored)")
    if fmt == "markdown":
        lines = ["| " + " | ".join(heads) + " |", "|---|" + "---:|" * (len(heads) - 1)]
        lines += ["| " + name + " | " + " | ".join(cells(v)) + " |" for name, v in rows]
        return "\n".join(lines + ["", note] + [f"- {n}" for n in notes]) + "\n"
    if fmt != "text":
        raise ValueError(f"format {fmt!r}; expected text, markdown or json")
    width = max(len(heads[0]), *(len(n) for n, _ in rows))
    lines = [heads[0].ljust(width) + "".join(h.rjust(11) for h in heads[1:])]
    lines += [name.ljust(width) + "".join(x.rjust(11) for x in cells(v)) for name, v in rows]
    return "\n".join(lines + [note] + notes) + "\n"
