#!/usr/bin/env bash
# Kaldi-style option parsing, sourced by every egs/<corpus>/run.sh after it has
# set its defaults:
#
#   stage=0; stop_stage=100; corpus_dir=
#   . ../../local/parse_options.sh
#
# `--some-name VALUE` (or `--some-name=VALUE`) sets the shell variable
# `some_name`, which must already exist (a typo is an error, not a silent
# no-op). `--force` (no value) sets force=true. `--help` prints the options with
# their live defaults (recipe_usage, local/recipe.sh) or else the run.sh header
# comment (every line from line 2 that starts with '#') and exits.
# Remaining positional arguments are left in "$@".

# run.sh usually cds to its own directory before sourcing this file, so "$0"
# may no longer resolve: fall back to its base name there.
__usage() {
  local f="$0"
  [ -r "$f" ] || f=$(basename "$0")
  sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$f"
}

while [ $# -gt 0 ]; do
  case "$1" in
    --help|-h) if declare -F recipe_usage >/dev/null; then recipe_usage; else __usage; fi; exit 0 ;;
    --force) force=true; shift ;;
    --*=*) __opt="${1%%=*}"; __val="${1#*=}"; shift; set -- "$__opt" "$__val" "$@" ;;
    --*)
      __name="${1#--}"; __name="${__name//-/_}"
      if [ -z "${!__name+x}" ]; then
        echo "$0: unknown option $1 (run $0 --help for the options)" >&2; exit 2
      fi
      if [ $# -lt 2 ]; then echo "$0: option $1 needs a value" >&2; exit 2; fi
      printf -v "$__name" '%s' "$2"; shift 2 ;;
    *) break ;;
  esac
done
unset __opt __val __name
