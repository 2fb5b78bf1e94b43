#!/usr/bin/env bash
# VoxCeleb 1 & 2: single-speaker utterances (one file = one speaker, id = the VoxCeleb id) as SOURCES for
# simulated mixtures (stage 1), with the usual features, labels and statistics (stages 2-4).
#
# Usage: ./run.sh [--stage N] [--stop-stage N] [--versions "1 2"] [--split-by veri|iden] [--corpus-dir DIR] [--force]
#   --stage N            first stage to run (default 0)
#   --stop-stage N       last stage to run (default 4)
#   --versions "V..."    VoxCeleb versions to download/prepare, space-separated (default "1 2")
#   --split-by S         VoxCeleb1 splits: veri (dev/test by speaker) | iden (iden_split.txt) (default veri)
#   --corpus-dir DIR     stage 0 links this existing copy (holding voxceleb1/ and/or voxceleb2/) instead of downloading
#   --base-url URL       mirror with the VGG file names (default: the VGG URLs, which need VGG's credentials)
#   --nj N               threads reading audio headers (default 2; an m4a duration needs a full ffmpeg decode)
#   --executor E       local | dask: where fbank, labels (and simulation) run (default local)
#   --scheduler ADDR   dask scheduler (tcp://host:8786); default: a LocalCluster of --nj workers
#   --label-type T       binary | powerset | target (default binary)
#   --force              redo the selected stages even when they are done
#
# VoxCeleb2 (.m4a, AAC) needs the ffmpeg binary on PATH; stage 1 says so and stops when it is missing.
#
# Stage 0: download (or link) -> download/voxceleb/voxceleb1/{wav/<id>/<video>/<utt>.wav, vox1_meta.csv, iden_split.txt, veri_test2.txt}
#                                download/voxceleb/voxceleb2/{dev,test}/aac/<id>/<video>/<utt>.m4a
# Stage 1: manifests          -> data/manifests/voxceleb1_{recordings,supervisions,cuts}_{dev,test}.jsonl.gz
#                                data/manifests/voxceleb2_{recordings,supervisions,cuts}_{dev,test}.jsonl.gz
#          the cuts are one MonoCut per file with one supervision spanning it (speaker = idNNNNN).
# Stage 2: 8 kHz fbank        -> data/fbank/, data/cuts/<prefix>_cuts_<split>.jsonl.gz
# Stage 3: labels             -> data/labels/, data/cuts/<prefix>_cuts_<split>_<type>.jsonl.gz
# Stage 4: describe           -> data/stats/ (one speaker per cut)
#
# Next: simulate mixtures from these cuts with stage 2 of egs/mini_librispeech_sim/run.sh, which takes
# any such CutSet, e.g. `diar simulate data/manifests/voxceleb2_cuts_dev.jsonl.gz ...`.
set -euo pipefail
case " $* " in *" --help "*|*" -h "*) sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;; esac
cd "$(dirname "$0")"

stage=0
stop_stage=4
label_type=binary
versions="1 2"
split_by=veri
corpus_dir=
base_url=
nj=2
executor=local
scheduler=
corpus=voxceleb

. ../../local/parse_options.sh

prefix=$corpus-${versions// /-}-$split_by
done_dir=data/.done/$prefix
. ../../local/stages.sh
. ../../local/common_stages.sh

version_opts=()
for v in $versions; do version_opts+=(--version "$v"); done

stage_opts_0="versions=$versions corpus_dir=$corpus_dir base_url=$base_url"
if stage_begins 0 "download voxceleb ($versions)"; then
  if [ -n "$corpus_dir" ]; then
    diar download $corpus download/$corpus --corpus-dir "$corpus_dir"
  else
    diar download $corpus download/$corpus "${version_opts[@]}" ${base_url:+--base-url "$base_url"}
  fi
  stage_done 0
fi

# Fingerprint the lists and the file names (not the audio: hashing 150 GB would take longer than the stage).
mkdir -p data
list_inputs=()
for v in $versions; do
  for f in download/$corpus/voxceleb$v/*.csv download/$corpus/voxceleb$v/*.txt; do
    if [ -f "$f" ]; then list_inputs+=("$f"); fi
  done
done
if [ -d download/$corpus ]; then
  (cd download/$corpus && find -L . -name '*.wav' -o -name '*.m4a' | LC_ALL=C sort) > data/.voxceleb_files.txt
  list_inputs+=(data/.voxceleb_files.txt)
fi
stage_opts_1="versions=$versions split_by=$split_by"
if stage_begins 1 "manifests (voxceleb $versions)" "${list_inputs[@]}"; then
  diar prepare $corpus download/$corpus data/manifests "${version_opts[@]}" --split-by "$split_by" --num-jobs "$nj"
  stage_done 1
fi

# Stages 2-4: fbank, labels (one speaker per cut), describe, for every manifest prefix and
# split stage 1 wrote (voxceleb1 or voxceleb1-iden, voxceleb2).
prefixes=()
for v in $versions; do
  if [ "$v" = 1 ] && [ "$split_by" = iden ]; then prefixes+=(voxceleb1-iden); else prefixes+=(voxceleb$v); fi
done
run_feature_stages_for "${prefixes[@]}"

log "Finished stages $stage..$stop_stage; outputs in $(pwd)/data"
