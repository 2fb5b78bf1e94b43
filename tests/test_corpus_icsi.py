"""ICSI recipe (recipes/corpora/icsi.py) on the miniature corpus of tests/fixtures/icsi.py.

Expected turns are worked out by hand from the fixture's word list (see the comments), not
taken from the recipe. Lhotse comparison: ``lhotse.recipes.icsi.prepare_icsi`` parses the same
NXT words (it also needs ``preambles.mrt`` from the MRT transcripts, which the test writes) and
makes one supervision per transcriber segment, from its first to its last timed word; we join
words that touch. So on the same fixture the recordings agree, and per speaker Lhotse covers
our speech plus the pauses inside segments, minus the runs timed only at their edges (Lhotse
needs both times on a word). Only ``ihm-mix`` is compared: Lhotse reads SPHERE files
(``sdm``) only through the sph2pipe binary, which is not installed here.
No ICSI annotations exist under /work/shared/realdata (only the split lists), so the realdata
test checks the split lists and prepares stand-in annotations for all 75 listed meetings.
"""

import shutil
import zipfile
from pathlib import Path

import pytest
import soundfile
from click.testing import CliRunner
from lhotse import CutSet

from recipes.corpora.common import read_id_list
from recipes.corpora.icsi import SPLITS, download_icsi, prepare_icsi, read_words, words_to_turns
from recipes.download import DownloadError, file_digest
from recipes.rttm import AnnotationError
from recipes.stats import cutset_stats, summarize, union_intervals
from tests.fixtures.icsi import AUDIO_ONLY, MEETINGS, NO_AUDIO, build_icsi_fixture, write_preambles

REPO = Path(__file__).resolve().parents[1]

# Bmr021 by hand (max_gap 0): me011 "so we" touch -> 0.5-1.0; "should" after a 0.2 s pause;
# the laugh is not a word; "go"; the edge-timed run "two hour long" 2.4-2.9; "@@" untimed; "okay".
# mn015: "uh" has zero length, so "yeah" and "sure" stay apart; "mm - hmm" touch.
BMR021 = [
    (0.5, 1.0, "me011"),
    (1.0, 1.3, "mn015"),
    (1.2, 1.6, "me011"),
    (1.4, 2.0, "mn015"),
    (1.95, 2.1, "me011"),
    (2.4, 2.9, "me011"),
    (3.0, 3.2, "me011"),
    (3.5, 3.9, "mn015"),
]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return build_icsi_fixture(tmp_path_factory.mktemp("icsi"))


def turns(cut):
    return sorted((round(s.start, 6), round(s.end, 6), s.speaker) for s in cut.supervisions)


@pytest.mark.parametrize("mic", ["ihm-mix", "sdm"])
def test_prepare_recordings_turns_splits(corpus, mic):
    result, report = prepare_icsi(corpus, mic=mic, progress=False)
    with_audio = sorted(m for m in MEETINGS if m not in NO_AUDIO)
    assert sorted(result[""]["recordings"].ids) == with_audio
    assert "untimed words: 1 run(s) between timed neighbours, 0.10 s taken out of the scored region" in report.text()
    assert any(
        n.startswith("Bmr021: 1 run(s) of untimed words; 0.10 s not scored: 2.90-3.00") for n in report.uem_notes
    )
    assert {s: sorted(result[s]["recordings"].ids) for s in ("train", "dev", "test")} == {
        "train": ["Bro003"],
        "dev": ["Bmr021"],
        "test": ["Bmr013"],
    }
    cuts = {c.id: c for c in result[""]["cuts"]}
    for m, cut in cuts.items():
        assert cut.duration == pytest.approx(MEETINGS[m][0])
        # no UEM in ICSI: the whole recording, minus the stretch around untimed words: in Bmr021 'long' (ends
        # 2.90) and 'okay' (starts 3.00) are the timed neighbours of the untimed '@@'
        holes = {"Bmr021": [(2.90, 3.00)]}.get(m, [])
        expected, t = [], 0.0
        for a, b in holes:
            expected.append([t, a])
            t = b
        expected.append([t, MEETINGS[m][0]])
        assert cut.custom["uem"] == [[pytest.approx(a), pytest.approx(b)] for a, b in expected]
        name = "Mix-Headset.wav" if mic == "ihm-mix" else "chan6.sph"
        assert cut.recording.sources[0].source.endswith(f"speech/{m}/{name}")
    assert turns(cuts["Bmr021"]) == sorted(BMR021)
    assert turns(cuts["Bro003"]) == [(0.2, 1.4, "me013"), (1.2, 2.5, "fe008")]
    assert turns(cuts["Bmr013"]) == [(0.1, 1.0, "me013"), (0.8, 2.9, "fe016")]
    assert report.annotations_without_audio == sorted(NO_AUDIO)
    assert report.audio_without_annotations == sorted(AUDIO_ONLY)
    assert any("Bro003.D.words.xml" in n and "no participant" in n for n in report.notes)
    assert any(n.startswith("split test:") and "Bmr018 Bro021" in n for n in report.notes)
    assert "1 run(s) timed only at the edges" in report.annotation_summary


