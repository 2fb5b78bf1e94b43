#!/usr/bin/env bash
# TED-LIUM release 2 or 3: single-speaker utterances (one talk = one speaker) as SOURCES for
# simulated mixtures (stage 1), with the usual features, labels and statistics (stages 2-4).
# Stage 0: download (or link) -> download/tedlium/TEDLIUM_release-3/{data,legacy,speaker-adaptation}/ (v3)
#                                download/tedlium/TEDLIUM_release2/{train,dev,test}/{sph,stm}/       (v2)
# Stage 1: manifests          -> data/manifests/tedlium-<release>[-sa|-all]_{recordings,supervisions,cuts}_<split>.jsonl.gz
#          the cuts are one MonoCut per STM segment with one supervision (speaker = the talk).
# Stages 2-4: fbank, labels, describe + validate (local/recipe.sh, local/common_stages.sh)
. "$(dirname "$0")/../../local/recipe.sh"
corpus=tedlium
option release v3 "v2 (TEDLIUM_release2) | v3 (TEDLIUM_release-3)"
option distribution legacy "v3 only: legacy | speaker-adaptation | all" prepare
option sph_decoder auto "auto | sph2pipe | soundfile (auto: sph2pipe when on PATH)" prepare
option base_url "" "mirror of the openslr archive, same file name (empty: openslr.org)" download
stage1_inputs() {
  if [ -d download/$corpus ]; then find -L download/$corpus -name '*.stm' | LC_ALL=C sort; fi
}
recipe_main "$@"
