"""``diar score``: DER and JER of a system's RTTM against a reference (recipes.score).

Kept apart from cli.py and imported only when used; the scorer (numpy, scipy) is
imported inside the command, so ``diar --help`` stays fast.
"""

import logging
from pathlib import Path

import click

from recipes.clitools import format_option, load_cuts, one_line_errors, uem_option

logger = logging.getLogger("recipes")

_CUTSET_SUFFIXES = (".jsonl.gz", ".jsonl", ".json")


def _is_cutset(path: str) -> bool:
    p = Path(path)
    return p.is_file() and p.name.endswith(_CUTSET_SUFFIXES)


@click.command("score")
@click.argument("ref", type=click.Path(exists=True))
@click.argument("sys_", metavar="SYS", type=click.Path(exists=True))
@uem_option(
    "UEM file: the files and regions scored (default: a CutSet REF's 'uem', else each reference "
    "file from its first to its last turn, reference or system, as dscore does)."
)
@click.option(
    "--collar",
    default=0.0,
    show_default=True,
    type=click.FloatRange(min=0.0),
    help="No-score collar in seconds, +/- around every reference turn boundary (DIHARD: 0, "
    "AMI/CALLHOME tradition: 0.25).",
)
@click.option(
    "--skip-overlap", is_flag=True, help="Do not score time with two or more reference speakers (md-eval -1)."
)
@format_option(["text", "markdown", "json"])
@click.option("--per-file", is_flag=True, help="Also list every file (text/markdown; JSON always has them).")
@click.option(
    "--group-by",
    metavar="FIELD",
    help="Also report per value of this custom field of the REF cuts (e.g. DIHARD III's 'domain').",
)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write here instead of stdout.")
@one_line_errors
def score_command(ref, sys_, uem, collar, skip_overlap, fmt, per_file, group_by, output):
    """Diarization error rate and Jaccard error rate, as NIST md-eval-22.pl and dscore compute them.

    REF is an RTTM file, a directory of *.rttm, or a CutSet manifest (its speaker turns
    and its custom 'uem'); SYS an RTTM file or directory (what your model wrote).
    DER = (missed + false alarm + speaker confusion) / scored speaker time, in percent,
    after an optimal one-to-one speaker mapping; scored time is clipped to the UEM and
    the collar is taken around the UEM-clipped reference boundaries. JER is dscore's
    (per reference speaker 1 - intersection / union with its assigned system speaker;
    no collar). A UEM file without reference speech scores its system speech as false
    alarm; a reference file without system output is scored as all missed (and listed).
    Times are rounded to 1 ms as dscore writes them for md-eval.
    """
    from recipes.fileio import write_text
    from recipes.rttm import read_rttm, read_uem
    from recipes.score import format_report, reference_from_cuts, score

    uem_map = read_uem(uem) if uem else None
    groups = None
    if _is_cutset(ref):
        ref_turns, cut_uem, groups = reference_from_cuts(load_cuts(ref), group_by, uem=uem_map)
        uem_map = cut_uem
        if group_by is None:
            groups = None
    else:
        if group_by:
            raise click.UsageError("--group-by needs a CutSet as REF (the field is a cut's custom field)")
        ref_turns, _ = read_rttm(ref)
    sys_turns, _ = read_rttm(sys_)
    result = score(
        ref_turns, sys_turns, uem=uem_map, collar=collar, skip_overlap=skip_overlap, progress=output is not None
    )
    if result.missing_sys:
        logger.warning(
            "%d reference file(s) have no system turns and are scored as all missed: %s",
            len(result.missing_sys),
            ", ".join(result.missing_sys[:10]),
        )
    if result.sys_not_scored:
        logger.warning(
            "%d system file(s) are not in the reference%s and are not scored: %s",
            len(result.sys_not_scored),
            " / UEM" if uem_map is not None else "",
            ", ".join(result.sys_not_scored[:10]),
        )
    if result.ref_not_in_uem:
        logger.warning(
            "%d reference file(s) are not in the UEM and are not scored: %s",
            len(result.ref_not_in_uem),
            ", ".join(result.ref_not_in_uem[:10]),
        )
    report = result.report(groups)
    if group_by:
        report["group_field"] = group_by
    text = format_report(report, fmt, per_file=per_file)
    if output:
        write_text(output, text)
    else:
        click.echo(text, nl=False)