def test_ihm_mix_audio_loads(corpus):
    result, _ = prepare_icsi(corpus, mic="ihm-mix", progress=False)
    cut = result["dev"]["cuts"][0]
    assert cut.load_audio().shape == (1, 4 * 16000)


def test_max_gap_and_vocalsounds_options(corpus):
    result, _ = prepare_icsi(corpus, max_gap=0.25, splits={"dev": ["Bmr021"]}, progress=False)
    # pauses of 0.2 s (me011 1.0-1.2), 0.1 s (me011 2.9-3.0, mn015 1.3-1.4) are bridged; 0.35 s and 0.3 s are not
    assert turns(result["dev"]["cuts"][0]) == sorted(
        [(0.5, 1.6, "me011"), (1.95, 2.1, "me011"), (2.4, 3.2, "me011"), (1.0, 2.0, "mn015"), (3.5, 3.9, "mn015")]
    )
    result, _ = prepare_icsi(corpus, vocalsounds=True, splits={"dev": ["Bmr021"]}, progress=False)
    # the laugh 1.6-1.9 touches "should" (1.2-1.6)
    got = turns(result["dev"]["cuts"][0])
    assert (1.2, 1.9, "me011") in got and (1.2, 1.6, "me011") not in got
    assert words_to_turns([(0.0, 1.0), (0.5, 2.0), (2.0, 3.0), (3.1, 4.0)]) == [(0.0, 3.0), (3.1, 4.0)]
    words = read_words(corpus / "ICSI" / "Words" / "Bmr021.A.words.xml")
    assert words == [(0.5, 0.8), (0.8, 1.0), (1.2, 1.6), (1.95, 2.1), (2.4, 2.9), (3.0, 3.2)]


def test_duration_from_annotations(tmp_path, corpus):
    root = tmp_path / "c"
    shutil.copytree(corpus / "ICSI", root / "ICSI")
    for m in ("Bmr021", "Bro003"):
        (root / "speech" / m).mkdir(parents=True)
        soundfile.write(root / "speech" / m / "Mix-Headset.wav", [0.0] * 1600, 16000)  # 0.1 s
    result, report = prepare_icsi(root, duration_from_annotations=True, progress=False)
    assert {r.id: r.duration for r in result[""]["recordings"]} == {"Bmr021": 3.9, "Bro003": 2.5}  # last turn end
    assert not report.clipped


def test_malformed_words_named_with_file_and_line(tmp_path, corpus):
    root = tmp_path / "c"
    shutil.copytree(corpus, root)
    path = root / "ICSI" / "Words" / "Bmr013.B.words.xml"
    text = path.read_bytes().decode("latin-1")
    lines = text.splitlines(keepends=True)
    lineno = next(i for i, line in enumerate(lines, 1) if 'starttime="1.50"' in line)
    lines[lineno - 1] = lines[lineno - 1].replace('starttime="1.50"', 'starttime="1.5O"')
    path.write_bytes("".join(lines).encode("latin-1"))
    with pytest.raises(AnnotationError, match=rf"Bmr013\.B\.words\.xml:{lineno}: <w> starttime='1\.5O'"):
        prepare_icsi(root, progress=False)
    path.write_bytes(text.replace("</nite:root>", "</nite:rot>").encode("latin-1"))
    with pytest.raises(AnnotationError, match=r"Bmr013\.B\.words\.xml:\d+: not well-formed XML"):
        prepare_icsi(root, progress=False)
    # a word ending before it starts: reported by file and line, left out
    path.write_bytes(
        text.replace('starttime="1.50" endtime="2.90"', 'starttime="1.50" endtime="1.40"').encode("latin-1")
    )
    result, report = prepare_icsi(root, progress=False)
    assert any("Bmr013.B.words.xml:" in n and "ends before it starts" in n for n in report.notes)
    assert turns(result["test"]["cuts"][0]) == [(0.1, 1.0, "me013"), (0.8, 1.5, "fe016")]


