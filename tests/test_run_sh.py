"""Every egs/<corpus>/run.sh over local/recipe.sh, stages 0 and 1 (more where stated) on the
corpus's fixture: the manifests stage 1 must write, and a rerun that finds every stage done.

One parametrised test; a corpus adds one entry to CASES (its fixture builder, its options, the
files it must write and the number of stages a rerun skips)."""

import subprocess
from dataclasses import dataclass, field
from typing import Callable, List, Optional

import numpy as np
import pytest
from lhotse import CutSet

from tests.fixtures.aishell4 import build_aishell4_fixture
from tests.fixtures.ami import build_ami_fixture
from tests.fixtures.ava_avd import build_ava_avd_fixture
from tests.fixtures.chime6 import build_chime6_fixture, write_kaldi_uem
from tests.fixtures.dihard3 import build_dihard3_fixture
from tests.fixtures.icsi import build_icsi_fixture
from tests.fixtures.libricss import build_libricss_fixture
from tests.fixtures.librispeech import build_librispeech_fixture
from tests.fixtures.msdwild import build_msdwild_fixture
from tests.fixtures.sandbox import recipe_sandbox
from tests.fixtures.tedlium import build_tedlium_fixture
from tests.fixtures.voxceleb import build_voxceleb_fixture
from tests.fixtures.voxconverse import build_voxconverse_fixture


def check_ami(recipe, run, monkeypatch):
    cuts = CutSet.from_file(recipe / "data" / "manifests" / "ami-mdm_cuts_dev.jsonl.gz")
    assert [c.id for c in cuts] == ["ES2011a"] and cuts[0].channel == list(range(8))
    assert (recipe / "data" / ".done" / "ami-mdm" / "stage_1.done").is_file()
    # rerun up to stage 2: stages 0-1 are skipped; the 8-channel cut gives one feature cut per channel
    res = run("--mic", "mdm", "--stop-stage", "2")
    assert res.returncode == 0 and res.stderr.count("already done") == 2, res.stderr[-3000:]
    monkeypatch.chdir(recipe)  # manifests hold paths relative to the recipe directory
    feats = CutSet.from_file(recipe / "data" / "cuts" / "ami-mdm_cuts_dev.jsonl.gz")
    assert [(c.id, c.channel) for c in feats] == [(f"ES2011a-{k}", k) for k in range(8)]
    mono = {k: feats[k].load_features() for k in (0, 7)}
    assert mono[0].shape == (feats[0].num_frames, 23) and not np.allclose(mono[0], mono[7])
    from recipes.stats import cutset_stats

    assert len(cutset_stats(feats)) == 1  # the eight channels are one recording in the statistics


def check_icsi(recipe, run, monkeypatch):
    cuts = CutSet.from_file(recipe / "data" / "manifests" / "icsi-ihm-mix_cuts_test.jsonl.gz")
    assert [c.id for c in cuts] == ["Bmr013"]


def check_ava_avd(recipe, run, monkeypatch):
    for split in ("train", "val", "test"):
        assert len(CutSet.from_file(recipe / "data" / "manifests" / f"ava_avd_cuts_{split}.jsonl.gz")) == 3


def check_voxceleb(recipe, run, monkeypatch):
    # stages 2-4 ran too: features and one-speaker labels for every split stage 1 wrote
    for split in ("dev", "test"):
        labelled = CutSet.from_file(recipe / "data" / "cuts" / f"voxceleb1_cuts_{split}_binary.jsonl.gz")
        for cut in labelled:
            assert cut.features.num_features == 23 and cut.custom["speakers"] == [cut.supervisions[0].speaker]
    assert (recipe / "data" / "stats" / "voxceleb1_card.md").is_file()


def check_mini_librispeech_sim(recipe, run, monkeypatch):
    # stage 2 (this recipe's own): two-speaker mixtures of each split's own speakers (the fixture's
    # train-clean-5 speakers are 100-102, dev-clean-2's 103-104), with their statistics
    for split, speakers in (("train", {"100", "101", "102"}), ("dev", {"103", "104"})):
        mixtures = CutSet.from_file(recipe / "data" / "sim" / f"mls-sim_mixed_{split}.jsonl.gz")
        assert len(mixtures) > 0
        for cut in mixtures:
            present = {s.speaker for s in cut.supervisions}
            assert len(present) == 2 and present <= speakers, (split, present)
        assert (recipe / "data" / "stats" / f"mls-sim_mixed_{split}_simulation.json").is_file()
        assert (recipe / "data" / "sources" / f"cache_{split}").is_dir()  # --source-cache true by default
    res = run("--help")
    assert res.returncode == 0 and "--sim-conf TEXT" in res.stdout and "--stop-stage INT" in res.stdout
    assert "(default: 5)" in res.stdout and "--duration-from-annotations" not in res.stdout


def check_dihard3_needs_corpus_dir(recipe, run, monkeypatch):
    res = run("--stop-stage", "0", corpus_dir=False)
    assert res.returncode != 0 and "LDC" in res.stderr


@dataclass
class Case:
    corpus: str
    build: Callable  # folder -> the corpus in its release layout
    outputs: List[str]  # files stage 1 writes under data/manifests
    args: List[str] = field(default_factory=lambda: ["--stop-stage", "1"])
    skipped_on_rerun: int = 2
    extra: Callable = lambda tmp_path: []  # more options that need files
    check: Optional[Callable] = None  # more assertions after the first run
    before: Optional[Callable] = None  # assertions before the first run


