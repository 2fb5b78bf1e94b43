"""Tests for recipes.features (8 kHz kaldi-native-fbank features).

All audio is synthetic and deterministic: a few harmonics of a slowly varying
pitch plus low-level noise from a seeded RNG, so every mel bin has energy well
above float32 round-off (see test_extract_matches_lhotse_torch_fbank).
"""

import hashlib
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # the package is not installed in the venv
    sys.path.insert(0, str(REPO))

import kaldi_native_fbank as knf  # noqa: E402
import soundfile as sf  # noqa: E402
import yaml  # noqa: E402
from lhotse import CutSet, Recording, RecordingSet  # noqa: E402
from lhotse.features.base import FeatureExtractor, get_extractor_type  # noqa: E402
from lhotse.features.kaldi.extractors import Fbank, FbankConfig  # noqa: E402
from lhotse.utils import compute_num_frames  # noqa: E402

from recipes.features import (  # noqa: E402
    DEFAULT_CONFIG_PATH,
    KaldiNativeFbank,
    KnfFbankConfig,
    compute_fbank,
    eend_input,
    load_fbank_config,
    splice,
    subsample,
)

# LilcomChunkyWriter stores integer multiples of 2**tick_power (default
# tick_power=-5) and rounds to the nearest one, so the error is at most half a
# step, 2**-6 (measured on this lilcom 1.8.2: max |x - decompress(compress(x))|
# == 0.015625 exactly).  The 1e-5 covers float32 rounding of values |x| < 64.
LILCOM_BOUND = 2.0**-5 / 2 + 1e-5


# ------------------------------------------------------------------ helpers
def synth(duration: float, sr: int, seed: int) -> np.ndarray:
    """Harmonic tone with a wandering pitch + seeded noise, float32 in [-1, 1]."""
    n = int(round(duration * sr))
    t = np.arange(n) / sr
    f0 = 140.0 + 60.0 * np.sin(2 * np.pi * 0.4 * t + seed)
    phase = 2 * np.pi * np.cumsum(f0) / sr
    x = sum((0.25 / k) * np.sin(k * phase + 0.3 * k) for k in range(1, 7))
    x = x * (0.6 + 0.4 * np.sin(2 * np.pi * 1.3 * t + seed))  # amplitude wobble
    x = x + 0.02 * np.random.default_rng(seed).standard_normal(n)
    return x.astype(np.float32)


def direct_knf(samples: np.ndarray, sr: int = 8000) -> np.ndarray:
    """kaldi-native-fbank called directly, options written out independently."""
    opts = knf.FbankOptions()
    opts.frame_opts = knf.FrameExtractionOptions(
        samp_freq=float(sr),
        frame_shift_ms=10.0,
        frame_length_ms=25.0,
        dither=0.0,
        preemph_coeff=0.97,
        remove_dc_offset=True,
        window_type="povey",
        round_to_power_of_two=True,
        snip_edges=False,
    )
    opts.mel_opts = knf.MelBanksOptions(num_bins=23, low_freq=20.0, high_freq=-400.0)
    opts.use_energy = False
    opts.use_log_fbank = True
    opts.use_power = True
    fb = knf.OnlineFbank(opts)
    fb.accept_waveform(float(sr), samples.astype(np.float32).tolist())
    fb.input_finished()
    return np.stack([np.array(fb.get_frame(i), copy=True) for i in range(fb.num_frames_ready)])


def lhotse_fbank(samples: np.ndarray, cfg: KnfFbankConfig) -> np.ndarray:
    return Fbank(
        FbankConfig(
            sampling_rate=cfg.sampling_rate,
            frame_length=cfg.frame_length,
            frame_shift=cfg.frame_shift,
            round_to_power_of_two=cfg.round_to_power_of_two,
            remove_dc_offset=cfg.remove_dc_offset,
            preemph_coeff=cfg.preemph_coeff,
            window_type=cfg.window_type,
            dither=cfg.dither,
            snip_edges=cfg.snip_edges,
            use_energy=cfg.use_energy,
            use_fft_mag=not cfg.use_power,
            low_freq=cfg.low_freq,
            high_freq=cfg.high_freq,
            num_mel_bins=cfg.num_mel_bins,
        )
    ).extract(samples, cfg.sampling_rate)


def file_state(path: Path):
    st = path.stat()
    return hashlib.sha256(path.read_bytes()).hexdigest(), st.st_mtime_ns, st.st_size


