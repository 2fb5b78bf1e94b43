"""Source cache (recipes.simulation.cache) and window renderer (recipes.simulation.render)
against Lhotse: a rendered mixture equals ``MixedCut.load_audio`` + soxr to 8 kHz within 1e-3
RMS relative (noise tracks at an SNR included); a window equals Lhotse's window away from its
two ends (Lhotse resamples the truncated window, whose edges ring; the cache holds the whole
source's resampling); labels and the DataLoader path are unchanged; the cache is resumable
and costs at most 16 KiB per source second."""

import numpy as np
import pytest
import soundfile as sf
import torch
from click.testing import CliRunner
from lhotse import CutSet, load_manifest_lazy

from recipes.cli import cli
from recipes.dataset import EENDDataset
from recipes.features import NumpyKaldiFbank
from recipes.features.audio import resample_audio
from recipes.simulation import Simulator, load_config, load_sources, prepare_sources, simulate
from recipes.simulation.cache import SourceCache, build_source_cache
from recipes.simulation.render import NotRenderable, render
from tests.fixtures.sources import audio_sources, make_cut

EDGE = 80  # 10 ms at 8 kHz
RIR = 3200  # 0.4 s at 8 kHz: the longest RIR of the reverberant fixture


def rel_rms(ref, got):
    return float(np.sqrt(np.mean((ref - got) ** 2)) / np.sqrt(np.mean(ref**2)))


def check_rendered(mixture, cache):
    """A whole mixture rendered from the cache equals Lhotse's + soxr within 1e-3 RMS."""
    ref = resample_audio(mixture.load_audio().astype(np.float32), 16000, 8000)[0]
    got = render(mixture, cache)
    assert got.dtype == np.float32 and got.shape == ref.shape
    assert rel_rms(ref, got) < 1e-3, mixture.id


