"""recipes.lilcom_writer against Lhotse's LilcomChunkyWriter: same bytes, same keys, read by Lhotse."""
import sys

import numpy as np
import pytest
from lhotse.features.io import LilcomChunkyReader, LilcomChunkyWriter

from recipes.features import NumpyFbank, load_fbank_config
from recipes.lilcom_writer import FastLilcomChunkyWriter, compress_chunked, regression_coefficients


def fbank_features(seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 8000)) / 8000
    x = 0.1 * np.sin(2 * np.pi * (150 + 50 * seed) * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 0.7 * t))
    x = (x + 0.01 * rng.standard_normal(len(t))).astype(np.float32)
    x[len(x) // 3: len(x) // 2] = 0  # digital silence: log floor, constant rows
    return NumpyFbank(load_fbank_config())(x)


@pytest.mark.parametrize("seconds,seed", [(0.5, 0), (1.0, 1), (2.5, 2), (37.3, 3)])
def test_same_bytes_as_lhotse_writer(tmp_path, seconds, seed):
    feats = fbank_features(seconds, seed)
    keep = feats.copy()
    with LilcomChunkyWriter(tmp_path / "stock.lca", mode="w") as w:
        key_stock = w.write("a", feats.copy())
    with FastLilcomChunkyWriter(tmp_path / "fast.lca", mode="w") as w:
        key_fast = w.write("a", feats)
    np.testing.assert_array_equal(feats, keep)  # lilcom's C compressor quantises in place; ours copies first
    assert key_fast == key_stock
    assert (tmp_path / "fast.lca").read_bytes() == (tmp_path / "stock.lca").read_bytes()
    back = LilcomChunkyReader(tmp_path / "fast.lca").read(key_fast)
    assert back.shape == feats.shape and np.abs(back - feats).max() <= 2 ** -6 + 1e-6


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
    assert compress_chunked(x) == [lilcom.compress(x[b: b + 100].copy(), tick_power=-5) for b in (0, 100, 200)]
