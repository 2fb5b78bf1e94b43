"""The :class:`Simulator`: calibration, one mixture's layout and JSON as a pure function of ``(seed, index)``,
and the set statistics accumulated over mixtures."""

import bisect
import json
import logging
import math
from typing import Dict, List, Optional, Tuple

import numpy as np

from recipes.simulation.config import HIST_BINS, PILOT_MIXTURES, SimulationConfig
from recipes.simulation.effects import _Reverb, load_noise
from recipes.simulation.layouts import (
    OVERLAP_PROBABILITY,
    Layout,
    _draw_combination,
    batch_overlap_speech,
    combination_cdf,
    conversation_layout,
    eend_draws,
    eend_layout,
    joint_batch,
    joint_draws,
    joint_layout,
    joint_layout_batch,
    overlap_speech,
)
from recipes.simulation.sources import Sources
from recipes.simulation.turn_taking import ConversationStats, load_conversation_stats

logger = logging.getLogger(__name__)


class Simulator:
    """Holds the sources and calibration; ``layout(i)`` is a pure function of ``(seed, i)``."""

    def __init__(
        self,
        src: Sources,
        cfg: SimulationConfig,
        seed: int = 0,
        conv_stats: Optional[ConversationStats] = None,
        prefix: str = "mix",
    ):
        self.src, self.cfg, self.seed, self.prefix = src, cfg, int(seed), prefix
        self.combos = cfg.combinations()
        self.blocks: List[Tuple[int, Tuple[int, Optional[float]]]] = []  # (end index, combination)
        self.conv_stats = conv_stats
        if cfg.method == "conversation" and conv_stats is None:
            self.conv_stats = load_conversation_stats(cfg.conversation_stats, max_gap=cfg.outlier_cutoff)
        self.noise = None
        if cfg.noise and cfg.noise.get("cuts"):
            self.noise = load_noise(cfg.noise)
            if self.noise.reference == "mixture" and not np.all(np.isfinite(src.energy)):
                raise ValueError(
                    "noise: reference mixture needs each source's energy (custom field 'energy'); "
                    "run `diar simulate-sources` on the sources, or set noise: {reference: first_track}"
                )
        self.reverb = None
        if cfg.reverb and cfg.reverb.get("rirs"):
            if src.has_transforms:
                raise ValueError("reverb: source recordings already have transforms; prepare plain sources")
            self.reverb = _Reverb(cfg.reverb, src.sampling_rate)
        self.calibration: Dict[str, dict] = {}
        self.betas: Dict[Tuple[int, Optional[float]], float] = {}
        self.scales: Dict[Tuple[int, Optional[float]], Tuple[float, float]] = {}  # joint: (overlap, pause)
        self.joint = cfg.method == "target-overlap" and cfg.target_silence is not None
        for k, level, _ in self.combos:
            if self.joint:
                self.scales[(k, level)] = self._calibrate_joint(k, level)
            else:
                self.betas[(k, level)] = cfg.beta_for(k) if level is None else self._calibrate(k, level)
        if self.joint:  # the speakers' weights are shares of hours: per mixture, share / mean duration
            w = [p / self.calibration[self._key(k, lv)]["pilot_mean_duration"] for k, lv, p in self.combos]
            self.combos = [(k, lv, x / sum(w)) for (k, lv, _), x in zip(self.combos, w)]
        self.combo_cdf = combination_cdf(self.combos)  # what a mixture's combination is drawn by

    @staticmethod
    def _key(k: int, level: Optional[float]) -> str:
        return f"{k}spk" + ("" if level is None else f"@{level}")

    def _pilot_joint(self, pilots, k: int, c: float, g: float) -> Tuple[float, float, float]:
        """Pooled ``(overlap / speech, silence / duration, mean duration)`` of the pilot batch."""
        offs = joint_layout_batch(pilots, k, c, g, self.cfg.max_duration)
        ov, sp, durations = batch_overlap_speech(pilots, offs)
        dur = float(durations.sum())
        return (ov / sp if sp else 0.0), ((dur - sp) / dur if dur else 0.0), dur / len(durations)

    def _calibrate_joint(self, k: int, level: Optional[float]) -> Tuple[float, float]:
        """``(overlap_scale, pause_scale)`` whose pooled pilot overlap / speech equals ``level``
        (0 for one speaker) and silence / duration ``target_silence``: bisection on the overlap
        scale at pause scale 0, then on the pause scale, then both once more (the pauses change
        the overlap a little); pilots replayed with common random numbers, all at once
        (:func:`joint_layout_batch`)."""
        m = self.cfg.calibration_mixtures
        target_sil = float(self.cfg.target_silence)
        tag = int(round((level or 0) * 1e6))
        rngs = (np.random.default_rng([self.seed, 1 << 41, k, tag, j]) for j in range(m))
        pilots = joint_batch([joint_draws(r, self.src, k, self.cfg) for r in rngs], self.src)

        def bisect(f, target):  # f increasing on [0, 60] s
            lo, hi = 0.0, 60.0
            for _ in range(18):
                mid = (lo + hi) / 2
                lo, hi = (mid, hi) if f(mid) < target else (lo, mid)
            return round((lo + hi) / 2, 6)

        c = g = 0.0
        if level is not None and k > 1:
            top = self._pilot_joint(pilots, k, 60.0, 0.0)[0]
            if top < level:
                raise ValueError(
                    f"target overlap {level} for {k} speakers is out of reach with these sources (at most {top:.3f})"
                )
        for _ in range(2):  # pauses move the overlap a little (they change the rooms): solve twice
            if level is not None and k > 1:
                c = bisect(lambda x: self._pilot_joint(pilots, k, x, g)[0], level)
            sil0 = self._pilot_joint(pilots, k, c, 0.0)[1]
            if sil0 > target_sil:
                logger.warning(
                    "target-overlap: %d speakers @ %s: silence is %.3f without pauses (the sources' own "
                    "silence), above target_silence %.3f",
                    k,
                    level,
                    sil0,
                    target_sil,
                )
                g = 0.0
                break
            g = bisect(lambda x: self._pilot_joint(pilots, k, c, x)[1], target_sil)
        ov, sil, mean_dur = self._pilot_joint(pilots, k, c, g)
        self.calibration[self._key(k, level)] = {
            "speakers": k,
            "target": level,
            "target_silence": target_sil,
            "overlap_scale": c,
            "pause_scale": g,
            "overlap_probability": OVERLAP_PROBABILITY,
            "pilot_mixtures": m,
            "pilot_overlap_ratio": ov,
            "pilot_silence_ratio": sil,
            "pilot_mean_duration": mean_dur,
        }
        logger.info(
            "target-overlap: %d speakers @ %s -> overlap scale %.3f s, pause scale %.3f s (pilot overlap "
            "%.4f, silence %.4f)",
            k,
            level,
            c,
            g,
            ov,
            sil,
        )
        return c, g

    # -- calibration -------------------------------------------------------
    def _pilot_ratio(self, pilots, beta: float) -> float:
        ov = sp = 0.0
        for draws in pilots:
            srcs, offs = eend_layout(draws, self.src, beta)
            o, s, _ = overlap_speech(offs + self.src.sup_start[srcs], offs + self.src.sup_end[srcs])
            ov += o
            sp += s
        return ov / sp if sp else 0.0

    def _calibrate(self, k: int, level: float) -> float:
        """Silence scale whose pooled pilot overlap ratio equals ``level`` (bisection on log beta)."""
        m = self.cfg.calibration_mixtures
        tag = int(round(level * 1e6))
        pilots = [
            eend_draws(np.random.default_rng([self.seed, 1 << 40, k, tag, j]), self.src, k, self.cfg) for j in range(m)
        ]
        lo, hi = math.log(1e-3), math.log(1e3)
        r_lo, r_hi = self._pilot_ratio(pilots, math.exp(lo)), self._pilot_ratio(pilots, math.exp(hi))
        if not r_hi <= level <= r_lo:
            raise ValueError(
                f"target overlap {level} for {k} speakers is out of reach: silence scales "
                f"1e-3..1e3 s give {r_lo:.3f}..{r_hi:.3f} with these sources"
            )
        for _ in range(40):
            mid = (lo + hi) / 2
            if self._pilot_ratio(pilots, math.exp(mid)) > level:
                lo = mid
            else:
                hi = mid
        beta = round(math.exp((lo + hi) / 2), 6)
        reached = self._pilot_ratio(pilots, beta)
        self.calibration[f"{k}spk@{level}"] = {
            "speakers": k,
            "target": level,
            "beta": beta,
            "pilot_mixtures": m,
            "pilot_overlap_ratio": reached,
        }
        logger.info("target-overlap: %d speakers, overlap %.3f -> beta %.4f s (pilot %.4f)", k, level, beta, reached)
        return beta

    # -- one mixture ---------------------------------------------------------
    def rng(self, index: int):
        return np.random.default_rng([self.seed, index])

    def block_speakers(self, block: int, position: int, num_speakers: int) -> np.ndarray:
        """Speakers of mixture ``position`` of combination block ``block``: every block walks
        through the whole speaker pool, ``num_speakers`` at a time, in a fresh random order per
        pass (a pass's last mixture is topped up from the head of its order), so the first
        ``ceil(pool / num_speakers)`` mixtures of a block use every speaker and usage stays even."""
        n = len(self.src.speakers)
        if num_speakers > n:
            raise ValueError(f"{num_speakers} speakers per mixture but only {n} in the sources")
        per_pass = -(-n // num_speakers)
        turn, c = divmod(position, per_pass)
        order = np.random.default_rng([self.seed, 1 << 42, block, turn]).permutation(n)
        chunk = order[c * num_speakers : (c + 1) * num_speakers]
        return np.concatenate([chunk, order[: num_speakers - len(chunk)]]) if len(chunk) < num_speakers else chunk

    def layout(
        self, index: int, combination: Optional[Tuple[int, Optional[float]]] = None, block: Optional[int] = None
    ) -> Layout:
        """Mixture ``index``. With combination blocks (:meth:`set_hours_per_combination`) its
        block gives the combination and the speakers (:meth:`block_speakers`); ``block`` names
        the block while they are being laid out."""
        rng = self.rng(index)
        speakers = None
        if block is None and combination is None and self.blocks:
            block = min(bisect.bisect_right([e for e, _ in self.blocks], index), len(self.blocks) - 1)
            combination = self.blocks[block][1]
        if block is not None:
            start = self.blocks[block - 1][0] if block > 0 else 0
            speakers = self.block_speakers(block, index - start, combination[0])
        if combination is not None:
            k, level = combination
        else:
            k, level = _draw_combination(rng, self.combos, self.combo_cdf)
        last = None
        if self.cfg.method == "conversation":
            srcs, last, offs = conversation_layout(rng, self.src, k, self.cfg, self.conv_stats, speakers)
        elif self.joint:
            c, g = self.scales[(k, level)]
            draws = joint_draws(rng, self.src, k, self.cfg, speakers)
            srcs, offs = joint_layout(draws, self.src, k, c, g, self.cfg.max_duration)
        else:
            draws = eend_draws(rng, self.src, k, self.cfg, speakers)
            srcs, offs = eend_layout(draws, self.src, self.betas[(k, level)])
        lay = Layout(srcs, offs, k, level, last=last)
        lay.rng = rng  # noise draws continue the same stream
        return lay

    def mixture_id(self, index: int) -> str:
        return f"{self.prefix}-{index:08d}"

    def sim_info(self, index: int, lay: Layout, overlap: float, speech: float, duration: float) -> dict:
        """``custom["sim"]`` of a mixture: what it is meant to be and what it is (ratios as
        ``diar describe``: overlap / speech and silence / duration of its supervisions)."""
        info = {"method": self.cfg.method, "num_speakers": int(lay.num_speakers)}
        if self.cfg.method == "target-overlap" and lay.level is not None:
            info["target_overlap"] = lay.level
        if self.cfg.method == "target-overlap" and self.cfg.target_silence is not None:
            info["target_silence"] = float(self.cfg.target_silence)
        info["overlap_ratio"] = round(overlap / speech, 6) if speech else 0.0
        info["silence_ratio"] = round((duration - speech) / duration, 6) if duration else 0.0
        info["index"] = int(index)
        return info

    def mixture_json(self, index: int, lay: Layout, measured: Optional[Tuple[float, float, float]] = None) -> str:
        """The MixedCut JSON line, assembled from the sources' serialised JSON. The first track's
        cut carries the custom fields ``recording_id`` (the mixture id) and ``sim``
        (:meth:`sim_info`; Lhotse's ``MixedCut.custom`` merges its tracks' custom fields).
        ``measured``: ``(overlap, speech, duration)`` when the caller has them."""
        src = self.src
        mid = self.mixture_id(index)
        if measured is None:
            a, b = lay.intervals(src)
            ov, sp, _ = overlap_speech(a, b)
            measured = (ov, sp, lay.duration(src))
        sim_json = json.dumps(self.sim_info(index, lay, *measured), separators=(",", ":"))
        srcs, offs = lay.sources.tolist(), lay.offsets.tolist()
        lasts = srcs if lay.last is None else lay.last.tolist()
        order = sorted(range(len(srcs)), key=lambda j: (offs[j], srcs[j]))  # by offset, then source
        parts = []
        rvb = self.reverb.transforms(lay.rng, src.speaker[lay.sources]) if self.reverb is not None else None
        texts = src.json
        for n, j in enumerate(order):
            first = srcs[j]
            cut = texts[first] if lasts[j] == first else src.window_json(first, lasts[j])[0]
            if (
                rvb is not None and src.speaker[first] in rvb
            ):  # inside the recording object: "...}}" = end of recording, end of cut
                cut = cut[:-2] + ',"transforms":[' + rvb[src.speaker[first]] + "]}}"
            if n == 0:  # the mixture's recording id (see the module docstring)
                a, b = src.window_json(first, lasts[j])[1] if lasts[j] != first else src.rec_id_pos[first].tolist()
                cut = cut[:a] + mid + cut[b:-1] + ',"custom":{"recording_id":"' + mid + '","sim":' + sim_json + "}}"
            parts.append(f'{{"cut":{cut},"type":"MonoCut","offset":{offs[j]!r}}}')
        if self.noise is not None:
            shift = 0.0
            if self.noise.reference == "mixture":  # Lhotse's reference is the first track's cut
                e = src.energy[lay.sources] if lay.last is None else src.window_energy(lay.sources, lay.last)
                d = lay.spans(src)[2]
                e_mix = float(np.sum(e * d)) / measured[2]
                shift = 10 * np.log10(e[order[0]] / e_mix) if e_mix > 0 and e[order[0]] > 0 else 0.0
            parts += self.noise.tracks(lay.rng, measured[2], shift_db=float(shift))
        return '{"id":"' + mid + '","tracks":[' + ",".join(parts) + '],"type":"MixedCut"}\n'

    def num_mixtures_for_hours(self, hours: float) -> int:
        """``ceil(3600 hours / expected mixture duration)``; the expectation is stratified:
        sum over combinations of probability x mean duration of a pilot of that combination."""
        if self.blocks:
            raise ValueError("hours per combination are set; the number of mixtures is fixed")
        n = max(100, PILOT_MIXTURES // len(self.combos))
        mean = sum(
            p * float(np.mean([self.layout(j, (k, lv)).duration(self.src) for j in range(n)]))
            for k, lv, p in self.combos
        )
        return max(1, math.ceil(hours * 3600 / mean))

    def set_hours_per_combination(self, hours: float) -> int:
        """Give every combination its own block of consecutive mixture indices, just long
        enough for at least ``hours`` (mixture ``i`` of block ``b`` is ``layout(i, combination,
        block=b)``, so the durations summed here are exactly those written); each block uses the
        whole speaker pool (:meth:`block_speakers`). Returns the number of mixtures."""
        self.blocks, end = [], 0
        for b, (k, level, _) in enumerate(self.combos):
            total = 0.0
            self.blocks.append((end, (k, level)))  # its start, while it grows
            while total < hours * 3600:
                total += self.layout(end, (k, level), block=b).duration(self.src)
                end += 1
            self.blocks[b] = (end, (k, level))
        return end


class _Accumulator:
    """Set statistics summed over mixtures (seconds)."""

    def __init__(self):
        self.mixtures = 0
        self.duration = self.speech = self.overlap = 0.0
        self.tracks = 0
        self.by_k = np.zeros(6)
        self.by_combo: Dict[str, dict] = {}

    def add(self, lay: Layout, src: Sources, ov: float, sp: float, by_k: np.ndarray, dur: float):
        self.mixtures += 1
        self.duration += dur
        self.speech += sp
        self.overlap += ov
        self.tracks += len(lay.sources)
        self.by_k += by_k
        key = f"{lay.num_speakers}spk" + ("" if lay.level is None else f"@{lay.level}")
        c = self.by_combo.setdefault(
            key,
            {
                "speakers": lay.num_speakers,
                "target": lay.level,
                "mixtures": 0,
                "duration": 0.0,
                "speech": 0.0,
                "overlap": 0.0,
                "mixture_overlap_ratio_hist": [0] * HIST_BINS,
            },
        )
        c["mixtures"] += 1
        c["duration"] += dur
        c["speech"] += sp
        c["overlap"] += ov
        r = ov / sp if sp else 0.0
        c["mixture_overlap_ratio_hist"][min(int(r * HIST_BINS), HIST_BINS - 1)] += 1

    def merge(self, other: "_Accumulator"):
        self.mixtures += other.mixtures
        self.duration += other.duration
        self.speech += other.speech
        self.overlap += other.overlap
        self.tracks += other.tracks
        self.by_k += other.by_k
        for key, c in other.by_combo.items():
            mine = self.by_combo.setdefault(
                key,
                {
                    **c,
                    "mixtures": 0,
                    "duration": 0.0,
                    "speech": 0.0,
                    "overlap": 0.0,
                    "mixture_overlap_ratio_hist": [0] * HIST_BINS,
                },
            )
            for f in ("mixtures", "duration", "speech", "overlap"):
                mine[f] += c[f]
            mine["mixture_overlap_ratio_hist"] = [
                a + b for a, b in zip(mine["mixture_overlap_ratio_hist"], c["mixture_overlap_ratio_hist"])
            ]

    def to_dict(self) -> dict:
        def ratios(dur, sp, ov):
            return {
                "hours": dur / 3600,
                "overlap_ratio": ov / sp if sp else 0.0,
                "silence_ratio": (dur - sp) / dur if dur else 0.0,
            }

        combos = {}
        for key in sorted(self.by_combo):
            c = self.by_combo[key]
            combos[key] = {
                "speakers": c["speakers"],
                "target_overlap": c["target"],
                "mixtures": c["mixtures"],
                **ratios(c["duration"], c["speech"], c["overlap"]),
                "mixture_overlap_ratio_hist": c["mixture_overlap_ratio_hist"],
                "hist_bin_width": 1 / HIST_BINS,
            }
        hist: Dict[str, int] = {}
        for c in self.by_combo.values():
            hist[str(c["speakers"])] = hist.get(str(c["speakers"]), 0) + c["mixtures"]
        by_k = list(self.by_k)
        by_k[0] = self.duration - self.speech
        return {
            "mixtures": self.mixtures,
            "tracks": self.tracks,
            **ratios(self.duration, self.speech, self.overlap),
            "speech_hours": self.speech / 3600,
            "overlap_hours": self.overlap / 3600,
            "speaker_count_histogram": dict(sorted(hist.items())),
            "hours_by_active_speakers": [h / 3600 for h in by_k],
            "by_combination": combos,
        }
