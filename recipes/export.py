"""Exports of prepared CutSets to what diarization trainers read.

- :func:`export_kaldi`: a Kaldi data directory as EEND and ESPnet diar1 read it:
  ``wav.scp`` (at the features' rate, 8 kHz: a ``sox`` pipe when the audio has another
  rate or several channels, or, with ``audio="wav"``, 16-bit WAV files written once),
  ``segments`` (one utterance per speaker turn), ``utt2spk``,
  ``spk2utt``, ``rttm``, ``reco2dur`` (seconds), plus ``uem`` (scored regions).
- :func:`export_pyannote`: a pyannote.database protocol: ``database.yml`` with
  ``<NAME>.SpeakerDiarization.default`` and its train / development / test
  subsets (``lists/<subset>.lst``, ``rttms/<subset>.rttm``, ``uems/<subset>.uem``),
  audio linked under ``audio/<uri><ext>``.
- :func:`export_shar`: Lhotse Shar shards with features (lilcom) and labels
  (numpy), for streaming training from object storage.

Speaker turns are the cuts' supervisions; times are seconds in recording time.
"""

import logging
import os
import shlex
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Mapping, Tuple

from lhotse import CutSet

from recipes.cuts import cut_turns, cut_uem
from recipes.fileio import check_writable_dir, write_text
from recipes.rttm import Turn, write_rttm, write_uem

logger = logging.getLogger(__name__)

# split names used in our file names -> pyannote subset names
PYANNOTE_SUBSETS = {
    "train": "train",
    "dev": "development",
    "val": "development",
    "development": "development",
    "test": "test",
    "eval": "test",
}


def _audio_path_and_rate(cut) -> Tuple[str, int, int]:
    """Absolute path of the cut's single audio file (manifests hold paths relative to the
    recipe directory: resolved against the current directory), its rate and channel count."""
    if not cut.has_recording or not hasattr(cut, "recording"):
        raise ValueError(
            f"cut {cut.id}: exports need cuts with a recording "
            f"(materialize simulated mixtures first: diar simulate --materialize)"
        )
    rec = cut.recording
    if len(rec.sources) != 1 or rec.sources[0].type != "file":
        raise ValueError(
            f"recording {rec.id}: exports need one audio file per recording, "
            f"got {len(rec.sources)} source(s) of type {rec.sources[0].type}"
        )
    path = Path(rec.sources[0].source).resolve()
    if not path.is_file():
        raise FileNotFoundError(
            f"cut {cut.id}: audio {rec.sources[0].source} not found (resolved to {path}; "
            f"run the export from the recipe directory the manifest was written in)"
        )
    return str(path), rec.sampling_rate, rec.num_channels


def _source_rate(recording) -> int:
    """Sampling rate of the file itself (a lazily resampled recording keeps the original file)."""
    for t in recording.transforms or []:
        rate = t.get("source_sampling_rate") if isinstance(t, dict) else getattr(t, "source_sampling_rate", None)
        if rate:
            return int(rate)
    return recording.sampling_rate


def features_rate(cuts) -> "int | None":
    """The sampling rate the cuts' features were computed at (``None`` without features)."""
    for cut in cuts:
        return cut.features.sampling_rate if cut.has_features else None
    return None


def check_kaldi_rate(cuts, sampling_rate: "int | None") -> int:
    """The wav.scp rate: the features' rate by default; another rate than the features' is
    refused, since a trainer computing its own features from that audio (EEND's 8 kHz
    config on a 16 kHz export) would get frames that do not line up with the labels."""
    rate = features_rate(cuts)
    if sampling_rate is None:
        return rate or 8000
    if rate is not None and sampling_rate != rate:
        raise ValueError(
            f"--sampling-rate {sampling_rate} but the features of these cuts are at {rate} Hz: a trainer "
            f"reading {sampling_rate} Hz audio with a {rate} Hz feature config gets frames that do not "
            f"match the labels; leave --sampling-rate out (the features' rate) or export cuts "
            f"prepared at {sampling_rate} Hz"
        )
    return sampling_rate


