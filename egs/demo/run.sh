#!/usr/bin/env bash
# Offline end-to-end demo: a small synthetic multi-speaker corpus through
# every stage of the diarization data pipeline. Needs no download.
#
# Usage: ./run.sh [--stage N] [--stop-stage N] [--nj N] [--executor local|dask] [--scheduler ADDR] [--force] [--label-type T]
#   --stage N        first stage to run (default 0)
#   --stop-stage N   last stage to run (default 4)
#   --nj N           workers for fbank and labels (default 2)
#   --executor E       local | dask: where fbank, labels (and simulation) run (default local)
#   --scheduler ADDR   dask scheduler (tcp://host:8786); default: a LocalCluster of --nj workers
#   --label-type T   binary | powerset | target (default binary)
#   --num-recordings N, --duration SECONDS   size of the synthetic corpus (default 6 x 40 s)
#   --force          redo the selected stages even when they are done
#
# A finished stage is skipped (marker in data/.done) until its inputs or
# options change; a killed stage is redone from scratch on the next run.
#
# Stage 0: synthesize the corpus             -> download/demo/{audio,rttm,lists}, all.uem
# Stage 1: manifests (generic rttm recipe)   -> data/manifests/demo_{recordings,supervisions,cuts}_{train,dev}.jsonl.gz
# Stage 2: 8 kHz fbank (conf/fbank_8k.yaml)  -> data/fbank/, data/cuts/demo_cuts_{train,dev}.jsonl.gz
# Stage 3: speaker-activity labels           -> data/labels/, data/cuts/demo_cuts_{train,dev}_<type>.jsonl.gz
# Stage 4: describe (lhotse + dataset card)  -> data/stats/
set -euo pipefail
cd "$(dirname "$0")"

stage=0
stop_stage=4
nj=2
executor=local
scheduler=
label_type=binary
num_recordings=6
duration=40
corpus=demo
splits="train dev"

. ../../local/parse_options.sh
. ../../local/stages.sh
. ../../local/common_stages.sh

stage_opts_0="n=$num_recordings d=$duration"
if stage_begins 0 "synthesize the demo corpus"; then
  diar download demo download/$corpus --num-recordings $num_recordings --duration $duration
  stage_done 0
fi

stage_opts_1="splits=$splits"
if stage_begins 1 "manifests" download/$corpus/rttm download/$corpus/all.uem download/$corpus/lists; then
  split_args=()
  for s in $splits; do split_args+=(--split "$s=download/$corpus/lists/$s.list"); done
  diar prepare rttm download/$corpus/audio download/$corpus/rttm data/manifests \
    --name $corpus --uem download/$corpus/all.uem "${split_args[@]}"
  stage_done 1
fi

prefix=$corpus
run_stages_2_to_4

log "Finished stages $stage..$stop_stage; outputs in $(pwd)/data"
