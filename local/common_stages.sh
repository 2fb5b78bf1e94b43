#!/usr/bin/env bash
# Stages 2-4, identical for every corpus (sourced by egs/<corpus>/run.sh after
# stages.sh). The caller sets:
#   prefix      manifest prefix, e.g. ami-sdm (files data/manifests/${prefix}_cuts_<split>.jsonl.gz)
#   splits      e.g. "train dev test"
#   nj          workers for fbank and labels
#   executor    local | dask (default local); scheduler: dask address (default: a LocalCluster of nj)
#   label_type  binary | powerset | target
#   max_set_size  powerset: most simultaneous speakers per class (default 2)
#   fbank_conf  feature YAML (default conf/fbank_8k.yaml)
#
# Stage 2: fbank     -> data/fbank/${prefix}_cuts_<split>/, data/cuts/${prefix}_cuts_<split>.jsonl.gz
# Stage 3: labels    -> data/labels/, data/cuts/${prefix}_cuts_<split>_<type>.jsonl.gz
# Stage 4: describe  -> data/stats/<file>.lhotse.txt, ${prefix}_card.md, _table.tex, _refs.bib, _stats.json, .png
#          validate  -> data/stats/${prefix}_validate.{md,json,png} (audio against annotations; warnings only)
#
# run_feature_stages FIRST runs the same three stages numbered FIRST..FIRST+2
# (the simulation recipe: 3-5); a recipe whose stage-2 input is not
# data/manifests/${prefix}_cuts_<split>.jsonl.gz redefines feature_input.

: "${max_set_size:=2}"
: "${executor:=local}"
: "${scheduler:=}"
: "${fbank_conf:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/conf/fbank_8k.yaml}"

run_feature_stages() {
  local first=${1:-2} s manifests=() cuts=()
  for s in $splits; do
    manifests+=("$(feature_input "$s")")
    cuts+=("data/cuts/${prefix}_cuts_$s.jsonl.gz")
  done

  local fb=$first lab=$((first + 1)) desc=$((first + 2))
  # (no nj here: the features do not depend on the number of workers)
  if stage_begins $fb "fbank ($prefix)" "$fbank_conf" "${manifests[@]}"; then
    for s in $splits; do
      diar fbank "$(feature_input "$s")" "data/cuts/${prefix}_cuts_$s.jsonl.gz" \
        --storage-path data/fbank --config "$fbank_conf" --num-jobs "$nj" $(executor_opts)
    done
    stage_done $fb
  fi

  printf -v "stage_opts_$lab" '%s' "type=$label_type K=$max_set_size"
  if stage_begins $lab "labels ($prefix, $label_type)" "${cuts[@]}"; then
    for s in $splits; do
      diar labels "data/cuts/${prefix}_cuts_$s.jsonl.gz" "data/cuts/${prefix}_cuts_${s}_$label_type.jsonl.gz" \
        --storage-path data/labels --type "$label_type" --max-set-size "$max_set_size" --num-jobs "$nj" $(executor_opts)
    done
    stage_done $lab
  fi

  if stage_begins $desc "describe ($prefix)" "${cuts[@]}"; then
    mkdir -p data/stats
    local f
    for f in data/cuts/${prefix}_cuts_*.jsonl.gz; do
      lhotse cut describe "$f" > "data/stats/$(basename "$f" .jsonl.gz).lhotse.txt"
    done
    diar describe "${cuts[@]}" --format markdown -o "data/stats/${prefix}_card.md" --plot "data/stats/${prefix}.png"
    diar describe "${cuts[@]}" --format latex -o "data/stats/${prefix}_table.tex" --bib "data/stats/${prefix}_refs.bib"
    diar describe "${cuts[@]}" --format json -o "data/stats/${prefix}_stats.json"
    # flagged recordings are warnings here (no --strict): read the ranked list in _validate.md
    diar validate "${cuts[@]}" --format markdown -o "data/stats/${prefix}_validate.md" \
      --json-output "data/stats/${prefix}_validate.json" --plot "data/stats/${prefix}_validate.png" --num-jobs "$nj"
    cat "data/stats/${prefix}_card.md"
    stage_done $desc
  fi
}

# --executor/--scheduler for diar fbank, labels and simulate
executor_opts() {
  echo --executor "$executor"
  if [ -n "$scheduler" ]; then echo --scheduler "$scheduler"; fi
}

feature_input() { echo "data/manifests/${prefix}_cuts_$1.jsonl.gz"; }
run_stages_2_to_4() { run_feature_stages 2; }

# splits_of PREFIX: the split names stage 1 wrote, from
# data/manifests/PREFIX_cuts_<split>.jsonl.gz (recipes.naming parses the names; empty before stage 1).
splits_of() { diar splits data/manifests "$1"; }

# run_feature_stages_for PREFIX...: stages 2-4 for each prefix in turn, with the
# splits stage 1 wrote and done markers in data/.done/<prefix>.
run_feature_stages_for() {
  local p
  for p in "$@"; do
    prefix=$p
    splits=$(splits_of "$p")
    done_dir=data/.done/$p
    if [ -z "$splits" ]; then
      if [ "$stop_stage" -ge 2 ]; then log "no data/manifests/${p}_cuts_*.jsonl.gz: run stage 1 first"; return 1; fi
      continue
    fi
    run_feature_stages 2
  done
}
