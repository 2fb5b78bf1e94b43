#!/usr/bin/env bash
# Simulated multi-speaker mixtures from mini_librispeech (train-clean-5 -> train, dev-clean-2 -> dev:
# disjoint speakers), for EEND-style training. Stages 0-2 in local/simulation_stages.sh (with the
# layout they write), 3-5 in local/common_stages.sh:
# Stage 0: download (lhotse), or link --corpus-dir -> download/LibriSpeech/, [download/musan, download/RIRS_NOISES]
# Stage 1: source cuts (VAD-trimmed) -> data/sources/mini_librispeech_sources_{train,dev}.jsonl.gz, [musan_noise],
#          data/sources/cache_{train,dev}/ (source cache, 16 kB per source second)
# Stage 2: simulate -> data/sim/mls-sim_mixed_{train,dev}.jsonl.gz (MixedCuts, no audio; shards),
#          data/stats/mls-sim_mixed_<split>_simulation.json; [data/sim/{train,dev}/ with --materialize true]
# Stage 3: 8 kHz fbank of the mixtures (mixed on the fly) -> data/fbank/, data/cuts/mls-sim_cuts_{train,dev}.jsonl.gz
# Stage 4: labels -> data/labels/, data/cuts/mls-sim_cuts_{train,dev}_<type>.jsonl.gz
# Stage 5: describe -> data/stats/
# Stage 2's MixedCuts train directly too: EENDDataset(feature_extractor=..., source_cache="data/sources/cache_train").
# A preset's noise: / reverb: entry can use stage 1's noise cuts and RIRs (paths relative to this directory):
#   noise: {cuts: data/sources/musan_noise.jsonl.gz, snr: [10, 20]}
#   reverb: {rirs: data/manifests/real-rir_recordings_all.jsonl.gz, probability: 0.5}  ({rirs: fast}: torchaudio)
. "$(dirname "$0")/../../local/recipe.sh"
corpus=mini_librispeech
prefixes=(mls-sim)
stop_stage=5
no_option duration_from_annotations
option corpus_dir "" "use this existing LibriSpeech/ (holding train-clean-5, dev-clean-2) instead of downloading" none
option nj 2 "worker processes (lhotse prepare, source cache, simulation, fbank, labels, validate)" none
option executor local "local | dask: where fbank, labels and simulation run" none
option sim_conf ../../conf/simulation/eend_2spk_beta2.yaml "simulation preset" none
option train_hours 10 "hours of train mixtures" none "" number
option dev_hours 2 "hours of dev mixtures" none "" number
option seed 0 "simulation seed" none
option min_pause "" "stage 1 splits utterances into speech segments at pauses this long (diar simulate-sources; empty: 0 = whole utterances, as EEND, for an eend preset, else 0.3)" none
option conversation_stats "" "real turns (RTTM or CutSet) for the conversation method" none
option musan false "stage 0 also downloads MUSAN, stage 1 prepares its noise cuts" none
option rirs false "stage 0 also downloads the RIRS_NOISES set, stage 1 prepares it" none
option source_cache true "stage 1 also builds data/sources/cache_{train,dev}: sources (and MUSAN noise) at 8 kHz int16 for on-the-fly training without FLAC decoding (resumable)" none
option materialize false "stage 2 also writes 8 kHz FLAC, RTTM and a Kaldi dir per split" none
option splits "train dev" "splits to simulate (train: train-clean-5, dev: dev-clean-2)" none
option prefix mls-sim "name of the mixture sets (data/sim/<prefix>_mixed_<split>.jsonl.gz)" none
. "$(dirname "$0")/local/simulation_stages.sh"
recipe_main "$@"