def _write_wav(src: str, channel: int, channels: int, rate: int, dest: Path) -> None:
    """``dest``: 16-bit mono WAV at ``rate`` of one channel of ``src`` (soxr resampling), written
    under a temporary name; an existing ``dest`` of the right rate is kept (resumable)."""
    import numpy as np
    import soundfile

    if dest.is_file():
        try:
            info = soundfile.info(str(dest))
            if info.samplerate == rate and info.channels == 1:
                return
        except RuntimeError:
            pass
    from recipes.fileio import atomic_path

    data, sr = soundfile.read(src, dtype="float32", always_2d=True)
    mono = data[:, channel]
    if sr != rate:
        import soxr

        mono = soxr.resample(mono, sr, rate, quality="HQ")
    with atomic_path(dest) as tmp:
        soundfile.write(str(tmp), np.clip(mono, -1.0, 1.0), rate, subtype="PCM_16", format="WAV")


TIME_BASES = ("clip", "movie")


def _time_shift(cut, time_base: str) -> float:
    """Seconds added to the RTTM / UEM times of ``cut``: 0 in clip (audio) time; the cut's custom
    ``clip_offset`` (AVA-AVD: the clip start in its movie) for ``movie``."""
    if time_base == "clip":
        return 0.0
    if time_base != "movie":
        raise ValueError(f"time base {time_base!r}; expected one of {', '.join(TIME_BASES)}")
    offset = (cut.custom or {}).get("clip_offset") if hasattr(cut, "custom") else None
    if offset is None:
        raise ValueError(
            f"cut {cut.id} has no custom 'clip_offset': --time-base movie needs clips cut from a "
            "longer recording (AVA-AVD)"
        )
    return float(offset)


def _shifted(turns, uem, shift: float):
    return (
        [Turn(t.recording_id, t.start + shift, t.end + shift, t.speaker, t.channel) for t in turns],
        [(a + shift, b + shift) for a, b in uem],
    )


