"""The ``diar simulate`` and ``diar simulate-sources`` verbs (loaded lazily by :mod:`recipes.cli`)."""

import logging
from pathlib import Path

import click

from recipes.clitools import executor_options, num_jobs_option, one_line_errors
from recipes.simulation import (
    METHODS,
    MIN_PAUSE,
    Simulator,
    format_stats,
    load_config,
    load_sources,
    materialize,
    prepare_sources,
    simulate,
)

logger = logging.getLogger(__name__)


@click.command("simulate")
@click.argument("source_cuts", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.argument("out_cuts", type=click.Path(dir_okay=False))
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False),
    help="Preset YAML (conf/simulation/*.yaml). Default: eend, 2 speakers, beta 2 s.",
)
@click.option("--method", type=click.Choice(METHODS), help="Override the preset's method.")
@click.option(
    "--hours",
    type=click.FloatRange(min=0, min_open=True),
    help="About this many hours (default: the preset's hours for --speaker-split).",
)
@click.option(
    "--hours-per-combination",
    type=click.FloatRange(min=0, min_open=True),
    help="At least this many hours of every (speaker count, overlap level) combination.",
)
@click.option("--num-mixtures", type=click.IntRange(min=1), help="Exactly this many mixtures.")
@click.option(
    "--conversation-stats",
    type=click.Path(exists=True),
    help="conversation: real turns (RTTM file/dir or CutSet) to measure pauses and overlaps on.",
)
@click.option(
    "--noise-cuts",
    type=click.Path(exists=True, dir_okay=False),
    help="Noise MonoCuts (e.g. MUSAN noise): fills the preset's noise: entry (EEND presets: one "
    "recording looped per mixture, SNR 5/10/15/20 dB relative to the whole speech mixture).",
)
@click.option(
    "--rirs",
    help="Impulse responses: a RecordingSet manifest (resampled to the sources' rate) or "
    "'fast' (Lhotse's random RIRs; needs torchaudio); fills the preset's reverb: entry "
    "(EEND presets: each speaker reverberant with probability 0.5).",
)
@click.option("--seed", default=0, show_default=True, type=int)
@executor_options(
    executor_help="Where shards (and --materialize audio) are rendered: local processes, or a dask cluster "
    "(extra 'dask'; paths must be visible to every worker).",
    num_jobs_help="Workers: local processes, or the LocalCluster size with --executor dask and no --scheduler.",
    scheduler_help="dask scheduler address (tcp://host:8786); default: a LocalCluster of --num-jobs.",
)
@click.option(
    "--speaker-split",
    type=click.Choice(["train", "dev"]),
    help="Keep only this side of the deterministic speaker split (dev_fraction in the preset).",
)
@click.option("--prefix", help="Mixture id prefix. Default: the name of OUT_CUTS.")
@click.option("--no-merge", is_flag=True, help="Write only the shards and their index, not OUT_CUTS itself.")
@click.option(
    "--materialize",
    "materialize_dir",
    type=click.Path(file_okay=False),
    help="Also write 8 kHz FLAC mixtures, an RTTM and a Kaldi data dir here.",
)
@one_line_errors
def simulate_command(
    source_cuts,
    out_cuts,
    config_path,
    method,
    hours,
    hours_per_combination,
    num_mixtures,
    conversation_stats,
    noise_cuts,
    rirs,
    seed,
    num_jobs,
    executor_kind,
    scheduler,
    speaker_split,
    prefix,
    no_merge,
    materialize_dir,
):
    """Simulate multi-speaker mixtures from single-speaker SOURCE_CUTS into OUT_CUTS (NAME.jsonl.gz).

    Writes lazily readable shards NAME.NNNNNN.jsonl.gz, their index
    NAME.shards.txt, the merged OUT_CUTS (MixedCuts; one supervision per
    source utterance, covering its speech) and NAME.stats.json (overlap ratio,
    silence ratio, speaker-count histogram, calibration). A seed gives the
    same bytes for any --num-jobs. Sources come from
    `diar simulate-sources` (one VAD-trimmed supervision each).
    """
    from recipes.fileio import check_writable_dir

    cfg = load_config(config_path, method=method, conversation_stats=conversation_stats)
    if noise_cuts:
        cfg.noise = {**(cfg.noise or {}), "cuts": noise_cuts}
    if rirs:
        cfg.reverb = {**(cfg.reverb or {}), "rirs": rirs}
    if sum(x is not None for x in (hours, hours_per_combination, num_mixtures)) > 1:
        raise click.UsageError("give one of --hours, --hours-per-combination, --num-mixtures")
    if not str(out_cuts).endswith(".jsonl.gz"):
        raise click.UsageError("OUT_CUTS must end with .jsonl.gz")
    check_writable_dir(Path(out_cuts).parent)  # before any work: an unwritable output fails at once
    if materialize_dir:
        check_writable_dir(materialize_dir)
    src = load_sources(
        source_cuts,
        supervision=cfg.supervision,
        split=speaker_split,
        dev_fraction=cfg.dev_fraction,
        split_seed=cfg.split_seed,
    )
    logger.info("%d source utterances of %d speakers", len(src), len(src.speakers))
    name = Path(out_cuts).name[: -len(".jsonl.gz")]
    sim = Simulator(src, cfg, seed=seed, prefix=prefix or name)
    if num_mixtures is None and hours is None:
        if hours_per_combination is None:
            hours_per_combination = cfg.hours_for(speaker_split, per_combination=True)
        if hours_per_combination is None:
            hours = cfg.hours_for(speaker_split)
        if hours is None and hours_per_combination is None:
            raise click.UsageError(
                "give --hours, --hours-per-combination or --num-mixtures (the preset sets no hours for this split)"
            )
    if hours_per_combination is not None:
        num_mixtures = sim.set_hours_per_combination(hours_per_combination)
    elif num_mixtures is None:
        num_mixtures = sim.num_mixtures_for_hours(hours)
    stats = simulate(
        sim,
        num_mixtures,
        out_cuts,
        num_jobs=num_jobs,
        merge=not no_merge,
        executor_kind=executor_kind,
        scheduler=scheduler,
    )
    click.echo(format_stats(stats), nl=False, err=True)
    if materialize_dir:
        shards = [str(Path(out_cuts).parent / s) for s in stats["shards"]]
        materialize(shards, materialize_dir, num_jobs=num_jobs, executor_kind=executor_kind, scheduler=scheduler)
        logger.info("materialized audio, rttm and kaldi dir in %s", materialize_dir)


