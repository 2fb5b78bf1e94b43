"""Stage 2 at scale: numpy backend vs kaldi-native-fbank, chunking, executors and fault tolerance."""

import json

import numpy as np
import pytest
import soundfile
from click.testing import CliRunner
from lhotse import CutSet, Recording, RecordingSet
from lhotse.utils import fastcopy

from recipes.cli import cli
from recipes.features import (
    KaldiNativeFbank,
    NumpyFbank,
    compute_cut_features,
    compute_fbank,
    load_fbank_config,
)

CFG = load_fbank_config()


def signal(seconds, sr, seed):
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    f0 = 120 + 40 * seed
    x = sum(np.sin(2 * np.pi * h * f0 * t) / h for h in range(1, 12)) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
    return (0.05 * x + 0.005 * rng.standard_normal(len(t))).astype(np.float32)


@pytest.fixture
def wav_cuts(tmp_path):
    recs = []
    for i, seconds in enumerate([3.0, 4.37, 2.5]):
        path = tmp_path / "audio" / f"r{i}.wav"
        path.parent.mkdir(exist_ok=True)
        soundfile.write(path, signal(seconds, 16000, i), 16000, subtype="PCM_16")
        recs.append(Recording.from_file(path))
    return CutSet.from_manifests(recordings=RecordingSet.from_recordings(recs)).to_eager()


@pytest.mark.parametrize("fft", ["scipy", "torch"])
@pytest.mark.parametrize("seconds", [0.0, 0.004, 0.005, 0.0249, 0.025, 1.0, 7.013])
def test_numpy_backend_equals_kaldi_native_fbank(seconds, fft):
    x = signal(seconds, 8000, 3)
    ref = KaldiNativeFbank(CFG).extract(x, 8000)
    got = NumpyFbank(CFG, fft=fft)(x)
    assert got.shape == ref.shape
    if ref.size:
        assert np.abs(got - ref).max() < 1e-3


def test_numpy_backend_blocks_agree():
    x = signal(9.3, 8000, 1)
    whole = NumpyFbank(CFG, block_frames=100000)(x)
    for block in (1, 7, 100, 931):
        # equal up to the BLAS mel product's accumulation order (a few float32 ulps)
        np.testing.assert_allclose(NumpyFbank(CFG, block_frames=block)(x), whole, rtol=0, atol=1e-5)


def test_windowed_cuts_equal_whole_recording_features_at_boundaries(wav_cuts):
    cut = wav_cuts[1]
    extract = NumpyFbank(CFG)
    whole = compute_cut_features(cut, CFG, extract)
    for window in cut.cut_into_windows(duration=1.0):
        got = compute_cut_features(window, CFG, extract)
        k = int(round(window.start / 0.01))
        np.testing.assert_allclose(got, whole[k : k + got.shape[0]], atol=1e-3)
        # without context the edge frames differ: the check above is not vacuous
        from recipes.features import load_audio_for_features

        plain = extract(load_audio_for_features(window, CFG))
        if window.start > 0:
            assert np.abs(plain[0] - whole[k]).max() > 1e-2


@pytest.mark.parametrize("backend", ["numpy", "knf"])
def test_backends_store_the_same_features(wav_cuts, tmp_path, backend):
    out = compute_fbank(wav_cuts, tmp_path / backend, backend=backend, progress=False)
    ref = {c.id: compute_cut_features(c, CFG, lambda a: KaldiNativeFbank(CFG).extract(a, 8000)) for c in wav_cuts}
    for cut in out:
        assert np.abs(cut.load_features() - ref[cut.id]).max() <= 2**-6 + 1e-3


def damage(cut):
    """Make the audio unreadable (a missing file stops diar fbank before any work, with the
    one-line summary of tests/test_new_user.py; a corrupt one fails while decoding)."""
    with open(cut.recording.sources[0].source, "wb") as f:
        f.write(b"RIFF\x00\x00\x00\x00WAVEnot audio")


def test_bad_audio_error_names_id_and_path(wav_cuts, tmp_path):
    damage(wav_cuts[1])
    with pytest.raises(RuntimeError) as err:
        compute_fbank(wav_cuts, tmp_path / "f", progress=False)
    assert wav_cuts[1].id in str(err.value) and wav_cuts[1].recording.sources[0].source in str(err.value)
    assert not list((tmp_path / "f").glob("*.lca")) or all(".partial" not in p.name for p in (tmp_path / "f").iterdir())


