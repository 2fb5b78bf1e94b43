"""Relative paths in manifests: where they resolve, and one short error when they do not.

The corpus recipes keep icefall's recipe-relative paths (``download/ami/...``), so a
manifest works from the directory its run.sh ran in. :func:`resolve_cuts` makes such a
manifest usable from anywhere (``--root DIR``: paths made absolute against DIR) and, before
any work, checks that every audio file is there: when some are not, the error is one line
with the count, the first few paths and the directory they were resolved against (the
full list goes to a file), instead of one Lhotse message per cut.
"""

import os
from pathlib import Path
from typing import List, Optional, Tuple

SHOWN = 3  # paths named in the one-line error


def _absolute(path: str, base: str) -> str:
    return path if os.path.isabs(path) or "://" in path else os.path.normpath(os.path.join(base, path))


def _rebase(cut, base: str):
    from lhotse.utils import fastcopy

    changes = {}
    rec = getattr(cut, "recording", None)
    if rec is not None:
        sources = [fastcopy(s, source=_absolute(s.source, base)) if s.type == "file" else s for s in rec.sources]
        changes["recording"] = fastcopy(rec, sources=sources)
    feats = getattr(cut, "features", None)
    if feats is not None and feats.storage_path:
        changes["features"] = fastcopy(feats, storage_path=_absolute(feats.storage_path, base))
    labels = (cut.custom or {}).get("labels") if hasattr(cut, "custom") else None
    if labels is not None and hasattr(labels, "array") and getattr(labels.array, "storage_path", None):
        custom = dict(cut.custom)
        custom["labels"] = fastcopy(
            labels, array=fastcopy(labels.array, storage_path=_absolute(labels.array.storage_path, base))
        )
        changes["custom"] = custom
    return fastcopy(cut, **changes) if changes else cut


def missing_audio(cuts, base: str) -> Tuple[List[Tuple[str, str]], int]:
    """``([(cut id, path as written)], number of cuts)`` for audio files that do not exist
    when relative paths are resolved against ``base``."""
    missing, n = [], 0
    for cut in cuts:
        n += 1
        if isinstance(cut, dict):  # a manifest dict (diar fbank on plain cuts)
            cut_id, rec = cut["id"], cut.get("recording")
            sources = [(s["type"], s["source"]) for s in rec["sources"]] if rec else []
        else:
            rec = getattr(cut, "recording", None)
            cut_id, sources = cut.id, [(s.type, s.source) for s in rec.sources] if rec is not None else []
        for kind, source in sources:
            if kind == "file" and not os.path.exists(_absolute(source, base)):
                missing.append((cut_id, source))
                break
    return missing, n


def resolve_cuts(cuts, manifest, root: Optional[str] = None, check_audio: bool = False, listing: Optional[Path] = None):
    """``cuts`` with relative paths made absolute against ``root`` (unchanged without it),
    after checking (``check_audio``) that every audio file exists. ``cuts`` may be a list of
    manifest dicts when ``root`` is None.

    :param listing: where the full list of missing files is written (tab-separated cut id
        and path) when some are missing.
    :raises FileNotFoundError: one line: ``audio of 9 of 9 cuts not found (trn01.wav, ...;
        relative paths resolved against /x/y ...)``.
    """
    base = os.path.abspath(root) if root else os.getcwd()
    if check_audio:
        missing, n = missing_audio(cuts, base)
        if missing:
            shown = ", ".join(p if Path(p).stem == c else f"{c}: {p}" for c, p in missing[:SHOWN])
            shown += ", ..." if len(missing) > SHOWN else ""
            where = ""
            if listing is not None:
                from recipes.fileio import write_text

                write_text(listing, "".join(f"{c}\t{p}\n" for c, p in missing))
                where = f"; all listed in {listing}"
            relative = any(not os.path.isabs(p) for _, p in missing)
            hint = (
                f"; relative paths resolved against {base}: run from the directory {manifest} was written "
                f"for, or give --root DIR"
                if relative
                else ""
            )
            raise FileNotFoundError(f"audio of {len(missing)} of {n} cuts not found ({shown}{hint}{where})")
    if root is None:
        return cuts
    import functools

    return cuts.map(functools.partial(_rebase, base=base))
