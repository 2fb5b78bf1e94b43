"""Exports of prepared CutSets to what diarization trainers read.

- :func:`export_kaldi`: a Kaldi data directory as EEND and ESPnet diar1 read it:
  ``wav.scp`` (8 kHz: a ``sox`` pipe when the audio has another rate or several
  channels), ``segments`` (one utterance per speaker turn), ``utt2spk``,
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

from recipes.fileio import check_writable_dir, write_text
from recipes.cuts import cut_turns, cut_uem
from recipes.rttm import Turn, write_rttm, write_uem

logger = logging.getLogger(__name__)

# split names used in our file names -> pyannote subset names
PYANNOTE_SUBSETS = {"train": "train", "dev": "development", "val": "development", "development": "development",
                    "test": "test", "eval": "test"}


def _audio_path_and_rate(cut) -> Tuple[str, int, int]:
    """Absolute path of the cut's single audio file (manifests hold paths relative to the
    recipe directory: resolved against the current directory), its rate and channel count."""
    if not cut.has_recording or not hasattr(cut, "recording"):
        raise ValueError(f"cut {cut.id}: exports need cuts with a recording "
                         f"(materialize simulated mixtures first: diar simulate --materialize)")
    rec = cut.recording
    if len(rec.sources) != 1 or rec.sources[0].type != "file":
        raise ValueError(f"recording {rec.id}: exports need one audio file per recording, "
                         f"got {len(rec.sources)} source(s) of type {rec.sources[0].type}")
    path = Path(rec.sources[0].source).resolve()
    if not path.is_file():
        raise FileNotFoundError(f"cut {cut.id}: audio {rec.sources[0].source} not found (resolved to {path}; "
                                f"run the export from the recipe directory the manifest was written in)")
    return str(path), rec.sampling_rate, rec.num_channels


def _source_rate(recording) -> int:
    """Sampling rate of the file itself (a lazily resampled recording keeps the original file)."""
    for t in recording.transforms or []:
        rate = t.get("source_sampling_rate") if isinstance(t, dict) else getattr(t, "source_sampling_rate", None)
        if rate:
            return int(rate)
    return recording.sampling_rate


def export_kaldi(cuts: CutSet, out_dir, sampling_rate: int = 8000) -> Path:
    """Write a Kaldi data directory (see the module docstring). One ``wav.scp`` entry per
    recording; several cuts of one recording (windows) share it, their turns are written per
    cut (a turn crossing a window boundary becomes two touching segments)."""
    out_dir = check_writable_dir(out_dir)
    wav, reco2dur, segments, utt2spk, uem = {}, {}, [], [], {}
    spk2utt: Dict[str, List[str]] = defaultdict(list)
    turns: List[Turn] = []
    for cut in cuts:
        rec_id = cut.recording_id
        if rec_id not in wav:
            path, sr, channels = _audio_path_and_rate(cut)
            # The recording's own rate: a cut resampled lazily by Lhotse still points at the original file.
            source_rate = _source_rate(cut.recording)
            channel = cut.channel if isinstance(cut.channel, int) else cut.channel[0]
            if source_rate == sampling_rate and channels == 1 and path.lower().endswith(".wav"):
                wav[rec_id] = path  # Kaldi tools read RIFF WAV only: anything else goes through sox
            else:
                remix = f" remix {channel + 1}" if channels > 1 else ""
                wav[rec_id] = f"sox {shlex.quote(str(path))} -t wav -r {sampling_rate} -b 16 -{remix} |"
            reco2dur[rec_id] = cut.recording.duration
        uem.setdefault(rec_id, []).extend(cut_uem(cut))
        for t in cut_turns(cut):
            turns.append(t)
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
    write_rttm(sorted(set(turns)), out_dir / "rttm")
    write_uem(uem, out_dir / "uem")
    return out_dir


def split_name(path) -> str:
    """``ami-sdm_cuts_dev.jsonl.gz`` -> ``dev``: the part after ``_cuts_`` (:mod:`recipes.naming`),
    label type included (``dev_binary``)."""
    from recipes import naming

    parsed = naming.parse(path)
    if parsed is None or parsed.kind != "cuts" or not (parsed.split or parsed.label_type):
        raise ValueError(f"{path}: cannot tell the split from the file name (expected <name>_cuts_<split>.jsonl.gz)")
    return "_".join(p for p in (parsed.split, parsed.label_type) if p)


def export_pyannote(named_cuts: Mapping[str, CutSet], out_dir, database: str) -> Path:
    """Write a pyannote.database protocol ``<database>.SpeakerDiarization.default``.

    :param named_cuts: split name (train / dev / val / test / eval...) -> CutSet.
    """
    out_dir = check_writable_dir(out_dir)
    audio_dir = out_dir / "audio"
    audio_dir.mkdir(exist_ok=True)
    subsets: Dict[str, Dict[str, str]] = {}
    extensions = set()
    for split, cuts in named_cuts.items():
        subset = PYANNOTE_SUBSETS.get(split)
        if subset is None:
            raise ValueError(f"split {split!r} has no pyannote subset; expected one of {sorted(PYANNOTE_SUBSETS)}")
        if subset in subsets:
            raise ValueError(f"two inputs map to the pyannote subset {subset!r}")
        turns, uem, uris = [], {}, []
        for cut in cuts:
            path, _, _ = _audio_path_and_rate(cut)
            ext = Path(path).suffix
            extensions.add(ext)
            link = audio_dir / f"{cut.recording_id}{ext}"
            if link.is_symlink() and not link.exists():
                link.unlink()  # dangling, from an earlier export
            if not link.exists():
                os.symlink(path, link)
            if cut.recording_id not in uem:
                uris.append(cut.recording_id)
            uem.setdefault(cut.recording_id, []).extend(cut_uem(cut))
            turns.extend(cut_turns(cut))
        write_text(out_dir / "lists" / f"{subset}.lst", "".join(f"{u}\n" for u in sorted(uris)))
        write_rttm(turns, out_dir / "rttms" / f"{subset}.rttm")
        write_uem(uem, out_dir / "uems" / f"{subset}.uem")
        subsets[subset] = {"uri": f"lists/{subset}.lst", "annotation": f"rttms/{subset}.rttm",
                           "annotated": f"uems/{subset}.uem"}
    if len(extensions) != 1:
        raise ValueError(f"pyannote needs one audio path template; the audio has extensions {sorted(extensions)}")
    import yaml

    config = {
        "Databases": {database: f"audio/{{uri}}{extensions.pop()}"},
        "Protocols": {database: {"SpeakerDiarization": {"default": subsets}}},
    }
    write_text(out_dir / "database.yml", yaml.safe_dump(config, sort_keys=False))
    return out_dir / "database.yml"


def export_shar(cuts: CutSet, out_dir, shard_size: int = 1000, features_format: str = "lilcom",
                with_audio: bool = False) -> List[str]:
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
