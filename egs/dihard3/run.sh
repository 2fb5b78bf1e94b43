#!/usr/bin/env bash
# DIHARD III (LDC2022S12 dev, LDC2022S14 eval): speaker-diarization data with Lhotse.
#
# Stage 0: link --corpus-dir -> download/dihard3/
#            third_dihard_challenge_{dev,eval}/data/{flac/<id>.flac, rttm/<id>.rttm,
#            uem_scoring/{core,full}/all.uem}, docs/recordings.tbl
# Stage 1: manifests -> data/manifests/dihard3[-core]_{recordings,supervisions,cuts}_{dev,eval}.jsonl.gz
#          (scoring regions = the partition's UEM, as each cut's custom 'uem'; domain as custom 'domain')
# Stages 2-4: fbank, labels, describe + validate (local/recipe.sh, local/common_stages.sh)
. "$(dirname "$0")/../../local/recipe.sh"
corpus=dihard3
option partition full "full (all recordings) | core (the domain-balanced core subset)" prepare
stage1_inputs() {
  local d
  for d in download/$corpus/*/data/rttm download/$corpus/*/data/uem_scoring download/$corpus/*/docs; do
    if [ -d "$d" ]; then echo "$d"; fi
  done
}
recipe_main "$@"
