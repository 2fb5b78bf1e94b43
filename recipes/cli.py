"""The ``diar`` command: one thin verb per pipeline step.

Every verb reads manifests and writes new ones under their final name only
when complete. Errors in the input give a non-zero exit status and a one-line
reason (set ``DIAR_DEBUG=1`` for the full traceback).
"""

import importlib
import importlib.util
import logging
import sys
from pathlib import Path

import click

from recipes.clitools import (
    cuts_in_out,
    executor_options,
    format_option,
    load_cuts,
    log_prepared,
    num_jobs_option,
    one_line_errors,
    parse_split_files,
    root_option,
    storage_path_option,
    uem_option,
)

logger = logging.getLogger("recipes")


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s [%(name)s] %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )


class DiarGroup(click.Group):
    """The top-level group; verbs that live in their own module load lazily."""

    LAZY = {
        "simulate": ("recipes.cli_simulation", "simulate_command"),
        "simulate-sources": ("recipes.cli_simulation", "prepare_sources_command"),
        "score": ("recipes.cli_score", "score_command"),
        "export": ("recipes.cli_export", "export"),
    }

    def list_commands(self, ctx):
        lazy = [n for n, (mod, _) in self.LAZY.items() if importlib.util.find_spec(mod) is not None]
        return sorted(set(super().list_commands(ctx)) | set(lazy))

    def get_command(self, ctx, name):
        command = super().get_command(ctx, name)
        if command is None and name in self.LAZY and importlib.util.find_spec(self.LAZY[name][0]):
            module, attribute = self.LAZY[name]
            command = getattr(importlib.import_module(module), attribute, None)
        return command


