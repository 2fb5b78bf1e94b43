"""Multi-speaker simulation: methods against independent estimates, determinism, labels, audio."""

import gzip
import json
import random

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner
from lhotse import CutSet
from lhotse.serialization import load_manifest_lazy

from recipes.cli import cli
from recipes.labels import activity_matrix, compute_labels, load_labels
from recipes.rttm import Turn, read_rttm, write_rttm
from recipes.simulation import (
    Simulator,
    conversation_stats,
    energy_vad,
    load_config,
    load_sources,
    prepare_sources,
    simulate,
)
from recipes.stats import cutset_stats, summarize, turns_stats
from tests.fixtures.sandbox import REPO
from tests.fixtures.sources import LEAD, TRAIL, audio_sources, conversation_rttm_turns, make_cut, manifest_sources


@pytest.fixture(scope="module")
def src_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("src") / "sources.jsonl.gz"
    manifest_sources(num_speakers=20, per_speaker=30, seed=0).to_file(path)
    return path


def run(tmp_path, src_path, name, n, seed=0, num_jobs=1, split=None, config_from=None, **cfg):
    cfg.setdefault("shard_size", 250)
    config = load_config(f"conf/simulation/{config_from}.yaml" if config_from else None, **cfg)
    src = load_sources(src_path, supervision=config.supervision, split=split, dev_fraction=config.dev_fraction)
    out = tmp_path / f"{name}.jsonl.gz"
    stats = simulate(Simulator(src, config, seed=seed, prefix=name), n, out, num_jobs=num_jobs, progress=False)
    return out, stats


def mixture_turns(cut):
    return [Turn(cut.id, s.start, s.end, s.speaker) for s in cut.supervisions]


def overlap_ratio_sweep(intervals):
    """Independent overlap / speech of [(start, end)] by a plain event sweep."""
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals], key=lambda x: (x[0], x[1]))
    k, last, speech, over = 0, None, 0.0, 0.0
    for t, d in events:
        if last is not None and k >= 1:
            speech += t - last
            if k >= 2:
                over += t - last
        k += d
        last = t
    return over / speech


def test_eend_overlap_matches_independent_monte_carlo(tmp_path, src_path):
    out, _ = run(tmp_path, src_path, "eend", 1500, seed=3, method="eend", speakers={2: 1.0}, beta=2.0)
    cuts = list(load_manifest_lazy(out))
    assert len(cuts) == 1500 and all(type(c).__name__ == "MixedCut" for c in cuts)
    simulated = np.mean([r.overlap / r.speech for r in cutset_stats(cuts)])  # recipes.stats on Lhotse objects

    # The EEND algorithm, written again: 2 speakers, 10-20 utterances, Exp(beta) silence before each.
    by_spk = {}
    for c in manifest_sources(num_speakers=20, per_speaker=30, seed=0):
        by_spk.setdefault(c.supervisions[0].speaker, []).append(c.duration)
    rnd = random.Random(12345)
    ratios = []
    for _ in range(4000):
        intervals = []
        for spk in rnd.sample(sorted(by_spk), 2):
            t = 0.0
            for d in rnd.sample(by_spk[spk], rnd.randint(10, 20)):
                t += rnd.expovariate(1 / 2.0)
                intervals.append((t + LEAD, t + d - TRAIL))
                t += d
        ratios.append(overlap_ratio_sweep(intervals))
    assert abs(simulated - np.mean(ratios)) < 0.01, (simulated, np.mean(ratios))


def test_conversation_reproduces_source_statistics(tmp_path, src_path):
    rttm = tmp_path / "real.rttm"
    write_rttm(conversation_rttm_turns(num_recordings=20, seed=1), rttm)
    real = conversation_stats(read_rttm(rttm)[0])
    out, stats = run(
        tmp_path,
        src_path,
        "conv",
        300,
        seed=5,
        method="conversation",
        speakers={2: 0.5, 3: 0.5},
        conversation_stats=str(rttm),
    )
    sim = conversation_stats([t for c in load_manifest_lazy(out) for t in mixture_turns(c)])
    for a, b in [
        (real.same_speaker_pauses, sim.same_speaker_pauses),
        (real.speaker_change_pauses, sim.speaker_change_pauses),
        (real.overlaps, sim.overlaps),
    ]:
        assert abs(np.mean(b) - np.mean(a)) < 0.1 * np.mean(a), (np.mean(a), np.mean(b))
    assert abs(sim.overlap_probability - real.overlap_probability) < 0.1 * real.overlap_probability
    assert stats["conversation_source_stats"]["overlap_mean"] == pytest.approx(np.mean(real.overlaps))


@pytest.mark.parametrize("method", ["eend", "conversation", "target-overlap"])
def test_no_speaker_overlaps_itself(tmp_path, src_path, method):
    rttm = tmp_path / "real.rttm"
    write_rttm(conversation_rttm_turns(num_recordings=5, seed=2), rttm)
    out, _ = run(
        tmp_path,
        src_path,
        "self",
        60,
        method=method,
        speakers={1: 0.2, 2: 0.3, 3: 0.3, 5: 0.2},
        beta={1: 2, 2: 2, 3: 5, 5: 9},
        target_overlap=0.25,
        calibration_mixtures=50,
        conversation_stats=str(rttm),
    )
    for cut in load_manifest_lazy(out):
        by_spk = {}
        for s in cut.supervisions:
            by_spk.setdefault(s.speaker, []).append((s.start, s.end))
        for spans in by_spk.values():
            spans.sort()
            assert all(e <= s2 + 1e-9 for (_, e), (s2, _) in zip(spans, spans[1:])), cut.id
        if method != "conversation":  # EEND streams: whole utterances, silence included, never overlap
            tracks = {}
            for t in cut.tracks:
                tracks.setdefault(t.cut.supervisions[0].speaker, []).append((t.offset, t.offset + t.cut.duration))
            for spans in tracks.values():
                spans.sort()
                assert all(e <= s2 + 1e-9 for (_, e), (s2, _) in zip(spans, spans[1:]))


def test_labels_equal_supervisions(tmp_path, src_path):
    out, _ = run(tmp_path, src_path, "lab", 8, method="eend", speakers={2: 0.5, 4: 0.5}, beta=1.0)
    cuts = CutSet.from_cuts(list(load_manifest_lazy(out)))
    assert len({c.recording_id for c in cuts}) == len(cuts)  # the mixture id, not a source's
    for cut in cuts:
        speakers = sorted({s.speaker for s in cut.supervisions})
        T = int(round(cut.duration * 100))
        centres = (np.arange(T) + 0.5) * 0.01
        expected = np.zeros((T, len(speakers)), np.uint8)
        for s in cut.supervisions:
            expected[(centres >= s.start) & (centres < s.end), speakers.index(s.speaker)] = 1
        got = activity_matrix(cut, speakers)
        assert got.shape[0] == T and np.array_equal(got, expected)


