#!/usr/bin/env bash
# AMI Meeting Corpus with the BUT diarization references (Full-corpus-ASR split:
# 136 train / 18 dev / 16 test meetings).
#
# Usage: ./run.sh [--stage N] [--stop-stage N] [--mic M] [--annotations A] [--corpus-dir DIR] [--nj N] [--executor local|dask] [--scheduler ADDR] [--force]
#   --stage N          first stage to run (default 0)
#   --stop-stage N     last stage to run (default 4)
#   --mic M            ihm-mix | sdm | mdm (default sdm; mdm = Array1-01..08 as one 8-channel recording;
#                      stage 2 gives one feature cut per channel, ids <meeting>-<channel>)
#   --annotations A    only_words | word_and_vocalsounds (default only_words)
#   --corpus-dir DIR   stage 0 links this existing copy (amicorpus/ + AMI-diarization-setup/) instead of downloading
#   --nj N             workers for fbank and labels (default 2)
#   --executor E       local | dask: where fbank, labels (and simulation) run (default local)
#   --scheduler ADDR   dask scheduler (tcp://host:8786); default: a LocalCluster of --nj workers
#   --label-type T     binary | powerset | target (default binary)
#   --force            redo the selected stages even when they are done
#
# Stage 0: download (or link) -> download/ami/{amicorpus/<meeting>/audio/*.wav, AMI-diarization-setup/}
# Stage 1: manifests          -> data/manifests/ami-<mic>_{recordings,supervisions,cuts}_{train,dev,test}.jsonl.gz
# Stage 2: 8 kHz fbank        -> data/fbank/, data/cuts/ami-<mic>_cuts_<split>.jsonl.gz
# Stage 3: labels             -> data/labels/, data/cuts/ami-<mic>_cuts_<split>_<type>.jsonl.gz
# Stage 4: describe           -> data/stats/
set -euo pipefail
cd "$(dirname "$0")"

stage=0
stop_stage=4
nj=2
executor=local
scheduler=
label_type=binary
mic=sdm
annotations=only_words
corpus_dir=
corpus=ami
splits="train dev test"

. ../../local/parse_options.sh

prefix=$corpus-$mic
done_dir=data/.done/$prefix
. ../../local/stages.sh
. ../../local/common_stages.sh

stage_opts_0="mic=$mic annotations=$annotations corpus_dir=$corpus_dir"
if stage_begins 0 "download ($prefix)"; then
  if [ -n "$corpus_dir" ]; then
    diar download $corpus download/$corpus --corpus-dir "$corpus_dir"
  else
    diar download $corpus download/$corpus --mic $mic --annotations $annotations
  fi
  stage_done 0
fi

stage_opts_1="mic=$mic annotations=$annotations"
setup=download/$corpus/AMI-diarization-setup
if stage_begins 1 "manifests ($prefix)" $setup/lists $setup/uems $setup/$annotations/rttms; then
  diar prepare $corpus download/$corpus data/manifests --mic $mic --annotations $annotations
  stage_done 1
fi

run_stages_2_to_4

log "Finished stages $stage..$stop_stage; outputs in $(pwd)/data"
