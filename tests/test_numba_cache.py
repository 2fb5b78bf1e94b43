"""numba's cache for recipes.lilcom_codec: a read-only install with an unwritable HOME must
import and encode (fallback cache directory, or no cache, with a warning), and a second
process loads the compiled encoder from the cache instead of compiling it again.

As root, permission bits do not stop writes, so "unwritable" is made with files standing
where numba wants directories (``recipes/__pycache__``, ``$HOME/.cache``)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("numba")

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import recipes, sys
assert recipes.__file__.startswith(sys.argv[2]), recipes.__file__
import json, sys, warnings
import numpy as np
import lilcom
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    from recipes import lilcom_codec
ok = None
if sys.argv[1] == "encode":
    from recipes.lilcom_writer import compress_chunked
    rng = np.random.default_rng(0)
    x = np.cumsum(rng.normal(size=(250, 23)), axis=0).astype(np.float32)
    ours = [bytes(b) for b in compress_chunked(x.copy(), -5, 100)]
    ok = ours == [lilcom.compress(x[i:i + 100], tick_power=-5) for i in range(0, 250, 100)]
stats = lilcom_codec._encode_chunks.stats
print(json.dumps({"warnings": [str(w.message) for w in caught], "equal": ok,
                  "hits": sum(stats.cache_hits.values()), "misses": sum(stats.cache_misses.values())}))
"""


def _read_only_install(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    (site / "recipes").mkdir(parents=True)
    for name in ("__init__.py", "lilcom_codec.py", "lilcom_writer.py"):
        shutil.copy(ROOT / "recipes" / name, site / "recipes" / name)
    (site / "recipes" / "__pycache__").write_text("")  # numba's in-tree cache cannot be created
    return site


def _run(site: Path, home: Path, tmpdir: Path, mode: str, **extra: str) -> dict:
    import json

    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "XDG_CACHE_HOME", "PYTHONPATH")}
    env.update(HOME=str(home), TMPDIR=str(tmpdir), PYTHONPATH=str(site), PYTHONDONTWRITEBYTECODE="1", **extra)
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, mode, str(site)],
        env=env,
        cwd=str(site.parent),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_read_only_install_falls_back_to_a_writable_cache_and_compiles_once(tmp_path):
    site = _read_only_install(tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    (home / ".cache").write_text("")  # ~/.cache/numba cannot be created
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    first = _run(site, home, tmpdir, "encode")
    assert first["equal"] is True  # the compiled encoder still gives lilcom's bytes
    assert any("caching in" in w for w in first["warnings"]), first
    cache = list(tmpdir.glob("recipes-numba-cache-*/**/*.nbi"))
    assert cache, "no numba index written in the fallback directory"
    assert first["misses"] >= 1
    second = _run(site, home, tmpdir, "encode")
    assert second["equal"] is True
    assert second["hits"] >= 1 and second["misses"] == 0, second  # loaded from the cache, not compiled


def test_no_writable_directory_at_all_imports_without_cache(tmp_path):
    site = _read_only_install(tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    (home / ".cache").write_text("")
    blocked = tmp_path / "cachefile"
    blocked.write_text("")  # the user's NUMBA_CACHE_DIR is unusable too: it is kept, and nothing is cached
    out = _run(site, home, tmp_path, "import", NUMBA_CACHE_DIR=str(blocked))
    assert any("compiled in each process" in w for w in out["warnings"]), out
