#!/usr/bin/env bash
# MSDWild: 3143 in-the-wild video clips (about 80 h), 2-10 speakers per clip.
#
# Usage: ./run.sh [--stage N] [--stop-stage N] [--corpus-dir DIR] [--wav-url URL] [--nj N] [--executor local|dask] [--scheduler ADDR] [--force]
#   --stage N          first stage to run (default 0)
#   --stop-stage N     last stage to run (default 4)
#   --corpus-dir DIR   existing copy (holding wav/ and rttms/): linked, not downloaded
#   --wav-url URL      direct URL of the audio zip (the official copy is on Google Drive / Baidu and
#                      needs a browser); without it stage 0 fetches the labels only
#   --nj N             workers for fbank and labels (default 4)
#   --executor E       local | dask: where fbank, labels (and simulation) run (default local)
#   --scheduler ADDR   dask scheduler (tcp://host:8786); default: a LocalCluster of --nj workers
#   --label-type T     binary | powerset | target (default binary)
#   --force            redo the selected stages even when they are done
#
# Stage 0: download labels (+ audio)  -> download/msdwild/{wav,rttms}/
# Stage 1: manifests (speakers <clip>_<label>)
#                                     -> data/manifests/msdwild_{recordings,supervisions,cuts}_{few.train,few.val,many.val}.jsonl.gz
# Stage 2: 8 kHz fbank                -> data/fbank/, data/cuts/msdwild_cuts_<split>.jsonl.gz
# Stage 3: speaker-activity labels    -> data/labels/, data/cuts/msdwild_cuts_<split>_<type>.jsonl.gz
# Stage 4: describe                   -> data/stats/
set -euo pipefail
cd "$(dirname "$0")"

stage=0
stop_stage=4
corpus_dir=
wav_url=
nj=4
executor=local
scheduler=
label_type=binary
corpus=msdwild
splits="few.train few.val many.val"

. ../../local/parse_options.sh

prefix=$corpus
done_dir=data/.done/$prefix
. ../../local/stages.sh
. ../../local/common_stages.sh

stage_opts_0="corpus_dir=$corpus_dir wav_url=$wav_url"
if stage_begins 0 "download $corpus"; then
  if [ -n "$corpus_dir" ]; then
    diar download $corpus download/$corpus --corpus-dir "$corpus_dir"
  elif [ -n "$wav_url" ]; then
    diar download $corpus download/$corpus --wav-url "$wav_url"
  else
    diar download $corpus download/$corpus
  fi
  stage_done 0
fi

stage_opts_1="splits=$splits"
if stage_begins 1 "manifests ($prefix)"; then
  split_args=()
  for s in $splits; do split_args+=(--split "$s"); done
  diar prepare $corpus download/$corpus data/manifests "${split_args[@]}"
  stage_done 1
fi

run_stages_2_to_4

log "Finished stages $stage..$stop_stage; outputs in $(pwd)/data"