@pytest.fixture
def wav_cuts(tmp_path):
    """Three 16 kHz WAV recordings (odd lengths on purpose) -> CutSet."""
    recs = []
    for i, dur in enumerate([2.0, 3.33331, 1.00007]):
        path = tmp_path / f"rec{i}.wav"
        sf.write(str(path), synth(dur, 16000, seed=i), 16000, subtype="PCM_16")
        recs.append(Recording.from_file(path, recording_id=f"rec{i}"))
    return CutSet.from_manifests(recordings=RecordingSet.from_recordings(recs))


# ------------------------------------------------------------------- config
def test_yaml_equals_dataclass_defaults():
    with open(DEFAULT_CONFIG_PATH) as f:
        raw = yaml.safe_load(f)
    defaults = KnfFbankConfig().to_dict()
    assert set(raw) == set(defaults)  # every yaml key is a field and vice versa
    for key, value in raw.items():
        assert value == defaults[key], key
        if isinstance(defaults[key], float):  # YAML may spell a float as an int
            assert isinstance(value, (int, float)) and not isinstance(value, bool), key
        else:
            assert type(value) is type(defaults[key]), key
    assert load_fbank_config() == KnfFbankConfig()
    assert load_fbank_config(DEFAULT_CONFIG_PATH) == KnfFbankConfig()
    assert DEFAULT_CONFIG_PATH == REPO / "conf" / "fbank_8k.yaml"


def test_standard_values():
    cfg = load_fbank_config()
    assert cfg.sampling_rate == 8000
    assert round(cfg.frame_length * cfg.sampling_rate) == 200
    assert round(cfg.frame_shift * cfg.sampling_rate) == 80
    assert cfg.num_mel_bins == 23
    assert cfg.snip_edges is False and cfg.dither == 0.0
    assert (cfg.low_freq, cfg.high_freq) == (20.0, -400.0)
    assert cfg.high_freq == FbankConfig().high_freq  # Lhotse's default


def test_unknown_yaml_key_raises(tmp_path):
    path = tmp_path / "bad.yaml"
    data = KnfFbankConfig().to_dict()
    data["num_mel_bin"] = 23  # typo
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ValueError) as exc:
        KnfFbankConfig.from_yaml(path)
    assert "num_mel_bin" in str(exc.value) and str(path) in str(exc.value)
    with pytest.raises(ValueError, match="num_mel_bin"):
        load_fbank_config(path)


def test_yaml_partial_and_bad_types(tmp_path):
    path = tmp_path / "partial.yaml"
    path.write_text("num_mel_bins: 40\nhigh_freq: -200\n")
    cfg = KnfFbankConfig.from_yaml(path)
    assert cfg.num_mel_bins == 40 and cfg.high_freq == -200.0
    assert isinstance(cfg.high_freq, float)
    assert cfg.sampling_rate == 8000
    path.write_text('snip_edges: "false"\n')
    with pytest.raises(ValueError, match="snip_edges"):
        KnfFbankConfig.from_yaml(path)


def test_extractor_registered_and_serialisable():
    assert get_extractor_type("kaldi-native-fbank") is KaldiNativeFbank
    ex = KaldiNativeFbank(KnfFbankConfig(num_mel_bins=40))
    again = FeatureExtractor.from_dict(ex.to_dict())
    assert isinstance(again, KaldiNativeFbank) and again.config == ex.config
    assert ex.feature_dim(8000) == 40 and ex.frame_shift == 0.01


# ---------------------------------------------------------------- extraction
def test_extract_matches_direct_knf():
    x = synth(3.217, 8000, seed=3)
    feats = KaldiNativeFbank().extract(x, 8000)
    ref = direct_knf(x)
    assert feats.dtype == np.float32 and feats.shape == ref.shape == (322, 23)
    assert feats.shape[0] == compute_num_frames(len(x) / 8000, 0.01, 8000)
    assert np.abs(feats - ref).max() < 1e-3
    # (1, N), float64 and torch input give the same result
    import torch

    np.testing.assert_array_equal(KaldiNativeFbank().extract(x[None], 8000), feats)
    np.testing.assert_array_equal(KaldiNativeFbank().extract(x.astype(np.float64), 8000), feats)
    np.testing.assert_array_equal(KaldiNativeFbank().extract(torch.from_numpy(x), 8000), feats)


