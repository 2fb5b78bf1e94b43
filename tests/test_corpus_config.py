"""conf/corpora/*.yaml hold external facts only, and every key is read.

A key counts as read when the code that loads the file names it as a string: the corpus module
(``recipes/corpora/<corpus>.py``) or ``recipes/download.py`` (archive entries), or
``recipes/paper.py`` for the ``paper:`` block. The keys of
the mappings listed in DATA_KEYED are data (meeting ids, mic names, versions): the module reads
them by iterating over the mapping, so only the mapping's own name must appear."""

import re
from pathlib import Path

import pytest
import yaml

from recipes.corpora import CORPORA

REPO = Path(__file__).resolve().parents[1]
DATA_KEYED = {  # corpus -> mappings (dotted paths) whose keys are data, read by iteration
    "ami": {"mics"},
    "icsi": {"mics", "splits"},
    "chime6": {"uem.start", "missing_arrays", "download.audio", "rttm.files"},
    "dihard3": {"ldc", "release_dirs"},
    "tedlium": {"releases"},
    "voxconverse": {"audio"},
    "aishell4": {"sha256"},
    "msdwild": {"rttm_sha256"},
}
READ_AS = {  # (corpus, key) -> the expression that reads it
    ("voxceleb", "voxceleb1"): 'conf[f"voxceleb{version}"]',
    ("voxceleb", "voxceleb2"): 'conf[f"voxceleb{version}"]',
}


def key_paths(data, path=""):
    if isinstance(data, dict):
        for key, value in data.items():
            yield path, str(key)
            yield from key_paths(value, f"{path}.{key}" if path else str(key))
    elif isinstance(data, list):
        for item in data:
            yield from key_paths(item, path)


@pytest.mark.parametrize("corpus", CORPORA)
def test_every_yaml_key_is_read(corpus):
    data = yaml.safe_load((REPO / "conf" / "corpora" / f"{corpus}.yaml").read_text())
    # the corpus module, and recipes/download.py, which reads archive entries (url, file, sha256)
    module = (REPO / "recipes" / "corpora" / f"{corpus}.py").read_text() + (
        REPO / "recipes" / "download.py"
    ).read_text()
    paper = (REPO / "recipes" / "paper.py").read_text()
    unread = []
    for parent, key in key_paths(data):
        if parent in DATA_KEYED.get(corpus, set()):
            continue
        source = paper if (parent or key).split(".")[0] == "paper" else module
        if (corpus, key) in READ_AS and not parent:
            if READ_AS[corpus, key] not in module:
                unread.append(key)
            continue
        if not re.search(r"[\"']%s[\"']" % re.escape(key), source):
            unread.append(f"{parent}.{key}" if parent else key)
    assert not unread, f"conf/corpora/{corpus}.yaml: keys no code reads: {unread}"
