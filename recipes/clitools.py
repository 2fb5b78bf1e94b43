"""Small helpers shared by the ``diar`` verbs in cli.py and the per-corpus commands."""
import functools
import logging
import os
from pathlib import Path

import click

logger = logging.getLogger("recipes")


def one_line(error: BaseException) -> str:
    """An exception as one line: the whole message (Lhotse puts the reason on the lines
    after the first), without the ``[extra info] When calling: ...`` dump of the whole cut
    that Lhotse appends."""
    text = str(error).split("[extra info]", 1)[0]
    return " ".join(text.split()) or type(error).__name__


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
        logger.info("%s%s: %d recordings, %d turns", name, f" {split}" if split else "",
                    len(parts["recordings"]), len(parts["supervisions"]))
    logger.info("wrote %d files to %s (report: %s_prepare_report.txt)", len(written), output_dir, name)


def parse_split_files(ctx, param, values):
    """click callback for repeatable ``--split NAME=LISTFILE``."""
    splits = {}
    for value in values:
        if "=" not in value:
            raise click.BadParameter(f"{value!r}: expected NAME=LISTFILE")
        name, path = value.split("=", 1)
        if not name or not Path(path).is_file():
            raise click.BadParameter(f"{value!r}: expected NAME=LISTFILE with an existing LISTFILE")
        if name in splits:
            raise click.BadParameter(f"split {name!r} given twice")
        splits[name] = path
    return splits
