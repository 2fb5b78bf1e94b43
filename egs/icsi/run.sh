#!/usr/bin/env bash
# ICSI Meeting Corpus: speaker turns from the NXT word timings, Kaldi/Lhotse split
# (70 train / 2 dev: Bmr021 Bns001 / 3 test: Bmr013 Bmr018 Bro021).
#
# Usage: ./run.sh [--stage N] [--stop-stage N] [--mic M] [--max-gap S] [--corpus-dir DIR] [--nj N] [--executor local|dask] [--scheduler ADDR] [--force]
#   --stage N          first stage to run (default 0)
#   --stop-stage N     last stage to run (default 4)
#   --mic M            ihm-mix | sdm (default ihm-mix; sdm = chan6.sph, D3 desktop PZM; needs sph2pipe for stage 2)
#   --max-gap S        seconds: words of a speaker at most S apart form one turn (default 0 = touching words only)
#   --corpus-dir DIR   stage 0 links this existing copy (ICSI/ + speech/) instead of downloading
#   --nj N             workers for fbank and labels (default 2)
#   --executor E       local | dask: where fbank, labels (and simulation) run (default local)
#   --scheduler ADDR   dask scheduler (tcp://host:8786); default: a LocalCluster of --nj workers
#   --label-type T     binary | powerset | target (default binary)
#   --force            redo the selected stages even when they are done
#
# Stage 0: download (or link) -> download/icsi/{ICSI/{Words,Segments}, speech/<meeting>/{Mix-Headset.wav,chan6.sph}}
# Stage 1: manifests          -> data/manifests/icsi-<mic>_{recordings,supervisions,cuts}_{train,dev,test}.jsonl.gz
# Stage 2: 8 kHz fbank        -> data/fbank/, data/cuts/icsi-<mic>_cuts_<split>.jsonl.gz
# Stage 3: labels             -> data/labels/, data/cuts/icsi-<mic>_cuts_<split>_<type>.jsonl.gz
# Stage 4: describe           -> data/stats/
set -euo pipefail
cd "$(dirname "$0")"

stage=0
stop_stage=4
nj=2
executor=local
scheduler=
label_type=binary
mic=ihm-mix
max_gap=0.0
corpus_dir=
corpus=icsi
splits="train dev test"

. ../../local/parse_options.sh

prefix=$corpus-$mic
done_dir=data/.done/$prefix
. ../../local/stages.sh
. ../../local/common_stages.sh

stage_opts_0="mic=$mic corpus_dir=$corpus_dir"
if stage_begins 0 "download ($prefix)"; then
  if [ -n "$corpus_dir" ]; then
    diar download $corpus download/$corpus --corpus-dir "$corpus_dir"
  else
    diar download $corpus download/$corpus --mic $mic
  fi
  stage_done 0
fi

stage_opts_1="mic=$mic max_gap=$max_gap"
if stage_begins 1 "manifests ($prefix)" download/$corpus/ICSI/Words download/$corpus/ICSI/Segments; then
  diar prepare $corpus download/$corpus data/manifests --mic $mic --max-gap $max_gap
  stage_done 1
fi

run_stages_2_to_4

log "Finished stages $stage..$stop_stage; outputs in $(pwd)/data"
