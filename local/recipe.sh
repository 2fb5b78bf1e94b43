#!/usr/bin/env bash
# The template every egs/<corpus>/run.sh sources (ESPnet-style): the common
# defaults, --help generated from the live defaults, option parsing with
# checked numbers, and stages 0-4. A run.sh is a declaration:
#
#   #!/usr/bin/env bash
#   # One line on the corpus (printed by --help, with every comment line up to the first command).
#   . "$(dirname "$0")/../../local/recipe.sh"
#   corpus=ami                                    # `diar download|prepare ami`
#   option mic sdm "ihm-mix | sdm | mdm"          # VAR DEFAULT HELP [WHERE [FLAG]]
#   stage1_inputs() { echo download/ami/AMI-diarization-setup; }   # optional: what stage 1 reads
#   recipe_main "$@"
#
# `option VAR DEFAULT HELP [WHERE [FLAG [KIND]]]` declares --VAR (dashes for
# underscores). WHERE says which diar verb receives it: both (the default),
# download, prepare, or none (used by the run.sh itself); FLAG is the diar
# option (default --VAR). A value with spaces is passed as FLAG once per word;
# a true/false option is passed as FLAG alone when true; an empty value is not
# passed. A numeric DEFAULT makes the option numeric (int, or number with a
# decimal point; KIND says number for a whole default that takes fractions):
# anything else is an error. Declaring a VAR again replaces it (new default and
# help); `no_option VAR` removes one of the common options below.
#
# Optional hooks: stage0_inputs / stage1_inputs (files and folders whose
# content is fingerprinted in the done markers), prepare_extra_args (more
# words for `diar prepare`), stage_0 / stage_1 (a corpus-specific stage
# replacing the default one), recipe_stages (every stage, for a recipe with
# other stages: egs/mini_librispeech_sim); prefixes=(...) set by the run.sh
# skips `diar names`.
#
# Stage 0: download, or link --corpus-dir    -> download/<corpus>/
# Stage 1: manifests                         -> data/manifests/<prefix>_{recordings,supervisions,cuts}_<split>.jsonl.gz
# Stages 2-4: fbank, labels, describe + validate (local/common_stages.sh) for every prefix stage 1
#   wrote (`diar names`: Python answers what the prefix is), on the splits it wrote (`diar splits`).

__recipe_local=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
__recipe_options=()   # VAR|WHERE|FLAG|KIND|HELP
__recipe_defaults=()  # VAR=DEFAULT, for --help

option() {
  local var=$1 default=$2 help=$3 where=${4:-both} flag=${5:-} kind=${6:-}
  [ -n "$flag" ] || flag="--${var//_/-}"
  if [ -n "$kind" ]; then :
  elif [[ $default =~ ^-?[0-9]+$ ]]; then kind=int
  elif [[ $default =~ ^-?[0-9]*\.[0-9]+$ ]]; then kind=number
  elif [ "$default" = true ] || [ "$default" = false ]; then kind=bool
  else kind=text
  fi
  printf -v "$var" '%s' "$default"
  local i entry="$var|$where|$flag|$kind|$help"
  for i in "${!__recipe_options[@]}"; do
    if [ "${__recipe_options[$i]%%|*}" = "$var" ]; then __recipe_options[$i]=$entry; return; fi
  done
  __recipe_options+=("$entry")
}

# no_option VAR: --VAR is no option of this recipe (gone from --help; passing it is an error).
no_option() {
  local entry kept=()
  for entry in "${__recipe_options[@]}"; do [ "${entry%%|*}" = "$1" ] || kept+=("$entry"); done
  __recipe_options=("${kept[@]}")
  unset "$1"
}

# Options of every recipe (a run.sh may change a default after sourcing, e.g. nj=4).
option stage 0 "first stage to run" none
option stop_stage 4 "last stage to run" none
option corpus_dir "" "stage 0 links this existing copy instead of downloading" none
option nj 2 "workers for fbank, labels and validate" none
option executor local "local | dask: where fbank and labels run" none
option scheduler "" "dask scheduler (tcp://host:8786); default: a LocalCluster of --nj workers" none
option label_type binary "binary | powerset | target" none
option max_set_size 2 "powerset: most simultaneous speakers per class" none
option duration_from_annotations false "recording length from the annotations (UEM end, else last turn end), for stand-in audio" prepare
force=false

