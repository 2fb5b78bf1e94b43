#!/usr/bin/env bash
# CHiME-6 (array-synchronised CHiME-5 dinner parties): speaker-diarization data with Lhotse.
#
# Stage 0: link --corpus-dir -> download/chime6/
#            audio/{train,dev,eval}/<S>_U0<a>.CH<c>.wav, <S>_P<xx>.wav; transcriptions/{train,dev,eval}/<S>.json
# Stage 1: manifests -> data/manifests/chime6-<mic>[-ch<c>]_{recordings,supervisions,cuts}_{train,dev,eval}.jsonl.gz
# Stages 2-4: fbank, labels, describe (local/recipe.sh, local/common_stages.sh)
. "$(dirname "$0")/../../local/recipe.sh"
corpus=chime6
option mic U06 "U01..U06 (one array channel) | binaural (all in-ear mics, MultiCut)" prepare
option channel 1 "array channel 1..4 with --mic U0x" prepare
option uem "" "Kaldi track-2 UEM for dev/eval (empty: official starts, to the end of the file)" prepare
stage1_inputs() {  # the transcriptions (and UEM) only, not the audio
  if [ -d download/$corpus/transcriptions ]; then echo download/$corpus/transcriptions; fi
  if [ -n "$uem" ]; then echo "$uem"; fi
}
recipe_main "$@"
