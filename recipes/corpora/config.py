"""Per-corpus settings in ``conf/corpora/<corpus>.yaml``: URLs, checksums, mics, splits."""

from pathlib import Path
from typing import Any, Dict, Optional

import yaml

CONF_DIR = Path(__file__).resolve().parents[2] / "conf" / "corpora"


def load_corpus_config(corpus: str, path: Optional[str] = None) -> Dict[str, Any]:
    """The YAML mapping for ``corpus`` (``path`` overrides the default location)."""
    path = Path(path) if path else CONF_DIR / f"{corpus}.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"corpus config {path} not found")
    with path.open() as f:
        data = yaml.safe_load(f)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping at the top level")
    return data
