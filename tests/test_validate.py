"""diar validate on speech-like audio: each fault is built into the audio or the manifest
by the test, and the expectation comes from how it was built."""

import json
import math

import numpy as np
import pytest
import soundfile
from click.testing import CliRunner
from lhotse import CutSet, MonoCut, MultiCut, Recording, SupervisionSegment
from lhotse.utils import fastcopy

from recipes.cli import cli
from recipes.corpora.demo import SPEAKERS, conversation, voiced_signal
from recipes.validate import _stream_file, validate_cutsets

SR = 16000
DURATION = 60.0
# (noise floor, speech level) in dBFS: quiet and loud corpora
CONDITIONS = [(-90.0, -35.0), (-80.0, -20.0), (-70.0, -30.0), (-60.0, -24.0)]


def speech(rec_id, seed, floor_db, level_db, duration=DURATION, sr=SR):
    """A conversation of voiced turns at several levels (+-6 dB per turn) over white noise at
    ``floor_db`` dBFS (RMS); returns (float audio in [-1, 1], turns)."""
    rng = np.random.default_rng(seed)
    spk = sorted(rng.choice(sorted(SPEAKERS), size=3, replace=False).tolist())
    turns = conversation(rec_id, spk, duration, rng)
    audio = np.zeros(int(round(duration * sr)))
    for t in turns:
        seg = voiced_signal(t.speaker, t.end - t.start, rng, sr) * 10 ** (rng.uniform(-6, 6) / 20)
        a = int(round(t.start * sr))
        audio[a : a + len(seg)] += seg[: len(audio) - a]
    audio *= 10 ** (level_db / 20) / np.sqrt(np.mean(audio[audio != 0] ** 2))
    audio += 10 ** (floor_db / 20) * rng.standard_normal(len(audio))
    return audio, turns


def write(path, audio, sr=SR):
    soundfile.write(path, np.asarray(audio).T if np.ndim(audio) > 1 else audio, sr, subtype="PCM_16")
    return path


def mono_cut(path, rec_id, turns, shift=0.0, recording=None):
    rec = recording or Recording.from_file(path, recording_id=rec_id)
    sups = [
        SupervisionSegment(
            id=f"{rec_id}-{i}",
            recording_id=rec_id,
            start=max(t.start + shift, 0.0),
            duration=t.end - t.start,
            channel=0,
            speaker=t.speaker,
        )
        for i, t in enumerate(turns)
        if t.start + shift < rec.duration
    ]
    sups = [fastcopy(s, duration=min(s.duration, rec.duration - s.start)) for s in sups]
    return MonoCut(
        id=rec_id,
        start=0.0,
        duration=rec.duration,
        channel=0,
        recording=rec,
        supervisions=sups,
        custom={"uem": [[0.0, rec.duration]]},
    )


def run(cuts, name="x"):
    report = validate_cutsets([(name, CutSet.from_cuts(cuts))], num_jobs=1, progress=False)
    return {(e["id"], e["channel"]): e for e in report["recordings"]}, report


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    root = tmp_path_factory.mktemp("clean")
    out = []
    for i, (floor, level) in enumerate(CONDITIONS):
        audio, turns = speech(f"r{i}", i, floor, level)
        out.append((write(root / f"r{i}.wav", audio), f"r{i}", turns, audio))
    return out


def test_clean_recordings_get_no_flag(clean):
    got, report = run([mono_cut(p, r, t) for p, r, t, _ in clean])
    for (rec, _), e in got.items():
        assert e["flags"] == [], (rec, e["reason"])
        assert abs(e["lag_seconds"]) <= 0.05
        assert e["speech_db"] - e["nonspeech_db"] > 10
        assert e["vad_precision"] > 0.9 and e["vad_recall"] > 0.9
    i = {r: k for k, (_, r, _, _) in enumerate(clean)}
    for (rec, _), e in got.items():  # the floor it measured is the noise the test added
        assert e["noise_floor_db"] == pytest.approx(CONDITIONS[i[rec]][0], abs=2.0)
    assert report["summary"]["flagged_recordings"] == 0 and report["summary"]["flags"] == {}


@pytest.mark.parametrize("shift", [0.5, 1.0, 2.0, -1.0])
def test_shifted_turns_are_flagged_with_their_lag(clean, shift):
    got, _ = run([mono_cut(p, r, t, shift=shift) for p, r, t, _ in clean])
    for (rec, _), e in got.items():
        assert "shift" in e["flags"], (rec, e)
        assert e["lag_seconds"] == pytest.approx(shift, abs=0.1)
        assert "speech_not_louder" not in e["flags"]  # once realigned, the annotation fits


