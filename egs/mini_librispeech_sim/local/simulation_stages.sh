#!/usr/bin/env bash
# The stages of egs/mini_librispeech_sim/run.sh (sourced by it, before recipe_main; the options
# are declared there). Stages 0-2 are this recipe's own; stages 3-5 are the fbank, labels and
# describe of local/common_stages.sh, on the mixtures. Done markers are in data/.done/.
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
# `reverb:` entry (paths relative to the recipe directory), e.g.
#   noise: {cuts: data/sources/musan_noise.jsonl.gz, snr: [10, 20]}
#   reverb: {rirs: data/manifests/real-rir_recordings_all.jsonl.gz, probability: 0.5}
# (`reverb: {rirs: fast}`, Lhotse's fast random RIRs, needs torchaudio at load time.)

declare -A part_of=([train]=train-clean-5 [dev]=dev-clean-2)

stage_0() {
  # the virtualenv's python (the one that runs diar)
  local py
  py=$(dirname "$(command -v diar)")/python
  [ -x "$py" ] || py=python
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
}

stage_1() {
  if [ -z "$min_pause" ]; then
    if grep -Eq '^method: *eend' "$sim_conf"; then min_pause=0; else min_pause=0.3; fi
  fi
  stage_opts_1="musan=$musan rirs=$rirs min_pause=$min_pause source_cache=$source_cache"
  if stage_begins 1 "source cuts (energy VAD)" download/LibriSpeech/train-clean-5 download/LibriSpeech/dev-clean-2; then
    mkdir -p data/manifests data/sources
    lhotse prepare librispeech -p train-clean-5 -p dev-clean-2 -j "$nj" download/LibriSpeech data/manifests
    local cache_extra=() cache_opt s p
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
}

stage_2() {
  local sources=() s hours conv_opt=() mat_opt
  for s in $splits; do sources+=(data/sources/mini_librispeech_sources_$s.jsonl.gz); done
  stage_opts_2="train_hours=$train_hours dev_hours=$dev_hours seed=$seed conversation_stats=$conversation_stats materialize=$materialize"
  if stage_begins 2 "simulate ($prefix)" "$sim_conf" "${sources[@]}"; then
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
}

recipe_stages() {
  done_dir=data/.done
  # stages 3-5 (fbank, labels, describe of local/common_stages.sh) read the mixtures of stage 2
  feature_input() { echo "data/sim/${prefix}_mixed_$1.jsonl.gz"; }
  stage_0
  stage_1
  stage_2
  run_feature_stages 3
}
