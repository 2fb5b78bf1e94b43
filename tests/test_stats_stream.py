"""recipes.stats_stream (plain-JSON, one-pass describe) against recipes.stats on Lhotse objects:
the same per-recording statistics and the same report, on simulated mixtures (noise tracks, a
muted track, padding, uneven offsets, turns beyond the end) and on recording cuts (UEM, other
channels of a span, target-speaker copies, windows)."""

import json

import numpy as np
import pytest
from click.testing import CliRunner
from lhotse import AudioSource, CutSet, Recording, SupervisionSegment
from lhotse.cut import MixedCut, MixTrack, MonoCut, PaddingCut

from recipes.cli import cli
from recipes.simulation import Simulator, load_config, load_sources, simulate
from recipes.stats import build_report, cutset_stats, format_report
from recipes.stats_stream import cutset_stats_from_file, gzip_members, round8
from tests.fixtures.sources import manifest_sources


def _plain(rs):
    d = dict(rs.__dict__)
    d["events"] = {k: list(v) for k, v in rs.events.items()}
    return d


def assert_same(expected, got):
    assert len(expected) == len(got)
    for a, b in zip(expected, got):
        assert _plain(a) == _plain(b)  # exact: same floats, same order
    named_a, named_b = [("x", expected)], [("x", got)]
    assert build_report(named_a) == build_report(named_b)
    assert format_report(build_report(named_a), "text") == format_report(build_report(named_b), "text")


def mono(cid, dur, turns, rec=None, start=0.0, custom=None, channel=0):
    rec_id = rec or cid
    recording = Recording(
        id=rec_id,
        sources=[AudioSource(type="file", channels=[0, 1], source=f"{rec_id}.wav")],
        sampling_rate=16000,
        num_samples=int((start + dur + 5) * 16000),
        duration=start + dur + 5,
        channel_ids=[0, 1],
    )
    sups = [
        SupervisionSegment(id=f"{cid}-{i}", recording_id=rec_id, start=s, duration=d, speaker=spk, channel=channel)
        for i, (s, d, spk) in enumerate(turns)
    ]
    return MonoCut(
        id=cid, start=start, duration=dur, channel=channel, supervisions=sups, recording=recording, custom=custom
    )


def random_turns(rng, dur, speakers):
    out = []
    for spk in speakers:
        t = float(rng.uniform(-1, 2))
        while t < dur:
            d = float(rng.uniform(0.2, 4))
            out.append((round(t, 4), round(d, 4), spk))
            t += d + float(rng.uniform(-0.5, 3))
    return out


def test_simulated_mixtures_equal_lhotse(tmp_path):
    src = tmp_path / "src.jsonl.gz"
    manifest_sources(num_speakers=12, per_speaker=10, seed=1).to_file(src)
    cfg = load_config(None, speakers={2: 0.5, 3: 0.5}, shard_size=50)
    out = tmp_path / "mix.jsonl.gz"
    simulate(
        Simulator(load_sources(src, supervision=cfg.supervision), cfg, seed=3, prefix="m"), 40, out, progress=False
    )
    # hand-made mixtures: a noise track (no supervisions), a muted track, padding, turns past the end
    rng = np.random.default_rng(0)
    extra = []
    for i in range(6):
        a = mono(f"a{i}", 7.3, random_turns(rng, 7.3, ["s1"]), start=0.4)
        b = mono(f"b{i}", 5.1, random_turns(rng, 8.0, ["s2", "s3"]))
        noise = mono(f"n{i}", 12.0, [])
        tracks = [
            MixTrack(cut=a),
            MixTrack(cut=b, offset=round(float(rng.uniform(0, 6)), 3)),
            MixTrack(cut=noise, type="MonoCut", snr=5.0),
            MixTrack(
                cut=PaddingCut(id=f"p{i}", duration=2.5, sampling_rate=16000, feat_value=-20, num_samples=40000),
                offset=11.0,
            ),
        ]
        if i % 2:
            tracks.append(MixTrack(cut=mono(f"mute{i}", 20.0, [(0.0, 20.0, "ghost")]), mute=True))
        extra.append(MixedCut(id=f"hand-{i}", tracks=tracks))
    cuts = CutSet.from_cuts(list(CutSet.from_jsonl_lazy(out)) + extra)
    cuts.to_file(tmp_path / "all.jsonl.gz")
    expected = cutset_stats(CutSet.from_jsonl_lazy(tmp_path / "all.jsonl.gz"))
    assert any(r.sim for r in expected)  # the simulator's metadata is read
    got = cutset_stats_from_file(tmp_path / "all.jsonl.gz", progress=False)
    assert_same(expected, got)
    assert_same(expected, cutset_stats_from_file(tmp_path / "all.jsonl.gz", progress=False, num_jobs=2))
    uem = {"hand-1": [(1.0, 4.0), (6.0, 30.0)], "m-00000003": [(0.5, 3.0)]}
    assert_same(
        cutset_stats(CutSet.from_jsonl_lazy(tmp_path / "all.jsonl.gz"), uem=uem),
        cutset_stats_from_file(tmp_path / "all.jsonl.gz", uem=uem, progress=False),
    )