def export_kaldi(
    cuts: CutSet,
    out_dir,
    sampling_rate: "int | None" = None,
    audio: str = "pipe",
    wav_dir=None,
    time_base: str = "clip",
) -> Path:
    """Write a Kaldi data directory (see the module docstring). One ``wav.scp`` entry per
    recording; several cuts of one recording (windows) share it, their turns are written per
    cut (a turn crossing a window boundary becomes two touching segments).

    :param sampling_rate: Hz of the audio wav.scp delivers; default the features' rate
        (8000 without features); another rate than the features' is an error.
    :param audio: ``pipe``: a ``sox`` command where the file is not already a mono WAV at
        that rate (sox must be on PATH); ``wav``: 16-bit mono WAV files at that rate written
        once into ``wav_dir`` (default ``OUT_DIR/wav``; existing ones are kept, so a killed
        export resumes) and listed by absolute path: no pipe (EEND's README: pipes in wav.scp
        make training very slow).
    :param time_base: ``clip`` (the audio's time) or ``movie``: the ``rttm`` and ``uem`` files
        shifted by each cut's ``clip_offset`` (AVA-AVD's official time base; ``segments`` stay
        in audio time).
    """
    if audio not in ("pipe", "wav"):
        raise ValueError(f"audio {audio!r}; expected pipe or wav")
    cuts = cuts.to_eager() if hasattr(cuts, "to_eager") else cuts
    sampling_rate = check_kaldi_rate(cuts, sampling_rate)
    out_dir = check_writable_dir(out_dir)
    wav_dir = Path(wav_dir) if wav_dir is not None else out_dir / "wav"
    wav, reco2dur, segments, utt2spk, uem = {}, {}, [], [], {}
    spk2utt: Dict[str, List[str]] = defaultdict(list)
    turns: List[Turn] = []
    rttm_turns: List[Turn] = []  # in the time base asked for
    rttm_uem: Dict[str, list] = {}
    todo = []
    for cut in cuts:
        rec_id = cut.recording_id
        if rec_id not in wav:
            path, sr, channels = _audio_path_and_rate(cut)
            # The recording's own rate: a cut resampled lazily by Lhotse still points at the original file.
            source_rate = _source_rate(cut.recording)
            channel = cut.channel if isinstance(cut.channel, int) else cut.channel[0]
            if source_rate == sampling_rate and channels == 1 and path.lower().endswith(".wav"):
                wav[rec_id] = path  # Kaldi tools read RIFF WAV only: anything else is converted
            elif audio == "wav":
                dest = (wav_dir / f"{rec_id}.wav").absolute()
                todo.append((path, channel, channels, dest))
                wav[rec_id] = str(dest)
            else:
                remix = f" remix {channel + 1}" if channels > 1 else ""
                wav[rec_id] = f"sox {shlex.quote(str(path))} -t wav -r {sampling_rate} -b 16 -{remix} |"
            reco2dur[rec_id] = cut.recording.duration
        uem.setdefault(rec_id, []).extend(cut_uem(cut))
        for t in cut_turns(cut):
            turns.append(t)
        shift = _time_shift(cut, time_base)
        rttm_turns.extend(_shifted(cut_turns(cut), [], shift)[0])
        rttm_uem.setdefault(rec_id, []).extend(_shifted([], cut_uem(cut), shift)[1])
    if audio == "pipe" and any(v.endswith("|") for v in wav.values()):
        import shutil

        if shutil.which("sox") is None:
            raise RuntimeError(
                "sox is not on PATH, but wav.scp would hold sox pipes (the audio is not mono WAV at "
                f"{sampling_rate} Hz); install sox, or use --audio wav to write WAV files once"
            )
    if todo:
        from tqdm import tqdm

        check_writable_dir(wav_dir)
        for path, channel, channels, dest in tqdm(todo, desc=f"Writing {sampling_rate} Hz WAV", unit="file"):
            _write_wav(path, channel, channels, sampling_rate, dest)
    for t in sorted(set(turns)):
        utt = f"{t.speaker}_{t.recording_id}_{int(round(t.start * 100)):07d}_{int(round(t.end * 100)):07d}"
        segments.append(f"{utt} {t.recording_id} {t.start:.2f} {t.end:.2f}")
        utt2spk.append(f"{utt} {t.speaker}")
        spk2utt[t.speaker].append(utt)
    # Kaldi wants every file sorted by its first field (C locale)
    write_text(out_dir / "wav.scp", "".join(f"{r} {wav[r]}\n" for r in sorted(wav)))
    write_text(out_dir / "reco2dur", "".join(f"{r} {reco2dur[r]:.3f}\n" for r in sorted(reco2dur)))
    write_text(out_dir / "segments", "".join(f"{x}\n" for x in sorted(segments)))
    write_text(out_dir / "utt2spk", "".join(f"{x}\n" for x in sorted(utt2spk)))
    write_text(out_dir / "spk2utt", "".join(f"{s} {' '.join(sorted(u))}\n" for s, u in sorted(spk2utt.items())))
    write_rttm(sorted(set(rttm_turns)), out_dir / "rttm")
    write_uem(rttm_uem, out_dir / "uem")
    return out_dir


def split_name(path) -> str:
    """``ami-sdm_cuts_dev.jsonl.gz`` -> ``dev``: the split of a ``<prefix>_cuts_<split>`` file
    (:mod:`recipes.naming`); a label-type suffix (``_binary``, ``_powerset``, ``_target``,
    as ``diar labels`` writes) is not part of it."""
    from recipes import naming

    parsed = naming.parse(path)
    if parsed is None or parsed.kind != "cuts" or not parsed.split:
        raise ValueError(
            f"{path}: cannot tell the split from the file name (expected "
            f"<name>_cuts_<split>[_<label type>].jsonl.gz, or give --split NAME=CUTS)"
        )
    return parsed.split