def test_skip_bad_writes_rejects_and_keeps_the_rest(wav_cuts, tmp_path):
    damage(wav_cuts[0])
    cuts_in = tmp_path / "in.jsonl.gz"
    wav_cuts.to_file(cuts_in)
    out = tmp_path / "out.jsonl.gz"
    res = CliRunner().invoke(cli, ["fbank", str(cuts_in), str(out), "--storage-path", str(tmp_path / "f")])
    assert res.exit_code == 1 and wav_cuts[0].id in res.stderr and not out.exists()
    res = CliRunner().invoke(
        cli, ["fbank", str(cuts_in), str(out), "--storage-path", str(tmp_path / "f"), "--skip-bad"]
    )
    assert res.exit_code == 0, res.output
    assert [c.id for c in CutSet.from_file(out)] == [wav_cuts[1].id, wav_cuts[2].id]
    rejects = [json.loads(line) for line in (tmp_path / "out_rejects.jsonl").read_text().splitlines()]
    assert [(r["cut_id"], r["audio"]) for r in rejects] == [(wav_cuts[0].id, wav_cuts[0].recording.sources[0].source)]


def test_an_interrupted_archive_is_never_taken_as_finished(wav_cuts, tmp_path, monkeypatch):
    import recipes.features as features

    calls = {"n": 0}
    real = features.load_audio_with_context

    def dies_on_second(cut, config):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # like a kill in the middle of an archive
        return real(cut, config)

    monkeypatch.setattr(features.stage, "load_audio_with_context", dies_on_second)
    with pytest.raises(KeyboardInterrupt):
        compute_fbank(wav_cuts, tmp_path / "f", progress=False)
    # never a final name; the partial archive is removed on the way out (a SIGKILL leaves it:
    # tests/test_fault_tolerance.py)
    assert not [p.name for p in (tmp_path / "f").iterdir()]
    monkeypatch.setattr(features.stage, "load_audio_with_context", real)
    out = compute_fbank(wav_cuts, tmp_path / "f", progress=False)  # a rerun completes
    assert len(out) == 3 and all(c.load_features().shape[0] == c.num_frames for c in out)


def test_full_disk_gives_a_clear_error(wav_cuts, tmp_path, mount_point):
    small = mount_point("size=12k")
    cuts_in = tmp_path / "in.jsonl.gz"
    wav_cuts.to_file(cuts_in)
    res = CliRunner().invoke(cli, ["fbank", str(cuts_in), str(tmp_path / "out.jsonl.gz"), "--storage-path", str(small)])
    assert res.exit_code == 1
    assert "disk full" in res.stderr and str(small) in res.stderr, res.stderr
    assert not any(p.name.endswith(".lca") and ".partial" not in p.name for p in small.rglob("*"))


def test_read_only_output_gives_a_clear_error(wav_cuts, tmp_path, mount_point):
    ro = mount_point("ro,size=1m")
    cuts_in = tmp_path / "in.jsonl.gz"
    wav_cuts.to_file(cuts_in)
    res = CliRunner().invoke(
        cli, ["fbank", str(cuts_in), str(tmp_path / "out.jsonl.gz"), "--storage-path", str(ro / "feats")]
    )
    assert res.exit_code == 1 and "cannot create output directory" in res.stderr and str(ro) in res.stderr
    res = CliRunner().invoke(
        cli, ["fbank", str(cuts_in), str(ro / "out.jsonl.gz"), "--storage-path", str(tmp_path / "feats")]
    )
    assert res.exit_code == 1 and "not writable" in res.stderr and str(ro) in res.stderr


def test_dask_local_cluster_gives_the_same_features(wav_cuts, tmp_path):
    pytest.importorskip("distributed")
    local = compute_fbank(wav_cuts, tmp_path / "local", progress=False, cuts_per_archive=1)
    dask = compute_fbank(
        wav_cuts, tmp_path / "dask", num_jobs=2, executor_kind="dask", progress=False, cuts_per_archive=1
    )
    assert [c.id for c in dask] == [c.id for c in local]
    for a, b in zip(local, dask):
        np.testing.assert_array_equal(a.load_features(), b.load_features())
    assert len(list((tmp_path / "dask").glob("feats-*.lca"))) == 3


def test_local_processes_give_the_same_features(wav_cuts, tmp_path):
    one = compute_fbank(wav_cuts, tmp_path / "one", progress=False)
    two = compute_fbank(wav_cuts, tmp_path / "two", num_jobs=2, progress=False, cuts_per_archive=1)
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a.load_features(), b.load_features())


