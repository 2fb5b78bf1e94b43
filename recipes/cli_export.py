"""``diar export kaldi|pyannote|shar``: CutSets to a Kaldi data dir, a pyannote.database protocol
or Lhotse Shar shards (recipes.export).

Kept apart from cli.py and loaded only when used (as cli_score.py and cli_simulation.py are);
the exporters (Lhotse, numpy) are imported inside each command, so ``diar --help`` and
``diar export kaldi --help`` stay fast.
"""

import logging

import click

from recipes.clitools import load_cuts, one_line_errors, parse_named_files, root_option, time_base_option

logger = logging.getLogger("recipes")


@click.group()
def export():
    """Export CutSets to Kaldi data dirs, pyannote.database protocols or Lhotse Shar."""


@export.command("kaldi")
@click.argument("cuts", type=click.Path(exists=True, dir_okay=False))
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.option(
    "--sampling-rate",
    type=click.IntRange(min=1000),
    help="Rate of the audio wav.scp delivers, in Hz. Default: the features' rate (8000 without "
    "features); another rate than the features' is refused (the trainer's frames would not "
    "match the labels).",
)
@click.option(
    "--audio",
    "audio_mode",
    type=click.Choice(["pipe", "wav"]),
    default="pipe",
    show_default=True,
    help="pipe: sox commands in wav.scp where conversion is needed (sox must be on PATH); wav: write "
    "16-bit mono WAV files at that rate once into --wav-dir (resumable): no pipes, which EEND's "
    "README says make training very slow.",
)
@click.option("--wav-dir", type=click.Path(file_okay=False), help="Where --audio wav writes. Default: OUT_DIR/wav.")
@time_base_option
@root_option("CUTS")
@one_line_errors
def export_kaldi_cmd(cuts, out_dir, sampling_rate, audio_mode, wav_dir, time_base, root):
    """Kaldi data dir for EEND / ESPnet diar1: wav.scp, segments, utt2spk, spk2utt, rttm, reco2dur (seconds), uem."""
    from recipes.export import export_kaldi

    export_kaldi(
        load_cuts(cuts, root=root, check_audio=True),
        out_dir,
        sampling_rate=sampling_rate,
        audio=audio_mode,
        wav_dir=wav_dir,
        time_base=time_base,
    )
    logger.info("Kaldi data dir written to %s", out_dir)


def _parse_named_cuts(ctx, param, values):
    """click callback for repeatable ``--split NAME=CUTS``."""
    msg = "expected NAME=CUTS with an existing CUTS file"
    return parse_named_files(values, msg, msg)


@export.command("pyannote")
@click.argument("cuts", nargs=-1, type=click.Path(exists=True, dir_okay=False))
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.option("--name", required=True, help="Database name: the protocol is NAME.SpeakerDiarization.default.")
@click.option(
    "--split",
    "named",
    multiple=True,
    callback=_parse_named_cuts,
    metavar="NAME=CUTS",
    help="A split and its CutSet, whatever the file name. Repeatable; with or instead of CUTS.",
)
@time_base_option
@root_option("the CutSets")
@one_line_errors
def export_pyannote_cmd(cuts, out_dir, name, named, time_base, root):
    """pyannote.database protocol from CutSets named <prefix>_cuts_<split>[_<label type>].jsonl.gz,
    or given as --split NAME=CUTS.

    Splits map to subsets: train -> train; dev, val -> development; test, eval -> test.
    Writes database.yml (scope: database), lists/, rttms/, uems/ and audio/ (links to the
    audio files); a failed export writes nothing.
    """
    from recipes.export import export_pyannote, split_name

    if not cuts and not named:
        raise click.UsageError("give CUTS files, --split NAME=CUTS, or both")
    inputs = [(split_name(p), p) for p in cuts] + list(named.items())
    seen = {}
    for split, p in inputs:
        if split in seen:
            raise click.UsageError(f"split {split!r} given twice ({seen[split]} and {p})")
        seen[split] = p
    path = export_pyannote(
        {s: load_cuts(p, root=root, check_audio=True) for s, p in inputs}, out_dir, name, time_base=time_base
    )
    logger.info("pyannote database written to %s (protocol %s.SpeakerDiarization.default)", path, name)


@export.command("shar")
@click.argument("cuts", type=click.Path(exists=True, dir_okay=False))
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.option("--shard-size", default=1000, show_default=True, type=click.IntRange(min=1), help="Cuts per shard.")
@click.option(
    "--features-format",
    type=click.Choice(["lilcom", "numpy"]),
    default="lilcom",
    show_default=True,
    help="lilcom: compact, values within one quantisation step (2**-5) of the archive; "
    "numpy: exact copy, about 4x larger.",
)
@click.option("--with-audio", is_flag=True, help="Also store the audio (FLAC) for on-the-fly features.")
@root_option("CUTS")
@one_line_errors
def export_shar_cmd(cuts, out_dir, shard_size, features_format, with_audio, root):
    """Lhotse Shar shards with features and labels (numpy, lossless), for streaming training."""
    from recipes.export import export_shar

    files = export_shar(
        load_cuts(cuts, root=root, check_audio=with_audio),
        out_dir,
        shard_size=shard_size,
        features_format=features_format,
        with_audio=with_audio,
    )
    logger.info("%d Shar files written to %s", len(files), out_dir)
