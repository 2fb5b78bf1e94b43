#!/usr/bin/env bash
# DIHARD III (LDC2022S12 dev, LDC2022S14 eval): speaker-diarization data with Lhotse.
#
# Usage: ./run.sh --corpus-dir DIR [--stage N] [--stop-stage N] [--partition core|full] [--nj N] [--executor local|dask] [--scheduler ADDR] [--force]
#   --corpus-dir DIR     your local LDC copy (required: DIHARD III is LDC-licensed, nothing is downloaded)
#   --stage N            first stage to run (default 0)
#   --stop-stage N       last stage to run (default 4)
#   --partition P        full (all recordings, default) | core (the domain-balanced core subset)
#   --duration-from-annotations true|false  recording length = UEM end / last turn end (default false)
#   --nj N               workers for fbank and labels (default 2)
#   --executor E       local | dask: where fbank, labels (and simulation) run (default local)
#   --scheduler ADDR   dask scheduler (tcp://host:8786); default: a LocalCluster of --nj workers
#   --label-type T       binary | powerset | target (default binary)
#   --force              redo the selected stages even when they are done
#
# Stage 0: link --corpus-dir -> download/dihard3/
#            third_dihard_challenge_{dev,eval}/data/{flac/<id>.flac, rttm/<id>.rttm,
#            uem_scoring/{core,full}/all.uem}, docs/recordings.tbl
# Stage 1: manifests -> data/manifests/dihard3[-core]_{recordings,supervisions,cuts}_{dev,eval}.jsonl.gz
#          (scoring regions = the partition's UEM, as each cut's custom 'uem'; domain as custom 'domain')
# Stage 2-4: fbank, labels (frames outside the UEM ignored), describe (local/common_stages.sh)
set -euo pipefail
case " $* " in *" --help "*|*" -h "*) sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;; esac
cd "$(dirname "$0")"

stage=0
stop_stage=4
nj=2
executor=local
scheduler=
label_type=binary
corpus_dir=
partition=full
duration_from_annotations=false
corpus=dihard3
splits="dev eval"

. ../../local/parse_options.sh

if [ "$partition" = full ]; then prefix=$corpus; else prefix=$corpus-$partition; fi
done_dir=data/.done/$prefix
. ../../local/stages.sh
. ../../local/common_stages.sh

stage_opts_0="corpus_dir=$corpus_dir"
if stage_begins 0 "link dihard3"; then
  if [ -z "$corpus_dir" ]; then
    log "DIHARD III is LDC-licensed (LDC2022S12 dev, LDC2022S14 eval) and cannot be downloaded: pass --corpus-dir DIR"
    exit 1
  fi
  diar download $corpus download/$corpus --corpus-dir "$corpus_dir"
  stage_done 0
fi

# Fingerprint the annotations only (RTTMs, UEMs, metadata), not the audio.
label_inputs=()
for d in download/$corpus/*/data/rttm download/$corpus/*/data/uem_scoring download/$corpus/*/docs; do
  if [ -d "$d" ]; then label_inputs+=("$d"); fi
done
stage_opts_1="partition=$partition dfa=$duration_from_annotations"
if stage_begins 1 "manifests ($prefix)" "${label_inputs[@]}"; then
  opts=(--partition "$partition")
  if [ "$duration_from_annotations" = true ]; then opts+=(--duration-from-annotations); fi
  diar prepare $corpus download/$corpus data/manifests "${opts[@]}"
  stage_done 1
fi

run_stages_2_to_4

log "Finished stages $stage..$stop_stage; outputs in $(pwd)/data"
