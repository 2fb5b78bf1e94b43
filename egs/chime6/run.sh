#!/usr/bin/env bash
# CHiME-6 (array-synchronised CHiME-5 dinner parties): speaker-diarization data with Lhotse.
#
# Stage 0: download OpenSLR SLR150 (CHiME6_{transcriptions,train,dev,eval}.tar.gz, ~120 GB) and the
#          forced-alignment RTTMs, or link --corpus-dir -> download/chime6/
#            audio/{train,dev,eval}/<S>_U0<a>.CH<c>.wav, audio/{train,dev}/<S>_P<xx>.wav (no in-ear audio for eval);
#            transcriptions/{train,dev,eval}/<S>.json; chime6_rttm/{dev,eval}_rttm
# Stage 1: manifests -> data/manifests/chime6-<mic>[-ch<c>]_{recordings,supervisions,cuts}_<split>.jsonl.gz
#          (binaural: train and dev only; sessions without the chosen array are in the prepare report)
# Stages 2-4: fbank, labels, describe + validate (local/recipe.sh, local/common_stages.sh) on the splits stage 1 wrote
. "$(dirname "$0")/../../local/recipe.sh"
corpus=chime6
option mic U06 "U01..U06 (one array channel) | binaural (all in-ear mics, MultiCut; train and dev)" prepare
option channel 1 "array channel 1..4 with --mic U0x" prepare
option uem "" "Kaldi track-2 UEM for dev/eval (empty: official starts, to the end of the file)" prepare
option references json "json (transcription utterances) | rttm (track-2 forced-alignment RTTMs for dev/eval)" prepare
option base_url "" "OpenSLR mirror for stage 0 (empty: www.openslr.org/resources/150)" download
option download_split "" "stage 0 downloads only these splits' audio (e.g. 'dev eval'; empty: all)" download --split
stage1_inputs() {  # the transcriptions, references (and UEM) only, not the audio
  if [ -d download/$corpus/transcriptions ]; then echo download/$corpus/transcriptions; fi
  if [ "$references" = rttm ] && [ -d download/$corpus/chime6_rttm ]; then echo download/$corpus/chime6_rttm; fi
  if [ -n "$uem" ]; then echo "$uem"; fi
}
recipe_main "$@"
