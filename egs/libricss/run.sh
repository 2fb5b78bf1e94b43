#!/usr/bin/env bash
# LibriCSS (Chen et al., ICASSP 2020): 60 mini-sessions of replayed LibriSpeech, 6 overlap conditions
# (0L, 0S, OV10..OV40). Splits: dev = session0, eval = sessions 1-9 (the community convention).
#
# Stage 0: download (or link) -> download/libricss/for_release/<cond>/<mini-session>/{record,clean,transcription}/
# Stage 1: manifests          -> data/manifests/libricss-<mic>_{recordings,supervisions,cuts}_{dev,eval}.jsonl.gz
#                                (cuts carry the custom field 'condition')
# Stages 2-4: fbank, labels, describe + validate (local/recipe.sh, local/common_stages.sh)
. "$(dirname "$0")/../../local/recipe.sh"
corpus=libricss
option mic raw "raw (7-channel record/raw_recording.wav, one channel) | clean (clean/mix.wav)" prepare
option channel 0 "channel 0-6 of the raw recording (names become libricss-raw-ch<N>)" prepare
option by_condition false "also write dev_<cond>/eval_<cond> splits per overlap condition" prepare
option base_url "" "mirror holding for_release.zip (empty: the link in conf/corpora/libricss.yaml)" download
stage1_inputs() {
  local f
  for f in download/$corpus/for_release/*/*/transcription/meeting_info.txt download/$corpus/*/*/transcription/meeting_info.txt; do
    if [ -f "$f" ]; then echo "$f"; fi
  done
}
recipe_main "$@"
