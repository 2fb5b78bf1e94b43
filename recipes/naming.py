"""File names of the manifests, built and parsed in one place.

Every recipe writes ``<prefix>_{recordings,supervisions,cuts}[_<split>].jsonl.gz`` (stage 1,
``data/manifests/``), ``<prefix>_cuts_<split>.jsonl.gz`` with features (stage 2,
``data/cuts/``) and ``<prefix>_cuts_<split>_<label type>.jsonl.gz`` with labels (stage 3), and
``<prefix>[_<split>].uem``. ``<prefix>`` is a corpus's output name (``ami-sdm``, from
``output_name`` in its module); it never contains ``_cuts_``. A split name may contain dots and
underscores (``few.train``, ``dev_OV40``), so a trailing ``_<label type>`` is recognised only for
the known label types. The exporters (:mod:`recipes.export`), ``diar describe`` and the run.sh
template (``diar splits``) read names through :func:`parse`.
"""

import re
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

KINDS = ("recordings", "supervisions", "cuts")
LABEL_TYPES = ("binary", "powerset", "target")
EXTENSIONS = (".jsonl.gz", ".jsonl", ".json")


@dataclass(frozen=True)
class ManifestName:
    """The parts of a manifest file name; ``split`` is ``""`` for the unsplit manifest."""

    prefix: str
    kind: str
    split: str = ""
    label_type: Optional[str] = None


def manifest_name(
    prefix: str, kind: str, split: str = "", label_type: Optional[str] = None, extension: str = ".jsonl.gz"
) -> str:
    """``manifest_name("ami-sdm", "cuts", "dev", "binary")`` -> ``ami-sdm_cuts_dev_binary.jsonl.gz``."""
    if kind not in KINDS:
        raise ValueError(f"manifest kind {kind!r}; expected one of {KINDS}")
    if label_type is not None and label_type not in LABEL_TYPES:
        raise ValueError(f"label type {label_type!r}; expected one of {LABEL_TYPES}")
    return f"{prefix}_{kind}" + (f"_{split}" if split else "") + (f"_{label_type}" if label_type else "") + extension


def uem_name(prefix: str, split: str = "") -> str:
    """``uem_name("ami-sdm", "dev")`` -> ``ami-sdm_dev.uem``."""
    return f"{prefix}" + (f"_{split}" if split else "") + ".uem"


def stem(path) -> str:
    """The file name without its manifest extension (``.jsonl.gz``, ``.jsonl``, ``.json``)."""
    name = Path(path).name
    for ext in EXTENSIONS:
        if name.endswith(ext):
            return name[: -len(ext)]
    return Path(path).stem


_NAME = re.compile(r"^(?P<prefix>.+?)_(?P<kind>recordings|supervisions|cuts)(?:_(?P<rest>.+))?$")


def parse(path) -> Optional[ManifestName]:
    """The parts of ``path``'s name, or ``None`` when it is not a manifest name."""
    match = _NAME.match(stem(path))
    if not match:
        return None
    rest, label_type = match.group("rest") or "", None
    for candidate in LABEL_TYPES:
        if rest == candidate or rest.endswith("_" + candidate):
            rest, label_type = rest[: -len(candidate)].rstrip("_"), candidate
            break
    return ManifestName(match.group("prefix"), match.group("kind"), rest, label_type)


def split_of(path) -> str:
    """The split of a ``<prefix>_cuts_<split>[_<label type>]`` file; a clear error otherwise."""
    parsed = parse(path)
    if parsed is None or parsed.kind != "cuts" or not parsed.split:
        raise ValueError(f"{path}: cannot tell the split from the file name (expected <name>_cuts_<split>.jsonl.gz)")
    return parsed.split


def splits_written(directory, prefix: str, kind: str = "cuts") -> List[str]:
    """The splits of ``<prefix>_<kind>_<split>.jsonl.gz`` in ``directory`` (sorted; no label files)."""
    found = []
    for path in sorted(Path(directory).glob(f"{prefix}_{kind}_*.jsonl.gz")):
        parsed = parse(path)
        if parsed and parsed.prefix == prefix and parsed.split and parsed.label_type is None:
            found.append(parsed.split)
    return sorted(set(found))
