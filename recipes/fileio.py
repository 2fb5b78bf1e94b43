"""Atomic writes: outputs appear under their final name only when complete.

The one place that writes under a temporary name, renames, and sweeps stale files
(:func:`atomic_path`, :func:`atomic_dir`, :func:`sweep_stale`); every stage goes through it.
A stage that is killed leaves at most a ``.partial`` file behind, which no later stage reads
and which the next run overwrites or sweeps. (Resumable downloads keep their own ``.part``
file in :mod:`recipes.download`: it is resumed, not rewritten.)
"""

import errno
import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator, Optional

# What a full or unwritable output looks like, when the error carries no errno (HDF5's
# RuntimeError puts it in the text; libsndfile only says "System error.").
_MARKERS = {
    "No space left on device": errno.ENOSPC,
    "errno = 28": errno.ENOSPC,
    "Disk quota exceeded": errno.EDQUOT,
    "Read-only file system": errno.EROFS,
    "errno = 30": errno.EROFS,
}
_REASONS = {
    errno.ENOSPC: "disk full",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
}
LOW_SPACE = 1 << 20  # bytes: less than this free (partial output still there) means the disk filled up


class OutputError(OSError):
    """A full disk, quota, read-only file system or permission error while writing an
    output, as one line naming the directory; ``errno`` is kept (also through pickling)."""

    def __str__(self) -> str:
        return str(self.strerror)


def _inside(path, directory) -> bool:
    try:
        return Path(os.path.abspath(path)).is_relative_to(Path(os.path.abspath(directory)))
    except (TypeError, ValueError):
        return False


def disk_error(error: BaseException, directory, what: str) -> Optional[OSError]:
    """An :class:`OutputError` naming ``directory`` when ``error`` (raised while writing
    ``what`` there) means a full disk, a quota, a read-only file system or missing
    permissions; ``None`` for any other error, and for an error about another file
    (an input that could not be read keeps its own message).

    Call it while the partial output is still on disk: for libsndfile's reasonless
    "System error." the only sign of a full disk is the free space left."""
    if not isinstance(error, (OSError, RuntimeError)):
        return None
    if isinstance(error, OutputError):
        return None  # already clear (from an inner block)
    filename = getattr(error, "filename", None)
    if filename is not None and not _inside(filename, directory):
        return None
    code = getattr(error, "errno", None)
    if code not in _REASONS:
        text = str(error)
        code = next((c for marker, c in _MARKERS.items() if marker in text), None)
    if code is None and "System error" in str(error):
        try:
            if shutil.disk_usage(directory).free < LOW_SPACE:
                code = errno.ENOSPC
        except OSError:
            pass
    if code is None:
        return None
    return OutputError(code, f"{_REASONS[code]} while writing {what} to {directory}")


@contextmanager
def clear_disk_errors(directory, what: str, remove: Iterable = ()) -> Iterator[None]:
    """Run a block that writes ``what`` into ``directory``: on any error the files in
    ``remove`` (its partial outputs) are deleted, and a full disk, quota, read-only file
    system or permission error is re-raised as one line naming the directory."""
    try:
        yield
    except BaseException as e:
        clear = disk_error(e, directory, what)  # before the partial files go (see disk_error)
        for path in remove:
            try:
                Path(path).unlink()
            except OSError:  # not there, or the file system went read-only: the original error matters more
                pass
        if clear is not None:
            raise clear from e
        raise


def partial_path(path) -> Path:
    """Temporary sibling of ``path`` that keeps its (compound) extension, e.g.
    ``cuts.jsonl.gz`` -> ``cuts.partial.jsonl.gz`` so Lhotse still infers the format."""
    path = Path(path)
    name = path.name
    for ext in (
        ".jsonl.gz",
        ".jsonl",
        ".json",
        ".yaml",
        ".txt",
        ".rttm",
        ".uem",
        ".h5",
        ".png",
        ".lca",
        ".wav",
        ".flac",
    ):
        if name.endswith(ext):
            return path.with_name(name[: -len(ext)] + ".partial" + ext)
    return path.with_name(name + ".partial")


@contextmanager
def atomic_path(path, what: Optional[str] = None) -> Iterator[Path]:
    """Yield a temporary path to write (a partial file left by a killed run is removed first);
    rename it to ``path`` when the block succeeds, delete it when it fails. Disk errors are
    reported as writing ``what`` (default: the file name) to the folder."""
    path = Path(path)
    if path.exists() and not path.is_file():  # /dev/null, a FIFO: written in place, never replaced
        yield path
        return
    check_writable_dir(path.parent)
    tmp = partial_path(path)
    if tmp.exists():
        tmp.unlink()
    with clear_disk_errors(path.parent, what or path.name, remove=[tmp]):
        yield tmp
        os.replace(tmp, path)


