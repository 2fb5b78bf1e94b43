#!/usr/bin/env bash
# Stage bookkeeping shared by every egs/<corpus>/run.sh (sourced after
# parse_options.sh). A stage looks like:
#
#   if stage_begins 2 "fbank" data/manifests/demo_cuts.jsonl.gz conf/fbank_8k.yaml; then
#     diar fbank ...
#     stage_done 2
#   fi
#
# stage_begins N DESC [INPUT...] succeeds when N lies in [stage, stop_stage]
# and the stage is not already done. "Done" means: the marker
# $done_dir/stage_N.done exists and holds the fingerprint of DESC, of
# $stage_opts_N (if the script sets it) and of the content of the INPUT files
# (directories: every file's path, size and modification time). So rerunning a finished stage does nothing, and a
# stage reruns by itself when its inputs or options changed. --force redoes
# every selected stage. The Python commands write their outputs under
# temporary names and rename them when complete, and the marker is written
# last, so a killed stage is never mistaken for a finished one.

: "${stage:=0}" "${stop_stage:=100}" "${force:=false}" "${done_dir:=data/.done}"

log() {
  # log MESSAGE...: timestamped line on stderr, with the calling script's name.
  local fname=${BASH_SOURCE[1]##*/}
  echo -e "$(date '+%Y-%m-%d %H:%M:%S') ($fname:${BASH_LINENO[0]}:${FUNCNAME[1]}) $*" >&2
}

__fingerprint() {
  # __fingerprint N DESC INPUT...: sha256 over the description, options and input contents.
  local n=$1 desc=$2; shift 2
  local opts_var="stage_opts_$n"
  {
    echo "$desc"
    echo "${!opts_var:-}"
    local f
    for f in "$@"; do
      if [ -d "$f" ]; then
        # directories (often audio) by path, size and modification time: reading
        # hundreds of hours of audio on every check would cost more than the stage
        find -L "$f" -type f ! -name '*.partial*' -printf '%p %s %T@\n' | LC_ALL=C sort
      elif [ -e "$f" ] && [ "${f%.gz}" != "$f" ]; then
        # gzip headers hold a timestamp: hash the content, not the bytes
        echo "$f $(gzip -dc "$f" | sha256sum | cut -d' ' -f1)"
      elif [ -e "$f" ]; then
        sha256sum "$f"
      else
        echo "missing $f"
      fi
    done
  } | sha256sum | cut -d' ' -f1
}

stage_begins() {
  local n=$1 desc=$2; shift 2
  if [ "$stage" -gt "$n" ] || [ "$stop_stage" -lt "$n" ]; then return 1; fi
  mkdir -p "$done_dir"
  local marker="$done_dir/stage_$n.done"
  __STAGE_KEY=$(__fingerprint "$n" "$desc" "$@")
  if [ "$force" != true ] && [ -f "$marker" ] && [ "$(cat "$marker")" = "$__STAGE_KEY" ]; then
    log "Stage $n: $desc -- already done (marker $marker), skipping; --force redoes it"
    return 1
  fi
  rm -f "$marker"
  log "Stage $n: $desc"
  return 0
}

stage_done() {
  local n=$1 marker="$done_dir/stage_$1.done"
  echo "$__STAGE_KEY" > "$marker.tmp" && mv "$marker.tmp" "$marker"
  log "Stage $n: done"
}

# The `diar` command: on PATH (e.g. an activated virtualenv), else the
# repository's .venv (created by `make demo` / `make test`).
if ! command -v diar >/dev/null 2>&1; then
  __repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  if [ -x "$__repo/.venv/bin/diar" ]; then
    export PATH="$__repo/.venv/bin:$PATH"
  else
    echo "diar not found: run 'make test' (creates .venv) or 'pip install -e .' first" >&2
    exit 1
  fi
fi