def test_lhotse_comparison(tmp_path, corpus):
    from lhotse.recipes.icsi import prepare_icsi as lhotse_prepare_icsi

    transcripts = tmp_path / "transcripts"
    shutil.copytree(corpus / "ICSI", transcripts)
    write_preambles(transcripts)
    theirs = lhotse_prepare_icsi(corpus / "speech", transcripts_dir=transcripts, mic="ihm-mix")
    ours, _ = prepare_icsi(corpus, mic="ihm-mix", progress=False)
    # Lhotse - ours per (meeting, speaker), by hand: me011 in Bmr021 gains the pauses inside its first
    # segment (0.2 + 0.35 s) and loses the edge-timed run 2.4-2.9 (0.5 s); mn015 gains 0.1 s.
    extra = {("Bmr021", "me011"): 0.55 - 0.5, ("Bmr021", "mn015"): 0.1}
    for split in ("train", "dev", "test"):
        assert {r.id: r.duration for r in ours[split]["recordings"]} == pytest.approx(
            {r.id: r.duration for r in theirs[split]["recordings"]}
        )
        keys = {(s.recording_id, s.speaker) for s in ours[split]["supervisions"]}
        assert keys == {(s.recording_id, s.speaker) for s in theirs[split]["supervisions"]}
        for rec, spk in keys:

            def cover(sups):
                ivs = union_intervals((s.start, s.end) for s in sups if s.recording_id == rec and s.speaker == spk)
                return sum(e - s for s, e in ivs)

            assert cover(theirs[split]["supervisions"]) - cover(ours[split]["supervisions"]) == pytest.approx(
                extra.get((rec, spk), 0.0), abs=1e-6
            ), (rec, spk)


def _server_tree(tmp_path, corpus):
    srv = tmp_path / "srv"
    (srv / "ICSICorpusAnnotations").mkdir(parents=True)
    with zipfile.ZipFile(srv / "ICSICorpusAnnotations" / "ICSI_core_NXT.zip", "w") as z:
        for p in sorted((corpus / "ICSI").rglob("*")):
            z.write(p, p.relative_to(corpus).as_posix())
    for m in [m for m in MEETINGS if m not in NO_AUDIO]:
        (srv / "ICSIsignals" / "NXT").mkdir(parents=True, exist_ok=True)
        shutil.copy(corpus / "speech" / m / "Mix-Headset.wav", srv / "ICSIsignals" / "NXT" / f"{m}.interaction.wav")
        (srv / "ICSIsignals" / "SPH" / m).mkdir(parents=True)
        shutil.copy(corpus / "speech" / m / "chan6.sph", srv / "ICSIsignals" / "SPH" / m / "chan6.sph")
    return srv


def test_download_resume_checksum(tmp_path, corpus, http_server):
    srv = _server_tree(tmp_path, corpus)
    url, log = http_server(srv)
    target = tmp_path / "dl"
    whole = (srv / "ICSIsignals" / "NXT" / "Bmr021.interaction.wav").read_bytes()
    part = target / "speech" / "Bmr021" / "Mix-Headset.wav.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(whole[:2000])
    digest = file_digest(srv / "ICSICorpusAnnotations" / "ICSI_core_NXT.zip")
    download_icsi(
        target,
        mic="ihm-mix",
        meetings=["Bmr021", "Bro003", "Bmr013", "Bns001"],
        base_url=url,
        sha256={"ICSI_core_NXT.zip": digest},
        progress=False,
    )
    assert (target / "speech" / "Bmr021" / "Mix-Headset.wav").read_bytes() == whole
    assert ("/ICSIsignals/NXT/Bmr021.interaction.wav", "bytes=2000-") in log
    assert not list(target.rglob("*.part"))
    assert not (target / "speech" / "Bns001" / "Mix-Headset.wav").exists()  # 404: skipped, reported by prepare
    result, report = prepare_icsi(target, progress=False)
    assert sorted(result[""]["recordings"].ids) == ["Bmr013", "Bmr021", "Bro003"]
    assert report.annotations_without_audio == ["Bns001"]
    with pytest.raises(DownloadError, match="sha256 mismatch"):
        download_icsi(
            tmp_path / "dl2", meetings=["Bmr021"], base_url=url, sha256={"ICSI_core_NXT.zip": "0" * 64}, progress=False
        )
    assert not (tmp_path / "dl2" / "ICSI_core_NXT.zip").exists()
    assert not (tmp_path / "dl2" / "ICSI_core_NXT.zip.part").exists()


