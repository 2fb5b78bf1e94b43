"""Small helpers shared by the ``diar`` verbs in cli.py and the per-corpus commands."""

import functools
import logging
import os
from pathlib import Path

import click

from recipes.errors import one_line  # noqa: F401 - re-exported for the verbs

logger = logging.getLogger("recipes")


def one_line_errors(func):
    """Turn exceptions into ``Error: <reason>`` on one line and exit status 1
    (``DIAR_DEBUG=1`` re-raises for the traceback)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except click.ClickException:
            raise
        except Exception as e:  # noqa: BLE001 - the CLI boundary
            if os.environ.get("DIAR_DEBUG"):
                raise
            msg = one_line(e)
            raise click.ClickException(msg) from e

    return wrapper


def log_prepared(name, result, output_dir, written) -> None:
    """One log line per split (recordings, turns) and where the files went."""
    for split, parts in result.items():
        logger.info(
            "%s%s: %d recordings, %d turns",
            name,
            f" {split}" if split else "",
            len(parts["recordings"]),
            len(parts["supervisions"]),
        )
    logger.info("wrote %d files to %s (report: %s_prepare_report.txt)", len(written), output_dir, name)


def parse_named_files(values, no_sign: str, bad_file: str):
    """``{NAME: PATH}`` of repeatable ``NAME=PATH`` values, each PATH an existing file and each NAME
    given once; ``no_sign`` / ``bad_file``: the error for a value without ``=`` / with an empty
    NAME or a missing file."""
    out = {}
    for value in values:
        name, sep, path = value.partition("=")
        if not sep:
            raise click.BadParameter(f"{value!r}: {no_sign}")
        if not name or not Path(path).is_file():
            raise click.BadParameter(f"{value!r}: {bad_file}")
        if name in out:
            raise click.BadParameter(f"split {name!r} given twice")
        out[name] = path
    return out


def parse_split_files(ctx, param, values):
    """click callback for repeatable ``--split NAME=LISTFILE``."""
    return parse_named_files(values, "expected NAME=LISTFILE", "expected NAME=LISTFILE with an existing LISTFILE")


def num_jobs_option(help: str):
    """``--num-jobs N`` (N >= 1, default 1): how many workers a verb uses."""
    return click.option("--num-jobs", default=1, show_default=True, type=click.IntRange(min=1), help=help)


def format_option(choices, help: str = None):
    """``--format`` (as ``fmt``) of a verb that writes a report: one of ``choices``, default text."""
    return click.option("--format", "fmt", type=click.Choice(choices), default="text", show_default=True, help=help)


def uem_option(help: str):
    """``--uem FILE``: one existing UEM file (<uri> <channel> <start> <end>, seconds)."""
    return click.option("--uem", type=click.Path(exists=True, dir_okay=False), help=help)


def cuts_in_out(func):
    """The IN_CUTS (an existing manifest) and OUT_CUTS arguments of a verb that maps one CutSet
    to another (fbank, labels)."""
    func = click.argument("out_cuts", type=click.Path(dir_okay=False))(func)
    return click.argument("in_cuts", type=click.Path(exists=True, dir_okay=False))(func)


def storage_path_option(what: str):
    """The required ``--storage-path DIR`` of a verb that writes archives (``what``: which)."""
    return click.option(
        "--storage-path", required=True, type=click.Path(file_okay=False), help=f"Directory for {what}."
    )


def executor_options(
    executor_help: str = "local processes, or a dask.distributed cluster (extra 'dask').",
    num_jobs_help: str = "Worker processes (local), or LocalCluster workers (dask without --scheduler).",
    scheduler_help: str = "dask scheduler address, e.g. tcp://10.0.0.1:8786 (with --executor dask).",
):
    """``--num-jobs``, ``--executor`` (as ``executor_kind``) and ``--scheduler``: where a verb's
    work runs (recipes.parallel), the same three options on every verb that fans out."""
    options = [
        num_jobs_option(num_jobs_help),
        click.option(
            "--executor",
            "executor_kind",
            type=click.Choice(["local", "dask"]),
            default="local",
            show_default=True,
            help=executor_help,
        ),
        click.option("--scheduler", help=scheduler_help),
    ]

    def decorate(func):
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


def root_option(what: str = "CUTS"):
    """``--root DIR``: what relative paths in the input manifests are relative to."""
    return click.option(
        "--root",
        type=click.Path(exists=True, file_okay=False),
        help=f"Directory that relative paths in {what} are relative to (default: the current directory).",
    )


time_base_option = click.option(
    "--time-base",
    type=click.Choice(["clip", "movie"]),
    default="clip",
    show_default=True,
    help="Time base of the RTTM and UEM files: clip = the audio's time; movie = plus each cut's "
    "clip_offset (AVA-AVD clips: the official references' and scorer's time, to compare with "
    "published numbers).",
)


def load_cuts(path, root=None, check_audio=False, listing=None):
    """Open a CutSet manifest lazily; any other manifest type is an error naming the file.
    ``root``: relative paths are made absolute against it; ``check_audio``: every audio file
    must exist (one short error, the full list in ``listing``); see :mod:`recipes.paths`."""
    manifest = open_cuts(path)
    if root is None and not check_audio:
        return manifest
    from recipes.paths import resolve_cuts

    return resolve_cuts(manifest, path, root=root, check_audio=check_audio, listing=listing)


def open_cuts(path):
    from lhotse import CutSet
    from lhotse.serialization import load_manifest_lazy

    try:
        manifest = load_manifest_lazy(path)
    except Exception as e:
        raise ValueError(f"{path}: cannot read as a Lhotse manifest ({e})") from e
    if not isinstance(manifest, CutSet):
        raise ValueError(f"{path}: expected a CutSet manifest, got a {type(manifest).__name__}")
    return manifest
