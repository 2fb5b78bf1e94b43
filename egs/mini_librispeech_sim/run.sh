#!/usr/bin/env bash
# Simulated multi-speaker mixtures from mini_librispeech (train-clean-5 ->
# train, dev-clean-2 -> dev: disjoint speakers), for EEND-style training.
#
# Usage: ./run.sh [--stage N] [--stop-stage N] [--sim-conf YAML] [--train-hours H] [--dev-hours H] [--nj N] [--executor local|dask] [--scheduler ADDR] [--force]
#   --stage N            first stage to run (default 0)
#   --stop-stage N       last stage to run (default 5)
#   --sim-conf YAML      simulation preset (default conf/simulation/eend_2spk_beta2.yaml)
#   --train-hours H      hours of train mixtures (default 10)
#   --dev-hours H        hours of dev mixtures (default 2)
#   --seed S             simulation seed (default 0)
#   --min-pause SEC      stage 1 splits utterances into speech segments at pauses this long (diar simulate-sources);
#                        default: 0 (whole utterances, as EEND) for an eend preset, else 0.3
#   --conversation-stats PATH   real turns (RTTM or CutSet) for the conversation method (default: none)
#   --musan true|false   stage 0 also downloads MUSAN, stage 1 prepares its noise cuts (default false)
#   --rirs true|false    stage 0 also downloads the RIRS_NOISES set, stage 1 prepares it (default false)
#   --source-cache true|false  stage 1 also builds data/sources/cache_{train,dev}: sources (and MUSAN noise) at
#                        8 kHz int16 for on-the-fly training without FLAC decoding (default true; resumable)
#   --corpus-dir DIR     use this existing LibriSpeech/ (holding train-clean-5, dev-clean-2) instead of downloading
#   --materialize true|false  stage 2 also writes 8 kHz FLAC, RTTM and a Kaldi dir per split (default false)
#   --nj N               worker processes (default 2)
#   --executor E       local | dask: where fbank, labels (and simulation) run (default local)
#   --scheduler ADDR   dask scheduler (tcp://host:8786); default: a LocalCluster of --nj workers
#   --label-type T       binary | powerset | target (default binary)
#   --force              redo the selected stages even when they are done
#
# Stage 0: download (lhotse)         -> download/LibriSpeech/{train-clean-5,dev-clean-2}, [download/musan, download/RIRS_NOISES]
# Stage 1: source cuts (VAD-trimmed) -> data/manifests/librispeech_{recordings,supervisions}_<part>.jsonl.gz,
#                                       data/sources/mini_librispeech_sources_{train,dev}.jsonl.gz, [data/sources/musan_noise.jsonl.gz],
#                                       data/sources/cache_{train,dev}/ (source cache, 16 kB per source second)
# Stage 2: simulate                  -> data/sim/mls-sim_mixed_{train,dev}.jsonl.gz (MixedCuts, no audio; + .NNNNNN
#                                       shards, .shards.txt index), data/stats/mls-sim_mixed_<split>_simulation.json
#                                       (overlap, silence, speaker counts); with --materialize true also
#                                       data/sim/{train,dev}/{audio/*.flac,cuts.jsonl.gz,rttm,kaldi/}
# Stage 3: 8 kHz fbank of the mixtures (mixed on the fly, no audio written)
#                                    -> data/fbank/, data/cuts/mls-sim_cuts_{train,dev}.jsonl.gz
# Stage 4: labels                    -> data/labels/, data/cuts/mls-sim_cuts_{train,dev}_<type>.jsonl.gz
# Stage 5: describe                  -> data/stats/
#
# The MixedCut manifests of stage 2 can also be trained on directly, with
# on-the-fly features and labels: recipes.dataset.EENDDataset(feature_extractor=...),
# rendered from the source cache with EENDDataset(..., source_cache="data/sources/cache_train").
# The noise cuts and RIRs of stage 1 are used when the preset has a `noise:` /
# `reverb:` entry (paths relative to this directory), e.g.
#   noise: {cuts: data/sources/musan_noise.jsonl.gz, snr: [10, 20]}
#   reverb: {rirs: data/manifests/real-rir_recordings_all.jsonl.gz, probability: 0.5}
# (`reverb: {rirs: fast}`, Lhotse's fast random RIRs, needs torchaudio at load time.)
set -euo pipefail
cd "$(dirname "$0")"

stage=0
stop_stage=5
sim_conf=../../conf/simulation/eend_2spk_beta2.yaml
train_hours=10
dev_hours=2
seed=0
min_pause=
conversation_stats=
musan=false
rirs=false
corpus_dir=
nj=2
executor=local
scheduler=
materialize=false
label_type=binary
max_set_size=2
source_cache=true
splits="train dev"
prefix=mls-sim

