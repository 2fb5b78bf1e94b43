"""AMI recipe (recipes/corpora/ami.py) on the miniature corpus of tests/fixtures/ami.py.

Expectations come from the fixture's spec (``MEETINGS``: the turns written into the RTTMs),
not from the recipe. Lhotse comparison: ``lhotse.recipes.ami.prepare_ami`` reads the AMI NXT
annotations (``ami_public_manual_1.6.2``), not the BUT RTTMs; ``write_ami_nxt`` writes a
minimal NXT tree whose segments are the same turns (clipped to the audio), and we compare
recordings (ids, durations) and the speech covered per speaker. The realdata test prepares
the real BUT lists/UEMs/RTTMs with 0.1 s stand-in audio.
"""

import shutil
from pathlib import Path

import pytest
import soundfile
from click.testing import CliRunner

from recipes.corpora.ami import download_ami, prepare_ami
from recipes.download import DownloadError, file_digest
from recipes.rttm import AnnotationError
from recipes.stats import cutset_stats, summarize, union_intervals
from tests.fixtures.ami import AUDIO_ONLY, HEADSET_ONLY, MEETINGS, NO_AUDIO, build_ami_fixture, turns_of, write_ami_nxt

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return build_ami_fixture(tmp_path_factory.mktemp("ami"))


def expected_turns(meeting, annotations="only_words"):
    _, seconds, _ = MEETINGS[meeting]
    return sorted(
        (round(s, 6), round(min(e, seconds), 6), spk) for s, e, spk in turns_of(meeting, annotations) if s < seconds
    )


def sup_turns(cut):
    return sorted((round(s.start, 6), round(s.end, 6), s.speaker) for s in cut.supervisions)


@pytest.mark.parametrize("mic", ["sdm", "ihm-mix"])
def test_prepare_recordings_turns_uem_splits(corpus, mic):
    result, report = prepare_ami(corpus, mic=mic, progress=False)
    # IS1003b has headset audio only in the release: not in sdm/mdm (train has 134 meetings there)
    absent = NO_AUDIO | (HEADSET_ONLY if mic != "ihm-mix" else set())
    with_audio = sorted(m for m in MEETINGS if m not in absent)
    assert sorted(r.id for r in result[""]["recordings"]) == with_audio
    for split in ("train", "dev", "test"):
        assert sorted(c.id for c in result[split]["cuts"]) == sorted(
            m for m, (s, _, _) in MEETINGS.items() if s == split and m not in absent
        )
    stream = "Mix-Headset" if mic == "ihm-mix" else "Array1-01"
    for cut in result[""]["cuts"]:
        seconds = MEETINGS[cut.id][1]
        assert cut.duration == pytest.approx(seconds)
        assert cut.recording.sources[0].source.endswith(f"{cut.id}/audio/{cut.id}.{stream}.wav")
        assert sup_turns(cut) == expected_turns(cut.id)
        assert cut.custom["uem"] == [[0.0, pytest.approx(seconds)]]
        # speaker ids are AMI's global ids, as written
        assert {s.speaker for s in cut.supervisions} == {t[2] for t in turns_of(cut.id)}
    assert result["dev"]["uem"] == {"ES2011a": [(0.0, 3.5)]}
    if mic == "ihm-mix":
        assert report.annotations_without_audio == ["EN2002a"]
    else:
        assert report.annotations_without_audio == ["EN2002a", "IS1003b"]
        assert any("the AMI release has no array audio for IS1003b" in n for n in report.notes)
    assert report.audio_without_annotations == sorted(AUDIO_ONLY)
    assert len(report.clipped) == 2 and all(c.startswith("TS3007c") for c in report.clipped)


def test_mdm_is_one_eight_channel_recording(corpus):
    result, _ = prepare_ami(corpus, mic="mdm", splits=["dev"], progress=False)
    (cut,) = result["dev"]["cuts"]
    assert type(cut).__name__ == "MultiCut" and cut.channel == list(range(8))
    assert [Path(s.source).name for s in cut.recording.sources] == [f"ES2011a.Array1-0{i}.wav" for i in range(1, 9)]
    assert [s.channels for s in cut.recording.sources] == [[i] for i in range(8)]
    assert cut.load_audio().shape == (8, int(3.5 * 16000))
    assert all(s.channel == list(range(8)) for s in cut.supervisions)


def test_word_and_vocalsounds_flavour(corpus):
    result, _ = prepare_ami(corpus, annotations="word_and_vocalsounds", splits=["test"], progress=False)
    (cut,) = result["test"]["cuts"]
    assert sup_turns(cut) == expected_turns("ES2004a", "word_and_vocalsounds")
    assert len(cut.supervisions) == len(MEETINGS["ES2004a"][2]) + 1