@pytest.mark.parametrize("n", [0, 1, 39, 40, 79, 80, 119, 120, 200, 8001, 12345])
def test_frame_count_equals_lhotse(n):
    x = synth(1.6, 8000, seed=1)[:n]
    feats = KaldiNativeFbank().extract(x, 8000)
    assert feats.shape == (compute_num_frames(n / 8000, 0.01, 8000), 23)


def test_extract_rejects_bad_input():
    ex = KaldiNativeFbank()
    x = synth(0.5, 8000, seed=0)
    with pytest.raises(ValueError, match="16000 Hz.*resample first"):
        KaldiNativeFbank(KnfFbankConfig(resampler="lhotse")).extract(x, 16000)
    with pytest.raises(ValueError, match="mono"):
        ex.extract(np.stack([x, x]), 8000)
    bad = x.copy()
    bad[10] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        ex.extract(bad, 8000)


def test_extract_matches_lhotse_torch_fbank():
    # Both are float32 implementations of the same Kaldi recipe; they agree to
    # ~1e-5 where a mel bin has energy.  On 10 minutes of tone+noise, a single
    # value out of 1.38M differed by 1.4e-3: mel bin 0 (20-~100 Hz, gutted by
    # DC removal + pre-emphasis) at e^-13 against a frame peak of e^1.3, i.e.
    # float32 FFT round-off; both differ from a float64 run by up to ~8e-4
    # there.  The test signal keeps every bin well above that.
    cfg = load_fbank_config()
    x = synth(4.0, 8000, seed=5)
    ours = KaldiNativeFbank(cfg).extract(x, 8000)
    theirs = lhotse_fbank(x, cfg)
    assert ours.shape == theirs.shape == (400, 23)
    assert np.abs(ours - theirs).max() < 1e-3


# --------------------------------------------------------------- CutSet path
def test_compute_fbank_roundtrip(wav_cuts, tmp_path):
    from lhotse.qa import validate

    wavs = [Path(c.recording.sources[0].source) for c in wav_cuts]
    before = [file_state(p) for p in wavs]

    out = compute_fbank(wav_cuts, tmp_path / "feats" / "fbank", load_fbank_config())

    assert [c.id for c in out] == [c.id for c in wav_cuts]
    validate(out, read_data=True)
    for cut in out:
        assert cut.features.type == "kaldi-native-fbank"
        assert cut.features.storage_type == "lilcom_chunky"
        assert cut.sampling_rate == 8000 and cut.recording.sources[0].source.endswith(".wav")
        stored = cut.load_features()
        n = compute_num_frames(cut.duration, 0.01, 8000)
        assert stored.shape == (n, 23) and cut.features.num_frames == n
        # direct computation on the same 8 kHz samples: the source resampled with soxr
        # (conf/fbank_8k.yaml: resampler soxr), called here independently of recipes
        import soxr

        source = Recording.from_file(cut.recording.sources[0].source)
        audio = soxr.resample(source.load_audio()[0], source.sampling_rate, 8000, quality="HQ")
        direct = direct_knf(audio)
        assert direct.shape == stored.shape
        err = np.abs(stored - direct).max()
        assert 0 < err <= LILCOM_BOUND, err  # > 0: really read back from lilcom
    assert [file_state(p) for p in wavs] == before  # audio never rewritten


def test_compute_fbank_parallel_keeps_order(wav_cuts, tmp_path):
    single = compute_fbank(wav_cuts, tmp_path / "one", num_jobs=1)
    multi = compute_fbank(wav_cuts, tmp_path / "many", num_jobs=2)
    assert [c.id for c in multi] == [c.id for c in wav_cuts]
    for a, b in zip(single, multi):
        np.testing.assert_array_equal(a.load_features(), b.load_features())


@pytest.mark.parametrize("damage", ["missing", "corrupt"])
def test_compute_fbank_raises_on_unreadable_audio(wav_cuts, tmp_path, damage):
    victim = wav_cuts[1]
    path = Path(victim.recording.sources[0].source)
    if damage == "missing":
        path.unlink()
    else:
        path.write_bytes(b"this is not a wav file" * 50)
    with pytest.raises(RuntimeError) as exc:
        compute_fbank(wav_cuts, tmp_path / "feats")
    msg = str(exc.value)
    assert victim.id in msg
    assert wav_cuts[0].id not in msg and wav_cuts[2].id not in msg


