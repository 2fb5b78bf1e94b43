#!/usr/bin/env bash
# AISHELL-4 (OpenSLR 111): 211 Mandarin meetings, 8-channel array, 4-8 speakers each.
#
# Usage: ./run.sh [--stage N] [--stop-stage N] [--corpus-dir DIR] [--channel N] [--nj N] [--executor local|dask] [--scheduler ADDR] [--force]
#   --stage N          first stage to run (default 0)
#   --stop-stage N     last stage to run (default 4)
#   --corpus-dir DIR   existing copy (holding train_L/ train_M/ train_S/ test/): linked, not downloaded
#   --channel N        array channel 0-7 for the cuts (default 0; prefix aishell4-ch<N> when not 0)
#   --splits "S ..."   splits to prepare (default "train_L train_M train_S test")
#   --nj N             workers for fbank and labels (default 4)
#   --executor E       local | dask: where fbank, labels (and simulation) run (default local)
#   --scheduler ADDR   dask scheduler (tcp://host:8786); default: a LocalCluster of --nj workers
#   --label-type T     binary | powerset | target (default binary)
#   --force            redo the selected stages even when they are done
#
# Stage 0: download + extract (or link)   -> download/aishell4/{train_L,train_M,train_S,test}/{wav,TextGrid}/
# Stage 1: manifests (TextGrid speaker tiers, speakers <session>_<tier>)
#                                          -> data/manifests/aishell4_{recordings,supervisions,cuts}_<split>.jsonl.gz
# Stage 2: 8 kHz fbank                     -> data/fbank/, data/cuts/aishell4_cuts_<split>.jsonl.gz
# Stage 3: speaker-activity labels         -> data/labels/, data/cuts/aishell4_cuts_<split>_<type>.jsonl.gz
# Stage 4: describe                        -> data/stats/
set -euo pipefail
cd "$(dirname "$0")"

stage=0
stop_stage=4
corpus_dir=
channel=0
splits="train_L train_M train_S test"
nj=4
executor=local
scheduler=
label_type=binary
corpus=aishell4

. ../../local/parse_options.sh

if [ "$channel" = 0 ]; then prefix=$corpus; else prefix=$corpus-ch$channel; fi
done_dir=data/.done/$prefix
. ../../local/stages.sh
. ../../local/common_stages.sh

stage_opts_0="corpus_dir=$corpus_dir"
if stage_begins 0 "download $corpus"; then
  if [ -n "$corpus_dir" ]; then
    diar download $corpus download/$corpus --corpus-dir "$corpus_dir"
  else
    diar download $corpus download/$corpus
  fi
  stage_done 0
fi

stage_opts_1="channel=$channel splits=$splits"
if stage_begins 1 "manifests ($prefix)"; then
  split_args=()
  for s in $splits; do split_args+=(--split "$s"); done
  diar prepare $corpus download/$corpus data/manifests --channel "$channel" "${split_args[@]}"
  stage_done 1
fi

run_stages_2_to_4

log "Finished stages $stage..$stop_stage; outputs in $(pwd)/data"