recipe_usage() {
  # The run.sh header (comment lines after the shebang), then every option with its live default.
  local f="$0" entry var where flag kind help
  [ -r "$f" ] || f=$(basename "$0")
  sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$f"
  echo
  echo "Usage: $0 [--option VALUE ...] [--force]"
  for entry in "${__recipe_options[@]}"; do
    IFS='|' read -r var where flag kind help <<< "$entry"
    printf '  %-34s %s (default: %s)\n' "--${var//_/-} ${kind^^}" "$help" "${!var:-none}"
  done
  printf '  %-34s %s\n' "--force" "redo the selected stages even when they are done"
}

__recipe_check_numbers() {
  local entry var where flag kind help
  for entry in "${__recipe_options[@]}"; do
    IFS='|' read -r var where flag kind help <<< "$entry"
    case $kind in
      int) [[ ${!var} =~ ^-?[0-9]+$ ]] || { echo "$0: --${var//_/-} expects a whole number, got '${!var}'" >&2; exit 2; } ;;
      number) [[ ${!var} =~ ^-?([0-9]+\.?[0-9]*|\.[0-9]+)$ ]] \
        || { echo "$0: --${var//_/-} expects a number, got '${!var}'" >&2; exit 2; } ;;
      bool) [ "${!var}" = true ] || [ "${!var}" = false ] \
        || { echo "$0: --${var//_/-} expects true or false, got '${!var}'" >&2; exit 2; } ;;
    esac
  done
}

# diar_args VERB: the declared options for `diar VERB` (download | prepare), one word per line.
diar_args() {
  local verb=$1 entry var where flag kind help word
  for entry in "${__recipe_options[@]}"; do
    IFS='|' read -r var where flag kind help <<< "$entry"
    [ "$where" = both ] || [ "$where" = "$verb" ] || continue
    if [ "$kind" = bool ]; then
      if [ "${!var}" = true ]; then echo "$flag"; fi
      continue
    fi
    for word in ${!var}; do printf '%s\n%s\n' "$flag" "$word"; done
  done
}

stage0_inputs() { :; }
stage1_inputs() { :; }
prepare_extra_args() { :; }

stage_0() {
  stage_opts_0="corpus_dir=$corpus_dir ${download_args[*]}"
  if stage_begins 0 "download $corpus" $(stage0_inputs); then
    if [ -n "$corpus_dir" ]; then
      diar download "$corpus" "download/$corpus" --corpus-dir "$corpus_dir"
    else
      diar download "$corpus" "download/$corpus" "${download_args[@]}"
    fi
    stage_done 0
  fi
}

stage_1() {
  stage_opts_1="${prepare_args[*]}"
  local inputs=()
  mapfile -t inputs < <(stage1_inputs)
  if stage_begins 1 "manifests (${prefixes[*]})" "${inputs[@]}"; then
    diar prepare "$corpus" "download/$corpus" data/manifests "${prepare_args[@]}" $(prepare_extra_args)
    stage_done 1
  fi
}

recipe_stages() {
  stage_0
  stage_1
  run_feature_stages_for "${prefixes[@]}"
}

recipe_main() {
  set -euo pipefail
  cd "$(dirname "$0")"
  . "$__recipe_local/parse_options.sh"
  __recipe_check_numbers
  . "$__recipe_local/stages.sh"
  . "$__recipe_local/common_stages.sh"
  mapfile -t download_args < <(diar_args download)
  mapfile -t prepare_args < <(diar_args prepare)
  if [ -z "${prefixes+x}" ]; then
    local names
    names=$(diar names "$corpus" "${prepare_args[@]}")
    mapfile -t prefixes <<< "$names"
  fi
  done_dir=data/.done/$(IFS=+; echo "${prefixes[*]}")
  recipe_stages
  log "Finished stages $stage..$stop_stage; outputs in $(pwd)/data"
}
