"""Resumable, verified downloads and archive extraction for stage 0.

Why not ``lhotse.utils.resumable_download``: it writes straight to the final
file name, so an interrupted download looks complete to the next run, and when
a server answers a ``Range`` request with ``200`` (whole body) it appends that
body after the bytes already there, corrupting the file. Here:

- data goes to ``<dest>.part``; it is renamed to ``<dest>`` only after the
  size (``Content-Length``) and checksum (when one is published) match;
- a rerun resumes ``<dest>.part`` with ``Range: bytes=N-``; a ``200`` reply
  restarts from zero, a ``416`` means the part is already whole;
- a checksum mismatch deletes the part and raises, naming URL and digests;
- ``file://`` URLs work (used by the tests and for local mirrors).
"""

import hashlib
import logging
import os
import tarfile
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import Optional, Tuple

from tqdm import tqdm

logger = logging.getLogger(__name__)

CHUNK = 1 << 20  # bytes


class DownloadError(RuntimeError):
    pass


def file_digest(path, algorithm: str = "sha256") -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def _verify(path: Path, url: str, sha256: Optional[str], md5: Optional[str]) -> None:
    for algorithm, expected in (("sha256", sha256), ("md5", md5)):
        if expected:
            got = file_digest(path, algorithm)
            if got.lower() != expected.lower():
                raise DownloadError(f"{url}: {algorithm} mismatch: expected {expected}, got {got} ({path})")


def download_file(
    url: str,
    dest,
    sha256: Optional[str] = None,
    md5: Optional[str] = None,
    force: bool = False,
    retries: int = 3,
    progress: bool = True,
    auth: Optional[Tuple[str, str]] = None,
    hint: Optional[str] = None,
) -> Path:
    """Download ``url`` to ``dest`` (resuming ``dest.part``); return ``dest``.

    An existing ``dest`` is verified against the checksum (when given) and kept;
    with ``force`` it is downloaded again. ``auth``: ``(user, password)`` sent as HTTP
    Basic authentication (see :func:`credentials`). ``hint``: what to do, appended to
    the error of a 401 / 403 answer.
    """
    dest = Path(dest)
    part = dest.with_name(dest.name + ".part")
    if dest.exists() and not force:
        _verify(dest, url, sha256, md5)
        logger.info("%s: already downloaded", dest)
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    if force and part.exists():
        part.unlink()
    for attempt in range(1, retries + 1):
        try:
            _fetch(url, part, progress, auth)
            break
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as e:
            if isinstance(e, urllib.error.HTTPError) and e.code in (401, 403):
                what = "credentials refused" if auth else "the server asks for credentials"
                raise DownloadError(f"{url}: HTTP {e.code} {e.reason} ({what})" + (f"; {hint}" if hint else "")) from e
            if isinstance(e, urllib.error.HTTPError) and e.code == 404:
                raise DownloadError(f"{url}: HTTP {e.code} {e.reason}") from e
            if attempt == retries:
                raise DownloadError(f"{url}: failed after {retries} attempts: {e}") from e
            logger.warning(
                "%s: %s; retrying (%d/%d), resuming from %d bytes",
                url,
                e,
                attempt,
                retries,
                part.stat().st_size if part.exists() else 0,
            )
            time.sleep(min(2**attempt, 10) * 0.1)
    try:
        _verify(part, url, sha256, md5)
    except DownloadError:
        part.unlink()
        raise
    os.replace(part, dest)
    return dest


def credentials(
    url: str, user: Optional[str] = None, password: Optional[str] = None, netrc_file=None
) -> Optional[Tuple[str, str]]:
    """``(user, password)`` for ``url``: the ones given, else the ``machine <host>`` entry of
    ``netrc_file`` (``login`` / ``password``); None when neither is given. A netrc file without
    an entry for the host, or a user without a password, is an error."""
    if user is not None or password is not None:
        if user is None or password is None:
            raise ValueError("give both a user and a password (or a netrc file)")
        return user, password
    if netrc_file is None:
        return None
    import netrc
    from urllib.parse import urlsplit

    host = urlsplit(url).hostname or ""
    try:
        entry = netrc.netrc(str(netrc_file)).authenticators(host)
    except (OSError, netrc.NetrcParseError) as e:
        raise ValueError(f"{netrc_file}: cannot read the netrc file ({e})") from e
    if entry is None:
        raise ValueError(f"{netrc_file}: no 'machine {host}' (nor 'default') entry for {url}")
    login, _, secret = entry
    return login or "", secret or ""


