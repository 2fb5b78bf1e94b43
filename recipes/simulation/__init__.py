"""Multi-speaker mixture simulation from single-speaker utterances -> lazy MixedCuts.

Input: a Lhotse CutSet of single-speaker utterances (MonoCuts), each with one
supervision that carries the speaker id and covers the *speech* of the
utterance (:func:`prepare_sources` trims it once with an energy VAD or the
word alignments, see below). Output: a CutSet of
:class:`lhotse.cut.MixedCut`, one track per source utterance placed at its
offset, with that utterance's supervision (so ``MixedCut.supervisions`` are
the speaker turns, in mixture time). No audio is written: Lhotse mixes the
tracks when ``cut.load_audio()`` is called (``--materialize`` writes 8 kHz
FLAC, an RTTM and a Kaldi data dir on request).

Methods (times in seconds)
--------------------------
``eend``
    The EEND recipes' algorithm (Fujita et al. 2019, ``random_mixture.py`` /
    ``make_mixture.py``): draw ``S`` distinct speakers (``S`` from the
    configured probabilities); for each, draw ``n ~ U{lo..hi}`` of its
    utterances without replacement (all of them when it has fewer); put a
    silence ``~ Exponential(scale=beta)`` before *every* utterance of the
    speaker and concatenate; the mixture is the sum of the speaker streams
    (length = longest stream). ``beta`` may depend on ``S`` (EEND-EDA: 2, 2, 5, 9).
``conversation``
    Simulated conversations (Landini et al., 2022), fitted to real turns
    (:func:`conversation_stats`: an RTTM file/dir or a CutSet). A turn is a
    stretch of one source utterance: consecutive speech segments with their real
    pauses (at most ``TURN_MAX_PAUSE``), one track and one supervision over them,
    as real turns are annotated; its length is the one of a real turn. Turn
    ``b`` follows the latest-ending turn ``a`` so far by a real transition (kind:
    same-speaker pause, speaker-change pause or overlap; its value; the length
    of the turn after it) drawn among those whose ``a`` was about as long (see
    :mod:`recipes.simulation.turn_taking`); an overlapping speaker is one who is silent
    by then. A speaker never starts before its own previous speech ended
    (+1 ms). Offsets are whole milliseconds, rounded as each turn is placed.
``target-overlap``
    ``eend`` with ``beta`` calibrated per (speaker count, overlap level) so that
    the pooled overlap ratio (overlap / speech of the supervisions, as
    ``diar describe``) of each combination equals the requested level: bisection on ``log(beta)`` over a fixed
    pilot of mixtures with common random numbers (silences are ``beta * E``,
    ``E ~ Exp(1)`` drawn once), which makes the pilot's ratio a monotone
    function of ``beta``. The calibration and the ratios reached are written
    in the statistics file.

Randomness and sharding
-----------------------
Mixture ``i`` draws everything from ``numpy.random.default_rng([seed, i])``;
shards are fixed ranges of mixture indices (``shard_size`` per shard) and
jobs take whole shards, so a seed gives byte-identical output for any
``--num-jobs`` (gzip headers carry no time stamp or name). ``--hours H`` sets
the number of mixtures to ``ceil(3600 H / expected mixture duration)`` (from
pilots of each (speaker count, level) combination, 2,000 mixtures in all),
so the set is about ``H`` hours (the statistics file says how many exactly).

Output layout (``OUT_CUTS = DIR/NAME.jsonl.gz``)
----------------------------------------------
- ``DIR/NAME.000000.jsonl.gz``, ``DIR/NAME.000001.jsonl.gz``, ...: the shards,
  each a complete gzip JSONL of MixedCuts (``CutSet.from_files(shards)``
  reads them lazily, and can shuffle shard order for training);
- ``DIR/NAME.shards.txt``: the shard file names in order (the index);
- ``DIR/NAME.jsonl.gz``: all shards concatenated (a multi-member gzip, which
  Lhotse reads lazily like any manifest), unless ``--no-merge``;
- ``DIR/NAME.stats.json``: what was simulated: configuration, calibration,
  hours, overlap ratio, silence ratio, histogram of speaker counts,
  per-mixture overlap-ratio distribution per (speaker count, level).
Every file is written under a temporary name and renamed when complete; the
index and the merged file are written last.

The recording of each MixedCut's first track (the earliest one) carries the
*mixture id* as its id (its audio source is unchanged), and that track's cut
the custom field ``recording_id``: Lhotse's MixedCut has no ``recording_id``
of its own; it answers only when a track has a custom field of that name, and
then with that track's recording id. ``recipes.labels`` (speaker order per
recording) and ``recipes.stats`` read it; with the source's id, mixtures that
start with the same source utterance would share a recording id. The first
track's supervision keeps the source's recording id.

Modules: ``config`` (presets), ``sources`` (VAD, source loading), ``turns`` (conversation
statistics), ``layouts`` (eend, conversation), ``simulator`` (calibration, one mixture),
``effects`` (noise, reverb), ``shards`` (writing a set), ``materialize`` (audio). The click
commands are in :mod:`recipes.cli_simulation`.
"""

from recipes.simulation.config import (  # noqa: F401
    HIST_BINS,
    METHODS,
    MIN_PAUSE,
    PILOT_MIXTURES,
    SUPERVISION_MODES,
    VAD_COLLAR,
    VAD_FRAME,
    VAD_SHIFT,
    SimulationConfig,
    load_config,
)
from recipes.simulation.effects import _Noise, _Reverb, load_noise  # noqa: F401
from recipes.simulation.layouts import (  # noqa: F401
    Layout,
    conversation_layout,
    eend_draws,
    eend_layout,
    overlap_speech,
)
from recipes.simulation.materialize import materialize  # noqa: F401
from recipes.simulation.shards import format_stats, shard_paths, simulate  # noqa: F401
from recipes.simulation.simulator import Simulator  # noqa: F401
from recipes.simulation.sources import (  # noqa: F401
    Sources,
    energy_vad,
    load_sources,
    prepare_sources,
    speaker_in_split,
    speech_segments,
)
from recipes.simulation.turn_taking import ConversationStats, conversation_stats, load_conversation_stats  # noqa: F401