def expected_labels(cut, speakers, T):
    centres = (np.arange(T) + 0.5) * 0.01
    out = np.zeros((T, len(speakers)), np.uint8)
    for s in cut.supervisions:
        out[(centres >= s.start) & (centres < s.end), speakers.index(s.speaker)] = 1
    return out


def test_target_overlap_reaches_requested_ratio(tmp_path, src_path):
    out, stats = run(
        tmp_path,
        src_path,
        "tov",
        800,
        seed=7,
        method="target-overlap",
        speakers={2: 0.5, 3: 0.5},
        target_overlap=[0.1, 0.3],
        calibration_mixtures=200,
    )
    assert set(stats["by_combination"]) == {"2spk@0.1", "2spk@0.3", "3spk@0.1", "3spk@0.3"}
    groups = {}
    for cut in load_manifest_lazy(out):
        groups.setdefault(cut.id, cut)
    per_combo = {}
    lay_of = Simulator(
        load_sources(src_path),
        load_config(
            None,
            method="target-overlap",
            speakers={2: 0.5, 3: 0.5},
            target_overlap=[0.1, 0.3],
            calibration_mixtures=200,
        ),
        seed=7,
        prefix="tov",
    )
    for i, cut in enumerate(groups.values()):
        lay = lay_of.layout(i)
        per_combo.setdefault((lay.num_speakers, lay.level), []).append(cut)
    for (k, level), cuts in per_combo.items():
        ratio = summarize(cutset_stats(cuts))["overlap_ratio"]  # measured by recipes.stats
        assert abs(ratio - level) < 0.02, (k, level, ratio)
        assert stats["by_combination"][f"{k}spk@{level}"]["overlap_ratio"] == pytest.approx(ratio, abs=1e-6)


def test_same_seed_same_bytes_for_any_num_jobs(tmp_path, src_path):
    kw = dict(
        method="target-overlap",
        speakers={1: 0.25, 2: 0.25, 3: 0.5},
        target_overlap=0.2,
        calibration_mixtures=50,
        shard_size=30,
    )
    a, _ = run(tmp_path / "a", src_path, "x", 100, seed=11, num_jobs=1, **kw)
    b, _ = run(tmp_path / "b", src_path, "x", 100, seed=11, num_jobs=2, **kw)
    c, _ = run(tmp_path / "c", src_path, "x", 100, seed=12, num_jobs=2, **kw)
    names = sorted(p.name for p in a.parent.iterdir())
    assert names == sorted(p.name for p in b.parent.iterdir())
    assert "x.000003.jsonl.gz" in names and "x.shards.txt" in names and "x.stats.json" in names
    for n in names:
        assert (a.parent / n).read_bytes() == (b.parent / n).read_bytes(), n
    assert a.read_bytes() != c.read_bytes()
    shards = [str(a.parent / s) for s in (a.parent / "x.shards.txt").read_text().split()]
    assert [x.id for x in CutSet.from_files(shards, shuffle_iters=False)] == [x.id for x in load_manifest_lazy(a)]
    assert gzip.decompress(a.read_bytes()).count(b"\n") == 100


def test_train_dev_speakers_disjoint(tmp_path, src_path):
    tr = load_sources(src_path, split="train", dev_fraction=0.3)
    dv = load_sources(src_path, split="dev", dev_fraction=0.3)
    assert set(tr.speakers).isdisjoint(dv.speakers) and len(tr.speakers) + len(dv.speakers) == 20
    assert load_sources(src_path, split="dev", dev_fraction=0.3).speakers == dv.speakers
    out, _ = run(tmp_path, src_path, "dev", 20, split="dev", dev_fraction=0.3, speakers={2: 1.0})
    assert {s.speaker for c in load_manifest_lazy(out) for s in c.supervisions} <= set(dv.speakers)


