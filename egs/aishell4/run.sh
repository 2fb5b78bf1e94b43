#!/usr/bin/env bash
# AISHELL-4 (OpenSLR 111): 211 Mandarin meetings, 8-channel array, 4-8 speakers each.
#
# Stage 0: download + extract (or link)   -> download/aishell4/{train_L,train_M,train_S,test}/{wav,TextGrid}/
# Stage 1: manifests (TextGrid speaker tiers, speakers <session>_<tier>)
#                                          -> data/manifests/aishell4_{recordings,supervisions,cuts}_<split>.jsonl.gz
# Stages 2-4: fbank, labels, describe + validate (local/recipe.sh, local/common_stages.sh)
. "$(dirname "$0")/../../local/recipe.sh"
corpus=aishell4
nj=4
option channel 0 "array channel 0-7 for the cuts (prefix aishell4-ch<N> when not 0)" prepare
option splits "train_L train_M train_S test" "splits to prepare" prepare --split
recipe_main "$@"
