"""The Datasets section: YAML facts, citations that resolve, distributions against direct
computations, paragraphs stating the measured figures, simulated-set tables."""

import json
import re
import shutil
import subprocess

import numpy as np
import pytest
from click.testing import CliRunner
from lhotse import CutSet, MonoCut, Recording, SupervisionSegment
from lhotse.audio import AudioSource
from lhotse.cut import MixedCut, MixTrack

from recipes.cli import cli
from recipes.corpora.common import PrepareReport
from recipes.paper import PAPER_KEYS, cite_keys, corpus_of, known_corpora, load_paper_facts
from recipes.rttm import ReadReport, Turn
from recipes.stats import build_report, recording_stats

CORPORA = [
    "ami",
    "icsi",
    "aishell4",
    "voxconverse",
    "ava_avd",
    "msdwild",
    "dihard3",
    "chime6",
    "libricss",
    "tedlium",
    "voxceleb",
]


def parse_bib(text):
    """{key: {field: value}} of a .bib text, with a brace-balance check (independent of recipes.paper)."""
    entries = {}
    for m in re.finditer(r"@(\w+)\s*\{\s*([^,\s]+)\s*,", text):
        depth, i = 1, m.end()
        while depth and i < len(text):
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        assert depth == 0, f"unbalanced braces in {m.group(2)}"
        body = text[m.end() : i - 1]
        entries[m.group(2)] = {f.lower(): v for f, v in re.findall(r"(\w+)\s*=\s*\{(.*?)\}\s*,?\s*$", body, re.M)}
    return entries


def test_every_corpus_states_its_paper_facts():
    assert set(CORPORA) <= set(known_corpora())
    keys = []
    for c in CORPORA:
        facts = load_paper_facts(c)
        assert all(facts[k] for k in PAPER_KEYS)
        bib = parse_bib(facts["citation"])
        assert list(bib) == cite_keys(facts["citation"]) and bib
        for key, fields in bib.items():
            assert {"author", "title", "year"} <= set(fields), (c, key)
            assert re.fullmatch(r"(19|20)\d\d", fields["year"]), (c, key)
        keys += list(bib)
        assert facts["url"].startswith("https://")
    assert len(keys) == len(set(keys))  # one key per entry across corpora


def test_corpus_of_input_names():
    assert corpus_of("ami-sdm/dev") == "ami"
    assert corpus_of("ava_avd/test") == "ava_avd"
    assert corpus_of("dihard3-core/dev") == "dihard3"
    assert corpus_of("chime6-U06/eval") == "chime6"
    assert corpus_of("demo/train") is None


def reference_events(turns):
    """Independent: per speaker union on a 1 ms grid, then pauses by a quadratic scan and
    overlap segments as runs of >= 2 active speakers on the grid."""
    ms = 1000
    n = int(max(t.end for t in turns) * ms) + 2
    spk = sorted({t.speaker for t in turns})
    act = np.zeros((len(spk), n), bool)
    for t in turns:
        act[spk.index(t.speaker), int(round(t.start * ms)) : int(round(t.end * ms))] = True
    segs = []
    for i, s in enumerate(spk):
        d = np.diff(np.concatenate([[0], act[i].astype(int), [0]]))
        segs += [(a / ms, b / ms, s) for a, b in zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1))]
    segs.sort()
    same, change = [], []
    for i, (s, e, who) in enumerate(segs):
        earlier = segs[:i]
        if not earlier:
            continue
        end = max(x[1] for x in earlier)
        last = [x for x in earlier if x[1] == end][0]
        if s > end:
            (same if last[2] == who else change).append(s - end)
    k = act.sum(axis=0) >= 2
    d = np.diff(np.concatenate([[0], k.astype(int), [0]]))
    ov = list((np.flatnonzero(d == -1) - np.flatnonzero(d == 1)) / ms)
    return dict(
        turn_duration=sorted(e - s for s, e, _ in segs),
        pause_same_speaker=sorted(same),
        pause_speaker_change=sorted(change),
        overlap_segment=sorted(ov),
    )