def test_audio_vad_load_audio_and_materialize(tmp_path):
    raw = audio_sources(tmp_path / "wav", per_speaker=3, seed=0)
    prepared = CutSet.from_cuts(list(prepare_sources(raw, progress=False)))
    assert len(prepared) == len(raw)  # one speech segment each (no pause inside)
    for r, p in zip(raw, prepared):  # VAD: speech found within the 50 ms collar + one frame (recording time)
        true_start, true_end = r.custom["true_speech"]
        sup = p.supervisions[0]
        start, end = p.start + sup.start, p.start + sup.end
        assert true_start - 0.08 <= start <= true_start and true_end <= end <= true_end + 0.08
    assert energy_vad(np.zeros(8000), 16000) is None
    src = tmp_path / "src.jsonl.gz"
    prepared.to_file(src)
    out = tmp_path / "sim" / "mix.jsonl.gz"
    res = CliRunner().invoke(
        cli,
        ["simulate", str(src), str(out), "--num-mixtures", "3", "--seed", "1", "--materialize", str(tmp_path / "mat")],
        catch_exceptions=False,
    )
    assert res.exit_code == 0, res.output
    cuts = list(load_manifest_lazy(out))
    for cut in cuts:
        audio = cut.load_audio()
        assert audio.shape == (1, int(round(cut.duration * 16000)))
        assert np.abs(audio).max() > 0.1
    mat = CutSet.from_file(tmp_path / "mat" / "cuts.jsonl.gz")
    turns, _ = read_rttm(tmp_path / "mat" / "rttm")
    assert len(turns) == sum(len(c.supervisions) for c in cuts)
    for cut, m in zip(cuts, mat):
        info = sf.info(str(tmp_path / "mat" / "audio" / f"{cut.id}.flac"))
        assert info.samplerate == 8000 and info.format == "FLAC"
        assert abs(info.frames - cut.duration * 8000) <= 1
        expected = sorted((round(s.start, 3), round(s.end, 3), s.speaker) for s in cut.supervisions)
        assert (
            sorted((round(t.start, 3), round(t.end, 3), t.speaker) for t in turns if t.recording_id == cut.id)
            == expected
        )
        assert sorted((round(s.start, 3), round(s.end, 3), s.speaker) for s in m.supervisions) == expected
    # compute_labels (the `diar labels` stage) on the materialized mixtures = the MixedCuts' supervisions
    labelled, _ = compute_labels(mat, tmp_path / "labels.h5", progress=False)
    for cut, lab in zip(cuts, labelled):
        got = load_labels(lab)
        assert np.array_equal(got, expected_labels(cut, lab.speakers, got.shape[0]))
    segments = (tmp_path / "mat" / "kaldi" / "segments").read_text().splitlines()
    assert len(segments) == len(turns)
    assert len((tmp_path / "mat" / "kaldi" / "wav.scp").read_text().splitlines()) == 3
    # diar describe on the simulated MixedCuts
    res = CliRunner().invoke(cli, ["describe", str(out), "--format", "json"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    report = json.loads(res.output)
    assert report["inputs"][0]["recordings"] == 3
    stats = json.loads((tmp_path / "sim" / "mix.stats.json").read_text())
    assert report["inputs"][0]["overlap_ratio"] == pytest.approx(stats["overlap_ratio"], abs=1e-6)


def test_dask_cluster_renders_the_same_shards_and_audio(tmp_path):
    """Simulation shards and --materialize audio on a dask LocalCluster (2 workers) and on 2
    local processes give the same bytes as one inline job."""
    pytest.importorskip("distributed")
    raw = audio_sources(tmp_path / "wav", per_speaker=3, seed=0)
    src = tmp_path / "src.jsonl.gz"
    CutSet.from_cuts(list(prepare_sources(raw, progress=False))).to_file(src)
    conf = tmp_path / "small_shards.yaml"
    conf.write_text("shard_size: 2\nspeakers: {2: 1.0}\nutterances_per_speaker: [1, 2]\n")
    runs = {
        "inline": ["--num-jobs", "1"],
        "local": ["--num-jobs", "2"],
        "dask": ["--num-jobs", "2", "--executor", "dask"],
    }
    for name, opts in runs.items():
        res = CliRunner().invoke(
            cli,
            [
                "simulate",
                str(src),
                str(tmp_path / name / "mix.jsonl.gz"),
                "--config",
                str(conf),
                "--num-mixtures",
                "5",
                "--seed",
                "3",
                "--materialize",
                str(tmp_path / name / "mat"),
                *opts,
            ],
            catch_exceptions=False,
        )
        assert res.exit_code == 0, res.output
    ref = tmp_path / "inline"
    files = sorted(p.relative_to(ref) for p in ref.rglob("*") if p.is_file())
    assert sum(1 for f in files if f.suffix == ".flac") == 5 and (ref / "mix.000002.jsonl.gz") in [
        ref / f for f in files
    ]
    for name in ("local", "dask"):
        other = tmp_path / name
        assert sorted(p.relative_to(other) for p in other.rglob("*") if p.is_file()) == files
        for f in files:
            if f.name == "cuts.jsonl.gz":  # MonoCuts name their FLAC by absolute path
                a = [c.recording.sources[0].source.replace(str(ref), "") for c in CutSet.from_file(ref / f)]
                b = [c.recording.sources[0].source.replace(str(other), "") for c in CutSet.from_file(other / f)]
                assert a == b
            elif f.parts[-2:] != ("kaldi", "wav.scp"):
                assert (other / f).read_bytes() == (ref / f).read_bytes(), (name, f)


def test_reverb_and_noise_tracks(tmp_path):
    from lhotse import Recording, RecordingSet

    raw = audio_sources(tmp_path / "wav", per_speaker=2, seed=3)
    src_path = tmp_path / "src.jsonl.gz"
    CutSet.from_cuts(list(prepare_sources(raw, progress=False))).to_file(src_path)
    rng = np.random.default_rng(0)
    h = rng.standard_normal(2000) * np.exp(-np.arange(2000) / 400)
    h[0] = 1.0
    sf.write(str(tmp_path / "rir.wav"), (0.9 * h / np.abs(h).max()).astype(np.float32), 16000)
    RecordingSet.from_recordings([Recording.from_file(tmp_path / "rir.wav")]).to_file(tmp_path / "rirs.jsonl.gz")
    noise = np.random.default_rng(1).standard_normal(16000 * 3).astype(np.float32) * 0.1
    sf.write(str(tmp_path / "noise.wav"), noise, 16000)
    CutSet.from_cuts([make_cut("noise", "n", 3.0, (0, 3.0), str(tmp_path / "noise.wav"))]).drop_supervisions().to_file(
        tmp_path / "noise.jsonl.gz"
    )
    audio = {}
    for name, extra in [
        ("dry", {}),
        (
            "wet",
            {
                "reverb": {"rirs": str(tmp_path / "rirs.jsonl.gz"), "probability": 1.0},
                "noise": {"cuts": str(tmp_path / "noise.jsonl.gz"), "snr": [5, 5]},
            },
        ),
    ]:
        out, _ = run(tmp_path, src_path, name, 2, seed=4, utterances_per_speaker=[2, 3], **extra)
        cut = next(iter(load_manifest_lazy(out)))
        audio[name] = cut.load_audio()
        assert audio[name].shape == (1, int(round(cut.duration * 16000)))
        if name == "wet":
            noise_tracks = [t for t in cut.tracks if t.snr is not None]
            assert noise_tracks and noise_tracks[0].offset == 0.0
            assert abs(sum(t.cut.duration for t in noise_tracks) - cut.duration) < 2e-3
            assert all(t.cut.recording.transforms for t in cut.tracks if t.snr is None)
            assert len(cut.supervisions) == len(cut.tracks) - len(noise_tracks)
    assert audio["dry"].shape == audio["wet"].shape and np.abs(audio["dry"] - audio["wet"]).max() > 0.05


def test_hours_and_hours_per_combination(tmp_path, src_path):
    cfg = load_config(
        None,
        method="target-overlap",
        speakers={1: 0.5, 2: 0.5},
        target_overlap=[0.1, 0.3],
        calibration_mixtures=50,
        shard_size=40,
    )
    sim = Simulator(load_sources(src_path), cfg, seed=2, prefix="blk")
    n = sim.set_hours_per_combination(0.5)
    stats = simulate(sim, n, tmp_path / "blk.jsonl.gz", progress=False)
    assert set(stats["by_combination"]) == {"1spk", "2spk@0.1", "2spk@0.3"}
    for c in stats["by_combination"].values():  # at least 0.5 h each, and one mixture less would not be
        assert c["hours"] >= 0.5
    assert [b["end"] for b in stats["combination_blocks"]][-1] == n == stats["mixtures"]
    sim2 = Simulator(load_sources(src_path), load_config(None, speakers={2: 0.5, 3: 0.5}), seed=2)
    n2 = sim2.num_mixtures_for_hours(3.0)
    hours = simulate(sim2, n2, tmp_path / "h.jsonl.gz", progress=False)["hours"]
    assert abs(hours - 3.0) < 0.3


def test_mixtures_go_through_fbank_labels_and_the_dataset_without_materializing(tmp_path):
    from recipes.dataset import EENDDataset, chunk_cuts
    from recipes.features import KaldiNativeFbank

    raw = audio_sources(tmp_path / "wav", per_speaker=3, seed=1)
    src = tmp_path / "src.jsonl.gz"
    CutSet.from_cuts(list(prepare_sources(raw, progress=False))).to_file(src)
    out = tmp_path / "sim" / "mix.jsonl.gz"
    res = CliRunner().invoke(
        cli, ["simulate", str(src), str(out), "--num-mixtures", "2", "--seed", "4"], catch_exceptions=False
    )
    assert res.exit_code == 0, res.output
    mixtures = list(load_manifest_lazy(out))
    # labels on raw mixtures: a clear error, not a crash
    res = CliRunner().invoke(
        cli, ["labels", str(out), str(tmp_path / "l.jsonl.gz"), "--storage-path", str(tmp_path / "lab")]
    )
    assert res.exit_code == 1 and "diar fbank" in res.stderr
    # fbank turns each mixture into a cut with features and the mixture's supervisions
    feats = tmp_path / "feats.jsonl.gz"
    res = CliRunner().invoke(cli, ["fbank", str(out), str(feats), "--storage-path", str(tmp_path / "fb")])
    assert res.exit_code == 0, res.output
    fcuts = list(CutSet.from_file(feats))
    for mix, fc in zip(mixtures, fcuts):
        assert fc.id == mix.id and fc.num_frames == round(mix.duration * 100)
        direct = KaldiNativeFbank().extract(
            __import__("soxr").resample(mix.load_audio()[0], 16000, 8000, quality="HQ"), 8000
        )
        assert np.abs(fc.load_features() - direct).max() <= 2**-6 + 1e-3
        assert sorted((s.start, s.speaker) for s in fc.supervisions) == sorted(
            (s.start, s.speaker) for s in mix.supervisions
        )
    labelled_path = tmp_path / "labelled.jsonl.gz"
    res = CliRunner().invoke(cli, ["labels", str(feats), str(labelled_path), "--storage-path", str(tmp_path / "lab")])
    assert res.exit_code == 0, res.output
    labelled = list(CutSet.from_file(labelled_path))
    for mix, lab in zip(mixtures, labelled):
        got = load_labels(lab)
        assert np.array_equal(got, expected_labels(mix, lab.speakers, got.shape[0]))
    # on-the-fly: raw mixtures straight into the dataset, labels from their supervisions, nothing stored
    chunks = chunk_cuts(CutSet.from_cuts(mixtures), chunk_size=100)
    batch = EENDDataset(chunk_size=100, feature_extractor=KaldiNativeFbank())[chunks.subset(first=2)]
    assert batch["features"].shape[2] == 345 and (batch["labels"] >= 0).any() and (batch["labels"] == 1).any()


@pytest.mark.realdata
def test_conversation_reproduces_real_ami_turn_taking(tmp_path, realdata):
    """Statistics of the real AMI dev references with the default 7 s outlier cut-off, sources
    segmented as `diar simulate-sources` writes them: pause and overlap means within 10 %."""
    from recipes.simulation import conversation_stats, load_conversation_stats
    from tests.fixtures.sources import segment_sources

    rttm = realdata / "ami" / "only_words" / "rttms" / "dev"
    src = tmp_path / "src.jsonl.gz"
    segment_sources(num_speakers=40, utterances=40, seed=0).to_file(src)
    cfg = load_config(None, method="conversation", conversation_stats=str(rttm), speakers={4: 1.0}, shard_size=250)
    sources = load_sources(src, supervision=cfg.supervision, split=None, dev_fraction=cfg.dev_fraction)
    out = tmp_path / "conv.jsonl.gz"
    simulate(Simulator(sources, cfg, seed=0, prefix="c"), 300, out, progress=False)
    got = conversation_stats(
        [Turn(c.id, s.start, s.end, s.speaker) for c in load_manifest_lazy(out) for s in c.supervisions]
    )
    ref = load_conversation_stats(rttm)
    for name in ("same_speaker_pauses", "speaker_change_pauses", "overlaps"):
        a, b = np.mean(getattr(got, name)), np.mean(getattr(ref, name))
        assert abs(a - b) <= 0.1 * b, (name, a, b)
    assert abs(got.overlap_probability - ref.overlap_probability) <= 0.05


def test_statistics_measure_from_the_latest_ending_turn():
    """Landini et al.: pauses / overlaps from the latest-ending earlier turn; 7 s cut-off; per count."""
    from recipes.simulation.turn_taking import conversation_stats as stats_of

    turns = [
        Turn("r", 0.0, 10.0, "A"),
        Turn("r", 2.0, 3.0, "B"),  # B inside A: overlap 10 - 2 = 8 ... cut (>= 7)
        Turn("r", 4.0, 5.0, "C"),  # overlap 10 - 4 = 6 (the previous turn, B, ended at 3)
        Turn("r", 11.0, 12.0, "A"),  # same-speaker pause 1 (from A's 10, not C's 5)
        Turn("r", 12.5, 13.0, "B"),  # speaker-change pause 0.5
        Turn("r", 21.0, 22.0, "B"),  # same-speaker pause 8: an outlier (>= 7 s)
        Turn("q", 0.0, 2.0, "X"),
        Turn("q", 1.5, 3.0, "Y"),
    ]  # a 2-speaker recording: overlap 0.5
    s = stats_of(turns)
    assert list(s.overlaps) == [0.5, 6.0] and list(s.same_speaker_pauses) == [1.0]
    assert list(s.speaker_change_pauses) == [0.5]
    kept = stats_of(turns, max_gap=None)
    assert list(kept.overlaps) == [0.5, 6.0, 8.0] and list(kept.same_speaker_pauses) == [1.0, 8.0]
    assert set(s.by_speakers) == {2, 3} and list(s.by_speakers[2].overlaps) == [0.5]
    assert list(s.by_speakers[3].overlaps) == [6.0]
    assert s.overlap_probability == pytest.approx(2 / 3) and s.same_speaker_probability == pytest.approx(1 / 4)


def landini_values(turns):
    """Independent re-implementation of the Landini transitions (for the goal checks)."""
    by_rec = {}
    for t in turns:
        by_rec.setdefault(t.recording_id, []).append(t)
    out = {"same": [], "change": [], "overlap": []}
    for ts in by_rec.values():
        ts.sort(key=lambda t: (t.start, t.end))
        end, spk = ts[0].end, ts[0].speaker
        for t in ts[1:]:
            gap = t.start - end
            kind = "same" if t.speaker == spk else ("change" if gap >= 0 else "overlap")
            if abs(gap) < 7.0:
                out[kind].append(abs(gap) if kind == "overlap" else max(gap, 0.0))
            if t.end > end:
                end, spk = t.end, t.speaker
    return {k: np.asarray(v) for k, v in out.items()}


def check_conversation_goal(tmp_path, real_turns, num_mixtures, speakers):
    """Simulate conversations fitted to ``real_turns`` with the shipped ``conversation_2to4spk``
    preset (outlier cut-off off: the source's silence includes its pauses of 7 s or more);
    compare silence and overlap / speech (by recipes.stats
    on both) within 2 points, and the pause and overlap quantiles (10/50/90 %, by
    :func:`landini_values` on both) within 15 %."""
    rttm = tmp_path / "real.rttm"
    write_rttm(real_turns, rttm)
    src = tmp_path.parent / "segments.jsonl.gz"
    if not src.exists():
        from tests.fixtures.sources import segment_sources

        segment_sources(num_speakers=40, utterances=40, seed=0).to_file(src)
    cfg = load_config(
        REPO / "conf/simulation/conversation_2to4spk.yaml",
        speakers=speakers,
        conversation_stats=str(rttm),
        shard_size=250,
    )
    assert cfg.method == "conversation" and cfg.outlier_cutoff is None  # the shipped preset is what is measured
    out = tmp_path / "goal.jsonl.gz"
    simulate(Simulator(load_sources(src), cfg, seed=1, prefix="goal"), num_mixtures, out, progress=False)
    cuts = list(load_manifest_lazy(out))
    real = summarize(turns_stats(real_turns))
    sim = summarize(cutset_stats(cuts))
    assert abs((1 - sim["speech_ratio"]) - (1 - real["speech_ratio"])) <= 0.02, (sim, real)
    assert abs(sim["overlap_ratio"] - real["overlap_ratio"]) <= 0.02, (sim, real)
    a = landini_values(real_turns)
    b = landini_values([Turn(c.id, s.start, s.end, s.speaker) for c in cuts for s in c.supervisions])
    for kind in ("same", "change", "overlap"):
        qa, qb = np.quantile(a[kind], [0.1, 0.5, 0.9]), np.quantile(b[kind], [0.1, 0.5, 0.9])
        assert np.all(np.abs(qb - qa) <= 0.15 * qa + 0.01), (kind, qa, qb)
    for c in cuts:
        assert c.custom["sim"]["method"] == "conversation"
    return real, sim


def test_conversation_turns_are_stretches_of_one_source_utterance(tmp_path):
    """A conversation turn is consecutive speech segments of one source utterance: one track over
    the recording from the first segment's start to the last one's end, one supervision from the
    first one's speech start to the last one's speech end (checked against the source manifest
    read by Lhotse); turns of several segments exist, and the turn lengths follow the real ones."""
    from lhotse import CutSet

    src = tmp_path / "segments.jsonl.gz"
    from tests.fixtures.sources import segment_sources

    segment_sources(num_speakers=12, utterances=20, seed=3).to_file(src)
    by_rec = {}
    for c in CutSet.from_file(src):
        by_rec.setdefault(c.recording_id, []).append(c)
    real = conversation_rttm_turns(num_recordings=10, seed=6)  # turns of 2-8 s
    rttm = tmp_path / "real.rttm"
    write_rttm(real, rttm)
    out, _ = run(
        tmp_path, src, "stretch", 40, seed=2, method="conversation", speakers={3: 1.0}, conversation_stats=str(rttm)
    )
    multi, lengths = 0, []
    for mix in load_manifest_lazy(out):
        for track in mix.tracks:
            cut = track.cut
            (sup,) = cut.supervisions
            segs = sorted(
                by_rec[cut.recording.sources[0].source.split("/")[-1][: -len(".flac")]], key=lambda c: c.start
            )
            k = next(i for i, c in enumerate(segs) if abs(c.start - cut.start) < 1e-6)
            m = next(i for i, c in enumerate(segs) if abs(c.start + c.duration - cut.start - cut.duration) < 1e-6)
            assert m >= k and all(c.supervisions[0].speaker == sup.speaker for c in segs[k : m + 1])
            first, last = segs[k].supervisions[0], segs[m].supervisions[0]
            assert cut.start + sup.start == pytest.approx(segs[k].start + first.start, abs=1e-6)
            assert cut.start + sup.start + sup.duration == pytest.approx(
                segs[m].start + last.start + last.duration, abs=1e-5
            )
            pauses = [
                b.start + b.supervisions[0].start - a.start - a.supervisions[0].start - a.supervisions[0].duration
                for a, b in zip(segs[k:m], segs[k + 1 : m + 1])
            ]
            assert all(0.3 - 1e-6 <= p <= 1.0 + 1e-6 for p in pauses)  # the utterance's own pauses
            multi += m > k
            lengths.append(sup.duration)
    assert multi > 0.2 * len(lengths)
    real_lengths = [t.end - t.start for t in real]
    assert abs(np.median(lengths) - np.median(real_lengths)) < 0.15 * np.median(real_lengths)


def test_conversation_turn_audio_is_the_source_stretch(tmp_path):
    """Real audio: utterances with pauses of 0.4-0.8 s split by `prepare_sources`; a turn of
    several segments loads (through Lhotse) exactly the source recording's samples over its span."""
    from recipes.corpora.demo import SPEAKERS, voiced_signal

    rng, sr, cuts = np.random.default_rng(0), 16000, []
    for spk in list(SPEAKERS)[:3]:
        for u in range(3):
            parts = [np.zeros(int(0.3 * sr), np.float32)]
            for _ in range(4):
                parts += [voiced_signal(spk, rng.uniform(1, 3), rng, sr), np.zeros(int(rng.uniform(0.4, 0.8) * sr))]
            path = tmp_path / f"{spk}-{u}.wav"
            sf.write(str(path), np.concatenate(parts).astype(np.float32), sr)
            dur = sf.info(str(path)).duration
            cuts.append(make_cut(f"{spk}-{u}", spk, dur, (0.0, dur), str(path), sr))
    segments = list(prepare_sources(CutSet.from_cuts(cuts), progress=False))
    assert len(segments) == 4 * len(cuts)
    CutSet.from_cuts(segments).to_file(tmp_path / "src.jsonl.gz")
    write_rttm(conversation_rttm_turns(num_recordings=5, seed=1), tmp_path / "real.rttm")
    out, _ = run(
        tmp_path,
        tmp_path / "src.jsonl.gz",
        "audio",
        3,
        method="conversation",
        speakers={3: 1.0},
        utterances_per_speaker=[3, 4],
        conversation_stats=str(tmp_path / "real.rttm"),
    )
    multi = 0
    for mix in load_manifest_lazy(out):
        assert mix.load_audio().shape == (1, mix.num_samples)
        for t in mix.tracks:
            if len(t.cut.id.split("+")) == 2:  # <first segment id>+<segments after it>
                x = t.cut.load_audio()[0]
                whole, _ = sf.read(t.cut.recording.sources[0].source, dtype="float32")
                start = int(round(t.cut.start * sr))
                assert np.array_equal(x, whole[start : start + len(x)])
                multi += 1
    assert multi >= 3


def test_conversation_goal_on_synthetic_turns(tmp_path):
    """The fast version of the realdata goal: 3-speaker conversations of known turn-taking."""
    (tmp_path / "syn").mkdir()
    check_conversation_goal(tmp_path / "syn", conversation_rttm_turns(num_recordings=30, seed=4), 150, {3: 1.0})


def _hours_by_speaker_count(turns):
    from recipes.rttm import group_by_recording

    hours = {}
    for ts in group_by_recording(turns).values():
        k = len({t.speaker for t in ts})
        hours[k] = hours.get(k, 0.0) + max(t.end for t in ts)
    return hours


@pytest.mark.realdata
def test_conversation_goal_ami_train_msdwild_voxconverse(tmp_path, realdata):
    """Fitted to AMI train (only_words), MSDWild few.train 2-speaker recordings and VoxConverse
    dev, with their speaker counts (hour shares): silence and overlap / speech within 2 points of
    the source's, pause and overlap quantiles within 15 %."""
    from recipes.rttm import group_by_recording

    ami, _ = read_rttm(realdata / "ami" / "only_words" / "rttms" / "train")
    (tmp_path / "ami").mkdir()
    check_conversation_goal(tmp_path / "ami", ami, 300, _hours_by_speaker_count(ami))
    val = {
        line.split()[1]
        for f in ("few.val.rttm", "many.val.rttm")
        for line in open(realdata / "msdwild" / "rttms" / f)
        if line.strip()
    }
    msd, _ = read_rttm(realdata / "msdwild" / "rttm_per_file")
    two = [
        t for r, ts in group_by_recording(msd).items() if r not in val and len({x.speaker for x in ts}) == 2 for t in ts
    ]
    (tmp_path / "msd").mkdir()
    check_conversation_goal(tmp_path / "msd", two, 300, {2: 1.0})
    vox, _ = read_rttm(realdata / "voxconverse" / "dev")
    (tmp_path / "vox").mkdir()
    check_conversation_goal(tmp_path / "vox", vox, 300, _hours_by_speaker_count(vox))


def test_every_mixture_says_what_it_is(tmp_path, src_path):
    kw = dict(
        method="target-overlap", speakers={1: 0.3, 2: 0.3, 3: 0.4}, target_overlap=[0.1, 0.3], calibration_mixtures=40
    )
    out, _ = run(tmp_path, src_path, "info", 30, seed=2, **kw)
    sim = Simulator(load_sources(src_path), load_config(None, shard_size=250, **kw), seed=2, prefix="info")
    for i, cut in enumerate(load_manifest_lazy(out)):
        info = cut.custom["sim"]
        lay = sim.layout(i)
        expected = {"method", "num_speakers", "overlap_ratio", "silence_ratio", "index", "target_silence"}
        assert info["target_silence"] == 0.10  # the default of target-overlap
        if lay.level is not None:
            expected.add("target_overlap")
            assert info["target_overlap"] == lay.level
        assert set(info) == expected and info["index"] == i and info["num_speakers"] == lay.num_speakers
        assert info["num_speakers"] == len({s.speaker for s in cut.supervisions})
        r = summarize(cutset_stats([cut]))  # recipes.stats on the Lhotse object
        assert info["overlap_ratio"] == pytest.approx(r["overlap_ratio"], abs=1e-5)
        assert info["silence_ratio"] == pytest.approx(1 - r["speech_ratio"], abs=1e-5)
        assert cut.custom["recording_id"] == cut.id


def _noisy_utterance(path, rng, sr=16000, floor_dbfs=-65.0, peak=0.03):
    """Quiet voiced speech (peak -30 dBFS) over white noise at ``floor_dbfs`` RMS: 4 runs of speech;
    pauses 0.5, 0.2 and 0.35 s between them. Returns the speech runs (seconds)."""
    from recipes.corpora.demo import voiced_signal

    layout = [0.4, 1.2, 0.5, 0.8, 0.2, 1.0, 0.35, 0.6, 0.5]  # lead, speech, pause, speech, ...
    parts, runs, t = [], [], 0.0
    for k, d in enumerate(layout):
        n = int(round(d * sr))
        if k % 2:
            parts.append(voiced_signal("spk_alice", n / sr, rng, sr) * (peak / 0.3))
            runs.append((t, t + n / sr))
        else:
            parts.append(np.zeros(n, np.float32))
        t += n / sr
    x = np.concatenate(parts).astype(np.float64)
    x += rng.standard_normal(x.size) * 10 ** (floor_dbfs / 20)
    sf.write(str(path), x.astype(np.float32), sr, subtype="FLOAT")
    return runs, t


def test_segmentation_relative_to_a_minus_65_dbfs_noise_floor(tmp_path):
    from lhotse.supervision import AlignmentItem

    rng = np.random.default_rng(5)
    runs, dur = _noisy_utterance(tmp_path / "u.wav", rng)
    cut = make_cut("u", "A", dur, (0.0, dur), str(tmp_path / "u.wav"))
    expected = {
        0.3: [(runs[0][0], runs[0][1]), (runs[1][0], runs[2][1]), (runs[3][0], runs[3][1])],  # 0.2 s kept
        0.15: runs,
    }
    for min_pause, spans in expected.items():
        segs = list(prepare_sources([cut], progress=False, min_pause=min_pause))
        assert len(segs) == len(spans), (min_pause, [(s.start, s.duration) for s in segs])
        for s, (a, b) in zip(segs, spans):
            sup = s.supervisions[0]
            assert abs(s.start + sup.start - a) <= 0.1 and abs(s.start + sup.end - b) <= 0.1, (min_pause, a, b)
            assert s.custom["speech_boundary"] == "vad" and s.start <= s.start + sup.start
            assert s.end <= s.start + sup.end + 0.1 + 1e-6  # at most the margin beyond the speech
    whole = list(prepare_sources([cut], progress=False, min_pause=0))
    assert len(whole) == 1 and whole[0].start == 0 and whole[0].duration == cut.duration
    assert abs(whole[0].supervisions[0].start - runs[0][0]) <= 0.1  # the noise is trimmed
    assert abs(whole[0].supervisions[0].end - runs[-1][1]) <= 0.1
    # word alignments, when present, decide instead of the VAD
    words = [
        AlignmentItem("A", 0.5, 0.4),
        AlignmentItem("B", 1.0, 0.5),
        AlignmentItem("C", 1.7, 0.3),
        AlignmentItem("D", 2.5, 0.5),
    ]
    aligned = make_cut("w", "A", dur, (0.0, dur), str(tmp_path / "u.wav"))
    aligned.supervisions[0].alignment = {"word": words}
    segs = list(prepare_sources([aligned], progress=False, min_pause=0.3))
    assert [(round(s.start + s.supervisions[0].start, 3), round(s.start + s.supervisions[0].end, 3)) for s in segs] == [
        (0.5, 2.0),
        (2.5, 3.0),
    ]
    assert all(s.custom["speech_boundary"] == "alignment" for s in segs)


def test_simulate_sources_cli_min_pause(tmp_path):
    rng = np.random.default_rng(6)
    runs, dur = _noisy_utterance(tmp_path / "u.wav", rng)
    CutSet.from_cuts([make_cut("u", "A", dur, (0.0, dur), str(tmp_path / "u.wav"))]).to_file(tmp_path / "raw.jsonl.gz")
    for opts, n in [([], 3), (["--min-pause", "0"], 1), (["--min-pause", "0.1"], 4)]:
        res = CliRunner().invoke(
            cli,
            ["simulate-sources", str(tmp_path / "raw.jsonl.gz"), str(tmp_path / "s.jsonl.gz"), *opts],
            catch_exceptions=False,
        )
        assert res.exit_code == 0, res.output
        cuts = list(load_manifest_lazy(tmp_path / "s.jsonl.gz"))
        assert len(cuts) == n and all(len(c.supervisions) == 1 for c in cuts)
        assert all(c.load_audio().shape[1] == round(c.duration * 16000) for c in cuts)


def _prepared_audio_sources(tmp_path, per_speaker=3, seed=0):
    raw = audio_sources(tmp_path / "wav", per_speaker=per_speaker, seed=seed)
    path = tmp_path / "src.jsonl.gz"
    CutSet.from_cuts(list(prepare_sources(raw, progress=False, min_pause=0))).to_file(path)
    return path


def test_noise_is_one_looped_recording_at_an_snr_of_the_whole_speech_mixture(tmp_path):
    """EEND's rule, measured on the audio: 10 log10(mean(speech mixture^2) / mean(noise^2)) over the
    whole mixture equals the drawn SNR (one of 5/10/15/20 dB)."""
    from lhotse.cut import MixedCut

    src = _prepared_audio_sources(tmp_path)
    rng = np.random.default_rng(2)
    for k, level in enumerate([0.05, 0.3]):  # two noise recordings of different level
        sf.write(str(tmp_path / f"noise{k}.wav"), (rng.standard_normal(16000 * 2) * level).astype(np.float32), 16000)
    CutSet.from_cuts(
        [make_cut(f"noise{k}", "n", 2.0, (0, 2.0), str(tmp_path / f"noise{k}.wav")) for k in range(2)]
    ).drop_supervisions().to_file(tmp_path / "noise.jsonl.gz")
    out, _ = run(
        tmp_path,
        src,
        "snr",
        12,
        seed=3,
        utterances_per_speaker=[2, 3],
        config_from="eend_2spk_beta2",
        noise={"cuts": str(tmp_path / "noise.jsonl.gz"), "snrs": [5, 10, 15, 20]},
    )
    seen = set()
    for cut in load_manifest_lazy(out):
        noise = [t for t in cut.tracks if t.snr is not None]
        assert len({t.cut.recording.id for t in noise}) == 1  # one recording, looped
        assert abs(sum(t.cut.duration for t in noise) - cut.duration) < 2e-3 and noise[0].offset == 0.0
        full = cut.load_audio()[0]
        speech = MixedCut(id=cut.id, tracks=[t for t in cut.tracks if t.snr is None]).load_audio()[0]
        n = min(len(full), len(speech))
        snr = 10 * np.log10(np.mean(speech[:n] ** 2) / np.mean((full[:n] - speech[:n]) ** 2))
        nearest = min((5, 10, 15, 20), key=lambda s: abs(s - snr))
        assert abs(snr - nearest) < 0.6, snr
        seen.add(nearest)
    assert len(seen) >= 3


def test_rirs_resampled_to_the_source_rate_and_fast_needs_torchaudio(tmp_path):
    """An 8 kHz RIR (direct path + an echo 50 ms later) on 16 kHz sources: the echo stays 50 ms late."""
    from lhotse import Recording, RecordingSet

    src = _prepared_audio_sources(tmp_path, per_speaker=1)
    h = np.zeros(800, np.float32)
    h[0], h[400] = 0.9, 0.6  # 400 samples at 8 kHz = 50 ms
    sf.write(str(tmp_path / "rir8k.wav"), h, 8000)
    RecordingSet.from_recordings([Recording.from_file(tmp_path / "rir8k.wav")]).to_file(tmp_path / "rirs.jsonl.gz")
    out, _ = run(
        tmp_path,
        src,
        "rir",
        1,
        seed=1,
        utterances_per_speaker=[1, 1],
        reverb={"rirs": str(tmp_path / "rirs.jsonl.gz"), "probability": 1.0},
    )
    cut = next(iter(load_manifest_lazy(out)))
    track = cut.tracks[0].cut
    wet = track.load_audio()[0]
    dry = {c.id: c for c in CutSet.from_file(src)}[track.id].load_audio()[0]
    lags = np.arange(300, 1300)
    xc = [float(np.dot(wet[lag:], dry[: len(dry) - lag])) for lag in lags]
    assert abs(lags[int(np.argmax(xc))] - 800) <= 2  # 50 ms at 16 kHz (400 would be double speed)
    if __import__("importlib").util.find_spec("torchaudio") is None:
        conf = tmp_path / "fast.yaml"
        conf.write_text("reverb: {rirs: fast}\n")
        res = CliRunner().invoke(
            cli,
            ["simulate", str(src), str(tmp_path / "f" / "mix.jsonl.gz"), "--config", str(conf), "--num-mixtures", "2"],
        )
        assert res.exit_code == 1 and "torchaudio" in res.stderr and "diar-recipes[torchaudio]" in res.stderr
        assert not (tmp_path / "f").exists() or not any((tmp_path / "f").iterdir())


def eend_reference(by_spk, num_mixtures, speakers, beta, rnd):
    """EEND's random_mixture.py, written again: S speakers, U{10..20} utterances each (without
    replacement), Exp(beta) silence before every utterance; labels are whole utterances. Returns
    pooled overlap / speech, silence / duration and the mean mixture length."""
    ov = sp = dur = 0.0
    for _ in range(num_mixtures):
        k = rnd.choices(list(speakers), weights=list(speakers.values()))[0]
        intervals, length = [], 0.0
        for spk in rnd.sample(sorted(by_spk), k):
            t = 0.0
            utts = by_spk[spk]
            for d in rnd.sample(utts, min(rnd.randint(10, 20), len(utts))):
                t += rnd.expovariate(1 / (beta[k] if isinstance(beta, dict) else beta))
                intervals.append((t, t + d))
                t += d
            length = max(length, t)
        r = overlap_ratio_sweep(intervals)
        speech = speech_sweep(intervals)
        ov += r * speech
        sp += speech
        dur += length
    return ov / sp, (dur - sp) / dur, dur / num_mixtures


def speech_sweep(intervals):
    total, end = 0.0, -np.inf
    for s, e in sorted(intervals):
        if s > end:
            total += e - s
            end = e
        elif e > end:
            total += e - end
            end = e
    return total


@pytest.mark.parametrize("preset", ["eend_2spk_beta2", "eda_1to4spk"])
def test_eend_presets_equal_an_independent_eend(tmp_path, src_path, preset):
    out, stats = run(tmp_path, src_path, preset, 2500, seed=9, config_from=preset)
    cuts = list(load_manifest_lazy(out))
    r = summarize(cutset_stats(cuts))  # recipes.stats on the simulated MixedCuts
    cfg = load_config(f"conf/simulation/{preset}.yaml")
    by_spk = {}
    for c in manifest_sources(num_speakers=20, per_speaker=30, seed=0):
        by_spk.setdefault(c.supervisions[0].speaker, []).append(c.duration)
    ref_ov, ref_sil, ref_len = eend_reference(by_spk, 8000, cfg.speakers, cfg.beta, random.Random(4321))
    assert abs(r["overlap_ratio"] - ref_ov) < 0.005, (r["overlap_ratio"], ref_ov)
    assert abs((1 - r["speech_ratio"]) - ref_sil) < 0.005, (1 - r["speech_ratio"], ref_sil)
    assert abs(np.mean([c.duration for c in cuts]) / ref_len - 1) < 0.02


@pytest.mark.parametrize("method", ["target-overlap", "eend"])
def test_dev_blocks_draw_from_every_dev_speaker(tmp_path, src_path, method):
    """Dev (hours per combination): every combination's mixtures use every speaker of the dev
    pool (the speakers of the split, from the source manifest), each about equally often."""
    from recipes.simulation import speaker_in_split

    pool = {c.supervisions[0].speaker for c in load_manifest_lazy(src_path)}
    dev = {s for s in pool if speaker_in_split(s, "dev", 0.5)}
    kw = dict(method=method, speakers={2: 0.5, 5: 0.5}, target_overlap=[0.2], calibration_mixtures=50, dev_fraction=0.5)
    config = load_config(None, shard_size=250, utterances_per_speaker=[2, 4], max_duration=120, **kw)
    src = load_sources(src_path, supervision=config.supervision, split="dev", dev_fraction=0.5)
    sim = Simulator(src, config, seed=4, prefix="dev")
    n = sim.set_hours_per_combination(0.25)
    out = tmp_path / "dev.jsonl.gz"
    simulate(sim, n, out, progress=False)
    used = {}
    for cut in load_manifest_lazy(out):
        info = cut.custom["sim"]
        count = used.setdefault((info["num_speakers"], info.get("target_overlap")), {})
        for s in {s.speaker for s in cut.supervisions}:
            count[s] = count.get(s, 0) + 1
    assert len(used) == 2 and 5 < len(dev) < len(pool)
    for key, count in used.items():
        assert set(count) == dev, (key, sorted(set(dev) - set(count)))
        assert max(count.values()) - min(count.values()) <= 2, (key, count)


def test_calibration_batch_replays_the_mixtures_exactly(src_path):
    """The calibration evaluates all pilots at once (joint_layout_batch): the same offsets, to
    the bit, as joint_layout gives mixture by mixture (what is written), with and without
    max_duration; pooled ratios and durations as overlap_speech / Layout.duration give them."""
    from recipes.simulation.layouts import (
        batch_overlap_speech,
        joint_batch,
        joint_draws,
        joint_layout,
        joint_layout_batch,
        overlap_speech,
    )

    src = load_sources(src_path)
    cfg = load_config(None, method="target-overlap", target_overlap=0.2)
    for k in (1, 3):
        draws = [joint_draws(np.random.default_rng([7, k, j]), src, k, cfg) for j in range(40)]
        batch = joint_batch(draws, src)
        for c, g, max_duration in [(2.0, 1.5, None), (0.7, 0.2, 60.0)]:
            offs = joint_layout_batch(batch, k, c, g, max_duration)
            ov = sp = dur = 0.0
            for p, d in enumerate(draws):
                seq, o = joint_layout(d, src, k, c, g, max_duration)
                assert np.array_equal(offs[p][~np.isnan(offs[p])], o)
                a, b, _ = overlap_speech(o + src.sup_start[seq], o + src.sup_end[seq])
                ov, sp, dur = ov + a, sp + b, dur + float(np.max(o + src.duration[seq]))
            got_ov, got_sp, durations = batch_overlap_speech(batch, offs)
            assert got_ov == pytest.approx(ov, rel=1e-9, abs=1e-9) and got_sp == pytest.approx(sp, rel=1e-9)
            assert durations.sum() == pytest.approx(dur, rel=1e-12)


def test_plan_controls_overlap_and_silence_together(tmp_path, src_path):
    """Per (speaker count, overlap level), read from custom["sim"]: pooled overlap within 1 point of
    its target and silence within 2 points of target_silence; hours in the configured shares."""
    kw = dict(
        method="target-overlap",
        speakers={1: 0.5, 2: 0.25, 3: 0.25},
        target_overlap=[0.1, 0.3],
        target_silence=0.1,
        calibration_mixtures=200,
        max_duration=400,
    )
    out, stats = run(tmp_path, src_path, "plan", 2500, seed=3, **kw)
    pooled, hours = {}, {}
    for cut in load_manifest_lazy(out):
        info = cut.custom["sim"]
        assert info["target_silence"] == 0.1 and cut.duration <= 400 + 1e-6
        key = (info["num_speakers"], info.get("target_overlap"))
        speech = (1 - info["silence_ratio"]) * cut.duration  # custom["sim"] itself is checked against
        d = pooled.setdefault(key, [0.0, 0.0, 0.0])  # recipes.stats in test_every_mixture_says_what_it_is
        d[0] += info["overlap_ratio"] * speech
        d[1] += speech
        d[2] += cut.duration
        hours[info["num_speakers"]] = hours.get(info["num_speakers"], 0.0) + cut.duration
    assert set(pooled) == {(1, None), (2, 0.1), (2, 0.3), (3, 0.1), (3, 0.3)}
    for (k, level), (ov, sp, dur) in pooled.items():
        assert abs(ov / sp - (level or 0.0)) <= 0.01, (k, level, ov / sp)
        assert abs((dur - sp) / dur - 0.1) <= 0.02, (k, level, (dur - sp) / dur)
    total = sum(hours.values())
    assert abs(hours[1] / total - 0.5) < 0.06 and abs(hours[2] / total - 0.25) < 0.05


@pytest.mark.slow
def test_plan_preset_every_combination_on_target(tmp_path, src_path):
    """conf/simulation/plan_1to5spk.yaml itself (13 combinations, its 2,000 pilots), 3,900
    mixtures: per combination, read from custom["sim"], overlap within 1 point of its target and
    silence within 2 points of target_silence; hours in equal shares per speaker count."""
    out, _ = run(tmp_path, src_path, "preset", 3900, seed=5, config_from="plan_1to5spk")
    pooled, hours = {}, {}
    for cut in load_manifest_lazy(out):
        info = cut.custom["sim"]
        speech = (1 - info["silence_ratio"]) * cut.duration
        d = pooled.setdefault((info["num_speakers"], info.get("target_overlap")), [0.0, 0.0, 0.0])
        d[0] += info["overlap_ratio"] * speech
        d[1] += speech
        d[2] += cut.duration
        hours[info["num_speakers"]] = hours.get(info["num_speakers"], 0.0) + cut.duration
    assert len(pooled) == 13
    for (k, level), (ov, sp, dur) in pooled.items():
        assert abs(ov / sp - (level or 0.0)) <= 0.01, (k, level, ov / sp)
        assert abs((dur - sp) / dur - info["target_silence"]) <= 0.02, (k, level, (dur - sp) / dur)
    total = sum(hours.values())
    assert all(abs(h / total - 0.2) < 0.03 for h in hours.values()), hours
