#!/usr/bin/env bash
# TED-LIUM release 2 or 3: single-speaker utterances (one talk = one speaker) as SOURCES for
# simulated mixtures (stage 1), with the usual features, labels and statistics (stages 2-4).
#
# Usage: ./run.sh [--stage N] [--stop-stage N] [--release v2|v3] [--distribution D] [--corpus-dir DIR] [--force]
#   --stage N            first stage to run (default 0)
#   --stop-stage N       last stage to run (default 4)
#   --release R          v2 (TEDLIUM_release2) | v3 (TEDLIUM_release-3) (default v3)
#   --distribution D     v3 only: legacy | speaker-adaptation | all (default legacy)
#   --sph-decoder X      auto | sph2pipe | soundfile (default auto: sph2pipe when on PATH, else soundfile)
#   --corpus-dir DIR     stage 0 links this existing copy (holding TEDLIUM_release*/) instead of downloading
#   --base-url URL       mirror of the openslr archive, same file name (default: openslr.org)
#   --duration-from-annotations true|false  talk length = last STM end time (default false)
#   --nj N               workers for fbank and labels (default 2)
#   --executor E       local | dask: where fbank, labels (and simulation) run (default local)
#   --scheduler ADDR   dask scheduler (tcp://host:8786); default: a LocalCluster of --nj workers
#   --label-type T       binary | powerset | target (default binary)
#   --force              redo the selected stages even when they are done
#
# Stage 0: download (or link) -> download/tedlium/TEDLIUM_release-3/{data,legacy,speaker-adaptation}/ (v3)
#                                download/tedlium/TEDLIUM_release2/{train,dev,test}/{sph,stm}/       (v2)
# Stage 1: manifests          -> data/manifests/tedlium-<release>[-sa|-all]_{recordings,supervisions,cuts}_<split>.jsonl.gz
#          the cuts are one MonoCut per STM segment with one supervision (speaker = the talk).
# Stage 2: 8 kHz fbank        -> data/fbank/, data/cuts/<prefix>_cuts_<split>.jsonl.gz
# Stage 3: labels             -> data/labels/, data/cuts/<prefix>_cuts_<split>_<type>.jsonl.gz
# Stage 4: describe           -> data/stats/ (one speaker per cut)
#
# Next: simulate mixtures from these cuts with stage 2 of egs/mini_librispeech_sim/run.sh, which takes
# any such CutSet, e.g. `diar simulate data/manifests/tedlium-v3_cuts_train.jsonl.gz ...`.
set -euo pipefail
case " $* " in *" --help "*|*" -h "*) sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;; esac
cd "$(dirname "$0")"

stage=0
stop_stage=4
nj=2
executor=local
scheduler=
label_type=binary
release=v3
distribution=legacy
sph_decoder=auto
corpus_dir=
base_url=
duration_from_annotations=false
corpus=tedlium

. ../../local/parse_options.sh

prefix=$corpus-$release
if [ "$release" = v3 ] && [ "$distribution" = speaker-adaptation ]; then prefix=$prefix-sa; fi
if [ "$release" = v3 ] && [ "$distribution" = all ]; then prefix=$prefix-all; fi
done_dir=data/.done/$prefix
. ../../local/stages.sh
. ../../local/common_stages.sh

stage_opts_0="release=$release corpus_dir=$corpus_dir base_url=$base_url"
if stage_begins 0 "download tedlium ($release)"; then
  if [ -n "$corpus_dir" ]; then
    diar download $corpus download/$corpus --corpus-dir "$corpus_dir"
  else
    diar download $corpus download/$corpus --release "$release" ${base_url:+--base-url "$base_url"}
  fi
  stage_done 0
fi

# Fingerprint the STM files only (hashing hundreds of hours of audio would take longer than the stage).
stm_files=()
if [ -d download/$corpus ]; then
  while IFS= read -r -d '' f; do stm_files+=("$f"); done < <(find -L download/$corpus -name '*.stm' -print0 | LC_ALL=C sort -z)
fi
stage_opts_1="release=$release distribution=$distribution decoder=$sph_decoder dfa=$duration_from_annotations"
if stage_begins 1 "manifests ($prefix)" "${stm_files[@]}"; then
  opts=(--release "$release" --distribution "$distribution" --sph-decoder "$sph_decoder" --name "$prefix")
  if [ "$duration_from_annotations" = true ]; then opts+=(--duration-from-annotations); fi
  diar prepare $corpus download/$corpus data/manifests "${opts[@]}"
  stage_done 1
fi

# Stages 2-4: fbank, labels (one speaker per cut), describe, for every split stage 1 wrote.
run_feature_stages_for "$prefix"

log "Finished stages $stage..$stop_stage; outputs in $(pwd)/data"
