"""recipes.lilcom_writer / lilcom_codec against Lhotse's LilcomChunkyWriter and lilcom.compress:
same bytes, same keys, read by Lhotse."""

import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from lhotse.features.io import LilcomChunkyReader, LilcomChunkyWriter

from recipes import lilcom_codec, lilcom_writer
from recipes.features import NumpyFbank, load_fbank_config
from recipes.lilcom_writer import FastLilcomChunkyWriter, compress_chunked, regression_coefficients


def lilcom_reference(data: np.ndarray, tick_power: int = -5, chunk_size: int = 100):
    """What Lhotse's lilcom_compress_chunked stores: lilcom.compress per chunk."""
    import lilcom

    data = np.array(data, dtype=np.float32, copy=True)
    return [
        lilcom.compress(data[b : b + chunk_size], tick_power=tick_power) for b in range(0, data.shape[0], chunk_size)
    ]


def fbank_features(seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 8000)) / 8000
    x = 0.1 * np.sin(2 * np.pi * (150 + 50 * seed) * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 0.7 * t))
    x = (x + 0.01 * rng.standard_normal(len(t))).astype(np.float32)
    x[len(x) // 3 : len(x) // 2] = 0  # digital silence: log floor, constant rows
    return NumpyFbank(load_fbank_config())(x)


@pytest.mark.parametrize("compiled", [True, False])
@pytest.mark.parametrize("seconds,seed", [(0.5, 0), (1.0, 1), (2.5, 2), (37.3, 3)])
def test_same_bytes_as_lhotse_writer(tmp_path, seconds, seed, compiled):
    feats = fbank_features(seconds, seed)
    keep = feats.copy()
    with LilcomChunkyWriter(tmp_path / "stock.lca", mode="w") as w:
        key_stock = w.write("a", feats.copy())
    with FastLilcomChunkyWriter(tmp_path / "fast.lca", mode="w", compiled=compiled) as w:
        key_fast = w.write("a", feats)
    np.testing.assert_array_equal(feats, keep)  # lilcom's C compressor quantises in place; ours copies first
    assert key_fast == key_stock
    assert (tmp_path / "fast.lca").read_bytes() == (tmp_path / "stock.lca").read_bytes()
    back = LilcomChunkyReader(tmp_path / "fast.lca").read(key_fast)
    assert back.shape == feats.shape and np.abs(back - feats).max() <= 2**-6 + 1e-6


def test_coefficients_equal_lilcom_regress_array():
    import lilcom

    regress_array = sys.modules[lilcom.compress.__module__].regress_array
    feats = fbank_features(60.0, 4)
    chunks = feats[: len(feats) // 100 * 100].reshape(-1, 100, feats.shape[1])
    ours = regression_coefficients(chunks)
    ref = np.array([regress_array(c, True) for c in chunks], dtype=np.float32)
    np.testing.assert_array_equal(ours, ref)
    assert (ours[:, 0] != 0).any() and (ours[:, 1] != 0).any()  # both regressions are exercised


def test_other_shapes_fall_back_to_lilcom():
    import lilcom

    x = np.random.default_rng(0).standard_normal((250,)).astype(np.float32)
    assert compress_chunked(x) == [lilcom.compress(x[b : b + 100].copy(), tick_power=-5) for b in (0, 100, 200)]


def _cases():
    rng = np.random.default_rng(7)
    walk = np.cumsum(rng.standard_normal((1234, 23)), axis=0) * 0.05 + rng.standard_normal((1234, 23)) * 0.5 - 8
    spikes = rng.standard_normal((300, 23))
    spikes[::7] = np.clip(spikes[::7] * 30000, -60000, 60000)  # widths of ~23 bits next to widths of 2
    yield "random walk", walk
    yield "zeros", np.zeros((250, 23))  # every code 0: runs of width 0
    yield "constant log floor", np.full((250, 23), -15.942385)  # silence: width-0 runs between header codes
    yield "spikes", spikes
    yield "tiny", rng.standard_normal((300, 5)) * 1e-4
    yield "ramp", np.tile(np.linspace(-3, 3, 23), (200, 1))
    yield "near the limit", np.where(rng.random((200, 8)) < 0.5, -1, 1) * lilcom_codec.MAX_ABS
    silence = walk[:400].copy()
    silence[120:260] = -15.942385
    yield "speech, silence, speech", silence


@pytest.mark.parametrize("tick_power", [-5, -8, 0, 3])
@pytest.mark.parametrize("name,data", list(_cases()), ids=[n for n, _ in _cases()])
def test_codec_bytes_equal_lilcom(name, data, tick_power):
    data = data.astype(np.float32)
    assert lilcom_codec.supported(data, tick_power)
    assert compress_chunked(data, tick_power=tick_power) == lilcom_reference(data, tick_power)


@pytest.mark.parametrize("frames", list(range(1, 101)) + [101, 199, 200, 201, 64 * 100 + 37])
def test_codec_every_partial_chunk_length(frames):
    data = np.random.default_rng(frames).standard_normal((frames, 23)).astype(np.float32) * 3
    assert compress_chunked(data) == lilcom_reference(data)


@settings(max_examples=150, deadline=None)
@given(
    hnp.arrays(
        np.float32, st.tuples(st.integers(1, 230), st.integers(2, 30)), elements=st.floats(-2000, 2000, width=32)
    ),
    st.integers(-20, 20),
)
def test_codec_fuzz_equals_lilcom(data, tick_power):
    # (with small ticks and large values some inputs go to lilcom itself: equal by construction)
    assert compress_chunked(data, tick_power=tick_power) == lilcom_reference(data, tick_power)


@pytest.mark.parametrize(
    "data",
    [
        np.full((150, 23), 1e6, dtype=np.float32),  # beyond MAX_ABS
        np.ones((150, 1), dtype=np.float32),  # one dimension: lilcom drops the axis
        np.ones((7, 3, 4), dtype=np.float32),
    ],
    ids=["huge", "one dim", "3-D"],
)
def test_inputs_outside_the_codec_go_to_lilcom(data):
    assert not lilcom_codec.supported(data, -5)
    assert compress_chunked(data) == lilcom_reference(data)


def test_small_ticks_use_the_codec_only_where_codes_fit_int32():
    """lilcom clamps codes beyond int32 (3 max|x| / tick can reach 2^31 for tick <= 2^-14);
    the codec leaves such inputs to lilcom and must match it up to that limit."""
    extreme = np.array([[65536.0, -65536.0], [-65536.0, 65536.0]], dtype=np.float32)
    assert not lilcom_codec.supported(extreme, -16)
    assert compress_chunked(extreme, tick_power=-16) == lilcom_reference(extreme, -16)
    rng = np.random.default_rng(11)
    for tick_power in range(-20, -9):
        peak = min(2.0 ** (28 + tick_power) / 3, lilcom_codec.MAX_ABS)  # inside the bound: codes up to ~2^28
        data = np.where(rng.random((300, 23)) < 0.5, -1, 1).astype(np.float32) * np.float32(peak)
        data[::3] *= np.float32(0.37)
        assert lilcom_codec.supported(data, tick_power)
        assert compress_chunked(data, tick_power=tick_power) == lilcom_reference(data, tick_power), tick_power


@pytest.mark.parametrize("tick_power", [-21, 21])
def test_tick_power_outside_lilcoms_range_fails_as_lilcom(tmp_path, tick_power):
    data = np.ones((3, 2), dtype=np.float32)
    assert not lilcom_codec.supported(data, tick_power)
    with pytest.raises(RuntimeError):
        lilcom_reference(data, tick_power)
    with pytest.raises(RuntimeError):
        compress_chunked(data, tick_power=tick_power)


def test_a_zero_run_of_more_than_2_to_the_24_codes():
    # one chunk of 2 x 8,388,615 zeros: a single run of ~2^24 width-0 codes (49-bit run code)
    data = np.zeros((2, (1 << 23) + 7), dtype=np.float32)
    assert lilcom_codec.supported(data, -5)
    assert compress_chunked(data) == lilcom_reference(data)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_features_fail_as_in_lhotse(tmp_path, bad):
    data = np.zeros((150, 23), dtype=np.float32)
    data[3, 4] = bad
    assert not lilcom_codec.supported(data, -5)
    with np.errstate(invalid="ignore"), pytest.raises(ValueError):
        LilcomChunkyWriter(tmp_path / "stock.lca", mode="w").write("a", data.copy())
    with np.errstate(invalid="ignore"), pytest.raises(ValueError):
        FastLilcomChunkyWriter(tmp_path / "fast.lca", mode="w").write("a", data)


def test_writer_without_numba_writes_the_same_archive(tmp_path, monkeypatch):
    feats = fbank_features(12.3, 5)
    with FastLilcomChunkyWriter(tmp_path / "fast.lca", mode="w") as w:
        key_fast = w.write("a", feats)
    monkeypatch.setattr(lilcom_codec, "AVAILABLE", False)
    assert not lilcom_codec.supported(feats, -5)
    with FastLilcomChunkyWriter(tmp_path / "plain.lca", mode="w") as w:
        key_plain = w.write("a", feats)
    with LilcomChunkyWriter(tmp_path / "stock.lca", mode="w") as w:
        key_stock = w.write("a", feats.copy())
    assert key_fast == key_plain == key_stock
    assert (
        (tmp_path / "fast.lca").read_bytes()
        == (tmp_path / "plain.lca").read_bytes()
        == (tmp_path / "stock.lca").read_bytes()
    )
    assert lilcom_writer  # the module under test


@pytest.mark.parametrize("name", ["feats-00000.lca", "feats-00000.partial.lca", "feats", "feats.bin"])
def test_writer_interface_is_lhotses(tmp_path, name):
    """The writer is not Lhotse's subclass (stage 2 imports no Lhotse): its name, chunk size,
    file name rule and append offsets must still be Lhotse's."""
    from lhotse.features.io import CHUNKY_FORMAT_CHUNK_SIZE

    assert FastLilcomChunkyWriter.name == LilcomChunkyWriter.name
    assert FastLilcomChunkyWriter.CHUNK_SIZE == CHUNKY_FORMAT_CHUNK_SIZE == LilcomChunkyWriter.CHUNK_SIZE
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    feats = fbank_features(1.5, 5)
    for mode in ("w", "a"):
        with LilcomChunkyWriter(tmp_path / "a" / name, mode=mode) as w:
            stock = (w.storage_path, w.write("x", feats.copy()))
        with FastLilcomChunkyWriter(tmp_path / "b" / name, mode=mode) as w:
            fast = (w.storage_path, w.write("x", feats.copy()))
        assert Path(fast[0]).relative_to(tmp_path / "b") == Path(stock[0]).relative_to(tmp_path / "a")
        assert fast[1] == stock[1]
    assert Path(fast[0]).read_bytes() == Path(stock[0]).read_bytes()
