#!/usr/bin/env bash
# ICSI Meeting Corpus: speaker turns from the NXT word timings, Kaldi/Lhotse split
# (70 train / 2 dev: Bmr021 Bns001 / 3 test: Bmr013 Bmr018 Bro021).
#
# Stage 0: download (or link) -> download/icsi/{ICSI/{Words,Segments}, speech/<meeting>/{Mix-Headset.wav,chan6.sph}}
# Stage 1: manifests          -> data/manifests/icsi-<mic>_{recordings,supervisions,cuts}_{train,dev,test}.jsonl.gz
# Stages 2-4: fbank, labels, describe + validate (local/recipe.sh)
. "$(dirname "$0")/../../local/recipe.sh"
corpus=icsi
option mic ihm-mix "ihm-mix | sdm (chan6.sph, D3 desktop PZM; needs sph2pipe for stage 2)"
option max_gap 0.0 "seconds: words of one speaker at most this far apart form one turn" prepare
stage1_inputs() { echo download/$corpus/ICSI/Words download/$corpus/ICSI/Segments; }
recipe_main "$@"