def export_pyannote(named_cuts: Mapping[str, CutSet], out_dir, database: str, time_base: str = "clip") -> Path:
    """Write a pyannote.database protocol ``<database>.SpeakerDiarization.default``
    (``scope: database``, as pyannote's own database.yml: no warning, no fallback).

    Everything is checked before anything is written, and the files are written all or
    nothing: a failed export leaves no ``audio/`` or partial protocol behind.

    :param named_cuts: split name (train / dev / val / test / eval...) -> CutSet.
    """
    from recipes.fileio import atomic_group

    plan: Dict[str, Tuple[List[str], List[Turn], Dict[str, list]]] = {}
    links: Dict[str, str] = {}
    extensions = set()
    for split, cuts in named_cuts.items():
        subset = PYANNOTE_SUBSETS.get(split)
        if subset is None:
            raise ValueError(f"split {split!r} has no pyannote subset; expected one of {sorted(PYANNOTE_SUBSETS)}")
        if subset in plan:
            raise ValueError(f"two inputs map to the pyannote subset {subset!r}")
        turns, uem, uris = [], {}, []
        for cut in cuts:
            path, _, _ = _audio_path_and_rate(cut)
            ext = Path(path).suffix
            extensions.add(ext)
            links[f"{cut.recording_id}{ext}"] = path
            if cut.recording_id not in uem:
                uris.append(cut.recording_id)
            shift = _time_shift(cut, time_base)  # movie: AVA-AVD's official time base
            cut_t, cut_u = _shifted(cut_turns(cut), cut_uem(cut), shift)
            uem.setdefault(cut.recording_id, []).extend(cut_u)
            turns.extend(cut_t)
        plan[subset] = (uris, turns, uem)
    if len(extensions) != 1:
        raise ValueError(f"pyannote needs one audio path template; the audio has extensions {sorted(extensions)}")
    import yaml

    out_dir = check_writable_dir(out_dir)
    subsets: Dict[str, object] = {"scope": "database"}
    with atomic_group() as stage:
        for subset, (uris, turns, uem) in plan.items():
            stage(out_dir / "lists" / f"{subset}.lst").write_text("".join(f"{u}\n" for u in sorted(uris)))
            write_rttm(turns, stage(out_dir / "rttms" / f"{subset}.rttm"))
            write_uem(uem, stage(out_dir / "uems" / f"{subset}.uem"))
            subsets[subset] = {
                "uri": f"lists/{subset}.lst",
                "annotation": f"rttms/{subset}.rttm",
                "annotated": f"uems/{subset}.uem",
            }
        config = {
            "Databases": {database: f"audio/{{uri}}{extensions.pop()}"},
            "Protocols": {database: {"SpeakerDiarization": {"default": subsets}}},
        }
        stage(out_dir / "database.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    audio_dir = out_dir / "audio"
    audio_dir.mkdir(exist_ok=True)
    for name, target in sorted(links.items()):
        link = audio_dir / name
        if link.is_symlink() and os.path.realpath(link) != os.path.realpath(target):
            link.unlink()  # dangling, or from an earlier export of other audio
        if not link.exists():
            os.symlink(target, link)
    return out_dir / "database.yml"


def export_shar(
    cuts: CutSet, out_dir, shard_size: int = 1000, features_format: str = "lilcom", with_audio: bool = False
) -> List[str]:
    """Write Lhotse Shar shards with features and, when present, labels (numpy, lossless).

    ``features_format``: ``lilcom`` (compact; features already decoded from a
    lilcom archive are re-quantised, so values move by up to one quantisation
    step, 2**-5 at Lhotse's default) or ``numpy`` (an exact copy of the stored
    values, about 4x larger). ``with_audio`` adds the audio as FLAC (needed for
    on-the-fly features or augmentation).
    """
    if features_format not in ("lilcom", "numpy"):
        raise ValueError(f"features_format {features_format!r}; expected lilcom or numpy")
    out_dir = check_writable_dir(out_dir)
    first = next(iter(cuts))
    fields = {}
    if first.has_features:
        fields["features"] = features_format
    if first.custom and "labels" in first.custom:
        fields["labels"] = "numpy"
    if with_audio:
        fields["recording"] = "flac"
    written = cuts.to_shar(out_dir, fields=fields, shard_size=shard_size)
    return [p for paths in written.values() for p in paths]