@pytest.fixture(scope="module")
def noisy(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cache")
    raw = audio_sources(tmp / "wav", per_speaker=3, seed=3)
    src = tmp / "src.jsonl.gz"
    CutSet.from_cuts(list(prepare_sources(raw, progress=False))).to_file(src)
    rng = np.random.default_rng(1)
    noise = (rng.standard_normal(16000 * 30) * np.linspace(0.02, 0.08, 16000 * 30)).astype(np.float32)
    sf.write(str(tmp / "noise.flac"), noise, 16000, subtype="PCM_16")
    CutSet.from_cuts([make_cut("noise", "n", 30.0, (0, 30.0), str(tmp / "noise.flac"))]).drop_supervisions().to_file(
        tmp / "noise.jsonl.gz"
    )
    cfg = load_config(
        None, shard_size=50, utterances_per_speaker=[2, 3], noise={"cuts": str(tmp / "noise.jsonl.gz"), "snr": [5, 15]}
    )
    out = tmp / "mix.jsonl.gz"
    simulate(Simulator(load_sources(src, supervision=cfg.supervision), cfg, seed=4, prefix="m"), 5, out, progress=False)
    return tmp, src, out


def test_rendered_mixtures_and_windows_equal_lhotse_plus_soxr(noisy):
    tmp, src, out = noisy
    mixtures = list(load_manifest_lazy(out))
    assert all(any(t.snr is not None for t in m.tracks) for m in mixtures)  # noisy mixtures
    sources = list(load_manifest_lazy(src)) + list(load_manifest_lazy(tmp / "noise.jsonl.gz"))
    stats = build_source_cache(sources, tmp / "c1", progress=False, shard_seconds=20.0)
    assert stats["shards"] > 1 and stats["bytes"] <= 16 * 1024 * stats["seconds"]
    cache = SourceCache(tmp / "c1")
    for m in mixtures:
        check_rendered(m, cache)
        for w in m.cut_into_windows(3.0):
            lhotse_window = w.load_audio()
            ref = resample_audio(lhotse_window.astype(np.float32), 16000, 8000)[0]
            got = render(w, cache)
            assert got.dtype == np.float32 and got.shape == ref.shape
            assert rel_rms(ref[EDGE:-EDGE], got[EDGE:-EDGE]) < 1e-3, w.id


@pytest.fixture(scope="module")
def reverberant(noisy, tmp_path_factory):
    """The noisy fixture's sources, every speaker reverberant: RIRs of 16 kHz (a peak on an odd
    sample; a 0.4 s exponential tail), noise at an SNR."""
    from lhotse import Recording, RecordingSet

    tmp, src, _ = noisy
    out_dir = tmp_path_factory.mktemp("reverb")
    rng = np.random.default_rng(7)
    rirs = []
    for i, (n, delay, t60) in enumerate([(2400, 37, 0.15), (6400, 120, 0.4)]):
        t = np.arange(n) / 16000
        h = rng.standard_normal(n) * np.exp(-6.9 * t / t60)
        h[:delay] = 0.0
        h[delay] = 3.0 * np.abs(h).max()
        sf.write(str(out_dir / f"rir{i}.wav"), (0.9 * h / np.abs(h).max()).astype(np.float32), 16000)
        rirs.append(Recording.from_file(out_dir / f"rir{i}.wav"))
    RecordingSet.from_recordings(rirs).to_file(out_dir / "rirs.jsonl.gz")
    cfg = load_config(
        None,
        shard_size=50,
        utterances_per_speaker=[2, 3],
        noise={"cuts": str(tmp / "noise.jsonl.gz"), "snr": [5, 15]},
        reverb={"rirs": str(out_dir / "rirs.jsonl.gz"), "probability": 1.0},
    )
    out = out_dir / "mix.jsonl.gz"
    simulate(Simulator(load_sources(src, supervision=cfg.supervision), cfg, seed=5, prefix="r"), 4, out, progress=False)
    return out


def test_reverberant_mixtures_and_windows_equal_lhotse_plus_soxr(noisy, reverberant):
    tmp, src, _ = noisy
    mixtures = list(load_manifest_lazy(reverberant))
    assert all(t.cut.recording.transforms for m in mixtures for t in m.tracks if t.snr is None)
    sources = list(load_manifest_lazy(src)) + list(load_manifest_lazy(tmp / "noise.jsonl.gz"))
    build_source_cache(sources, tmp / "c_rvb", progress=False)
    cache = SourceCache(tmp / "c_rvb")
    for m in mixtures:
        check_rendered(m, cache)
        # windows: Lhotse reverberates each truncated track on its own (no tail from before
        # the window), and so does the renderer; the hard onset of a track cut by the window's
        # start is reverberated at 16 kHz by Lhotse, from the band-limited source here, which
        # differs for an RIR's length after the start
        for w in m.cut_into_windows(2.5):
            ref = resample_audio(w.load_audio().astype(np.float32), 16000, 8000)[0]
            got = render(w, cache)
            assert got.shape == ref.shape
            assert rel_rms(ref[RIR:-EDGE], got[RIR:-EDGE]) < 1e-3, w.id
            assert rel_rms(ref[EDGE:-EDGE], got[EDGE:-EDGE]) < 1e-2, w.id


def test_cache_build_resumes_and_refuses_what_it_cannot_render(noisy, tmp_path):
    tmp, src, out = noisy
    sources = list(load_manifest_lazy(src))
    first = build_source_cache(sources, tmp_path / "c", progress=False, shard_seconds=15.0)
    pcm = sorted((tmp_path / "c").glob("shard-*.pcm"))
    stamps = [p.stat().st_mtime_ns for p in pcm]
    (pcm[-1].with_suffix(".json")).unlink()  # as if killed before the last shard's index was written
    again = build_source_cache(sources, tmp_path / "c", progress=False, shard_seconds=15.0)
    assert again["built"] == 1 and first["built"] == first["shards"]
    assert [p.stat().st_mtime_ns for p in pcm[:-1]] == stamps[:-1]
    mixture = next(iter(load_manifest_lazy(out)))
    with pytest.raises(NotRenderable, match="not in the cache"):  # the noise was not cached here
        render(mixture, SourceCache(tmp_path / "c"))


def test_dataset_with_cache_gives_the_same_labels_and_close_features(noisy):
    tmp, src, out = noisy
    sources = list(load_manifest_lazy(src)) + list(load_manifest_lazy(tmp / "noise.jsonl.gz"))
    build_source_cache(sources, tmp / "c3", progress=False)
    windows = CutSet.from_cuts([w for m in load_manifest_lazy(out) for w in m.cut_into_windows(5.0)])
    plain = EENDDataset(feature_extractor=NumpyKaldiFbank(), chunk_size=50)
    cached = EENDDataset(feature_extractor=NumpyKaldiFbank(), chunk_size=50, source_cache=tmp / "c3")
    a, b = plain[windows], cached[windows]
    assert torch.equal(a["labels"], b["labels"]) and torch.equal(a["lengths"], b["lengths"])
    assert a["speakers"] == b["speakers"]
    assert b["features"].dtype == torch.float32
    # log-mel of the same audio up to the window-edge ringing of Lhotse's path
    inner = (slice(None), slice(1, -1))
    assert float((a["features"][inner] - b["features"][inner]).abs().mean()) < 0.05
    loader = torch.utils.data.DataLoader(cached, sampler=[windows], batch_size=None, num_workers=1)
    c = next(iter(loader))
    assert torch.equal(c["labels"], b["labels"]) and torch.allclose(c["features"], b["features"])


def test_simulate_sources_cli_builds_the_cache(tmp_path):
    raw = audio_sources(tmp_path / "wav", per_speaker=1, seed=5)
    raw.to_file(tmp_path / "raw.jsonl.gz")
    res = CliRunner().invoke(
        cli,
        [
            "simulate-sources",
            str(tmp_path / "raw.jsonl.gz"),
            str(tmp_path / "src.jsonl.gz"),
            "--cache",
            str(tmp_path / "cache"),
        ],
    )
    assert res.exit_code == 0, res.output
    cache = SourceCache(tmp_path / "cache")
    assert len(cache) == len(raw)
    cut = next(iter(raw))
    x, sr = sf.read(cut.recording.sources[0].source, dtype="float32")
    ref = resample_audio(x, sr, 8000)
    got = cache.samples(str(cut.recording.sources[0].source), 0, len(ref))
    assert rel_rms(ref, got) < 1e-3


def test_sample_and_frame_counts_are_lhotses():
    from lhotse.utils import add_durations, compute_num_frames, compute_num_samples

    from recipes.frames import add_durations as ours_add
    from recipes.frames import num_frames, num_samples

    rng = np.random.default_rng(2)
    seconds = np.concatenate(
        [
            np.round(rng.uniform(-50, 3000, 20000), 3),
            rng.uniform(0, 100, 2000),
            (np.arange(-500, 500) + 0.5) / 16000,  # half samples: half away from zero
            (np.arange(0, 1000) + 0.5) * 0.01,  # half frames
        ]
    ).tolist()
    for rate in (8000, 16000, 44100):
        assert [num_samples(s, rate) for s in seconds] == [compute_num_samples(s, rate) for s in seconds]
        positive = [abs(s) for s in seconds]
        assert [num_frames(s, 0.01, rate) for s in positive] == [compute_num_frames(s, 0.01, rate) for s in positive]
        pairs = list(zip(positive[::2], positive[1::2]))
        assert [ours_add(a, b, rate=rate) for a, b in pairs] == [
            add_durations(a, b, sampling_rate=rate) for a, b in pairs
        ]


def test_plain_pcm16_sources_are_read_as_lhotse_reads_them(tmp_path):
    from lhotse import Recording

    from recipes.simulation.cache import _Encoder, _open_plain_pcm16

    def read_pcm16(rec):  # the cache build's reader (blocks of 1,000 samples), joined
        opened = _open_plain_pcm16(rec.to_dict())
        if opened is None:
            return None
        f, _, _, n = opened
        with f:
            return np.concatenate([x.copy() for x in _Encoder().pcm16_chunks(f, n, 1000)])

    rng = np.random.default_rng(4)
    x = (rng.standard_normal(12345) * 0.2).clip(-1, 1).astype(np.float32)
    for name, subtype in (("a.flac", "PCM_16"), ("b.wav", "PCM_16"), ("c.wav", "FLOAT")):
        sf.write(str(tmp_path / name), x, 16000, subtype=subtype)
        rec = Recording.from_file(tmp_path / name)
        got = read_pcm16(rec)
        if subtype == "FLOAT":
            assert got is None  # not 16-bit PCM: Lhotse reads it
        else:
            assert got.dtype == np.float32 and np.array_equal(got, rec.load_audio()[0])
    assert read_pcm16(Recording.from_file(tmp_path / "a.flac").resample(8000)) is None  # a transform


def test_shard_equals_a_whole_signal_reference(tmp_path):
    """The block-by-block build (int16 read, streamed soxr, energies per chunk) writes what a
    straightforward one (float read, one soxr.resample call, peak scale, rint) gives."""
    import json

    import soxr
    from lhotse import Recording

    from recipes.simulation.cache import BLOCK_SECONDS, CHUNK_BLOCKS

    rng = np.random.default_rng(9)
    recs = []
    for i, n in enumerate([7, 3999, 4000, CHUNK_BLOCKS * 4000, CHUNK_BLOCKS * 4000 + 4001, 150001]):
        x = (rng.standard_normal(n) * 10 ** rng.uniform(-3, -0.5)).clip(-1, 1).astype(np.float32)
        sf.write(str(tmp_path / f"{i}.flac"), x, 16000, subtype="PCM_16")
        recs.append(Recording.from_file(tmp_path / f"{i}.flac"))
    sf.write(str(tmp_path / "f.wav"), x, 16000, subtype="FLOAT")  # not 16-bit PCM: Lhotse's loader
    recs.append(Recording.from_file(tmp_path / "f.wav"))
    build_source_cache([r.to_cut() for r in recs], tmp_path / "c", progress=False)
    index = json.loads((tmp_path / "c" / "shard-00000.json").read_text())
    pcm = np.fromfile(tmp_path / "c" / "shard-00000.pcm", dtype="<i2")
    energy = np.fromfile(tmp_path / "c" / "shard-00000.energy", dtype=np.float32)
    block = int(BLOCK_SECONDS * 16000)
    for rec in recs:
        e = index["sources"][rec.sources[0].source]
        x, _ = sf.read(rec.sources[0].source, dtype="float32")
        y = soxr.resample(x, 16000, 8000, quality="HQ") if len(x) else np.zeros(0, np.float32)
        peak = float(np.abs(y).max()) if len(y) else 0.0
        scale = peak / 32767 if peak > 0 else 1 / 32768
        assert e["scale"] == scale and e["source_samples"] == len(x) and e["rate"] == 16000
        q = np.clip(np.rint(y / np.float32(scale)), -32767, 32767).astype(np.int16)
        np.testing.assert_array_equal(pcm[e["offset"] : e["offset"] + e["num_samples"]], q)
        ref = [float(np.sum(x[a : a + block].astype(np.float64) ** 2)) for a in range(0, len(x), block)]
        got = energy[e["energy_offset"] : e["energy_offset"] + e["blocks"]]
        np.testing.assert_allclose(got, np.array(ref, dtype=np.float32), rtol=1e-5, atol=0)
