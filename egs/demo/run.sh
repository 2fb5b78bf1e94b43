#!/usr/bin/env bash
# Offline end-to-end demo: a small synthetic multi-speaker corpus through
# every stage of the diarization data pipeline. Needs no download.
#
# A finished stage is skipped (marker in data/.done) until its inputs or
# options change; a killed stage is redone from scratch on the next run.
#
# Stage 0: synthesize the corpus             -> download/demo/{audio,rttm,lists}, all.uem
# Stage 1: manifests (generic rttm recipe)   -> data/manifests/demo_{recordings,supervisions,cuts}_{train,dev}.jsonl.gz
# Stage 2: 8 kHz fbank (conf/fbank_8k.yaml)  -> data/fbank/, data/cuts/demo_cuts_{train,dev}.jsonl.gz
# Stage 3: speaker-activity labels           -> data/labels/, data/cuts/demo_cuts_{train,dev}_<type>.jsonl.gz
# Stage 4: describe + validate (lhotse, dataset card, audio/annotation check) -> data/stats/
. "$(dirname "$0")/../../local/recipe.sh"
corpus=demo
prefixes=(demo)
option num_recordings 6 "number of synthetic recordings" download
option duration 40 "seconds per recording" download
option splits "train dev" "splits (lists/<split>.list of the synthetic corpus)" none
stage_1() {  # the generic RTTM recipe, not a corpus module
  stage_opts_1="splits=$splits"
  if stage_begins 1 "manifests" download/$corpus/rttm download/$corpus/all.uem download/$corpus/lists; then
    local s split_args=()
    for s in $splits; do split_args+=(--split "$s=download/$corpus/lists/$s.list"); done
    diar prepare rttm download/$corpus/audio download/$corpus/rttm data/manifests \
      --name $corpus --uem download/$corpus/all.uem "${split_args[@]}"
    stage_done 1
  fi
}
recipe_main "$@"