def test_workers_read_the_shards_of_a_simulated_manifest(tmp_path):
    """``diar simulate`` writes X.jsonl.gz as its shards' gzip bytes: with 2 jobs each worker
    decompresses its own shards, and the statistics are the Lhotse path's, in order."""
    src = tmp_path / "src.jsonl.gz"
    manifest_sources(num_speakers=8, per_speaker=6, seed=2).to_file(src)
    cfg = load_config(None, shard_size=7)
    out = tmp_path / "mix.jsonl.gz"
    simulate(
        Simulator(load_sources(src, supervision=cfg.supervision), cfg, seed=1, prefix="m"), 30, out, progress=False
    )
    members = gzip_members(out)
    assert members is not None and len(members) == 5  # 30 mixtures, 7 per shard
    expected = cutset_stats(CutSet.from_jsonl_lazy(out))
    assert_same(expected, cutset_stats_from_file(out, progress=False, num_jobs=2))
    assert_same(expected, cutset_stats_from_file(out, progress=False))  # all members, read here
    cut_short = tmp_path / "cut_short.jsonl.gz"
    cut_short.write_bytes(out.read_bytes()[:-100])
    with pytest.raises(EOFError):
        cutset_stats_from_file(cut_short, progress=False)
    # a listing that does not add up to the file: lines read here, the same result
    listing = tmp_path / "mix.shards.txt"
    listing.write_text("\n".join(listing.read_text().split()[:-1]) + "\n")
    assert gzip_members(out) is None
    assert_same(expected, cutset_stats_from_file(out, progress=False, num_jobs=2))


def test_recording_cuts_equal_lhotse(tmp_path):
    rng = np.random.default_rng(5)
    turns = random_turns(rng, 60.0, ["a", "b", "c"])
    whole = mono("rec1", 60.0, turns, custom={"uem": [(2.0, 50.0)]})
    cuts = [whole, mono("rec1-ch1", 60.0, turns, rec="rec1", channel=1)]  # another channel of the same span
    cuts += [w.with_id(f"rec1-w{i}") for i, w in enumerate(whole.cut_into_windows(17.0))]
    for spk in "ab":  # target-speaker copies count once
        cuts.append(
            mono(f"rec2#{spk}", 30.0, random_turns(rng, 30.0, "ab"), rec="rec2", custom={"target_speaker": spk})
        )
    CutSet.from_cuts(cuts).to_file(tmp_path / "c.jsonl.gz")
    expected = cutset_stats(CutSet.from_jsonl_lazy(tmp_path / "c.jsonl.gz"))
    assert len(expected) < len(cuts)
    assert_same(expected, cutset_stats_from_file(tmp_path / "c.jsonl.gz", progress=False))


def test_describe_cli_streams_and_names_bad_lines(tmp_path):
    rng = np.random.default_rng(2)
    cuts = CutSet.from_cuts([mono(f"r{i}", 20.0, random_turns(rng, 20.0, "xy")) for i in range(3)])
    cuts.to_file(tmp_path / "d_cuts_dev.jsonl.gz")
    res = CliRunner().invoke(cli, ["describe", str(tmp_path / "d_cuts_dev.jsonl.gz"), "--format", "json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["total"] == build_report([("d/dev", cutset_stats(cuts))])["total"]
    lines = tmp_path / "d_cuts_dev.jsonl.gz"
    import gzip

    text = gzip.decompress(lines.read_bytes()).decode().splitlines()
    (tmp_path / "bad_cuts_dev.jsonl").write_text("\n".join(text[:2] + ["{not json"] + text[2:]) + "\n")
    res = CliRunner().invoke(cli, ["describe", str(tmp_path / "bad_cuts_dev.jsonl")])
    assert res.exit_code != 0
    assert "bad_cuts_dev.jsonl:3" in res.output


def test_output_to_a_fifo_or_device_is_written_in_place_not_replaced(tmp_path):
    # `diar describe -o /dev/null` once replaced /dev/null with a regular file (rename over it)
    import os
    import stat
    import threading

    rng = np.random.default_rng(3)
    CutSet.from_cuts([mono("r0", 20.0, random_turns(rng, 20.0, "xy"))]).to_file(tmp_path / "f_cuts_dev.jsonl.gz")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text()))
    reader.start()
    res = CliRunner().invoke(
        cli, ["describe", str(tmp_path / "f_cuts_dev.jsonl.gz"), "--format", "json", "-o", str(fifo)]
    )
    reader.join(timeout=30)
    assert res.exit_code == 0, res.output
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert json.loads(got[0])["total"]["recordings"] == 1


def test_round8_is_pythons_round():
    rng = np.random.default_rng(5)
    offsets = np.round(rng.uniform(0, 5000, 20000), 3)
    x = np.concatenate(
        [
            offsets + np.round(rng.uniform(0, 30, 20000), 7),  # an offset plus a duration
            (np.arange(1, 20000) + 0.5) / 1e8 + 123.0,  # near halves of the 8th digit
            [0.0, -0.0, 1e-9, 5e-9, -5e-9, 2.5e-8, 1e9 + 0.123456785, 3e7],
        ]
    )
    assert round8(x).tolist() == [round(v, 8) for v in x.tolist()]