def test_cli_download_link_and_prepare(tmp_path, corpus):
    from recipes.cli import cli

    runner = CliRunner()
    res = runner.invoke(cli, ["download", "icsi", str(tmp_path / "link"), "--corpus-dir", str(corpus)])
    assert res.exit_code == 0, res.output
    out = tmp_path / "m"
    res = runner.invoke(cli, ["prepare", "icsi", str(tmp_path / "link"), str(out), "--mic", "sdm", "--max-gap", "0.25"])
    assert res.exit_code == 0, res.output
    for split in ("train", "dev", "test"):
        for kind in ("recordings", "supervisions", "cuts"):
            assert (out / f"icsi-sdm_{kind}_{split}.jsonl.gz").is_file()
        assert (out / f"icsi-sdm_{split}.uem").is_file()
    dev = CutSet.from_file(out / "icsi-sdm_cuts_dev.jsonl.gz")
    assert len(dev[0].supervisions) == 5
    assert "Bns001" in (out / "icsi-sdm_prepare_report.txt").read_text()
    res = runner.invoke(cli, ["prepare", "icsi", str(corpus), str(out), "--max-gap", "-1"])
    assert res.exit_code != 0
    res = runner.invoke(cli, ["prepare", "icsi", "--help"])
    assert "Seconds" in res.output and "--duration-from-annotations" in res.output


@pytest.mark.realdata
def test_realdata_split_lists(tmp_path, realdata):
    lists = {
        name: read_id_list(realdata / "icsi" / f"split_{orig}.orig")
        for name, orig in (("train", "train"), ("dev", "dev"), ("test", "eval"))
    }
    assert {k: len(v) for k, v in lists.items()} == {"train": 70, "dev": 2, "test": 3}
    assert {k: sorted(v) for k, v in lists.items()} == {k: sorted(v) for k, v in SPLITS.items()}
    # stand-in NXT words + 0.1 s audio for every listed meeting: all 75 are prepared into their splits
    head = '<?xml version="1.0" encoding="ISO-8859-1"?>\n<nite:root xmlns:nite="http://nite.sourceforge.net/">\n'
    for d in ("Words", "Segments"):
        (tmp_path / "ICSI" / d).mkdir(parents=True)
    for m in sum(lists.values(), []):
        (tmp_path / "ICSI" / "Words" / f"{m}.A.words.xml").write_text(
            head + '<w c="W" starttime="1.0" endtime="2.0">a</w><w c="W" starttime="2.5" endtime="3.0">b</w>\n'
            "</nite:root>\n"
        )
        (tmp_path / "ICSI" / "Segments" / f"{m}.A.segs.xml").write_text(
            head + '<segment starttime="1.0" endtime="3.0" participant="me013"/>\n</nite:root>\n'
        )
        (tmp_path / "speech" / m).mkdir(parents=True)
        soundfile.write(tmp_path / "speech" / m / "Mix-Headset.wav", [0.0] * 1600, 16000)
    result, report = prepare_icsi(tmp_path, duration_from_annotations=True, progress=False)
    assert len(result[""]["cuts"]) == 75 and not report.unlisted
    assert {s: len(result[s]["cuts"]) for s in ("train", "dev", "test")} == {"train": 70, "dev": 2, "test": 3}
    stats = summarize(cutset_stats(result["test"]["cuts"]))
    assert stats["speech_hours"] * 3600 == pytest.approx(3 * 1.5)  # 1.0 + 0.5 s per meeting


def test_untimed_words_are_uem_holes_counted_in_the_report(tmp_path):
    """About 5 % of ICSI words are untimed (digit reading): not silence, not scored."""
    from recipes.corpora.icsi import read_words

    path = tmp_path / "X.A.words.xml"
    path.write_text("""<?xml version="1.0" encoding="ISO-8859-1"?>
<nite:root nite:id="X.A.words" xmlns:nite="http://nite.sourceforge.net/">
<w nite:id="X.w.1" starttime="1.00" endtime="1.50">zero</w>
<w nite:id="X.w.2">one</w>
<w nite:id="X.w.3">two</w>
<w nite:id="X.w.4" starttime="4.00" endtime="4.30">three</w>
<w nite:id="X.w.5">four</w>
</nite:root>
""")
    holes = []
    assert read_words(path, holes=holes) == [(1.0, 1.5), (4.0, 4.3)]
    assert holes == [(1.5, 4.0), (4.3, float("inf"))]  # to the end of the recording
