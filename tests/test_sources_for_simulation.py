"""TED-LIUM and VoxCeleb cuts plug into `diar simulate` as single-speaker sources."""

import numpy as np
import pytest
from click.testing import CliRunner
from lhotse.serialization import load_manifest_lazy

from recipes.cli import cli
from recipes.corpora.tedlium import prepare_tedlium
from recipes.corpora.voxceleb import prepare_voxceleb
from tests.fixtures.tedlium import build_tedlium_fixture
from tests.fixtures.voxceleb import build_voxceleb_fixture


def prepared_sources(name, tmp_path):
    if name == "voxceleb":
        result, _ = prepare_voxceleb(build_voxceleb_fixture(tmp_path / "vox", vox2=False), version="1")
    else:
        result, _ = prepare_tedlium(build_tedlium_fixture(tmp_path / "ted"), release="v3", sph_decoder="soundfile")
    cuts = next(parts["cuts"] for split, parts in result.items() if split)
    path = tmp_path / f"{name}_cuts.jsonl.gz"
    cuts.to_file(path)
    return path, cuts


@pytest.mark.parametrize("name", ["voxceleb", "tedlium"])
def test_corpus_cuts_are_simulation_sources(tmp_path, name):
    src, cuts = prepared_sources(name, tmp_path)
    speakers = {c.supervisions[0].speaker for c in cuts}
    trimmed = tmp_path / "trimmed.jsonl.gz"
    res = CliRunner().invoke(cli, ["simulate-sources", str(src), str(trimmed)])
    assert res.exit_code == 0, res.output
    out = tmp_path / "mix.jsonl.gz"
    res = CliRunner().invoke(cli, ["simulate", str(trimmed), str(out), "--num-mixtures", "3", "--seed", "1"])
    assert res.exit_code == 0, res.output
    mixtures = list(load_manifest_lazy(out))
    assert len(mixtures) == 3
    for mix in mixtures:
        mix_speakers = {s.speaker for s in mix.supervisions}
        assert len(mix_speakers) == 2 and mix_speakers <= speakers  # eend default: 2 speakers from the corpus
        audio = mix.load_audio()
        assert audio.shape == (1, round(mix.duration * mix.sampling_rate)) and np.abs(audio).max() > 0.01
