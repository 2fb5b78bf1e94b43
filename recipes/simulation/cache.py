"""A source cache: every single-speaker source (and noise) decoded and resampled to 8 kHz
16-bit once, in memory-mappable shards, so that mixtures are rendered at 8 kHz with no
FLAC decode and no resampling per training chunk (:mod:`recipes.simulation.render`).

Layout of ``DIR`` (built by ``diar simulate-sources --cache DIR``)::

    shard-00000.pcm        int16 little-endian, 8 kHz, the sources one after another
    shard-00000.energy     float32: each source's energy (sum of squares) at its own rate
                           per block of BLOCK_SECONDS, for Lhotse's SNR gains (which are
                           measured on the source-rate audio, not on the 8 kHz copy)
    shard-00000.json       the shard's index, written last (a shard without it is redone)
    meta.json              sampling rate, block length, shards

A source is keyed by its recording's audio path (``Recording.sources[0].source``): the
tracks of a simulated mixture keep it even where the simulator renames the recording.
Each source's samples are stored scaled to its peak (``scale`` per source: sample =
int16 * scale), so quiet sources keep their resolution. Cost: 16,000 bytes of PCM plus
16 bytes of energies per source second (16 kB of 16 KiB).
"""

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Dict, Iterable, List, Optional

import numpy as np

logger = logging.getLogger(__name__)

RATE = 8000
BLOCK_SECONDS = 0.25
SHARD_SECONDS = 4 * 3600.0  # about 230 MB of PCM per shard


def source_key(recording) -> str:
    return str(recording.sources[0].source)


# energy blocks decoded, converted and resampled at a time (60 s): a typical source in one read and
# one soxr call (soundfile's read seeks twice per call, which for FLAC is not free), a long noise
# recording in bounded memory; 4 s pieces, cache-hot, measured no faster
CHUNK_BLOCKS = 240


def _open_plain_pcm16(d: dict) -> Optional[tuple]:
    """``(SoundFile, path, rate, num_samples)`` for a recording dict with one ``file`` source,
    channel 0, no transforms, whose file is mono 16-bit PCM at the manifest's rate and length:
    its samples, read as int16 and scaled by 1/32768, are the values ``Recording.load_audio``
    gives (no Lhotse loader, no Recording built, no float decode). None for anything else
    (Lhotse reads it, and says why if it cannot)."""
    import soundfile as sf

    sources = d.get("sources") or []
    if d.get("transforms") or len(sources) != 1:
        return None
    src = sources[0]
    if src.get("type") != "file" or list(src.get("channels", ())) != [0]:
        return None
    path, sr, n = str(src["source"]), int(d["sampling_rate"]), int(d["num_samples"])
    try:
        f = sf.SoundFile(path)
    except (RuntimeError, OSError):  # (soundfile.LibsndfileError is a RuntimeError)
        return None
    if f.subtype == "PCM_16" and f.channels == 1 and f.samplerate == sr and f.frames == n:
        return f, path, sr, n
    f.close()
    return None


