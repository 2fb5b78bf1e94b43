#!/usr/bin/env bash
# AVA-AVD: speaker-diarization training data (train / val / test clips) with Lhotse.
#
# Stage 0: download (or link --corpus-dir) -> download/ava_avd/dataset/
#            split/{train,val,test}.list video.list offsets.txt  rttms/<clip>.rttm  videos/<video>.<ext>
# Stage 1: clip audio (ffmpeg, 16 kHz mono) + manifests
#            -> data/manifests/ava_avd_{recordings,supervisions,cuts}_{train,val,test}.jsonl.gz
# Stages 2-4: fbank, labels, describe + validate (local/recipe.sh, local/common_stages.sh)
. "$(dirname "$0")/../../local/recipe.sh"
corpus=ava_avd
option base_url "" "mirror with split/, videos/, annotations.tar.gz (empty: official URLs)" download
option annotations "" "URL or file of annotations.tar.gz (Google Drive only; needed without --corpus-dir)" download
option audio_dir "" "clip WAVs <clip_id>.wav; missing ones cut from the movies with ffmpeg (empty: dataset/waves)" prepare
stage1_inputs() {
  local d
  for d in download/$corpus/dataset/rttms download/$corpus/dataset/split download/$corpus/rttms download/$corpus/split; do
    if [ -d "$d" ]; then echo "$d"; fi
  done
}
recipe_main "$@"
