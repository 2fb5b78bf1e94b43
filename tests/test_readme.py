"""Every README code block marked ``<!-- tested: ... -->`` runs as shown on the demo outputs
(issue 16, point 7), so the README cannot drift from the code."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MARK = "<!-- tested:"


def marked_blocks(text):
    """``[(language, code)]`` of the fenced blocks that follow a ``<!-- tested: ... -->`` line."""
    return [
        (m.group(1), m.group(2))
        for m in re.finditer(re.escape(MARK) + r"[^\n]*-->\n```(\w+)\n(.*?)\n```", text, flags=re.S)
    ]


def test_marked_blocks_are_found():
    blocks = marked_blocks((REPO / "README.md").read_text())
    assert len(blocks) >= 2 and all(lang in ("python", "bash") for lang, _ in blocks)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """egs/demo run through stage 3 in a copy next to the repository's local/ and conf/."""
    root = tmp_path_factory.mktemp("readme")
    (root / "egs" / "demo").mkdir(parents=True)
    shutil.copy(REPO / "egs" / "demo" / "run.sh", root / "egs" / "demo" / "run.sh")
    os.symlink(REPO / "local", root / "local")
    os.symlink(REPO / "conf", root / "conf")
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}", PYTHONPATH=str(REPO))
    res = subprocess.run(
        ["bash", "run.sh", "--num-recordings", "4", "--duration", "30", "--stop-stage", "3"],
        cwd=root / "egs" / "demo",
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    return root / "egs" / "demo", env


def test_readme_blocks_run_on_the_demo_outputs(demo):
    recipe, env = demo
    blocks = marked_blocks((REPO / "README.md").read_text())
    python = "\n".join(code for lang, code in blocks if lang == "python")  # one session, in README order
    check = (
        "\nassert batch['features'].shape[-1] == 345 and batch['labels'].ndim == 3"
        "\nassert feats.shape[-1] == 23 and len(lens) == feats.shape[0]\nprint('ok')\n"
    )
    res = subprocess.run(
        [sys.executable, "-c", python + check], cwd=recipe, env=env, capture_output=True, text=True, timeout=600
    )
    assert res.returncode == 0 and res.stdout.strip().endswith("ok"), res.stderr[-3000:]
    for lang, code in blocks:
        if lang == "bash":
            res = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", code],
                cwd=recipe,
                env=env,
                capture_output=True,
                text=True,
                timeout=600,
            )
            assert res.returncode == 0, (code, res.stderr[-3000:])