class _Encoder:
    """One shard's worker state: buffers and a soxr stream per rate, reused from source to
    source (``ResampleStream.clear`` gives the same output as a fresh stream and as one
    ``soxr.resample`` call on the whole signal; a test checks the cache against that)."""

    def __init__(self):
        self._streams: Dict[int, object] = {}
        self._buffers: Dict[tuple, np.ndarray] = {}

    def buffer(self, name: str, n: int, dtype) -> np.ndarray:
        buf = self._buffers.get((name, dtype))
        if buf is None or len(buf) < n:
            buf = self._buffers[(name, dtype)] = np.empty(max(n, 1), dtype=dtype)
        return buf[:n]

    def stream(self, sr: int):
        import soxr

        s = self._streams.get(sr)
        if s is None:
            s = self._streams[sr] = soxr.ResampleStream(sr, RATE, 1, dtype="float32", quality="HQ")
        else:
            s.clear()
        return s

    def encode(self, chunks, sr: int, n: int):
        """``chunks`` yields the source's float32 samples (values int16 / 32768 for PCM) in
        pieces of ``CHUNK_BLOCKS`` blocks; returns (int16 8 kHz samples, scale, energies per block)."""
        block = int(round(BLOCK_SECONDS * sr))
        energies = self.buffer("energy", -(-n // block), np.float32)
        y = self.buffer("y", int(np.ceil(n * RATE / sr)) + 16, np.float32)
        stream = self.stream(sr)
        done = filled = 0
        for x in chunks:
            full = len(x) // block
            b0 = done // block
            if full:
                whole = x[: full * block].reshape(full, block)
                np.einsum("ij,ij->i", whole, whole, out=energies[b0 : b0 + full])
            if len(x) > full * block:
                tail = x[full * block :]
                energies[b0 + full] = np.dot(tail, tail)
            done += len(x)
            out = stream.resample_chunk(x, last=done >= n)
            y[filled : filled + len(out)] = out
            filled += len(out)
        if done != n:
            raise ValueError(f"source cache: read {done} samples where the manifest says {n}")
        y = y[:filled]
        peak = max(float(y.max()), -float(y.min())) if filled else 0.0
        scale = peak / 32767 if peak > 0 else 1 / 32768
        # |y| <= peak, so |y / scale| rounds to at most 32767: no clipping needed
        np.divide(y, np.float32(scale), out=y)
        np.rint(y, out=y)
        q = self.buffer("q", filled, np.int16)
        np.copyto(q, y, casting="unsafe")
        return q, scale, energies

    def pcm16_chunks(self, f, n: int, step: int):
        """Blocks of a 16-bit PCM SoundFile read as int16 into one buffer, scaled to float32."""
        raw = self.buffer("raw", step, np.int16)
        x = self.buffer("x", step, np.float32)
        left = n
        while True:
            k = min(step, left)
            got = f.buffer_read_into(raw[:k], dtype="int16") if k else 0
            if got != k:
                raise ValueError(f"source cache: {f.name} ended {left - got} samples early")
            np.multiply(raw[:k], np.float32(1 / 32768), out=x[:k])
            yield x[:k]
            left -= k
            if left <= 0:
                return


def _step(sr: int) -> int:
    """Source samples per piece fed to the encoder: ``CHUNK_BLOCKS`` energy blocks."""
    return CHUNK_BLOCKS * int(round(BLOCK_SECONDS * sr))


def _encode_recording(enc: _Encoder, d: dict):
    """(key, rate, source samples, int16 8 kHz, scale, energies) of one recording dict: a plain
    16-bit PCM file is read straight by soundfile, block by block; anything else by Lhotse."""
    opened = _open_plain_pcm16(d)
    if opened is not None:
        f, path, sr, n = opened
        with f:
            return (path, sr, n) + enc.encode(enc.pcm16_chunks(f, n, _step(sr)), sr, n)
    from lhotse.serialization import deserialize_item

    rec = deserialize_item(dict(d))
    audio = rec.load_audio()
    if audio.shape[0] != 1:
        raise ValueError(f"source cache: {source_key(rec)} has {audio.shape[0]} channels; sources are mono")
    x = np.ascontiguousarray(audio[0], dtype=np.float32)
    sr, n = rec.sampling_rate, len(x)
    step = _step(sr)
    chunks = (x[a : a + step] for a in range(0, max(n, 1), step))
    return (source_key(rec), sr, n) + enc.encode(chunks, sr, n)


def _shard_task(recording_dicts: List[dict], shard_path: str, fingerprint: str) -> dict:
    """Worker: decode, resample, quantise and write one shard; returns its index."""
    from recipes.fileio import atomic_path

    base = Path(shard_path)
    entries = {}
    offset = 0
    energy_offset = 0
    enc = _Encoder()
    with (
        atomic_path(base.with_suffix(".pcm")) as pcm_tmp,
        atomic_path(base.with_suffix(".energy")) as en_tmp,
        open(pcm_tmp, "wb") as pcm,
        open(en_tmp, "wb") as en,
    ):
        for d in recording_dicts:
            key, sr, n, q, scale, energies = _encode_recording(enc, d)
            pcm.write(q.astype("<i2", copy=False))
            en.write(energies.astype("<f4", copy=False))
            entries[key] = {
                "offset": offset,
                "num_samples": int(len(q)),
                "scale": scale,
                "rate": sr,
                "source_samples": int(n),
                "energy_offset": energy_offset,
                "blocks": int(len(energies)),
            }
            offset += len(q)
            energy_offset += len(energies)
    index = {
        "pcm": base.with_suffix(".pcm").name,
        "energy": base.with_suffix(".energy").name,
        "sources": entries,
        "fingerprint": fingerprint,
    }
    with atomic_path(base.with_suffix(".json")) as tmp:
        Path(tmp).write_text(json.dumps(index))
    return {"seconds": sum(e["num_samples"] for e in entries.values()) / RATE, "sources": len(entries)}


def _fingerprint(recording_dicts: List[dict]) -> str:
    h = hashlib.sha1()
    for d in recording_dicts:
        h.update(json.dumps(d, sort_keys=True).encode())
    return h.hexdigest()


def build_source_cache(
    cuts: Iterable, cache_dir, num_jobs: int = 1, progress: bool = True, shard_seconds: float = SHARD_SECONDS
) -> dict:
    """Cache the audio of every recording the ``cuts`` (MonoCuts of sources or noise, or
    MixedCuts: their tracks) refer to. Resumable: shards whose index exists with the same
    recordings are kept. Returns ``{"sources", "seconds", "bytes", "shards", "built"}``."""
    from lhotse.cut import MixedCut, PaddingCut

    from recipes.fileio import check_writable_dir, write_text
    from recipes.parallel import map_tasks

    cache_dir = check_writable_dir(cache_dir)
    recordings: Dict[str, dict] = {}
    for cut in cuts:
        parts = [t.cut for t in cut.tracks] if isinstance(cut, MixedCut) else [cut]
        for c in parts:
            if isinstance(c, PaddingCut) or not c.has_recording:
                continue
            key = source_key(c.recording)
            if key not in recordings:
                rec = c.recording
                if rec.transforms:  # the cache holds the source as recorded; effects are applied when rendering
                    from lhotse.utils import fastcopy

                    rec = fastcopy(rec, transforms=None)
                recordings[key] = rec.to_dict()
    groups, group, secs = [], [], 0.0
    for d in recordings.values():
        if group and secs + d["duration"] > shard_seconds:
            groups.append(group)
            group, secs = [], 0.0
        group.append(d)
        secs += d["duration"]
    if group:
        groups.append(group)
    tasks, kept = [], 0
    for i, g in enumerate(groups):
        base = cache_dir / f"shard-{i:05d}"
        index = base.with_suffix(".json")
        if index.exists() and base.with_suffix(".pcm").exists():
            try:
                if json.loads(index.read_text()).get("fingerprint") == _fingerprint(g):
                    kept += 1
                    continue
            except ValueError:
                pass
        tasks.append((g, str(base), _fingerprint(g)))
    built = list(map_tasks(_shard_task, tasks, num_jobs, desc="source cache shards", progress=progress))
    meta = {"rate": RATE, "block_seconds": BLOCK_SECONDS, "shards": [f"shard-{i:05d}.json" for i in range(len(groups))]}
    write_text(cache_dir / "meta.json", json.dumps(meta, indent=1) + "\n")
    nbytes = sum(
        (cache_dir / f"shard-{i:05d}{ext}").stat().st_size
        for i in range(len(groups))
        for ext in (".pcm", ".energy", ".json")
    )
    seconds = sum(d["duration"] for d in recordings.values())
    logger.info(
        "source cache %s: %d sources, %.1f h, %d shard(s) built, %d kept, %.0f bytes per source second",
        cache_dir,
        len(recordings),
        seconds / 3600,
        len(built),
        kept,
        nbytes / max(seconds, 1e-9),
    )
    return {"sources": len(recordings), "seconds": seconds, "bytes": nbytes, "shards": len(groups), "built": len(built)}


class SourceCache:
    """Read side: memory-mapped shards; ``audio(key, start, duration)`` at 8 kHz (float32)
    and ``energy(key, start, duration)``: Lhotse's ``audio_energy`` of that span at the
    source's own rate (exact on whole blocks, partial blocks scaled from the 8 kHz copy)."""

    def __init__(self, cache_dir):
        self.dir = Path(cache_dir)
        meta_path = self.dir / "meta.json"
        if not meta_path.exists():
            raise FileNotFoundError(
                f"{self.dir}: not a source cache (no meta.json); build it with "
                f"`diar simulate-sources ... --cache {self.dir}`"
            )
        meta = json.loads(meta_path.read_text())
        self.rate = meta["rate"]
        self.block_seconds = meta["block_seconds"]
        self._entries: Dict[str, tuple] = {}
        self._shards: List[tuple] = []
        for i, name in enumerate(meta["shards"]):
            index = json.loads((self.dir / name).read_text())
            self._shards.append((self.dir / index["pcm"], self.dir / index["energy"]))
            for key, e in index["sources"].items():
                self._entries[key] = (i, e)
        self._maps: Dict[int, tuple] = {}

    def __contains__(self, key: str) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def _arrays(self, shard: int):
        if shard not in self._maps:  # opened lazily, per process (safe after fork)
            pcm, energy = self._shards[shard]
            self._maps[shard] = (np.memmap(pcm, dtype="<i2", mode="r"), np.fromfile(energy, dtype=np.float32))
        return self._maps[shard]

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_maps"] = {}
        return state

    def samples(self, key: str, first: int, count: int) -> np.ndarray:
        """8 kHz samples ``first .. first + count`` of a source (zeros outside it), float32."""
        shard, e = self._entries[key]
        pcm = self._arrays(shard)[0]
        out = np.zeros(count, dtype=np.float32)
        a, b = max(first, 0), min(first + count, e["num_samples"])
        if b > a:
            np.multiply(
                pcm[e["offset"] + a : e["offset"] + b],
                np.float32(e["scale"]),
                out=out[a - first : b - first],
                dtype=np.float32,
                casting="unsafe",
            )
        return out

    def energy(self, key: str, first_source: int, count_source: int) -> float:
        """Mean square of source-rate samples ``first_source .. + count_source`` (Lhotse's
        ``audio_energy`` of the track's audio), zeros past the end included."""
        shard, e = self._entries[key]
        pcm, energies = self._arrays(shard)
        sr = e["rate"]
        block = int(round(self.block_seconds * sr))
        en = energies[e["energy_offset"] : e["energy_offset"] + e["blocks"]].astype(np.float64)
        a, b = max(first_source, 0), min(first_source + count_source, e["source_samples"])
        if b <= a or count_source <= 0:
            return 0.0
        ba, bb = -(-a // block), b // block  # whole blocks inside [a, b)
        total = float(en[ba:bb].sum()) if bb > ba else 0.0

        def partial(s, t):  # source samples s..t within one block: the 8 kHz copy, scaled to that block's energy
            if t <= s:
                return 0.0
            k = s // block
            r = RATE / sr
            lo, hi = int(round(k * block * r)), int(round((k + 1) * block * r))
            blk = self.samples(key, lo, hi - lo).astype(np.float64)
            e8 = float(np.dot(blk, blk))
            if e8 <= 0:
                return 0.0
            part = blk[int(round(s * r)) - lo : int(round(t * r)) - lo]
            return float(en[k]) * float(np.dot(part, part)) / e8

        if bb >= ba:  # a block boundary lies in [a, b): the partial blocks on either side of the whole ones
            total += partial(a, ba * block) + partial(bb * block, b)
        else:  # a and b inside one block
            total += partial(a, b)
        return total / count_source


def open_cache(cache) -> Optional[SourceCache]:
    if cache is None or isinstance(cache, SourceCache):
        return cache
    return SourceCache(os.fspath(cache))
