#!/usr/bin/env bash
# LibriCSS (Chen et al., ICASSP 2020): 60 mini-sessions of replayed LibriSpeech, 6 overlap conditions
# (0L, 0S, OV10..OV40). Splits: dev = session0, eval = sessions 1-9 (the community convention).
#
# Usage: ./run.sh [--stage N] [--stop-stage N] [--mic M] [--channel N] [--corpus-dir DIR] [--nj N] [--executor local|dask] [--scheduler ADDR] [--force]
#   --stage N            first stage to run (default 0)
#   --stop-stage N       last stage to run (default 4)
#   --mic M              raw (7-channel record/raw_recording.wav, one channel) | clean (clean/mix.wav) (default raw)
#   --channel N          channel 0-6 of the raw recording (default 0; names become libricss-raw-ch<N>)
#   --by-condition true|false  also write dev_<cond>/eval_<cond> splits per overlap condition (default false)
#   --corpus-dir DIR     stage 0 links this existing copy (holding for_release/) instead of downloading
#   --base-url URL       mirror holding for_release.zip (default: the Google Drive link in conf/corpora/libricss.yaml)
#   --duration-from-annotations true|false  recording length = last utterance end (default false)
#   --nj N               workers for fbank and labels (default 2)
#   --executor E       local | dask: where fbank, labels (and simulation) run (default local)
#   --scheduler ADDR   dask scheduler (tcp://host:8786); default: a LocalCluster of --nj workers
#   --label-type T       binary | powerset | target (default binary)
#   --force              redo the selected stages even when they are done
#
# Stage 0: download (or link) -> download/libricss/for_release/<cond>/<mini-session>/{record,clean,transcription}/
# Stage 1: manifests          -> data/manifests/libricss-<mic>_{recordings,supervisions,cuts}_{dev,eval}.jsonl.gz
#                                (cuts carry the custom field 'condition')
# Stage 2-4: fbank, labels, describe (local/common_stages.sh)
set -euo pipefail
case " $* " in *" --help "*|*" -h "*) sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;; esac
cd "$(dirname "$0")"

stage=0
stop_stage=4
nj=2
executor=local
scheduler=
label_type=binary
mic=raw
channel=0
by_condition=false
corpus_dir=
base_url=
duration_from_annotations=false
corpus=libricss
splits="dev eval"

. ../../local/parse_options.sh

prefix=$corpus-$mic
if [ "$mic" = raw ] && [ "$channel" != 0 ]; then prefix=$prefix-ch$channel; fi
done_dir=data/.done/$prefix
. ../../local/stages.sh
. ../../local/common_stages.sh

stage_opts_0="corpus_dir=$corpus_dir base_url=$base_url"
if stage_begins 0 "download libricss"; then
  if [ -n "$corpus_dir" ]; then
    diar download $corpus download/$corpus --corpus-dir "$corpus_dir"
  else
    diar download $corpus download/$corpus ${base_url:+--base-url "$base_url"}
  fi
  stage_done 0
fi

# Fingerprint the annotations only (hashing the audio would take longer than the stage).
label_inputs=()
for f in download/$corpus/for_release/*/*/transcription/meeting_info.txt download/$corpus/*/*/transcription/meeting_info.txt; do
  if [ -f "$f" ]; then label_inputs+=("$f"); fi
done
stage_opts_1="mic=$mic channel=$channel by_condition=$by_condition dfa=$duration_from_annotations"
if stage_begins 1 "manifests ($prefix)" "${label_inputs[@]}"; then
  opts=(--mic "$mic" --channel "$channel" --name "$prefix")
  if [ "$by_condition" = true ]; then opts+=(--by-condition); fi
  if [ "$duration_from_annotations" = true ]; then opts+=(--duration-from-annotations); fi
  diar prepare $corpus download/$corpus data/manifests "${opts[@]}"
  stage_done 1
fi

run_stages_2_to_4

log "Finished stages $stage..$stop_stage; outputs in $(pwd)/data"
