#!/usr/bin/env bash
# AMI Meeting Corpus with the BUT diarization references (Full-corpus-ASR split:
# 136 train / 18 dev / 16 test meetings).
#
# Stage 0: download (or link) -> download/ami/{amicorpus/<meeting>/audio/*.wav, AMI-diarization-setup/}
# Stage 1: manifests          -> data/manifests/ami-<mic>_{recordings,supervisions,cuts}_{train,dev,test}.jsonl.gz
# Stages 2-4: fbank, labels, describe + validate (local/recipe.sh); mdm gives one feature cut per channel
. "$(dirname "$0")/../../local/recipe.sh"
corpus=ami
option mic sdm "ihm-mix | sdm | mdm (Array1-01..08 as one 8-channel recording)"
option annotations only_words "only_words | word_and_vocalsounds (BUT reference flavour)"
stage1_inputs() {
  local setup=download/$corpus/AMI-diarization-setup
  echo $setup/lists $setup/uems $setup/$annotations/rttms
}
recipe_main "$@"