def files(prefix, splits):
    return [f"{prefix}_cuts_{s}.jsonl.gz" for s in splits]


CASES = [
    Case("aishell4", build_aishell4_fixture, files("aishell4", ("train_L", "train_M", "train_S", "test"))),
    Case(
        "ami",
        build_ami_fixture,
        files("ami-mdm", ("dev",)),
        args=["--mic", "mdm", "--stop-stage", "1"],
        check=check_ami,
    ),
    Case(
        "ava_avd",
        lambda p: build_ava_avd_fixture(p, unmatched=True),
        files("ava_avd", ("train", "val", "test")),
        check=check_ava_avd,
    ),
    Case(
        "chime6",
        lambda p: build_chime6_fixture(p, unmatched=True),
        files("chime6-U02", ("train", "dev", "eval")),
        args=["--stop-stage", "1", "--mic", "U02"],
        extra=lambda t: ["--uem", str(write_kaldi_uem(t / "uem_file", {"S01": 0, "S02": 0.5, "S09": 0.3}))],
    ),
    Case(
        "dihard3",
        lambda p: build_dihard3_fixture(p, unmatched=True),
        files("dihard3-core", ("dev", "eval")),
        args=["--stop-stage", "1", "--partition", "core"],
        before=check_dihard3_needs_corpus_dir,
    ),
    Case("icsi", build_icsi_fixture, files("icsi-ihm-mix", ("test",)), check=check_icsi),
    Case(
        "libricss",
        lambda p: build_libricss_fixture(p, unmatched=True),
        files("libricss-clean", ("dev", "eval")),
        args=["--stop-stage", "1", "--mic", "clean"],
    ),
    Case(
        "mini_librispeech_sim",
        build_librispeech_fixture,
        [
            f"librispeech_{kind}_{part}.jsonl.gz"
            for kind in ("recordings", "supervisions")
            for part in ("train-clean-5", "dev-clean-2")
        ],
        args=["--stop-stage", "2", "--train-hours", "0.01", "--dev-hours", "0.005", "--nj", "1"],
        skipped_on_rerun=3,
        check=check_mini_librispeech_sim,
    ),
    Case(
        "msdwild",
        lambda p: build_msdwild_fixture(p, layout="release"),
        files("msdwild", ("few.train", "few.val", "many.val")),
    ),
    Case(
        "tedlium",
        lambda p: build_tedlium_fixture(p, release="v2"),
        files("tedlium-v2", ("train", "dev", "test")),
        args=["--release", "v2", "--stop-stage", "1"],
    ),
    Case(
        "voxceleb",
        build_voxceleb_fixture,
        files("voxceleb1", ("dev", "test")),
        args=["--versions", "1"],
        skipped_on_rerun=5,
        check=check_voxceleb,
    ),
    Case(
        "voxconverse",
        lambda p: build_voxconverse_fixture(p, unmatched=True),
        files("voxconverse", ("train", "dev", "test")),
        args=["--stop-stage", "1", "--split-dev-ratio", "0.5"],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.corpus for c in CASES])
def test_run_sh_stages_0_and_1(case, tmp_path, monkeypatch):
    corpus = case.build(tmp_path / "corpus")
    root, env = recipe_sandbox(tmp_path, case.corpus)
    recipe = root / "egs" / case.corpus
    options = [*case.args, *case.extra(tmp_path)]

    def run(*more, corpus_dir=True):
        head = ["--corpus-dir", str(corpus)] if corpus_dir else []
        cmd = ["bash", str(recipe / "run.sh"), *head, *(more or options)]
        # generous: a busy machine stretches the wall time (voxceleb runs stages 0-4, validate included)
        return subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=600)

    if case.before:
        case.before(recipe, run, monkeypatch)
    res = run()
    assert res.returncode == 0, res.stderr[-3000:]
    for name in case.outputs:
        assert (recipe / "data" / "manifests" / name).is_file(), name
    if case.check:
        case.check(recipe, run, monkeypatch)
    res = run()
    assert res.returncode == 0 and res.stderr.count("already done") == case.skipped_on_rerun, res.stderr[-3000:]


def test_run_sh_checks_numbers_and_generates_help(tmp_path):
    root, env = recipe_sandbox(tmp_path, "ami")
    script = str(root / "egs" / "ami" / "run.sh")
    res = subprocess.run(["bash", script, "--stage", "abc"], cwd=root, env=env, capture_output=True, text=True)
    assert res.returncode == 2 and "--stage expects a whole number, got 'abc'" in res.stderr
    res = subprocess.run(["bash", script, "--nj", "2.5"], cwd=root, env=env, capture_output=True, text=True)
    assert res.returncode == 2 and "--nj expects a whole number" in res.stderr
    res = subprocess.run(["bash", script, "--mic", "mdm", "--help"], cwd=root, env=env, capture_output=True, text=True)
    # the help shows the live defaults: after --mic mdm on the same line, the default shown is mdm
    assert res.returncode == 0 and "AMI Meeting Corpus" in res.stdout
    assert "--mic TEXT" in res.stdout and "(default: mdm)" in res.stdout and "--stop-stage INT" in res.stdout