def test_rttm_of_another_recording_is_flagged(clean):
    n = len(clean)
    cuts = [mono_cut(clean[k][0], clean[k][1], clean[(k + 1) % n][2]) for k in range(n)]
    got, report = run(cuts)
    for (rec, _), e in got.items():
        assert "speech_not_louder" in e["flags"], (rec, e)
    assert report["summary"]["flagged_recordings"] == n


@pytest.mark.parametrize("dead", ["digital", "noise"])
def test_silent_channel_of_multichannel_recording(tmp_path, dead):
    audio, turns = speech("m", 7, -75.0, -28.0)
    rng = np.random.default_rng(1)
    chans = [audio * g + 10 ** (-75 / 20) * rng.standard_normal(len(audio)) for g in (1.0, 0.7, 0.5, 0.8)]
    chans[2] = np.zeros(len(audio)) if dead == "digital" else 10 ** (-80 / 20) * rng.standard_normal(len(audio))
    path = write(tmp_path / "m.wav", np.stack(chans))
    rec = Recording.from_file(path, recording_id="m")
    sups = [
        SupervisionSegment(
            id=f"m-{i}",
            recording_id="m",
            start=t.start,
            duration=t.end - t.start,
            channel=[0, 1, 2, 3],
            speaker=t.speaker,
        )
        for i, t in enumerate(turns)
    ]
    cut = MultiCut(id="m", start=0.0, duration=rec.duration, channel=[0, 1, 2, 3], recording=rec, supervisions=sups)
    got, _ = run([cut])
    assert sorted(got) == [("m", c) for c in range(4)]
    for c in range(4):
        assert ("dead_channel" in got["m", c]["flags"]) == (c == 2), got["m", c]


