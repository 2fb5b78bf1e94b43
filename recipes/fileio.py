"""Atomic writes: outputs appear under their final name only when complete.

A stage that is killed leaves at most a ``.partial`` file behind, which no
later stage reads and which the next run overwrites.
"""
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def partial_path(path) -> Path:
    """Temporary sibling of ``path`` that keeps its (compound) extension, e.g.
    ``cuts.jsonl.gz`` -> ``cuts.partial.jsonl.gz`` so Lhotse still infers the format."""
    path = Path(path)
    name = path.name
    for ext in (".jsonl.gz", ".jsonl", ".json", ".yaml", ".txt", ".rttm", ".uem", ".h5", ".png"):
        if name.endswith(ext):
            return path.with_name(name[: -len(ext)] + ".partial" + ext)
    return path.with_name(name + ".partial")


@contextmanager
def atomic_path(path) -> Iterator[Path]:
    """Yield a temporary path to write; rename it to ``path`` when the block succeeds."""
    path = Path(path)
    check_writable_dir(path.parent)
    tmp = partial_path(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def save_manifest(manifest, path) -> Path:
    """Write a Lhotse manifest (CutSet, RecordingSet, ...) atomically."""
    with atomic_path(path) as tmp:
        manifest.to_file(tmp)
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