def _fetch(url: str, part: Path, progress: bool, auth: Optional[Tuple[str, str]] = None) -> None:
    """Append the missing bytes of ``url`` to ``part``; raise if the transfer is short."""
    have = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": "diar-recipes"}
    if auth is not None:
        import base64

        headers["Authorization"] = "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    if have and not url.startswith("file:"):
        headers["Range"] = f"bytes={have}-"
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=60)
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:  # nothing left to fetch: the part is whole
            return
        raise
    with response:
        status = getattr(response, "status", 200)
        if status == 206:
            length = response.headers.get("Content-Length")
            total = have + int(length) if length is not None else None
            mode = "ab"
        else:  # 200 (or file://): the whole body; restart from zero
            length = response.headers.get("Content-Length")
            total = int(length) if length is not None else None
            have, mode = 0, "wb"
        with (
            open(part, mode) as f,
            tqdm(
                total=total, initial=have, unit="B", unit_scale=True, desc=part.name[:-5], disable=not progress
            ) as bar,
        ):
            while True:
                block = response.read(CHUNK)
                if not block:
                    break
                f.write(block)
                bar.update(len(block))
    size = part.stat().st_size
    if total is not None and size != total:
        raise ConnectionError(f"short transfer: {size} of {total} bytes")


def extract_archive(archive, target_dir, done_marker: bool = True) -> Path:
    """Extract a .tar(.gz|.bz2|.xz) or .zip archive into ``target_dir`` safely.

    Members that would land outside ``target_dir`` are refused. With
    ``done_marker`` a ``.<archive name>.extracted`` file is written last, and an
    archive whose marker exists is not extracted again.
    """
    archive, target_dir = Path(archive), Path(target_dir)
    marker = target_dir / f".{archive.name}.extracted"
    if done_marker and marker.exists():
        return target_dir
    target_dir.mkdir(parents=True, exist_ok=True)
    root = target_dir.resolve()
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as z:
            for name in z.namelist():
                if root not in (root / name).resolve().parents and (root / name).resolve() != root:
                    raise DownloadError(f"{archive}: member {name!r} would be written outside {target_dir}")
            z.extractall(target_dir)
    else:
        try:
            tar = tarfile.open(archive)
        except tarfile.TarError as e:
            raise DownloadError(f"{archive}: not a tar or zip archive ({e})") from e
        with tar:
            for member in tar.getmembers():
                path = (root / member.name).resolve()
                if path != root and root not in path.parents:
                    raise DownloadError(f"{archive}: member {member.name!r} would be written outside {target_dir}")
                if member.issym() or member.islnk():
                    link = (path.parent / member.linkname).resolve()
                    if root not in link.parents and link != root:
                        raise DownloadError(f"{archive}: link {member.name!r} points outside {target_dir}")
            tar.extractall(target_dir)
    if done_marker:
        marker.touch()
    return target_dir


def download_archive(
    entry,
    target_dir,
    base_url: Optional[str] = None,
    url: Optional[str] = None,
    sha256: Optional[str] = None,
    force: bool = False,
    progress: bool = True,
) -> Path:
    """Fetch one archive of a corpus YAML (``entry``: ``url``, ``file``, optional ``sha256``)
    into ``target_dir/downloads/<file>`` and extract it into ``target_dir``. ``base_url``
    replaces the directory of the URL (same file name); ``url`` replaces the whole URL.
    Returns the archive's path."""
    target = Path(target_dir)
    if url is None:
        url = f"{base_url.rstrip('/')}/{entry['file']}" if base_url else entry["url"]
    archive = download_file(
        url, target / "downloads" / entry["file"], sha256=sha256 or entry.get("sha256"), force=force, progress=progress
    )
    extract_archive(archive, target)
    return archive


def download_each(items, fetch, desc: str, progress: bool = True, note: str = "prepare reports their recordings"):
    """``fetch(item)`` for every item (a progress bar); an item the server does not have
    (HTTP 404) is skipped and listed in one warning (``note`` says what follows from it);
    any other error stops. Returns the skipped items."""
    missing = []
    for item in tqdm(list(items), desc=desc, disable=not progress):
        try:
            fetch(item)
        except DownloadError as e:
            if "HTTP 404" not in str(e):
                raise
            missing.append(item)
    if missing:
        shown = ", ".join(map(str, missing[:5])) + (" ..." if len(missing) > 5 else "")
        logger.warning("%d file(s) not on the server (%s): %s", len(missing), note, shown)
    return missing


def link_or_copy_tree(source, target) -> Path:
    """Stage 0 with ``--corpus-dir``: make ``target`` point at an existing copy (symlink)."""
    source, target = Path(source).resolve(), Path(target)
    if not source.is_dir():
        raise FileNotFoundError(f"corpus directory {source} does not exist")
    if target.is_symlink() or target.exists():
        if target.is_symlink() and target.resolve() == source:
            return target
        raise FileExistsError(f"{target} exists and is not a link to {source}; remove it first")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.symlink_to(source, target_is_directory=True)
    return target


__all__ = [
    "download_file",
    "credentials",
    "download_archive",
    "download_each",
    "extract_archive",
    "link_or_copy_tree",
    "file_digest",
    "DownloadError",
]