@click.group(cls=DiarGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
@click.version_option(package_name="diar-recipes")
def cli(verbose):
    """Prepare speaker-diarization training data with Lhotse.

    Pipeline: prepare (manifests) -> fbank (8 kHz features) -> labels (speaker
    activity) -> describe (statistics). Times are in seconds unless stated.
    """
    _setup_logging(verbose)


# ---------------------------------------------------------------------------
# download


class CorpusGroup(click.Group):
    """A group whose per-corpus commands are built by :mod:`recipes.cli_corpora` from the
    declarations of ``recipes.corpora.<corpus>``, only when used, so ``diar --help`` stays
    fast and each corpus stays one module."""

    def __init__(self, *args, verb: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.verb = verb

    def list_commands(self, ctx):
        from recipes.corpora import CORPORA

        return sorted(set(super().list_commands(ctx)) | set(CORPORA))

    def get_command(self, ctx, name):
        from recipes.corpora import CORPORA

        command = super().get_command(ctx, name)
        if command is None and name in CORPORA:
            from recipes.cli_corpora import command as corpus_command

            command = corpus_command(name, self.verb)
        return command


@cli.group(cls=CorpusGroup, verb="download")
def download():
    """Download a corpus (or link an existing copy) into TARGET_DIR."""


@download.command("demo")
@click.argument("target_dir", type=click.Path(file_okay=False))
@click.option("--num-recordings", default=6, show_default=True, type=click.IntRange(min=2))
@click.option(
    "--duration", default=40.0, show_default=True, type=click.FloatRange(min=10.0), help="Seconds per recording."
)
@click.option("--seed", default=0, show_default=True, type=int)
@one_line_errors
def download_demo(target_dir, num_recordings, duration, seed):
    """Synthesize the offline demo corpus (16 kHz WAV, RTTM, UEM, train/dev lists).

    Nothing is downloaded: speakers are deterministic voiced signals with
    distinct pitch and timbre, in conversations with pauses and overlaps. The
    corpus is built in TARGET_DIR.partial and renamed when complete.
    """
    from recipes.corpora.demo import synthesize_demo
    from recipes.fileio import atomic_dir

    target = Path(target_dir)
    with atomic_dir(target) as tmp:
        synthesize_demo(tmp, num_recordings=num_recordings, duration=duration, seed=seed)
    logger.info("demo corpus written to %s", target)


# ---------------------------------------------------------------------------
# prepare


@cli.group(cls=CorpusGroup, verb="prepare")
def prepare():
    """Build Lhotse manifests (recordings, speaker-turn supervisions, cuts) for a corpus."""


@prepare.command("rttm")
@click.argument("audio_dir", type=click.Path(exists=True, file_okay=False))
@click.argument("rttm", type=click.Path(exists=True))
@click.argument("output_dir", type=click.Path())
@click.option("--name", required=True, help="Corpus name, the prefix of every output file.")
@click.option(
    "--uem",
    "uems",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="UEM file (<uri> <channel> <start> <end>, seconds). Repeatable (e.g. one per split): their "
    "union, a recording in two files is an error. Default: whole recordings.",
)
@click.option(
    "--split",
    "splits",
    multiple=True,
    callback=parse_split_files,
    metavar="NAME=LISTFILE",
    help="A split and the file listing its recording ids, one per line. Repeatable.",
)
@click.option("--channel", default=0, show_default=True, type=int, help="Audio channel for multi-channel files.")
@click.option(
    "--skip-bad",
    is_flag=True,
    help="Leave out audio that cannot be read or is shorter than one 10 ms frame, and list it in "
    "NAME_prepare_rejects.jsonl (default: stop, naming every such file, writing no manifest).",
)
@click.option(
    "--allow-empty",
    is_flag=True,
    help="A listed recording (in a --split list; every audio file without lists) with audio and no "
    "speaker turn becomes a recording with no speech: all silence inside its UEM or the whole "
    "file (pyannote's semantics). Default: an error.",
)
@click.option(
    "--relative-paths",
    is_flag=True,
    help="Store audio paths as given (relative to the current directory, icefall-style) instead of "
    "absolute paths that work from any directory.",
)
@one_line_errors
def prepare_rttm_cmd(audio_dir, rttm, output_dir, name, uems, splits, channel, skip_bad, allow_empty, relative_paths):
    """Generic recipe: your own AUDIO_DIR + RTTM -> manifests in OUTPUT_DIR.

    Audio files are found by the RTTM file id (uri) = file name without
    extension, anywhere under AUDIO_DIR (symlinked directories followed), in
    any format soundfile reads (wav, flac, ogg, opus, mp3, ...). RTTM is one
    file or a directory of *.rttm files; SPEAKER lines are read, other NIST
    types (SPKR-INFO, LEXEME, ...) skipped and counted. Writes
    OUTPUT_DIR/NAME_{recordings,supervisions,cuts}[_SPLIT].jsonl.gz and
    NAME[_SPLIT].uem all or nothing, and NAME_prepare_report.txt in every case
    (annotations without audio, audio without annotations, clipped turns,
    rejected files: listed, never silently dropped).
    """
    import os

    from recipes.corpora.common import PrepareReport
    from recipes.corpora.generic import prepare_rttm, write_prepared
    from recipes.fileio import check_writable_dir, write_text

    if not relative_paths:
        audio_dir = os.path.abspath(audio_dir)
    report = PrepareReport()
    try:
        result, _ = prepare_rttm(
            audio_dir,
            rttm,
            uem=list(uems),
            splits=splits,
            channel=channel,
            skip_bad=skip_bad,
            allow_empty=allow_empty,
            report=report,
        )
        written = write_prepared(result, output_dir, name, report)
    except Exception as e:
        from recipes.clitools import one_line

        report.error = one_line(e)
        try:
            write_text(check_writable_dir(output_dir) / f"{name}_prepare_report.txt", report.text())
            e.args = (f"{one_line(e)} (report: {Path(output_dir) / f'{name}_prepare_report.txt'})",)
        except OSError:
            pass
        raise
    log_prepared(name, result, output_dir, written)


@cli.command("names", hidden=True, context_settings={"ignore_unknown_options": True})
@click.argument("corpus")
@click.argument("prepare_options", nargs=-1, type=click.UNPROCESSED)
@one_line_errors
def names_cmd(corpus, prepare_options):
    """The output prefix(es) of `diar prepare CORPUS ... PREPARE_OPTIONS`, one per line (for run.sh)."""
    from recipes.cli_corpora import output_names

    for name in output_names(corpus, list(prepare_options)):
        click.echo(name)


@cli.command("splits", hidden=True)
@click.argument("manifest_dir", type=click.Path(file_okay=False))
@click.argument("prefix")
def splits_cmd(manifest_dir, prefix):
    """The splits of MANIFEST_DIR/PREFIX_cuts_<split>.jsonl.gz, space-separated (for run.sh)."""
    from recipes.naming import splits_written

    click.echo(" ".join(splits_written(manifest_dir, prefix)))


# ---------------------------------------------------------------------------
# fbank


def _stem(path) -> str:
    from recipes.naming import stem

    return stem(path)


@cli.command()
@cuts_in_out
@storage_path_option("the Lhotse feature archives (lilcom_chunky)")
@click.option(
    "--config",
    type=click.Path(exists=True, dir_okay=False),
    help="Feature YAML. Default: conf/fbank_8k.yaml (8000 Hz, 25 ms window, 10 ms shift, "
    "23 mel bins, snip_edges false, dither 0).",
)
@executor_options()
@click.option(
    "--backend",
    type=click.Choice(["numpy", "knf"]),
    default="numpy",
    show_default=True,
    help="numpy: vectorised, matches kaldi-native-fbank within 1e-3 (tested); knf: kaldi-native-fbank.",
)
@click.option(
    "--skip-bad",
    is_flag=True,
    help="Leave out cuts whose audio fails to load and list them in OUT_CUTS' _rejects.jsonl "
    "(default: stop with their ids and paths).",
)
@root_option("IN_CUTS")
@one_line_errors
def fbank(in_cuts, out_cuts, storage_path, config, num_jobs, executor_kind, scheduler, backend, skip_bad, root):
    """Compute 8 kHz log-mel fbank features for IN_CUTS, write OUT_CUTS.

    Audio is resampled on the fly to the configured rate (soxr by default;
    files are never rewritten). Frame counts equal Lhotse's
    compute_num_frames. Archives are written under .partial names and renamed
    when complete. A cut whose audio fails to load stops the command with its
    id and path (Lhotse alone would drop it silently), unless --skip-bad.
    """
    from recipes import features
    from recipes.fileio import (
        check_output_manifest,
        check_writable_dir,
        output_lock,
        read_plain_cuts,
        save_dicts,
        save_manifest,
    )

    check_output_manifest(in_cuts, out_cuts)  # before any work: a bad name or in == out fails at once
    cfg = features.load_fbank_config(config)
    check_writable_dir(Path(out_cuts).parent)  # before any work: an unwritable output fails at once
    rejects = Path(out_cuts).with_name(_stem(out_cuts) + "_rejects.jsonl")
    listing = Path(out_cuts).with_name(_stem(out_cuts) + "_missing_audio.txt")
    # MonoCuts with no --root (what the corpus recipes write) are read, computed and written as
    # manifest dicts: no Lhotse or torch import (about 3 s of start-up, bench/fbank_process.py)
    cuts = read_plain_cuts(in_cuts) if root is None and executor_kind == "local" else None
    if cuts is not None:
        from recipes.paths import resolve_cuts

        if not skip_bad:
            resolve_cuts(cuts, in_cuts, check_audio=True, listing=listing)
    else:
        cuts = load_cuts(in_cuts, root=root, check_audio=not skip_bad, listing=listing)
    storage = check_writable_dir(storage_path) / _stem(out_cuts)
    with output_lock(out_cuts):
        out = features.compute_fbank(
            cuts,
            storage,
            cfg,
            num_jobs=num_jobs,
            backend=backend,
            executor_kind=executor_kind,
            scheduler=scheduler,
            skip_bad=skip_bad,
            rejects_path=rejects,
        )
        (save_dicts if isinstance(out, list) else save_manifest)(out, out_cuts)
    logger.info("fbank: %d cuts -> %s (archives under %s)", len(out), out_cuts, storage)


# ---------------------------------------------------------------------------
# labels


@cli.command()
@cuts_in_out
@storage_path_option("the label archive (lossless numpy_hdf5)")
@click.option(
    "--type",
    "label_type",
    type=click.Choice(["binary", "powerset", "target"]),
    default="binary",
    show_default=True,
    help="binary: T x S uint8 per cut; powerset: (T,) int16 class ids; "
    "target: one cut per speaker with its (T,) activity.",
)
@click.option(
    "--max-set-size",
    default=2,
    show_default=True,
    type=click.IntRange(min=1),
    help="Powerset: most simultaneous speakers one class may hold.",
)
@click.option(
    "--global-speaker-map",
    type=click.Path(dir_okay=False),
    help="Write a JSON speaker -> global index map here and attach speaker_indices to cuts.",
)
@executor_options(scheduler_help="dask scheduler address (with --executor dask).")
@root_option("IN_CUTS")
@one_line_errors
def labels(
    in_cuts,
    out_cuts,
    storage_path,
    label_type,
    max_set_size,
    global_speaker_map,
    num_jobs,
    executor_kind,
    scheduler,
    root,
):
    """Speaker-activity labels at the 10 ms feature frame rate.

    A frame is active when its centre (k + 0.5) * 10 ms lies inside a turn;
    frames outside the cut's UEM are 255 (binary/target) or -1 (powerset):
    ignored, not silence. Speaker order is the recording's sorted speaker ids
    (custom field 'speakers'). Labels are attached as the custom TemporalArray
    'labels' so truncate / cut_into_windows keep them aligned with the features.
    Writes a JSON report (frames ignored, frames over the powerset limit, turns
    shorter than one frame) next to the archive.
    """
    import json

    from recipes.fileio import check_writable_dir, save_manifest, write_text
    from recipes.labels import compute_labels

    cuts = load_cuts(in_cuts, root=root)
    check_writable_dir(Path(out_cuts).parent)  # before any work: an unwritable output fails at once
    storage_dir = check_writable_dir(storage_path)
    stem = _stem(out_cuts)
    streamed = str(out_cuts).endswith((".jsonl", ".jsonl.gz"))
    out, report = compute_labels(
        cuts,
        storage_dir / f"{stem}.h5",
        label_type=label_type,
        max_set_size=max_set_size,
        global_speaker_map=global_speaker_map,
        num_jobs=num_jobs,
        executor_kind=executor_kind,
        scheduler=scheduler,
        output_path=out_cuts if streamed else None,  # JSONL: written as the archives come, memory flat in cuts
    )
    write_text(storage_dir / f"{stem}_report.json", json.dumps(report.to_dict(), indent=1) + "\n")
    if not streamed:
        save_manifest(out, out_cuts)
    logger.info("labels (%s): %s", label_type, report.summary())


# ---------------------------------------------------------------------------
# describe


def _input_name(path: Path) -> str:
    """``data/cuts/ami-sdm_cuts_dev.jsonl.gz`` -> ``ami-sdm/dev``; an RTTM directory
    ``voxconverse/dev`` -> ``voxconverse/dev``; an RTTM file ``x/dev.rttm`` -> ``x/dev``."""
    from recipes import naming

    stem = _stem(path) if path.is_file() else path.name
    if stem.endswith(".rttm"):
        stem = stem[:-5]
    parsed = naming.parse(stem)
    if parsed is not None and parsed.kind == "cuts":
        split = "_".join(p for p in (parsed.split, parsed.label_type) if p)
        return f"{parsed.prefix}/{split}" if split else parsed.prefix
    parent = path.resolve().parent.name
    return f"{parent}/{stem}" if parent else stem


def _describe_one(path: Path, uem_map, num_jobs: int = 1):
    from recipes.rttm import read_rttm
    from recipes.stats import turns_stats

    if path.is_dir() or path.suffix.lower() == ".rttm":
        turns, _ = read_rttm(path)  # logs its own warnings (merged self-overlaps, zero durations)
        stats = turns_stats(turns, uem=_restrict_uem(uem_map, turns))
        missing = [s.recording_id for s in stats if s.duration_source == "last_turn_end"]
        if missing:
            logger.warning(
                "%s: %d recording(s) have no UEM and no audio: duration = last turn end (a lower bound)",
                path,
                len(missing),
            )
        return stats
    from recipes.stats_stream import cutset_stats_from_file, starts_with_a_cut

    if not starts_with_a_cut(path):  # Lhotse's clear error for a manifest that is not a CutSet
        load_cuts(path)

    # progress in hours on a terminal, or for a large manifest (logs of long runs)
    progress = sys.stderr.isatty() or path.stat().st_size > (64 << 20)
    return cutset_stats_from_file(path, uem=uem_map, num_jobs=num_jobs, progress=progress)  # one streaming pass


def _restrict_uem(uem_map, turns):
    """The UEM entries of the recordings in ``turns`` (a UEM may cover several inputs)."""
    if uem_map is None:
        return None
    recs = {t.recording_id for t in turns}
    return {r: v for r, v in uem_map.items() if r in recs}


@cli.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True))
@uem_option("UEM file: clips turns and gives the duration (else audio, else last turn end).")
@format_option(["text", "markdown", "latex", "json"])
@click.option(
    "--plot",
    type=click.Path(dir_okay=False),
    help="PNG with speakers-per-recording, overlap and active-speaker-count distributions.",
)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write here instead of stdout.")
@click.option(
    "--bib",
    type=click.Path(dir_okay=False),
    help="Write the BibTeX entries the table cites (from conf/corpora/<corpus>.yaml) here.",
)
@num_jobs_option("Local processes that parse and measure a CutSet manifest's lines (large simulated sets).")
@one_line_errors
def describe(inputs, uem, fmt, plot, output, bib, num_jobs):
    r"""Statistics of diarization data: speech, overlap, speakers, turns.

    INPUT is a CutSet manifest (.jsonl.gz), or an RTTM file or a directory of
    RTTMs (statistics without audio). Hours are reported; ratios as %.
    overlap_ratio = overlap / speech; overlap_ratio_of_duration = overlap /
    duration; missed_at_oracle_sad = (speaker time - speech) / speaker time.
    Duration comes from the UEM, else the audio, else the last turn end (and
    the report says so). Also: percentiles 10/50/90 (seconds) of turn
    durations, pauses (same speaker / speaker change) and overlap segments; a
    table per (speaker count, target overlap) for simulated mixtures; for a
    known corpus (conf/corpora/<corpus>.yaml, paper:) a \cite{} per table row
    (latex; --bib writes the entries) and a short paragraph per corpus.
    """
    from recipes.fileio import atomic_path, write_text
    from recipes.rttm import read_uem
    from recipes.stats import build_report, format_report, plot_report

    uem_map = read_uem(uem) if uem else None
    named = [(_input_name(Path(p)), _describe_one(Path(p), uem_map, num_jobs)) for p in inputs]
    report = build_report(named)
    from recipes.paper import annotate, bibliography

    annotate(report, [(n, Path(p)) for (n, _), p in zip(named, inputs)], latex=fmt == "latex")
    text = format_report(report, fmt)
    if bib:
        write_text(bib, bibliography(report))
    if output:
        write_text(output, text)
    else:
        click.echo(text, nl=False)
    if plot:
        with atomic_path(plot) as tmp:
            plot_report(named, tmp)
        logger.info("plot written to %s", plot)


