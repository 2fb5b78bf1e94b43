"""Start-up time of the ``diar`` verbs (issue 16, point 6).

For each command: wall time of the whole process (best of ``--repeat`` runs), total import
time and what ``torch`` / ``lhotse`` cost, read from ``python -X importtime``. The reference,
measured in the same run, is ``python -c "import lhotse"`` (what every verb paid before
imports were made lazy); the ratio column is reference / command.

    python bench/startup.py [--repeat 3]
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def importtime(args, env):
    """(wall seconds, {"torch"/"lhotse": cumulative import seconds}, total import seconds, exit status)."""
    start = time.perf_counter()
    res = subprocess.run([sys.executable, "-X", "importtime", *args], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    tops, total = {}, 0.0
    for line in res.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cum_us, name = line[len("import time:") :].split("|", 2)
        self_us, cum_us, name = self_us.strip(), cum_us.strip(), name[1:]  # keep the nesting indent
        total += int(self_us) / 1e6
        if name.strip() in ("torch", "lhotse"):  # imported once, at whatever depth: its cumulative time
            tops[name.strip()] = int(cum_us) / 1e6
    return wall, tops, total, res.returncode


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    env = dict(os.environ, PYTHONPATH=str(REPO))
    tmp = Path(tempfile.mkdtemp())
    rttm = tmp / "x.rttm"
    rttm.write_text(
        "".join(f"SPEAKER rec{i % 20} 1 {i * 2.0:.1f} 1.5 <NA> <NA> spk{i % 3} <NA> <NA>\n" for i in range(2000))
    )
    cli = ["-m", "recipes.cli"]
    commands = {
        "reference: import lhotse": ["-c", "import lhotse"],
        "diar --help": cli + ["--help"],
        "diar describe RTTM (2000 turns)": cli + ["describe", str(rttm)],
        "diar prepare rttm --help": cli + ["prepare", "rttm", "--help"],
        "diar fbank --help": cli + ["fbank", "--help"],
        "diar labels --help": cli + ["labels", "--help"],
        "diar export kaldi --help": cli + ["export", "kaldi", "--help"],
        "diar simulate --help": cli + ["simulate", "--help"],
        "diar prepare ami --help": cli + ["prepare", "ami", "--help"],
    }
    rows = []
    for name, argv in commands.items():
        best = None
        for _ in range(args.repeat):
            wall, tops, total, rc = importtime(argv, env)
            if best is None or wall < best[0]:
                best = (wall, tops, total, rc)
        rows.append((name, *best))
    ref = rows[0][1]
    print(f"{'command':36s} {'wall s':>7s} {'imports s':>9s} {'torch s':>8s} {'lhotse s':>8s} {'ref/cmd':>8s}")
    for name, wall, tops, total, rc in rows:
        flag = "" if rc == 0 else f"  (exit {rc})"
        print(
            f"{name:36s} {wall:7.2f} {total:9.2f} {tops.get('torch', 0.0):8.2f} {tops.get('lhotse', 0.0):8.2f} "
            f"{ref / wall:8.1f}{flag}"
        )


if __name__ == "__main__":
    main()