def test_duration_from_annotations_with_stand_in_audio(tmp_path, corpus):
    root = tmp_path / "c"
    shutil.copytree(corpus / "AMI-diarization-setup", root / "AMI-diarization-setup")
    for m in ("ES2011a", "ES2004a"):
        p = root / "amicorpus" / m / "audio" / f"{m}.Array1-01.wav"
        p.parent.mkdir(parents=True)
        soundfile.write(p, [0.0] * 8000, 16000)  # 0.5 s
    result, report = prepare_ami(root, splits=["dev", "test"], duration_from_annotations=True, progress=False)
    durations = {r.id: r.duration for r in result[""]["recordings"]}
    assert durations == {"ES2011a": 3.5, "ES2004a": 3.0}  # the UEM ends, not 0.1 s
    result, _ = prepare_ami(root, splits=["dev"], progress=False)
    assert result[""]["recordings"]["ES2011a"].duration == pytest.approx(0.5)
    assert sup_turns(result["dev"]["cuts"][0]) == [(0.27, 0.5, "FEE041")]  # clipped to the audio


def test_bad_rttm_names_file_and_line(tmp_path, corpus):
    root = tmp_path / "c"
    shutil.copytree(corpus, root, symlinks=True)
    bad = root / "AMI-diarization-setup" / "only_words" / "rttms" / "dev" / "ES2011a.rttm"
    lines = bad.read_text().splitlines()
    lines[1] = lines[1].replace(" 1.5 ", " 1.x5 ")
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(AnnotationError, match=r"ES2011a\.rttm:2: "):
        prepare_ami(root, progress=False)


def test_lhotse_comparison(tmp_path, corpus):
    """Same recordings and durations as Lhotse; same speech per speaker (turns clipped to the audio)."""
    from lhotse.recipes.ami import prepare_ami as lhotse_prepare_ami

    durations = {m: sec for m, (_, sec, _) in MEETINGS.items() if m not in NO_AUDIO}
    ann = write_ami_nxt(tmp_path, durations)
    theirs = lhotse_prepare_ami(corpus / "amicorpus", annotations_dir=ann, mic="sdm", partition="full-corpus-asr")
    ours, _ = prepare_ami(corpus, mic="sdm", progress=False)
    for split in ("train", "dev", "test"):
        t_recs = {r.id: r.duration for r in theirs[split]["recordings"]}
        o_recs = {r.id: r.duration for r in ours[split]["recordings"]}
        assert o_recs == pytest.approx(t_recs)
        for rec in o_recs:
            speakers = {s.speaker for s in ours[split]["supervisions"] if s.recording_id == rec}
            for spk in speakers:

                def cover(sups):
                    return union_intervals((s.start, s.end) for s in sups if s.recording_id == rec and s.speaker == spk)

                o, t = cover(ours[split]["supervisions"]), cover(theirs[split]["supervisions"])
                assert sum(e - s for s, e in o) == pytest.approx(sum(e - s for s, e in t), abs=1e-3), (rec, spk)


def _serve_tree(tmp_path, corpus):
    srv = tmp_path / "srv"
    shutil.copytree(corpus / "AMI-diarization-setup", srv / "setup")
    shutil.copytree(corpus / "amicorpus", srv / "audio")
    return srv


def test_download_resume_checksum(tmp_path, corpus, http_server):
    srv = _serve_tree(tmp_path, corpus)
    url, log = http_server(srv)
    target = tmp_path / "dl"
    rel = "amicorpus/ES2011a/audio/ES2011a.Array1-01.wav"
    whole = (srv / "audio" / "ES2011a/audio/ES2011a.Array1-01.wav").read_bytes()
    part = target / (rel + ".part")
    part.parent.mkdir(parents=True)
    part.write_bytes(whole[:1000])  # an interrupted earlier run
    digest = file_digest(srv / "audio" / "ES2011a/audio/ES2011a.Array1-01.wav")
    download_ami(
        target,
        mic="sdm",
        splits=["dev", "test"],
        setup_base_url=f"{url}/setup",
        base_url=f"{url}/audio",
        sha256={rel: digest},
        progress=False,
    )
    assert (target / rel).read_bytes() == whole and not part.exists()
    assert (f"/audio/{rel.split('/', 1)[1]}", "bytes=1000-") in log
    assert not list(target.rglob("*.part"))
    # EN2002a has no audio on the server: logged, and prepare reports it
    assert not list((target / "amicorpus").glob("EN2002a/audio/*"))
    result, report = prepare_ami(target, splits=["dev", "test"], progress=False)
    assert sorted(result[""]["recordings"].ids) == ["ES2004a", "ES2011a"] and report.annotations_without_audio == [
        "EN2002a"
    ]
    # a wrong checksum: error, and nothing under the final name
    rel2 = "amicorpus/ES2004a/audio/ES2004a.Array1-01.wav"
    (target / rel2).unlink()
    with pytest.raises(DownloadError, match="sha256 mismatch"):
        download_ami(
            target,
            mic="sdm",
            splits=["test"],
            setup_base_url=f"{url}/setup",
            base_url=f"{url}/audio",
            sha256={rel2: "0" * 64},
            progress=False,
        )
    assert not (target / rel2).exists() and not (target / (rel2 + ".part")).exists()