@cli.command()
@click.argument("cuts", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@format_option(
    ["text", "markdown", "json"],
    help="text: ranked list of suspicious recordings + summary; json: every channel's figures.",
)
@click.option("--plot", type=click.Path(dir_okay=False), help="PNG: lags, speech over non-speech level, VAD P/R.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write here instead of stdout.")
@click.option("--json-output", type=click.Path(dir_okay=False), help="Also write the JSON report here.")
@click.option("--strict", is_flag=True, help="Exit 1 when anything is flagged (default: warn, exit 0).")
@num_jobs_option("Local processes (one recording per task).")
@click.option(
    "--mixtures",
    is_flag=True,
    help="Also render and check simulated mixtures (MixedCuts; skipped by default, counted).",
)
@one_line_errors
def validate(cuts, fmt, plot, output, json_output, strict, num_jobs, mixtures):
    """Check each recording (each channel) of CutSets against its audio.

    Audio facts (rate, channels, samples and duration against the manifest,
    digital silence, clipping, DC offset, level per channel) and the agreement
    of the annotation with the audio from 10 ms frame energies: annotated vs
    unannotated level (dB), energy-VAD precision/recall, and the lag in -5..+5 s
    (seconds; + = annotation late) that best aligns them. Thresholds are relative
    to each recording's noise floor. Flags: shift, mismatch_duration,
    mismatch_rate, mismatch_channels, unreadable, dead_channel, clipping, silence,
    speech_not_louder. Run from the recipe directory (manifest paths are relative to it).
    """
    from recipes.fileio import atomic_path, write_text
    from recipes.validate import format_validation, plot_validation, validate_cutsets

    report = validate_cutsets(
        [(_input_name(Path(p)), load_cuts(p)) for p in cuts], num_jobs=num_jobs, mixtures=mixtures
    )
    text = format_validation(report, fmt)
    if output:
        write_text(output, text)
    else:
        click.echo(text, nl=False)
    if json_output:
        write_text(json_output, format_validation(report, "json"))
    if plot:
        with atomic_path(plot) as tmp:
            plot_validation(report, tmp)
    flagged = report["summary"]["flagged_channels"]
    if flagged:
        logger.warning(
            "%d channel(s) of %d recording(s) flagged: %s",
            flagged,
            report["summary"]["flagged_recordings"],
            report["summary"]["flags"],
        )
        if strict:
            raise click.ClickException(f"--strict: {flagged} channel(s) flagged")


if __name__ == "__main__":  # pragma: no cover
    cli()
