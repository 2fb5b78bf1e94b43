"""EEND input from stored features: :func:`splice` (+-7 frames), :func:`subsample` (every
10th frame) and :func:`eend_input`, ``(T, 23) -> (ceil(T / 10), 345)``."""

from __future__ import annotations

import math

import numpy as np


def _check_feats(feats: np.ndarray) -> np.ndarray:
    feats = np.asarray(feats)
    if feats.ndim != 2:
        raise ValueError(f"expected a (T, D) feature matrix, got shape {feats.shape}")
    return feats


def _padded_windows(feats: np.ndarray, context: int) -> np.ndarray:
    """Read-only view ``(T, 2*context+1, D)``: window t = frames t-c..t+c,
    zeros outside [0, T)."""
    if context < 0:
        raise ValueError(f"context must be >= 0, got {context}")
    num_frames, dim = feats.shape
    padded = np.zeros((num_frames + 2 * context, dim), dtype=feats.dtype)
    padded[context : context + num_frames] = feats
    width = 2 * context + 1
    if num_frames == 0:
        return np.zeros((0, width, dim), dtype=feats.dtype)
    windows = np.lib.stride_tricks.sliding_window_view(padded, (width, dim))
    return windows[:, 0]  # drop the singleton axis of the 2-D window


def splice(feats: np.ndarray, context: int = 7) -> np.ndarray:
    """``(T, D) -> (T, D * (2*context+1))``: row t is frames t-context .. t+context
    concatenated in that order; frames outside [0, T) are zeros (EEND)."""
    feats = _check_feats(feats)
    num_frames, dim = feats.shape
    windows = _padded_windows(feats, context)
    return windows.reshape(num_frames, dim * (2 * context + 1)).copy()


def subsample(feats: np.ndarray, factor: int = 10) -> np.ndarray:
    """Every ``factor``-th frame, starting with frame 0 (``feats[::factor]``)."""
    if factor < 1:
        raise ValueError(f"subsampling factor must be >= 1, got {factor}")
    return np.asarray(feats)[::factor]


def eend_input(feats: np.ndarray, context: int = 7, subsampling: int = 10, out: np.ndarray = None) -> np.ndarray:
    """``subsample(splice(feats, context), subsampling)``:
    ``(T, 23) -> (ceil(T / subsampling), 345)`` for the defaults.

    Only the kept rows are materialised (same result, ~``subsampling`` x less
    memory than splicing every frame first); with ``out`` (an array of that shape),
    written there (e.g. a row block of a batch tensor) and ``out`` returned."""
    feats = _check_feats(feats)
    if subsampling < 1:
        raise ValueError(f"subsampling factor must be >= 1, got {subsampling}")
    num_frames, dim = feats.shape
    windows = _padded_windows(feats, context)[::subsampling]
    out_frames = math.ceil(num_frames / subsampling)
    assert windows.shape[0] == out_frames
    rows = windows.reshape(out_frames, dim * (2 * context + 1))
    if out is not None:
        np.copyto(out, rows)
        return out
    # reshape of the strided view may itself be a (read-only) view: copy.
    return rows.copy()
