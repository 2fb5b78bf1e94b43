"""A chunk from ``chunk_cuts`` rendered from the source cache is that part of the whole
mixture: ``soxr(MixedCut.load_audio())`` of the whole mixture, sliced at the chunk's samples,
within 1e-3 RMS relative, over the first RIR length of each chunk too (the reverberation tail
from before the chunk), with the whole tracks' SNR gains; labels are those of Lhotse's windows."""

import numpy as np
import torch
from lhotse import CutSet, load_manifest_lazy
from lhotse.cut import PaddingCut
from lhotse.utils import fastcopy

from recipes.dataset import EENDDataset, chunk_cuts
from recipes.features import NumpyKaldiFbank
from recipes.features.audio import resample_audio
from recipes.frames import num_samples as _samples_at
from recipes.simulation.cache import SourceCache, build_source_cache
from recipes.simulation.render import render
from tests.test_source_cache import EDGE, RIR, noisy, rel_rms, reverberant  # noqa: F401 (fixtures)

WINDOW = 2.5  # seconds: chunk_size 25 x subsampling 10 x 10 ms


def _mixtures(reverberant):  # noqa: F811
    mixtures = list(load_manifest_lazy(reverberant))
    m = mixtures[0]  # a speaker track at an SNR (not the reference), and padding at the end
    speaker = next(i for i, t in enumerate(m.tracks) if i > 0 and t.snr is None and t.offset > WINDOW)
    tracks = list(m.tracks)
    tracks[speaker] = fastcopy(tracks[speaker], snr=-3.0)
    return [fastcopy(m, tracks=tracks).pad(duration=m.duration + 1.3)] + mixtures[1:]


def test_chunks_render_the_slice_of_the_whole_mixture(noisy, reverberant):  # noqa: F811
    tmp, src, _ = noisy
    mixtures = _mixtures(reverberant)
    assert any(t.snr is not None and t.cut.recording.transforms for t in mixtures[0].tracks)
    sources = list(load_manifest_lazy(src)) + list(load_manifest_lazy(tmp / "noise.jsonl.gz"))
    build_source_cache(sources, tmp / "c_win", progress=False)
    cache = SourceCache(tmp / "c_win")
    crossing = 0
    for m in mixtures:
        whole = resample_audio(m.load_audio().astype(np.float32), 16000, 8000)[0]
        keep = np.ones(len(whole), bool)  # not where every track stops at the padding (soxr rings
        for t in m.tracks:  # at 16 kHz there, each source is resampled whole in the cache)
            if isinstance(t.cut, PaddingCut):
                keep[_samples_at(t.offset, 8000) - EDGE : _samples_at(t.offset, 8000) + EDGE] = False
        windows = list(chunk_cuts(CutSet.from_cuts([m]), chunk_size=25))
        # the record survives serialisation
        windows = [type(w).from_dict(w.to_dict()) for w in windows]
        assert len(windows) == -(-m.duration // WINDOW)
        for k, w in enumerate(windows):
            if isinstance(w, PaddingCut):  # nothing to render (the dataset gives it to Lhotse)
                continue
            a = _samples_at(k * WINDOW, 8000)
            got = render(w, cache)
            ref = whole[a : a + len(got)]
            assert len(ref) == len(got)
            got, ref = got[keep[a : a + len(got)]], ref[keep[a : a + len(got)]]
            assert rel_rms(ref, got) < 1e-3, (m.id, k)
            if k and np.any(ref[:RIR]):  # the tail of speech from before the window
                crossing += 1
                assert rel_rms(ref[:RIR], got[:RIR]) < 1e-3, (m.id, k)
    assert crossing >= 3


def test_chunk_labels_are_lhotses_windows(noisy, reverberant):  # noqa: F811
    tmp, src, _ = noisy
    mixtures = CutSet.from_cuts(_mixtures(reverberant)[:2])
    sources = list(load_manifest_lazy(src)) + list(load_manifest_lazy(tmp / "noise.jsonl.gz"))
    build_source_cache(sources, tmp / "c_lab", progress=False)
    ds = EENDDataset(feature_extractor=NumpyKaldiFbank(), chunk_size=25, source_cache=tmp / "c_lab")
    ours = ds[chunk_cuts(mixtures, chunk_size=25)]
    lhotse = EENDDataset(feature_extractor=NumpyKaldiFbank(), chunk_size=25)[
        mixtures.cut_into_windows(WINDOW, keep_excessive_supervisions=True)
    ]
    assert torch.equal(ours["labels"], lhotse["labels"]) and torch.equal(ours["lengths"], lhotse["lengths"])
    assert ours["speakers"] == lhotse["speakers"]
