#!/usr/bin/env bash
# CHiME-6 (array-synchronised CHiME-5 dinner parties): speaker-diarization data with Lhotse.
#
# Usage: ./run.sh --corpus-dir DIR [--stage N] [--stop-stage N] [--mic U06|U01..U06|binaural] [--channel C]
#   --corpus-dir DIR     your synchronised CHiME-6 copy (required: licensed audio, nothing is downloaded)
#   --stage N            first stage to run (default 0)
#   --stop-stage N       last stage to run (default 4)
#   --mic M              U01..U06 (one array channel, default U06) | binaural (all in-ear mics, MultiCut;
#                        stage 2 gives one feature cut per in-ear channel, ids <session>-<channel>)
#   --channel C          array channel 1..4 with --mic U0x (default 1)
#   --uem FILE           Kaldi track-2 UEM for dev/eval (default: official starts S01 0, S02 75, S09 64,
#                        S21 59 s, to the end of the file)
#   --duration-from-annotations true|false  recording length = last turn end (default false)
#   --nj N               workers for fbank and labels (default 2)
#   --executor E       local | dask: where fbank, labels (and simulation) run (default local)
#   --scheduler ADDR   dask scheduler (tcp://host:8786); default: a LocalCluster of --nj workers
#   --label-type T       binary | powerset | target (default binary)
#   --force              redo the selected stages even when they are done
#
# Stage 0: link --corpus-dir -> download/chime6/
#            audio/{train,dev,eval}/<S>_U0<a>.CH<c>.wav, <S>_P<xx>.wav; transcriptions/{train,dev,eval}/<S>.json
# Stage 1: manifests -> data/manifests/chime6-<mic>[-ch<c>]_{recordings,supervisions,cuts}_{train,dev,eval}.jsonl.gz
# Stage 2-4: fbank, labels, describe (local/common_stages.sh); mono array mics only
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
mic=U06
channel=1
uem=
duration_from_annotations=false
corpus=chime6
splits="train dev eval"

. ../../local/parse_options.sh

if [ "$mic" = binaural ] || [ "$channel" = 1 ]; then prefix=$corpus-$mic; else prefix=$corpus-$mic-ch$channel; fi
done_dir=data/.done/$prefix
. ../../local/stages.sh
. ../../local/common_stages.sh

stage_opts_0="corpus_dir=$corpus_dir"
if stage_begins 0 "link chime6"; then
  if [ -z "$corpus_dir" ]; then
    log "CHiME-6 audio is licensed and cannot be downloaded: pass your synchronised copy with --corpus-dir DIR"
    exit 1
  fi
  diar download $corpus download/$corpus --corpus-dir "$corpus_dir"
  stage_done 0
fi

# Fingerprint the transcriptions (and UEM) only, not the audio.
label_inputs=()
if [ -d download/$corpus/transcriptions ]; then label_inputs+=(download/$corpus/transcriptions); fi
if [ -n "$uem" ]; then label_inputs+=("$uem"); fi
stage_opts_1="mic=$mic channel=$channel uem=$uem dfa=$duration_from_annotations"
if stage_begins 1 "manifests ($prefix)" "${label_inputs[@]}"; then
  opts=(--mic "$mic" --channel "$channel")
  if [ -n "$uem" ]; then opts+=(--uem "$uem"); fi
  if [ "$duration_from_annotations" = true ]; then opts+=(--duration-from-annotations); fi
  diar prepare $corpus download/$corpus data/manifests "${opts[@]}"
  stage_done 1
fi

run_stages_2_to_4

log "Finished stages $stage..$stop_stage; outputs in $(pwd)/data"