def test_output_cut_keeps_its_resampling_and_validates(wav_cuts, tmp_path):
    from lhotse.qa import validate

    out = compute_fbank(wav_cuts, tmp_path / "f", progress=False)
    validate(out, read_data=True)
    cut = next(iter(out))
    assert cut.sampling_rate == 8000 and cut.recording.sources[0].source.endswith(".wav")
    assert fastcopy(cut, features=None).load_audio().shape[1] == round(cut.duration * 8000)


def test_pcm16_fast_read_equals_lhotse_load_audio(wav_cuts, tmp_path):
    from recipes.features import _read_pcm16

    cut = wav_cuts[1]
    np.testing.assert_array_equal(_read_pcm16(cut) / np.float32(32768), cut.load_audio()[0])
    window = cut.truncate(offset=1.234, duration=2.0)
    np.testing.assert_array_equal(_read_pcm16(window) / np.float32(32768), window.load_audio()[0])
    stereo = tmp_path / "stereo.wav"
    x = np.stack([signal(1.5, 16000, 1), signal(1.5, 16000, 2)], axis=1)
    soundfile.write(stereo, x, 16000, subtype="PCM_16")
    from lhotse.cut import MonoCut

    rec = Recording.from_file(stereo)
    right = MonoCut(id="r", start=0.25, duration=1.0, channel=1, recording=rec)
    np.testing.assert_array_equal(_read_pcm16(right) / np.float32(32768), right.load_audio()[0])
    # 16-bit FLAC reads the same way; float WAV and lazily transformed cuts are left to Lhotse
    flac = Recording.from_file(
        soundfile.write(tmp_path / "a.flac", signal(1.0, 16000, 3), 16000) or tmp_path / "a.flac"
    ).to_cut()
    np.testing.assert_array_equal(_read_pcm16(flac) / np.float32(32768), flac.load_audio()[0])
    soundfile.write(tmp_path / "f.wav", signal(1.0, 16000, 3), 16000, subtype="FLOAT")
    assert _read_pcm16(Recording.from_file(tmp_path / "f.wav").to_cut()) is None
    assert _read_pcm16(cut.resample(8000)) is None


def test_skip_bad_does_not_hide_extractor_errors_or_an_empty_result(wav_cuts, tmp_path, monkeypatch):
    import recipes.features as features

    def broken(self, samples):
        raise ValueError("extractor bug")

    monkeypatch.setattr(features.NumpyFbank, "__call__", broken)
    with pytest.raises(ValueError, match="extractor bug"):
        compute_fbank(wav_cuts, tmp_path / "a", skip_bad=True, progress=False)
    monkeypatch.undo()
    for cut in wav_cuts:
        damage(cut)
    with pytest.raises(RuntimeError, match="every cut"):
        compute_fbank(wav_cuts, tmp_path / "b", skip_bad=True, progress=False)


def test_audio_error_message_keeps_the_reason(wav_cuts, tmp_path):
    damage(wav_cuts[0])
    cuts_in = tmp_path / "in.jsonl.gz"
    wav_cuts.to_file(cuts_in)
    res = CliRunner().invoke(
        cli, ["fbank", str(cuts_in), str(tmp_path / "o.jsonl.gz"), "--storage-path", str(tmp_path / "f")]
    )
    err = [line for line in res.stderr.splitlines() if line.startswith("Error:")]
    assert res.exit_code == 1 and len(err) == 1
    assert "Error opening" in err[0] and "[extra info]" not in err[0] and len(err[0]) < 1500, err[0]


def test_a_rerun_leaves_no_stale_archives_or_rejects(wav_cuts, tmp_path):
    compute_fbank(wav_cuts, tmp_path / "f", cuts_per_archive=1, progress=False)
    assert len(list((tmp_path / "f").glob("feats-*.lca"))) == 3
    (tmp_path / "rejects.jsonl").write_text('{"cut_id": "old"}\n')
    (tmp_path / "f" / "feats-00009.partial.lca").write_bytes(b"killed run")
    out = compute_fbank(
        wav_cuts,
        tmp_path / "f",
        cuts_per_archive=10,
        progress=False,
        skip_bad=True,
        rejects_path=tmp_path / "rejects.jsonl",
    )
    assert sorted(p.name for p in (tmp_path / "f").iterdir()) == ["feats-00000.lca"]
    assert not (tmp_path / "rejects.jsonl").exists()
    assert all(c.load_features().shape[0] == c.num_frames for c in out)


