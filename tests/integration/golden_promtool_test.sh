#!/usr/bin/env bash
# Every golden /metrics file (tests/golden/exporter_metrics*.txt: what the
# exporter serves for the replay fixture and for a GitLab run) passes
# `promtool check metrics` without a word, and no token of the tests is in it.
source "$(dirname "$0")/lib.sh"
shopt -s nullglob
files=("$CICD_SOURCE_DIR"/tests/golden/exporter_metrics*.txt)
(( ${#files[@]} >= 2 )) || fail "expected the golden files, found ${#files[@]}"
for f in "${files[@]}"; do
  lint=$(promtool check metrics <"$f" 2>&1 || true)
  [[ -z $lint ]] || fail "promtool check metrics $(basename "$f"): $lint"
  if grep -qE 'glpat-|ghp_' "$f"; then fail "a token in $(basename "$f")"; fi
done
grep -q '^cicd_exporter_runs_counted_total{source="gitlab"} 8$' \
  "$CICD_SOURCE_DIR/tests/golden/exporter_metrics_gitlab.txt" || fail "the GitLab golden file lacks its 8 runs"
echo "golden_promtool_test: ok (${#files[@]} files)"
