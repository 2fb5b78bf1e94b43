#!/usr/bin/env bash
# MSDWild: 3143 in-the-wild video clips (about 80 h), 2-10 speakers per clip.
#
# Stage 0: download labels (+ audio)  -> download/msdwild/{wav,rttms}/
# Stage 1: manifests (speakers <clip>_<label>)
#                                     -> data/manifests/msdwild_{recordings,supervisions,cuts}_{few.train,few.val,many.val}.jsonl.gz
# Stages 2-4: fbank, labels, describe + validate (local/recipe.sh, local/common_stages.sh)
. "$(dirname "$0")/../../local/recipe.sh"
corpus=msdwild
nj=4
option wav_url "" "direct URL of the audio zip (empty: stage 0 fetches the labels only)" download
option splits "few.train few.val many.val" "splits to prepare" prepare --split
recipe_main "$@"