@contextmanager
def atomic_dir(path) -> Iterator[Path]:
    """Yield a temporary folder ``<path>.partial`` (emptied first) to fill; it replaces ``path``
    when the block succeeds."""
    path = Path(path)
    tmp = path.with_name(path.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    yield tmp
    if path.exists():
        shutil.rmtree(path)
    tmp.rename(path)


def sweep_stale(directory, patterns, keep: Iterable, partials: bool = True) -> None:
    """Delete the files matching ``patterns`` (a glob or a list of globs) in ``directory``
    that are not in ``keep`` (outputs of an earlier run with more parts) and, with
    ``partials``, the partial files a killed run left there."""
    directory = Path(directory)
    keep = {str(Path(k)) for k in keep}
    patterns = [patterns] if isinstance(patterns, str) else list(patterns)
    found = set()
    for pattern in patterns + (["*.partial*"] if partials else []):
        found.update(directory.glob(pattern))
    for path in found:
        if str(path) not in keep and path.is_file():
            path.unlink()


def save_manifest(manifest, path) -> Path:
    """Write a Lhotse manifest (CutSet, RecordingSet, ...) atomically."""
    with atomic_path(path) as tmp:
        manifest.to_file(tmp)
    return Path(path)


def read_plain_cuts(path) -> Optional[list]:
    """The manifest dicts of a ``.jsonl`` / ``.jsonl.gz`` CutSet whose every line is a ``MonoCut``
    (what the corpus recipes write), read with no Lhotse import; ``None`` for anything else
    (other cut types, other formats, a line that is not JSON): Lhotse reads it then, and says
    what is wrong."""
    import gzip
    import json

    name = str(path)
    if not name.endswith((".jsonl", ".jsonl.gz")):
        return None
    try:
        with gzip.open(name, "rt", encoding="utf-8") if name.endswith(".gz") else open(name, encoding="utf-8") as f:
            dicts = [json.loads(line) for line in f if line.strip()]
    except (OSError, ValueError, EOFError):
        return None
    if not dicts or not all(isinstance(d, dict) and d.get("type") == "MonoCut" for d in dicts):
        return None
    return dicts


def save_dicts(dicts, path) -> Path:
    """Write manifest dicts as Lhotse's ``to_file`` writes them (one ``json.dumps(d,
    ensure_ascii=False)`` per line, gzip for ``.gz``), atomically, with no Lhotse import."""
    import gzip
    import json

    with atomic_path(path) as tmp:
        opener = gzip.open if str(path).endswith(".gz") else open
        with opener(tmp, "wt", encoding="utf-8") as f:
            for d in dicts:
                print(json.dumps(d, ensure_ascii=False), file=f)
    return Path(path)


def write_text(path, text: str) -> Path:
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text)
    return Path(path)


def check_writable_dir(directory) -> Path:
    """Create ``directory`` if needed; raise a clear error when it cannot be written."""
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OSError(f"cannot create output directory {directory}: {e.strerror}") from e
    if not os.access(directory, os.W_OK):
        raise PermissionError(f"output directory {directory} is not writable")
    return directory


@contextmanager
def atomic_group() -> Iterator["callable"]:
    """All or nothing for several outputs: the block gets ``tmp = stage(path)`` for each
    output and writes ``tmp``; when the whole block succeeds every file is renamed to its
    final name, and when anything fails every partial file is removed, so a failed
    command leaves no output that looks finished (``diar prepare``)."""
    staged = []

    def stage(path) -> Path:
        path = Path(path)
        check_writable_dir(path.parent)
        tmp = partial_path(path)
        staged.append((tmp, path))
        return tmp

    try:
        yield stage
    except BaseException as e:
        clear = next((c for c in (disk_error(e, final.parent, final.name) for _, final in staged[-1:]) if c), None)
        for tmp, _ in staged:
            try:
                tmp.unlink()
            except OSError:
                pass
        if clear is not None:
            raise clear from e
        raise
    for tmp, final in staged:
        os.replace(tmp, final)


MANIFEST_EXTENSIONS = (".jsonl.gz", ".jsonl")


def check_output_manifest(in_path, out_path) -> None:
    """Before any work: ``out_path`` must be a manifest name Lhotse can write
    (``.jsonl.gz`` / ``.jsonl``) and must not be the input file itself."""
    name = Path(out_path).name
    if not name.endswith(MANIFEST_EXTENSIONS):
        raise ValueError(f"output {out_path}: expected a name ending in .jsonl.gz (or .jsonl)")
    if os.path.realpath(in_path) == os.path.realpath(out_path):
        raise ValueError(f"output {out_path} is the input file: it would be overwritten; choose another name")


@contextmanager
def output_lock(out_path) -> Iterator[Path]:
    """Hold ``<out_path>.lock`` (an exclusive ``flock``) while a command writes ``out_path``:
    a second command writing the same output fails at once with a clear message instead of
    racing on the temporary files. The lock goes with the process (also when it is killed)."""
    import fcntl

    lock = Path(str(out_path) + ".lock")
    check_writable_dir(lock.parent)
    with open(lock, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RuntimeError(
                f"another command is writing {out_path} (lock {lock} is held); wait for it, or write to another output"
            ) from None
        try:
            yield lock
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
