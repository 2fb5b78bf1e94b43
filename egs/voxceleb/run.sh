#!/usr/bin/env bash
# VoxCeleb 1 & 2: single-speaker utterances (one file = one speaker, id = the VoxCeleb id) as SOURCES for
# simulated mixtures (stage 1), with the usual features, labels and statistics (stages 2-4).
# Stage 0: download (or link) -> download/voxceleb/voxceleb1/{wav/<id>/<video>/<utt>.wav, vox1_meta.csv, iden_split.txt, veri_test2.txt}
#                                download/voxceleb/voxceleb2/{dev,test}/aac/<id>/<video>/<utt>.m4a
# Stage 1: manifests          -> data/manifests/voxceleb1_{recordings,supervisions,cuts}_{dev,test}.jsonl.gz
#                                data/manifests/voxceleb2_{recordings,supervisions,cuts}_{dev,test}.jsonl.gz
#          the cuts are one MonoCut per file with one supervision spanning it (speaker = idNNNNN).
# VoxCeleb2 (.m4a, AAC) needs the ffmpeg binary on PATH; stage 1 says so and stops when it is missing.
# Stages 2-4: fbank, labels, describe + validate (local/recipe.sh, local/common_stages.sh)
. "$(dirname "$0")/../../local/recipe.sh"
corpus=voxceleb
option versions "1 2" "VoxCeleb versions to download/prepare, space-separated" both --version
option split_by veri "VoxCeleb1 splits: veri (dev/test by speaker) | iden (iden_split.txt)" prepare
option base_url "" "mirror with the VGG file names (empty: the VGG URLs, which need credentials)" download
prepare_extra_args() { echo --num-jobs "$nj"; }
stage1_inputs() {  # the lists, and the names of the audio files (not their content)
  local v f
  for v in $versions; do for f in download/$corpus/voxceleb$v/*.csv download/$corpus/voxceleb$v/*.txt; do
    if [ -f "$f" ]; then echo "$f"; fi
  done; done
  if [ -d download/$corpus ]; then
    mkdir -p data
    (cd download/$corpus && find -L . -name '*.wav' -o -name '*.m4a' | LC_ALL=C sort) > data/.voxceleb_files.txt
    echo data/.voxceleb_files.txt
  fi
}
recipe_main "$@"
