#!/usr/bin/env bash
# AVA-AVD: speaker-diarization training data (train / val / test clips) with Lhotse.
#
# Usage: ./run.sh [--stage N] [--stop-stage N] [--corpus-dir DIR] [--audio-dir DIR] [--nj N] [--executor local|dask] [--scheduler ADDR] [--force]
#   --stage N          first stage to run (default 0)
#   --stop-stage N     last stage to run (default 4)
#   --corpus-dir DIR   use an existing copy (the repository's dataset/ folder or its parent)
#                      instead of downloading (default: download)
#   --base-url URL     mirror with split/, videos/, annotations.tar.gz (default: official URLs)
#   --annotations F    URL or file of annotations.tar.gz (Google Drive only:
#                      gdown --id 18kjJJbebBg7e8umI6HoGE4_tI3OWufzA); needed by stage 0 without --corpus-dir
#   --audio-dir DIR    clip WAVs <clip_id>.wav; missing ones are cut from the movies with ffmpeg
#                      (default: empty = <corpus>/dataset/waves)
#   --duration-from-annotations true|false  clip length = last turn end - offset (default false)
#   --nj N             workers for fbank and labels (default 2)
#   --executor E       local | dask: where fbank, labels (and simulation) run (default local)
#   --scheduler ADDR   dask scheduler (tcp://host:8786); default: a LocalCluster of --nj workers
#   --label-type T     binary | powerset | target (default binary)
#   --force            redo the selected stages even when they are done
#
# Stage 0: download (or link --corpus-dir) -> download/ava_avd/dataset/
#            split/{train,val,test}.list video.list offsets.txt  rttms/<clip>.rttm  videos/<video>.<ext>
# Stage 1: clip audio (ffmpeg, 16 kHz mono) + manifests
#            -> data/manifests/ava_avd_{recordings,supervisions,cuts}_{train,val,test}.jsonl.gz
# Stage 2-4: fbank, labels, describe (local/common_stages.sh)
set -euo pipefail
# --help before the cd: local/parse_options.sh prints the header from "$0", which is
# relative to the caller's directory.
case " $* " in *" --help "*|*" -h "*) sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;; esac
cd "$(dirname "$0")"

stage=0
stop_stage=4
nj=2
executor=local
scheduler=
label_type=binary
corpus_dir=
base_url=
annotations=
audio_dir=
duration_from_annotations=false
corpus=ava_avd
prefix=ava_avd
splits="train val test"
done_dir=data/.done/$prefix

. ../../local/parse_options.sh
. ../../local/stages.sh
. ../../local/common_stages.sh

stage_opts_0="corpus_dir=$corpus_dir base_url=$base_url annotations=$annotations"
if stage_begins 0 "download ava_avd"; then
  if [ -n "$corpus_dir" ]; then
    diar download ava_avd download/$corpus --corpus-dir "$corpus_dir"
  else
    diar download ava_avd download/$corpus ${base_url:+--base-url "$base_url"} ${annotations:+--annotations "$annotations"}
  fi
  stage_done 0
fi

# Fingerprint the annotations only (hashing the movies would take longer than the stage).
label_inputs=()
for d in download/$corpus/dataset/rttms download/$corpus/dataset/split download/$corpus/rttms download/$corpus/split; do
  if [ -d "$d" ]; then label_inputs+=("$d"); fi
done
stage_opts_1="audio_dir=$audio_dir dfa=$duration_from_annotations"
if stage_begins 1 "clip audio + manifests ($prefix)" "${label_inputs[@]}"; then
  opts=()
  if [ -n "$audio_dir" ]; then opts+=(--audio-dir "$audio_dir"); fi
  if [ "$duration_from_annotations" = true ]; then opts+=(--duration-from-annotations); fi
  diar prepare ava_avd download/$corpus data/manifests "${opts[@]}"
  stage_done 1
fi

run_stages_2_to_4

log "Finished stages $stage..$stop_stage; outputs in $(pwd)/data"