@pytest.mark.parametrize("seed", range(4))
def test_distributions_match_a_direct_computation(seed):
    rng = np.random.default_rng(seed)
    turns = []
    for spk in "abc":
        for _ in range(rng.integers(4, 12)):
            s = rng.integers(0, 50000) / 1000
            turns.append(Turn("r", s, s + rng.integers(200, 6000) / 1000, spk))
    got = recording_stats("r", turns, duration=60.0).events
    ref = reference_events(turns)
    for key, values in ref.items():
        assert sorted(got[key]) == pytest.approx(values, abs=2e-3), key
    report = build_report([("x", [recording_stats("r", turns, duration=60.0)])])
    d = report["total"]["distributions"]["pause_speaker_change"]
    if ref["pause_speaker_change"]:
        assert d["p50"] == pytest.approx(np.percentile(ref["pause_speaker_change"], 50), abs=2e-3)
        assert d["count"] == len(ref["pause_speaker_change"])


def corpus_cuts(rec_prefix, n, seed, uem_trim=0.0):
    rng = np.random.default_rng(seed)
    cuts = []
    for i in range(n):
        rid = f"{rec_prefix}{i}"
        dur = 120.0
        rec = Recording(
            id=rid,
            sources=[AudioSource(type="file", channels=[0], source=f"{rid}.wav")],
            sampling_rate=16000,
            num_samples=int(dur * 16000),
            duration=dur,
        )
        sups, t = [], 1.0
        while t < dur - 6:
            length = float(rng.uniform(0.5, 5))
            sups.append(
                SupervisionSegment(
                    id=f"{rid}-{len(sups)}",
                    recording_id=rid,
                    start=t,
                    duration=length,
                    channel=0,
                    speaker=f"{rid}_s{len(sups) % 3}",
                )
            )
            t += length + float(rng.uniform(-0.5, 1.0))
        cuts.append(
            MonoCut(
                id=rid,
                start=0,
                duration=dur,
                channel=0,
                recording=rec,
                supervisions=sups,
                custom={"uem": [[uem_trim, dur - uem_trim]]},
            )
        )
    return CutSet.from_cuts(cuts)


@pytest.fixture
def recipe_dirs(tmp_path):
    """Two recipes' data/ layouts: cuts + the prepare report stage 1 wrote."""
    for corpus, prefix, trim in (("ami", "ami-sdm", 5.0), ("voxconverse", "voxconverse", 0.0)):
        data = tmp_path / corpus / "data"
        (data / "cuts").mkdir(parents=True)
        (data / "manifests").mkdir()
        corpus_cuts(prefix[:3], 3, len(corpus), uem_trim=trim).to_file(data / "cuts" / f"{prefix}_cuts_test.jsonl.gz")
        rr = ReadReport(files=3, lines=100, merged_self_overlaps=7 if corpus == "ami" else 0)
        rep = PrepareReport(clipped=["x: 1", "y: 2"] if corpus == "ami" else [], annotation_summary=rr.summary())
        (data / "manifests" / f"{prefix}_prepare_report.txt").write_text(rep.text())
    return tmp_path


