"""What the statistics, labels and exports read from any kind of cut.

Works for ``MonoCut`` / ``MultiCut`` (a window of a recording) and ``MixedCut``
(a simulated mixture, which has no single recording and no custom fields of
its own: it is its own recording). Times are seconds in recording time.
Lhotse is imported only when a cut is inspected, so importing this module is cheap.
"""

from typing import List, Mapping, Optional, Sequence, Tuple

from recipes.rttm import Turn


def _is_mixed(cut) -> bool:
    from lhotse.cut import MixedCut

    return isinstance(cut, MixedCut)


def cut_recording_id(cut) -> str:
    """The recording a cut belongs to; a mixture is its own recording."""
    return cut.id if _is_mixed(cut) else cut.recording_id


def cut_custom(cut) -> dict:
    """A cut's custom fields (a ``MixedCut`` has none of its own)."""
    return {} if _is_mixed(cut) else (cut.custom or {})


def cut_turns(cut) -> List[Turn]:
    """The cut's speaker turns in recording time, clipped to the cut."""
    rec_id, offset = cut_recording_id(cut), cut.start
    return [
        Turn(rec_id, offset + max(s.start, 0.0), offset + min(s.end, cut.duration), s.speaker or "<unknown>")
        for s in cut.supervisions
        if min(s.end, cut.duration) > max(s.start, 0.0)
    ]


def cut_uem(cut, uem: Optional[Mapping[str, Sequence[Tuple[float, float]]]] = None) -> List[Tuple[float, float]]:
    """Scored regions of a cut, recording time: ``uem[recording]`` when given, else the
    cut's custom ``uem``, else the whole cut; intersected with the cut's span."""
    span = (cut.start, cut.start + cut.duration)
    regions = (uem or {}).get(cut_recording_id(cut), cut_custom(cut).get("uem")) or [span]
    out = [(max(a, span[0]), min(b, span[1])) for a, b in regions]
    return [(a, b) for a, b in out if b > a]


def cut_sim(cut) -> Optional[dict]:
    """A simulated mixture's ``custom["sim"]`` metadata (Lhotse keeps a MixedCut's custom
    fields on its first track), else None."""
    try:
        custom = cut.custom
    except AttributeError:
        return None
    sim = (custom or {}).get("sim")
    return dict(sim) if isinstance(sim, Mapping) else None