@click.command("simulate-sources")
@click.argument("in_cuts", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.argument("out_cuts", type=click.Path(dir_okay=False))
@click.option(
    "--min-pause",
    default=MIN_PAUSE,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Seconds: split each utterance into speech segments at pauses at least this long "
    "(one cut per segment, what the conversation method consumes); 0 keeps each utterance "
    "whole with one supervision from its first to its last speech (the EEND layout).",
)
@click.option(
    "--cache",
    "cache_dir",
    type=click.Path(file_okay=False),
    help="Also build the source cache here: the sources' audio at 8 kHz int16 in memory-mappable "
    "shards (16 kB per source second), for rendering mixtures on the fly without FLAC decoding "
    "(EENDDataset(source_cache=DIR)). Resumable; add noise cuts with --cache-extra.",
)
@click.option(
    "--cache-extra",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="More cuts (e.g. noise) whose audio goes into the cache (repeatable).",
)
@num_jobs_option("Local processes building cache shards.")
@one_line_errors
def prepare_sources_command(in_cuts, out_cuts, min_pause, cache_dir, cache_extra, num_jobs):
    """Single-speaker source cuts for `diar simulate`: speech from the word alignments, else an energy VAD
    relative to the noise floor (a low percentile of the frame energies); one supervision per cut."""
    from lhotse import CutSet
    from lhotse.serialization import load_manifest_lazy

    from recipes.fileio import atomic_path

    n = 0
    with atomic_path(out_cuts) as tmp, CutSet.open_writer(tmp) as writer:
        for path in in_cuts:
            for cut in prepare_sources(load_manifest_lazy(path), min_pause=min_pause):
                writer.write(cut)
                n += 1
    logger.info("prepared %d source cuts -> %s", n, out_cuts)
    if cache_dir:
        import itertools

        from recipes.simulation.cache import build_source_cache

        cuts = itertools.chain(load_manifest_lazy(out_cuts), *(load_manifest_lazy(p) for p in cache_extra))
        build_source_cache(cuts, cache_dir, num_jobs=num_jobs)
