#!/usr/bin/env bash
# VoxConverse (labels v0.3): speaker-diarization training data with Lhotse.
#
# Stage 0: download (or link --corpus-dir) -> download/voxconverse/
#            audio/<id>.wav  voxconverse_test_wav/<id>.wav  voxconverse-<commit>/{dev,test}/<id>.rttm
# Stage 1: manifests -> data/manifests/voxconverse_{recordings,supervisions,cuts}_{[train,]dev,test}.jsonl.gz
# Stages 2-4: fbank, labels, describe + validate (local/recipe.sh, local/common_stages.sh)
. "$(dirname "$0")/../../local/recipe.sh"
corpus=voxconverse
option base_url "" "mirror of the archives, same file names (empty: official URLs)" download
option split_dev_ratio "" "hold out this fraction (0-1) of dev as 'dev', the rest is 'train' (empty: no split)" prepare
option dev_list "" "file of dev recording ids held out as 'dev' (rest of dev = train); instead of the ratio" prepare
option seed 0 "seed of the --split-dev-ratio ranking" prepare
stage1_inputs() {
  local d
  for d in download/$corpus/voxconverse-* download/$corpus/dev download/$corpus/test; do
    if [ -d "$d" ]; then echo "$d"; fi
  done
  if [ -n "$dev_list" ]; then echo "$dev_list"; fi
}
recipe_main "$@"