def test_manifest_with_wrong_duration_or_rate(clean):
    path, rec_id, turns, _ = clean[0]
    rec = Recording.from_file(path, recording_id=rec_id)
    longer = fastcopy(rec, num_samples=rec.num_samples + SR // 2, duration=rec.duration + 0.5)
    close = fastcopy(rec, num_samples=rec.num_samples + 80, duration=rec.duration + 0.005)  # half a frame: fine
    other_rate = fastcopy(rec, id="rate", sampling_rate=8000, num_samples=rec.num_samples // 2)
    got, _ = run(
        [
            mono_cut(path, "long", turns, recording=fastcopy(longer, id="long")),
            mono_cut(path, "close", turns, recording=fastcopy(close, id="close")),
            mono_cut(path, "rate", turns, recording=other_rate),
        ]
    )
    assert got["long", 0]["flags"] == ["mismatch_duration"]
    assert got["close", 0]["flags"] == []
    assert "mismatch_rate" in got["rate", 0]["flags"]


def test_clipped_file(tmp_path, clean):
    _, rec_id, turns, audio = clean[1]
    loud = np.clip(audio * 10 ** (25 / 20), -1.0, 1.0)  # -20 dBFS speech pushed 25 dB up, clipped
    share = np.mean(np.abs(loud) >= 1.0)
    assert share > 1e-3
    path = write(tmp_path / "clip.wav", loud)
    got, _ = run([mono_cut(path, rec_id, turns)])
    e = got[rec_id, 0]
    assert e["flags"] == ["clipping"]
    assert e["clipped_share"] == pytest.approx(share, rel=0.05)


def test_frame_energies_match_a_direct_computation(tmp_path):
    """Streamed 10 ms energies (blocks of 10 s) against one frame at a time, at a rate whose
    frames are not a whole number of samples (22050 Hz: frame k starts at floor(k * 220.5))."""
    sr = 22050
    rng = np.random.default_rng(3)
    x = (0.2 * rng.standard_normal((int(23.37 * sr), 2))).astype(np.float32)
    x[:sr, 1] = 0.0
    soundfile.write(tmp_path / "a.flac", x, sr)
    y, _ = soundfile.read(tmp_path / "a.flac", dtype="float32", always_2d=True)
    got = _stream_file(str(tmp_path / "a.flac"))
    n = math.ceil(len(y) * 100 / sr)
    bounds = [(k * sr) // 100 for k in range(n)] + [len(y)]
    ref = np.array([[np.mean(y[a:b, c].astype(np.float64) ** 2) for a, b in zip(bounds, bounds[1:])] for c in range(2)])
    assert got["energy"].shape == ref.shape
    np.testing.assert_allclose(got["energy"], ref, rtol=1e-4, atol=1e-12)
    assert got["frames"] == len(y) and got["rate"] == sr
    assert np.all(got["energy"][1, :100] == 0)


def test_cli_json_shape_and_strict(tmp_path, clean):
    path, rec_id, turns, _ = clean[2]
    good = mono_cut(path, rec_id, turns)
    bad = mono_cut(path, "late", turns, shift=1.0, recording=fastcopy(good.recording, id="late"))
    CutSet.from_cuts([good]).to_file(tmp_path / "good_cuts_dev.jsonl.gz")
    CutSet.from_cuts([good, bad]).to_file(tmp_path / "bad_cuts_dev.jsonl.gz")
    runner = CliRunner()
    res = runner.invoke(cli, ["validate", str(tmp_path / "good_cuts_dev.jsonl.gz"), "--strict"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(
        cli,
        [
            "validate",
            str(tmp_path / "bad_cuts_dev.jsonl.gz"),
            "--format",
            "json",
            "--plot",
            str(tmp_path / "v.png"),
            "--num-jobs",
            "2",
        ],
    )
    assert res.exit_code == 0, res.output  # warnings only
    js = json.loads(res.stdout if hasattr(res, "stdout") else res.output)
    assert set(js) >= {"recordings", "summary"}
    for e in js["recordings"]:
        assert {
            "id",
            "channel",
            "flags",
            "lag_seconds",
            "speech_db",
            "nonspeech_db",
            "vad_precision",
            "vad_recall",
        } <= set(e)
    assert [e["id"] for e in js["recordings"] if e["flags"]] == ["late"]
    assert js["summary"]["flags"] == {"shift": 1}
    assert (tmp_path / "v.png").stat().st_size > 0
    res = runner.invoke(cli, ["validate", str(tmp_path / "bad_cuts_dev.jsonl.gz"), "--strict"])
    assert res.exit_code == 1
    assert "late" in res.output and "shift" in res.output  # the ranked list names it and why


def test_unreadable_audio_is_reported_not_raised(tmp_path, clean):
    path, rec_id, turns, _ = clean[0]
    cut = mono_cut(path, rec_id, turns)
    gone = fastcopy(
        cut,
        recording=fastcopy(
            cut.recording, sources=[fastcopy(cut.recording.sources[0], source=str(tmp_path / "no.wav"))]
        ),
    )
    got, _ = run([gone])
    assert got[rec_id, 0]["flags"] == ["unreadable"]
    assert "no.wav" in got[rec_id, 0]["reason"]


def test_simulated_mixtures_are_skipped_unless_asked(clean):
    from lhotse.cut import MixedCut, MixTrack

    (p0, r0, t0, _), (p1, r1, t1, _) = clean[0], clean[2]
    mix = MixedCut(id="mix", tracks=[MixTrack(cut=mono_cut(p0, r0, t0)), MixTrack(cut=mono_cut(p1, r1, t1))])
    late = MixedCut(id="late", tracks=[MixTrack(cut=mono_cut(p0, r0, t0, shift=1.0))])
    report = validate_cutsets([("sim", CutSet.from_cuts([mix, late]))], progress=False)
    assert report["recordings"] == [] and report["summary"]["skipped_cuts"]["mixtures"] == 2
    report = validate_cutsets([("sim", CutSet.from_cuts([mix, late]))], progress=False, mixtures=True)
    got = {e["id"]: e for e in report["recordings"]}
    assert got["mix"]["flags"] == [] and got["mix"]["duration_file"] == pytest.approx(DURATION)
    assert "shift" in got["late"]["flags"] and got["late"]["lag_seconds"] == pytest.approx(1.0, abs=0.1)


def test_digital_silence_dc_offset_and_channel_count(tmp_path, clean):
    _, rec_id, turns, audio = clean[3]
    gapped = audio.copy() + 0.01  # a DC offset of 0.01 full scale
    n = len(gapped)
    gapped[int(0.3 * n) : int(0.45 * n)] = 0.0  # 15 % of the file digitally silent, inside the conversation
    path = write(tmp_path / "gap.wav", gapped)
    got, _ = run([mono_cut(path, rec_id, turns)])
    e = got[rec_id, 0]
    assert "silence" in e["flags"]
    stored, _ = soundfile.read(path, dtype="float64")  # what PCM-16 kept of the offset
    assert e["dc_offset"] == pytest.approx(stored.mean(), abs=1e-7)
    assert e["dc_offset"] == pytest.approx(0.01 * 0.85, rel=0.01)
    assert e["digital_silence_share"] == pytest.approx(0.15, abs=0.01)
    rec = Recording.from_file(path, recording_id="two")
    two = fastcopy(rec, channel_ids=[0, 1], sources=[fastcopy(rec.sources[0], channels=[0, 1])])
    got, report = run([mono_cut(path, "two", turns, recording=two)])
    assert "mismatch_channels" in got["two", 0]["flags"]
    for entry in report["recordings"]:
        assert {"lag_seconds", "speech_db", "vad_precision"} <= set(entry)