def test_cli_download_link_and_prepare(tmp_path, corpus, http_server):
    from recipes.cli import cli

    runner = CliRunner()
    url, _ = http_server(_serve_tree(tmp_path, corpus))
    res = runner.invoke(
        cli,
        [
            "download",
            "ami",
            str(tmp_path / "dl"),
            "--mic",
            "ihm-mix",
            "--meeting",
            "ES2011a",
            "--setup-base-url",
            f"{url}/setup",
            "--base-url",
            f"{url}/audio",
        ],
    )
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in (tmp_path / "dl" / "amicorpus").rglob("*.wav")) == ["ES2011a.Mix-Headset.wav"]
    assert (tmp_path / "dl" / "AMI-diarization-setup" / "only_words" / "rttms" / "dev" / "ES2011a.rttm").is_file()
    res = runner.invoke(cli, ["download", "ami", str(tmp_path / "link"), "--corpus-dir", str(corpus)])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "link").resolve() == corpus.resolve()
    out = tmp_path / "manifests"
    res = runner.invoke(cli, ["prepare", "ami", str(tmp_path / "link"), str(out), "--mic", "ihm-mix"])
    assert res.exit_code == 0, res.output
    for split in ("train", "dev", "test"):
        for kind in ("recordings", "supervisions", "cuts"):
            assert (out / f"ami-ihm-mix_{kind}_{split}.jsonl.gz").is_file()
        assert (out / f"ami-ihm-mix_{split}.uem").is_file()
    assert "EN2002a" in (out / "ami-ihm-mix_prepare_report.txt").read_text()
    res = runner.invoke(cli, ["prepare", "ami", str(corpus), str(out), "--mic", "bogus"])
    assert res.exit_code != 0 and "bogus" in res.output
    res = runner.invoke(cli, ["prepare", "ami", "--help"])
    assert "--duration-from-annotations" in res.output and "seconds" in res.output


@pytest.mark.realdata
def test_realdata_split_sizes_and_missed_at_oracle_sad(tmp_path, realdata):
    setup = realdata / "ami"
    for split in ("train", "dev", "test"):
        for m in (setup / "lists" / f"{split}.meetings.txt").read_text().split():
            p = tmp_path / "amicorpus" / m / "audio" / f"{m}.Array1-01.wav"
            p.parent.mkdir(parents=True)
            soundfile.write(p, [0.0] * 1600, 16000)  # 0.1 s stand-in
    result, report = prepare_ami(tmp_path, setup_dir=setup, duration_from_annotations=True, progress=False)
    assert {s: len(result[s]["cuts"]) for s in ("train", "dev", "test")} == {"train": 136, "dev": 18, "test": 16}
    assert not report.annotations_without_audio and not report.audio_without_annotations
    # TS3007c: turns past the UEM end 2420.0 s are clipped and reported
    assert report.clipped and all(c.startswith("TS3007c") for c in report.clipped)
    assert result["train"]["recordings"]["TS3007c"].duration == 2420.0
    dev = summarize(cutset_stats(result["dev"]["cuts"]))
    test = summarize(cutset_stats(result["test"]["cuts"]))
    assert round(100 * dev["missed_at_oracle_sad"], 2) == 13.45
    assert round(100 * test["missed_at_oracle_sad"], 2) == 14.55
    assert dev["duration_hours"] == pytest.approx(9.67, abs=0.005)
    assert test["duration_hours"] == pytest.approx(9.06, abs=0.005)


def test_lhotse_wav_db_layout(tmp_path):
    """lhotse.recipes.ami.download_ami writes wav_db/<meeting>/audio/: the same manifests come out."""
    official = prepare_ami(build_ami_fixture(tmp_path / "a"), mic="sdm", progress=False)[0]
    lhotse_dl = build_ami_fixture(tmp_path / "b", audio_dir="wav_db")
    assert not (lhotse_dl / "amicorpus").exists()
    ours = prepare_ami(lhotse_dl, mic="sdm", progress=False)[0]
    for split in ("train", "dev", "test"):
        assert [c.id for c in ours[split]["cuts"]] == [c.id for c in official[split]["cuts"]]
    src = ours["dev"]["cuts"][0].recording.sources[0].source
    assert "/wav_db/ES2011a/audio/ES2011a.Array1-01.wav" in src