. ../../local/parse_options.sh
. ../../local/stages.sh
. ../../local/common_stages.sh

# the virtualenv's python (the one that runs diar)
py=$(dirname "$(command -v diar)")/python
[ -x "$py" ] || py=python
declare -A part_of=([train]=train-clean-5 [dev]=dev-clean-2)

stage_opts_0="corpus_dir=$corpus_dir musan=$musan rirs=$rirs"
if stage_begins 0 "download mini_librispeech"; then
  mkdir -p download
  if [ -n "$corpus_dir" ]; then
    ln -sfn "$(cd "$corpus_dir" && pwd)" download/LibriSpeech
  else
    "$py" -c "from lhotse.recipes import download_librispeech; download_librispeech('download', dataset_parts='mini_librispeech')"
  fi
  if [ "$musan" = true ]; then lhotse download musan download; fi
  if [ "$rirs" = true ]; then lhotse download rir-noise download; fi
  stage_done 0
fi

if [ -z "$min_pause" ]; then
  if grep -Eq '^method: *eend' "$sim_conf"; then min_pause=0; else min_pause=0.3; fi
fi
stage_opts_1="musan=$musan rirs=$rirs min_pause=$min_pause source_cache=$source_cache"
if stage_begins 1 "source cuts (energy VAD)" download/LibriSpeech/train-clean-5 download/LibriSpeech/dev-clean-2; then
  mkdir -p data/manifests data/sources
  lhotse prepare librispeech -p train-clean-5 -p dev-clean-2 -j "$nj" download/LibriSpeech data/manifests
  cache_extra=()
  if [ "$musan" = true ]; then
    lhotse prepare musan download/musan data/manifests
    lhotse cut simple --force-eager -r data/manifests/musan_recordings_noise.jsonl.gz data/sources/musan_noise.jsonl.gz
    cache_extra=(--cache-extra data/sources/musan_noise.jsonl.gz)
  fi
  for s in $splits; do
    p=${part_of[$s]}
    lhotse cut simple --force-eager -r data/manifests/librispeech_recordings_$p.jsonl.gz \
      -s data/manifests/librispeech_supervisions_$p.jsonl.gz data/sources/librispeech_cuts_raw_$p.jsonl.gz
    cache_opt=()
    # the source cache: sources (and noise) at 8 kHz int16, memory-mapped by EENDDataset(source_cache=...)
    if [ "$source_cache" = true ]; then cache_opt=(--cache data/sources/cache_$s "${cache_extra[@]}" --num-jobs "$nj"); fi
    diar simulate-sources --min-pause "$min_pause" data/sources/librispeech_cuts_raw_$p.jsonl.gz \
      data/sources/mini_librispeech_sources_$s.jsonl.gz "${cache_opt[@]}"
  done
  if [ "$rirs" = true ]; then lhotse prepare rir-noise download/RIRS_NOISES data/manifests; fi
  stage_done 1
fi

sources=()
for s in $splits; do sources+=(data/sources/mini_librispeech_sources_$s.jsonl.gz); done
stage_opts_2="train_hours=$train_hours dev_hours=$dev_hours seed=$seed conversation_stats=$conversation_stats materialize=$materialize"
if stage_begins 2 "simulate ($prefix)" "$sim_conf" "${sources[@]}"; then
  conv_opt=()
  if [ -n "$conversation_stats" ]; then conv_opt=(--conversation-stats "$conversation_stats"); fi
  mkdir -p data/stats
  for s in $splits; do
    hours=$train_hours; [ "$s" = dev ] && hours=$dev_hours
    mat_opt=()
    if [ "$materialize" = true ]; then mat_opt=(--materialize data/sim/$s); fi
    diar simulate data/sources/mini_librispeech_sources_$s.jsonl.gz data/sim/${prefix}_mixed_$s.jsonl.gz \
      --config "$sim_conf" --hours "$hours" --seed "$seed" --num-jobs "$nj" $(executor_opts) "${conv_opt[@]}" "${mat_opt[@]}"
    cp "data/sim/${prefix}_mixed_$s.stats.json" "data/stats/${prefix}_mixed_${s}_simulation.json"
  done
  stage_done 2
fi

# Stages 3-5: fbank, labels, describe of local/common_stages.sh on the mixtures
feature_input() { echo "data/sim/${prefix}_mixed_$1.jsonl.gz"; }
run_feature_stages 3

log "Finished stages $stage..$stop_stage; outputs in $(pwd)/data"
