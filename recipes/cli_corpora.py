"""CLI scaffolding shared by every corpus: ``diar download <corpus>`` and ``diar prepare <corpus>``.

A corpus module (``recipes/corpora/<corpus>.py``) holds no click code. It declares

- ``download_<corpus>(target_dir, **options)`` and ``prepare_<corpus>(corpus_dir, **options)``
  (the latter returns ``(manifests, report)``);
- ``DOWNLOAD_HELP`` / ``PREPARE_HELP``: the commands' help texts;
- ``DOWNLOAD_OPTIONS`` / ``PREPARE_OPTIONS``: its own options
  (:class:`recipes.corpora.common.Option`), whose ``dest`` is the keyword they fill;
- ``CORPUS_DIR_HELP``: what ``--corpus-dir`` links (the layout of an existing copy);
- ``output_name(**options)``: the prefix of its output files for the given prepare options;
- optionally ``prepare_outputs(corpus_dir, name, **options)`` yielding
  ``(name, manifests, report)`` when one call writes several prefixes (VoxCeleb 1 and 2).

This module turns those into click commands, built on first use only (``diar --help`` imports
no corpus), and adds the options every corpus shares:

- download: ``TARGET_DIR`` and ``--corpus-dir`` (link an existing copy instead of downloading);
- prepare: ``CORPUS_DIR``, ``OUTPUT_DIR``, ``--name`` (default ``output_name(...)``) and
  ``--duration-from-annotations`` (one meaning for every corpus, see
  :func:`recipes.corpora.common.annotated_durations`);

and the prepare tail: write the manifests atomically, log one line per split.
A repeatable option given no value is not passed, so the function's default applies.
"""

import importlib
import logging

import click

from recipes.clitools import log_prepared, one_line_errors

logger = logging.getLogger("recipes")

DURATION_FROM_ANNOTATIONS_HELP = (
    "Recording duration (seconds) from the annotations instead of the audio header, for stand-in audio: "
    "the end of the last scored (UEM) interval where the corpus gives one, else the end of the last "
    "annotated turn. Default: off."
)


def corpus_module(corpus: str):
    return importlib.import_module(f"recipes.corpora.{corpus}")


def click_option(option):
    """A click option from a :class:`recipes.corpora.common.Option`."""
    decls = [option.flag] + ([option.dest] if option.dest else [])
    kwargs = {"help": option.help}
    if option.type is bool:
        if "/" in option.flag:  # an on/off pair
            return click.option(*decls, default=bool(option.default), show_default=False, **kwargs)
        return click.option(*decls, is_flag=True, default=bool(option.default), **kwargs)
    kind = option.type
    if option.choices is not None:
        kind = click.Choice(list(option.choices))
    elif kind == "dir":
        kind = click.Path(exists=True, file_okay=False)
    elif kind == "file":
        kind = click.Path(exists=True, dir_okay=False)
    elif kind == "outdir":
        kind = click.Path(file_okay=False)
    elif option.min is not None or option.max is not None:
        ranged = click.IntRange if kind is int else click.FloatRange
        kind = ranged(option.min, option.max, min_open=option.open, max_open=option.open)
    return click.option(
        *decls,
        type=kind,
        default=option.default,
        multiple=option.multiple,
        show_default=option.default is not None and not option.multiple,
        **kwargs,
    )


def _given(options, declared) -> dict:
    """The options to pass: a repeatable option given no value is left out."""
    multiple = {o.dest or o.flag.split("/")[0].lstrip("-").replace("-", "_") for o in declared if o.multiple}
    return {k: v for k, v in options.items() if not (k in multiple and not v)}


def _with_options(func, options):
    for option in reversed(list(options)):
        func = click_option(option)(func)
    return func


def download_command(corpus: str) -> click.Command:
    """``diar download <corpus>``: link ``--corpus-dir`` as TARGET_DIR, or ``download_<corpus>``."""
    module = corpus_module(corpus)
    download = getattr(module, f"download_{corpus}")
    declared = tuple(getattr(module, "DOWNLOAD_OPTIONS", ()))

    @one_line_errors
    def run(target_dir, corpus_dir, **options):
        from recipes.download import link_or_copy_tree

        if corpus_dir:
            link_or_copy_tree(corpus_dir, target_dir)
            logger.info("linked %s -> %s", target_dir, corpus_dir)
            return
        download(target_dir, **_given(options, declared))
        logger.info("%s is in %s", corpus, target_dir)

    run.__doc__ = module.DOWNLOAD_HELP
    run = _with_options(run, declared)
    run = click.option(
        "--corpus-dir", type=click.Path(exists=True, file_okay=False), default=None, help=module.CORPUS_DIR_HELP
    )(run)
    run = click.argument("target_dir", type=click.Path(file_okay=False))(run)
    return click.command(corpus)(run)


def prepare_command(corpus: str) -> click.Command:
    """``diar prepare <corpus>``: ``prepare_<corpus>``, then the manifests written under ``--name``."""
    from recipes.corpora.common import write_manifests

    module = corpus_module(corpus)
    prepare = getattr(module, f"prepare_{corpus}")
    declared = tuple(getattr(module, "PREPARE_OPTIONS", ()))

    @one_line_errors
    def run(corpus_dir, output_dir, name, duration_from_annotations, **options):
        options = _given(options, declared)
        if duration_from_annotations:
            options["duration_from_annotations"] = True
        if hasattr(module, "prepare_outputs"):
            outputs = module.prepare_outputs(corpus_dir, name=name, **options)
        else:
            result, report = prepare(corpus_dir, **options)
            outputs = [(name or module.output_name(**options), result, report)]
        for out_name, result, report in outputs:
            written = write_manifests(result, output_dir, out_name, report)
            log_prepared(out_name, result, output_dir, written)

    run.__doc__ = module.PREPARE_HELP
    run = click.option("--duration-from-annotations", is_flag=True, help=DURATION_FROM_ANNOTATIONS_HELP)(run)
    run = _with_options(run, declared)
    name_help = getattr(module, "NAME_HELP", None) or f"Default: {module.output_name()}."
    run = click.option("--name", default=None, help=f"Prefix of the output files. {name_help}")(run)
    run = click.argument("output_dir", type=click.Path(file_okay=False))(run)
    run = click.argument("corpus_dir", type=click.Path(exists=True, file_okay=False))(run)
    return click.command(corpus)(run)


def command(corpus: str, verb: str) -> click.Command:
    """The click command of ``diar <verb> <corpus>`` (``verb``: download or prepare)."""
    return {"download": download_command, "prepare": prepare_command}[verb](corpus)


def output_names(corpus: str, args) -> list:
    """The prefixes ``diar prepare <corpus> CORPUS_DIR OUTPUT_DIR ARGS...`` writes (the run.sh
    template asks this instead of restating each corpus's naming rule in shell)."""
    module = corpus_module(corpus)
    ctx = prepare_command(corpus).make_context(corpus, [".", ".", *args], resilient_parsing=False)
    params = dict(ctx.params)
    name = params.pop("name")
    for key in ("corpus_dir", "output_dir", "duration_from_annotations"):
        params.pop(key)
    options = _given(params, tuple(getattr(module, "PREPARE_OPTIONS", ())))
    if name:
        return [name]
    if hasattr(module, "output_names"):
        return list(module.output_names(**options))
    return [module.output_name(**options)]
