#!/usr/bin/env bash
# VoxConverse (labels v0.3): speaker-diarization training data with Lhotse.
#
# Usage: ./run.sh [--stage N] [--stop-stage N] [--corpus-dir DIR] [--split-dev-ratio R] [--nj N] [--executor local|dask] [--scheduler ADDR] [--force]
#   --stage N            first stage to run (default 0)
#   --stop-stage N       last stage to run (default 4)
#   --corpus-dir DIR     use an existing copy (layout below) instead of downloading (default: download)
#   --base-url URL       mirror of the archives, same file names (default: official URLs)
#   --split-dev-ratio R  hold out this fraction (0-1) of dev as 'dev', the rest is 'train';
#                        deterministic by recording (default: empty = official dev and test only)
#   --dev-list FILE      dev recording ids held out as 'dev' (rest of dev = train); instead of the ratio
#   --seed N             seed of the --split-dev-ratio ranking (default 0)
#   --duration-from-annotations true|false  recording length = last turn end (default false)
#   --nj N               workers for fbank and labels (default 2)
#   --executor E       local | dask: where fbank, labels (and simulation) run (default local)
#   --scheduler ADDR   dask scheduler (tcp://host:8786); default: a LocalCluster of --nj workers
#   --label-type T       binary | powerset | target (default binary)
#   --force              redo the selected stages even when they are done
#
# Stage 0: download (or link --corpus-dir) -> download/voxconverse/
#            audio/<id>.wav  voxconverse_test_wav/<id>.wav  voxconverse-<commit>/{dev,test}/<id>.rttm
# Stage 1: manifests -> data/manifests/voxconverse_{recordings,supervisions,cuts}_{[train,]dev,test}.jsonl.gz
# Stage 2-4: fbank, labels, describe (local/common_stages.sh)
set -euo pipefail
# --help before the cd: local/parse_options.sh prints the header from "$0", which is
# relative to the caller's directory.
case " $* " in *" --help "*|*" -h "*) sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;; esac
cd "$(dirname "$0")"

stage=0
stop_stage=4
nj=2
executor=local
scheduler=
label_type=binary
corpus_dir=
base_url=
split_dev_ratio=
dev_list=
seed=0
duration_from_annotations=false
corpus=voxconverse
prefix=voxconverse
done_dir=data/.done/$prefix

. ../../local/parse_options.sh
. ../../local/stages.sh
. ../../local/common_stages.sh

if [ -n "$split_dev_ratio" ] || [ -n "$dev_list" ]; then splits="train dev test"; else splits="dev test"; fi

stage_opts_0="corpus_dir=$corpus_dir base_url=$base_url"
if stage_begins 0 "download voxconverse"; then
  if [ -n "$corpus_dir" ]; then
    diar download voxconverse download/$corpus --corpus-dir "$corpus_dir"
  else
    diar download voxconverse download/$corpus ${base_url:+--base-url "$base_url"}
  fi
  stage_done 0
fi

# Fingerprint the labels only (hashing 60 h of audio would take longer than the stage).
label_inputs=()
for d in download/$corpus/voxconverse-* download/$corpus/dev download/$corpus/test; do
  if [ -d "$d" ]; then label_inputs+=("$d"); fi
done
if [ -n "$dev_list" ]; then label_inputs+=("$dev_list"); fi
stage_opts_1="ratio=$split_dev_ratio list=$dev_list seed=$seed dfa=$duration_from_annotations"
if stage_begins 1 "manifests ($prefix)" "${label_inputs[@]}"; then
  opts=(--seed "$seed")
  if [ -n "$split_dev_ratio" ]; then opts+=(--split-dev-ratio "$split_dev_ratio"); fi
  if [ -n "$dev_list" ]; then opts+=(--dev-list "$dev_list"); fi
  if [ "$duration_from_annotations" = true ]; then opts+=(--duration-from-annotations); fi
  diar prepare voxconverse download/$corpus data/manifests "${opts[@]}"
  stage_done 1
fi

run_stages_2_to_4

log "Finished stages $stage..$stop_stage; outputs in $(pwd)/data"