def test_describe_latex_cites_resolve_and_paragraphs_state_the_figures(recipe_dirs, tmp_path):
    inputs = [
        str(recipe_dirs / "ami/data/cuts/ami-sdm_cuts_test.jsonl.gz"),
        str(recipe_dirs / "voxconverse/data/cuts/voxconverse_cuts_test.jsonl.gz"),
    ]
    runner = CliRunner()
    tex, bib = tmp_path / "table.tex", tmp_path / "refs.bib"
    res = runner.invoke(cli, ["describe", *inputs, "--format", "latex", "-o", str(tex), "--bib", str(bib)])
    assert res.exit_code == 0, res.output
    text, entries = tex.read_text(), parse_bib(bib.read_text())
    cited = {k.strip() for group in re.findall(r"\\cite\{([^}]*)\}", text) for k in group.split(",")}
    assert cited == {"carletta2005ami", "chung2020spot"} and cited <= set(entries)
    js = json.loads(runner.invoke(cli, ["describe", *inputs, "--format", "json"]).output)
    ami = js["inputs"][0]
    assert ami["corpus"] == "ami" and ami["cite"] == "carletta2005ami"
    paras = js["paragraphs"]
    assert len(paras) == 2
    assert f"{ami['duration_hours']:.1f} h scored" in paras[0] and f"{ami['recordings']:,} recordings" in paras[0]
    assert "merged 7 same-speaker" in paras[0] and "clipped 2 turn(s)" in paras[0]
    share = 100 * ami["duration_hours"] / ami["audio_hours"]
    assert share == pytest.approx(100 * 110 / 120) and f"{share:.1f}% of the audio" in paras[0]
    assert "scores the whole audio" in paras[1] and "merged 0 same-speaker" in paras[1]
    for key in ("turn_duration", "pause_same_speaker", "pause_speaker_change", "overlap_segment"):
        assert set(ami["distributions"][key]) >= {"count", "p10", "p50", "p90"}
    md = runner.invoke(cli, ["describe", *inputs, "--format", "markdown", "--plot", str(tmp_path / "c.png")])
    assert md.exit_code == 0 and "Distributions" in md.output and "AMI Meeting Corpus [carletta2005ami]" in md.output
    assert (tmp_path / "c.png").stat().st_size > 0
    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex not installed: LaTeX not rendered")
    (tmp_path / "doc.tex").write_text(
        "\\documentclass{article}\\usepackage{booktabs,url}\\begin{document}\n"
        "\\input{table.tex}\n\\bibliographystyle{plain}\\bibliography{refs}\\end{document}\n"
    )
    latex = ["pdflatex", "-interaction=nonstopmode", "doc.tex"]
    for cmd in (latex, ["bibtex", "doc"], latex, latex):
        if cmd[0] == "bibtex" and shutil.which("bibtex") is None:
            continue
        out = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True)
        assert out.returncode == 0, out.stdout[-2000:]
    log = (tmp_path / "doc.log").read_text(errors="replace")
    assert not re.search(r"Citation .* undefined", log), "a \\cite key did not resolve"


def test_simulated_set_table_from_sim_metadata(tmp_path):
    rng = np.random.default_rng(0)
    mixtures, expect = [], {}
    for i in range(12):
        k, target = (2, 0.1) if i % 3 else (3, 0.2)
        dur = float(rng.uniform(30, 90))
        rid = f"src{i}"
        rec = Recording(
            id=rid,
            sources=[AudioSource(type="file", channels=[0], source=f"{rid}.wav")],
            sampling_rate=16000,
            num_samples=int(dur * 16000),
            duration=dur,
        )
        sups = [
            SupervisionSegment(
                id=f"{rid}-{j}", recording_id=rid, start=j * 5.0, duration=6.0, channel=0, speaker=f"s{j % k}"
            )
            for j in range(int(dur // 5) - 1)
        ]
        track = MonoCut(id=rid, start=0, duration=dur, channel=0, recording=rec, supervisions=sups)
        mix = MixedCut(id=f"mix{i}", tracks=[MixTrack(cut=track)])
        sim = {
            "method": "target-overlap",
            "num_speakers": k,
            "target_overlap": target,
            "target_silence": 0.1,
            "overlap_ratio": float(rng.uniform(0.05, 0.25)),
            "silence_ratio": float(rng.uniform(0.05, 0.15)),
            "index": i,
        }
        mix.sim = sim  # Lhotse stores it on the first track's custom
        mixtures.append(mix)
        expect.setdefault((k, target), []).append((dur, sim["overlap_ratio"], sim["silence_ratio"]))
    path = tmp_path / "sim_cuts_train.jsonl.gz"
    CutSet.from_cuts(mixtures).to_file(path)
    res = CliRunner().invoke(cli, ["describe", str(path), "--format", "json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)["inputs"][0]["simulated"]
    assert [(r["num_speakers"], r["target_overlap"]) for r in rows] == sorted(expect)
    for r in rows:
        items = expect[r["num_speakers"], r["target_overlap"]]
        w = sum(d for d, _, _ in items)
        assert r["mixtures"] == len(items) and r["hours"] == pytest.approx(w / 3600)
        assert r["overlap_ratio"] == pytest.approx(sum(d * o for d, o, _ in items) / w)
        assert r["silence_ratio"] == pytest.approx(sum(d * s for d, _, s in items) / w)
        assert r["methods"] == ["target-overlap"] and r["target_silence"] == 0.1
    md = CliRunner().invoke(cli, ["describe", str(path), "--format", "markdown"]).output
    assert "Simulated set sim/train" in md