@pytest.mark.parametrize("num_samples", [0, 1, 999, 65536, 65537, 200_003])
def test_streamed_resampling_equals_one_soxr_call(num_samples, monkeypatch):
    import soxr

    from recipes import features

    monkeypatch.setattr(features, "RESAMPLE_BLOCK", 4096)  # many blocks even for the short signals
    rng = np.random.default_rng(num_samples)
    pcm = (rng.standard_normal(num_samples) * 3000).astype(np.int16)
    as_float = pcm.astype(np.float32) / np.float32(32768)
    ref = soxr.resample(as_float, 16000, 8000, quality="HQ")
    np.testing.assert_array_equal(features.resample_audio(pcm, 16000, 8000), ref)
    np.testing.assert_array_equal(features.resample_audio(as_float, 16000, 8000), ref)
    np.testing.assert_array_equal(features.resample_audio(pcm, 8000, 8000), as_float)


def test_numpy_backend_leaves_blas_threads_as_it_found_them():
    from threadpoolctl import threadpool_info, threadpool_limits

    before = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
    NumpyFbank(CFG)(signal(2.0, 8000, 1))
    assert [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"] == before
    with threadpool_limits(limits=1, user_api="blas"):
        NumpyFbank(CFG)(signal(2.0, 8000, 1))
        assert {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"} == {1}


def test_many_cuts_failing_for_one_reason_give_one_short_line(wav_cuts, tmp_path):
    # every cut damaged the same way: the reason is said once, with the count; the full list is in the rejects file
    for cut in wav_cuts:
        damage(cut)
    cuts_in = tmp_path / "in.jsonl.gz"
    wav_cuts.to_file(cuts_in)
    res = CliRunner().invoke(
        cli, ["fbank", str(cuts_in), str(tmp_path / "o.jsonl.gz"), "--storage-path", str(tmp_path / "f")]
    )
    err = [line for line in res.stderr.splitlines() if line.startswith("Error:")]
    assert res.exit_code == 1 and len(err) == 1, res.stderr
    n = len(wav_cuts)
    assert f"audio of {n} of {n} cut(s) failed to load" in err[0] and f"{n} x " in err[0]
    assert err[0].count("Error opening") == 1 and len(err[0]) < 1000, err[0]
    assert "Backend" not in err[0] and "LHOTSE_" not in err[0]  # no Lhotse multi-backend dump
    rejects = [json.loads(line) for line in (tmp_path / "o_rejects.jsonl").read_text().splitlines()]
    assert sorted(r["cut_id"] for r in rejects) == sorted(c.id for c in wav_cuts)


def _varied_cuts(tmp_path):
    """Cuts of every shape the dict path maps itself or hands to Lhotse: whole WAV recordings,
    windows of one (context read around them), supervisions and custom fields, a recording
    without channel_ids, a FLAC and a 24-bit WAV (audio read by Lhotse, cut mapped as a dict),
    a recording already at 8 kHz, and a cut with a TemporalArray in custom (left to Lhotse)."""
    from lhotse import SupervisionSegment
    from lhotse.array import TemporalArray
    from lhotse.features.io import NumpyFilesWriter

    d = tmp_path / "audio"
    d.mkdir()
    cuts = []
    for i, (name, sr, subtype, seconds) in enumerate(
        [
            ("a.wav", 16000, "PCM_16", 6.3000625),
            ("b.flac", 16000, "PCM_16", 3.1),
            ("c.wav", 16000, "PCM_24", 2.2000625),
            ("d.wav", 8000, "PCM_16", 2.7),
        ]
    ):
        soundfile.write(d / name, signal(seconds, sr, i), sr, subtype=subtype)
        rec = Recording.from_file(d / name)
        cut = rec.to_cut()
        cut.supervisions = [SupervisionSegment(f"{rec.id}-s", rec.id, 0.5, 1.25, speaker="spk ñ", custom={"k": None})]
        cut.custom = {"uem": [[0.0, 1.5]], "note": "ünïcode"}
        cuts.append(cut)
    whole = cuts[0]
    cuts += [whole.truncate(offset=1.234, duration=2.0, keep_excessive_supervisions=False), whole.truncate(offset=4.0)]
    cuts.append(fastcopy(cuts[3], id="bare"))  # its manifest line loses channel_ids below
    with NumpyFilesWriter(tmp_path / "arrays") as w:
        arr = TemporalArray(
            w.store_array("x", np.zeros((10, 1), np.float32)), temporal_dim=0, frame_shift=0.01, start=0
        )
    cuts.append(fastcopy(cuts[1], id="with-array", custom={"labels": arr}))
    return CutSet.from_cuts(cuts)


def test_dict_path_writes_what_the_lhotse_path_writes(tmp_path):
    """``diar fbank`` on plain cuts maps manifest dicts with no Lhotse object. The reference is
    Lhotse's own: each input cut loaded by Lhotse, ``resample(8000)``, the features attached
    with ``fastcopy`` and ``to_dict()`` / ``to_file``; the archive is what Lhotse's
    ``LilcomChunkyWriter`` writes for each cut's features."""
    import gzip

    from lhotse.features import Features
    from lhotse.features.io import LilcomChunkyWriter
    from lhotse.utils import compute_num_frames

    from recipes.fileio import save_dicts

    cuts = _varied_cuts(tmp_path)
    dicts = list(cuts.to_dicts())
    del dicts[-2]["recording"]["channel_ids"]  # optional in a manifest (Lhotse fills it on load)
    save_dicts(dicts, tmp_path / "in.jsonl.gz")
    dicts = [json.loads(line) for line in gzip.open(tmp_path / "in.jsonl.gz", "rt")]
    out = compute_fbank(dicts, tmp_path / "f", progress=False)
    save_dicts(out, tmp_path / "out.jsonl.gz")
    loaded = CutSet.from_file(tmp_path / "in.jsonl.gz")
    want_lines = []
    with LilcomChunkyWriter(tmp_path / "ref.lca", mode="w") as w:
        for cut, o in zip(loaded, out):
            key = w.write(cut.id, compute_cut_features(cut, CFG, NumpyFbank(CFG)))
            assert o["features"]["storage_key"] == key
            feats = Features.from_dict(o["features"])
            expected = (compute_num_frames(cut.duration, 0.01, 8000), cut.duration, cut.start)
            assert (feats.num_frames, feats.duration, feats.start) == expected
            ref = fastcopy(cut.resample(8000) if cut.sampling_rate != 8000 else cut, features=feats)
            want_lines.append(json.dumps(ref.to_dict(), ensure_ascii=False))
    assert (tmp_path / "f" / "feats-00000.lca").read_bytes() == (tmp_path / "ref.lca").read_bytes()
    got_lines = gzip.open(tmp_path / "out.jsonl.gz", "rt").read().splitlines()
    assert len(got_lines) == len(cuts)
    for a, b in zip(got_lines, want_lines):
        assert a == b
    # the gzip member as Lhotse's to_file writes it, but for its header's timestamp and file name
    CutSet.from_file(tmp_path / "out.jsonl.gz").to_file(tmp_path / "again.jsonl.gz")
    raw = [(tmp_path / n).read_bytes() for n in ("out.jsonl.gz", "again.jsonl.gz")]
    assert raw[0][:4] == raw[1][:4] and raw[0][8:10] == raw[1][8:10]
    assert gzip.decompress(raw[0]) == gzip.decompress(raw[1])


def test_diar_fbank_on_plain_cuts_imports_neither_lhotse_nor_torch(wav_cuts, tmp_path):
    import subprocess
    import sys

    wav_cuts.to_file(tmp_path / "in.jsonl.gz")
    code = (
        "import sys\nfrom recipes.cli import cli\n"
        "try:\n    cli.main(args=sys.argv[1:], prog_name='diar')\n"
        "except SystemExit as e:\n    assert not e.code, e.code\n"
        "print('imported:', sorted(m for m in ('lhotse', 'torch') if m in sys.modules))\n"
    )
    args = [
        "fbank",
        str(tmp_path / "in.jsonl.gz"),
        str(tmp_path / "out.jsonl.gz"),
        "--storage-path",
        str(tmp_path / "f"),
    ]
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "imported: []" in proc.stdout
    back = CutSet.from_file(tmp_path / "out.jsonl.gz")
    assert [c.id for c in back] == [c.id for c in wav_cuts]
    for cut, src in zip(back, wav_cuts):
        ref = compute_cut_features(src, CFG, NumpyFbank(CFG))
        assert np.abs(cut.load_features() - ref).max() <= 2**-6  # lilcom's step