def test_load_features_in_fresh_process(wav_cuts, tmp_path):
    out = compute_fbank(wav_cuts, tmp_path / "feats")
    manifest = tmp_path / "cuts.jsonl.gz"
    out.to_file(manifest)
    expected = {c.id: c.load_features() for c in out}
    np.savez(tmp_path / "expected.npz", **expected)
    code = (
        "import json, sys, numpy as np\n"
        "from lhotse import CutSet\n"
        f"cuts = CutSet.from_file({str(manifest)!r})\n"
        f"exp = np.load({str(tmp_path / 'expected.npz')!r})\n"
        "res = {}\n"
        "for c in cuts:\n"
        "    f = c.load_features()\n"
        "    res[c.id] = [c.features.type, list(f.shape), bool(np.array_equal(f, exp[c.id]))]\n"
        "res['recipes_imported'] = any(m == 'recipes' or m.startswith('recipes.') for m in sys.modules)\n"
        "print(json.dumps(res))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    assert res.pop("recipes_imported") is False
    for cut in out:
        assert res[cut.id] == ["kaldi-native-fbank", [cut.features.num_frames, 23], True]


# -------------------------------------------------------------- EEND helpers
def naive_splice(feats, context):
    T, D = feats.shape
    out = np.zeros((T, D * (2 * context + 1)), dtype=feats.dtype)
    for t in range(T):
        for k, s in enumerate(range(t - context, t + context + 1)):
            if 0 <= s < T:
                out[t, k * D : (k + 1) * D] = feats[s]
    return out


def naive_subsample(feats, factor):
    return np.array([feats[t] for t in range(0, len(feats), factor)]).reshape(-1, feats.shape[1])


@pytest.mark.parametrize("T", [0, 1, 3, 6, 7, 10, 15, 23, 100, 101, 109])
@pytest.mark.parametrize("context", [0, 1, 7])
def test_splice_subsample_vs_naive(T, context):
    rng = np.random.default_rng(T * 10 + context)
    feats = rng.standard_normal((T, 23)).astype(np.float32)
    got = splice(feats, context)
    want = naive_splice(feats, context)
    assert got.shape == (T, 23 * (2 * context + 1)) and got.dtype == np.float32
    np.testing.assert_array_equal(got, want)
    for factor in (1, 3, 10):
        np.testing.assert_array_equal(subsample(feats, factor), naive_subsample(feats, factor))
        e = eend_input(feats, context, factor)
        np.testing.assert_array_equal(e, naive_subsample(want, factor))
        assert e.flags.writeable and e.flags.c_contiguous


@pytest.mark.parametrize("T", [0, 5, 10, 99, 100, 101, 1234])
def test_eend_input_shape(T):
    feats = np.random.default_rng(T).standard_normal((T, 23)).astype(np.float32)
    out = eend_input(feats)
    assert out.shape == (math.ceil(T / 10), 345)
    if T > 7:  # frame 0 of the middle block is frame 0 itself; left context is zeros
        np.testing.assert_array_equal(out[0, 7 * 23 : 8 * 23], feats[0])
        np.testing.assert_array_equal(out[0, : 7 * 23], 0)


def test_eend_input_on_real_features():
    feats = KaldiNativeFbank().extract(synth(2.345, 8000, seed=7), 8000)
    T = feats.shape[0]
    out = eend_input(feats)
    assert out.shape == (math.ceil(T / 10), 345)
    np.testing.assert_array_equal(out, naive_subsample(naive_splice(feats, 7), 10))


def test_numpy_fbank_reflects_the_edges_as_kaldi():
    """Samples past either end (snip_edges: false) mirror as Kaldi's ExtractWindow does:
    -1 -> 0, -2 -> 1, n -> n-1, reflected again while still outside."""
    from recipes.features.extractors import NumpyFbank

    rng = np.random.default_rng(0)
    for _ in range(3000):
        n = int(rng.integers(1, 40))
        x = rng.standard_normal(n).astype(np.float32)
        lo = int(rng.integers(-3 * n, 3 * n))
        hi = lo + int(rng.integers(0, 4 * n))
        expected = []
        for i in range(lo, hi):
            while not 0 <= i < n:
                i = -i - 1 if i < 0 else 2 * n - 1 - i
            expected.append(x[i])
        assert NumpyFbank._segment(None, x, lo, hi).tolist() == expected


def test_config_epsilon_is_lhotses():
    """recipes.features.config defines EPSILON itself (no Lhotse import): it must stay Lhotse's value."""
    from lhotse.utils import EPSILON as lhotse_epsilon

    from recipes.features.config import EPSILON, KnfFbankConfig

    assert EPSILON == lhotse_epsilon
    assert KnfFbankConfig().energy_floor == lhotse_epsilon
