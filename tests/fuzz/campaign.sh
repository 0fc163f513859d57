#!/usr/bin/env bash
# A long fuzzing run of one target (docs/development.md, "Fuzzing, sanitizers and valgrind"):
# libFuzzer from the seeds and the regression corpus until RUNS executions or SECONDS have passed,
# whichever first, restarted after each finding so that one run collects them all; then the whole
# corpus once more with leak checks, which the search leaves out (HDF5 keeps blocks on free lists,
# so LeakSanitizer would scan the heap after almost every input, ten times the cost of the input).
# The corpus grows in BUILD/tests/fuzz/corpus/TARGET, findings land in
# BUILD/tests/fuzz/artifacts/TARGET-*, and a last line sums it up. One process: other work keeps
# the other cores.
#   tests/fuzz/campaign.sh BUILD TARGET [RUNS=1000000] [SECONDS=3600]
set -u
build=$(realpath "${1:?usage: $0 BUILD TARGET [RUNS] [SECONDS]}")
target=${2:?usage: $0 BUILD TARGET [RUNS] [SECONDS]}
runs=${3:-1000000}
seconds=${4:-3600}
src=$(cd "$(dirname "$0")" && pwd)
dir=$build/tests/fuzz
mkdir -p "$dir/corpus/$target" "$dir/artifacts" "$dir/logs"
if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
export TMPDIR=$dir
dict=()
[ "$target" = fuzz_deck ] && dict=(-dict="$src/deck.dict")
done_runs=0 findings=0 start=$SECONDS
while [ "$done_runs" -lt "$runs" ] && [ $((SECONDS - start)) -lt "$seconds" ]; do
  log=$dir/logs/$target.$((findings + 1)).log
  "$dir/$target" "${dict[@]}" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -detect_leaks=0 \
    -runs=$((runs - done_runs)) -max_total_time=$((seconds - (SECONDS - start))) \
    -artifact_prefix="$dir/artifacts/$target-" "$dir/corpus/$target" "$dir/seeds/$target" "$src/regressions/$target" >"$log" 2>&1
  rc=$?
  n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  [ -n "$n" ] || n=$(grep -o '^#[0-9]*' "$log" | tail -1 | tr -d '#')
  done_runs=$((done_runs + ${n:-0}))
  [ "$rc" -eq 0 ] && break
  findings=$((findings + 1))
  echo "$target: finding $findings after $done_runs executions: $(grep -m1 -E 'ERROR|fuzz finding|Timeout|out-of-memory' "$log")"
done
log=$dir/logs/$target.leaks.log
if ! "$dir/$target" -timeout=10 -rss_limit_mb=2048 -runs=0 -artifact_prefix="$dir/artifacts/$target-" \
    "$dir/corpus/$target" "$src/regressions/$target" >"$log" 2>&1; then
  findings=$((findings + 1))
  echo "$target: finding $findings in the corpus replay with leak checks: $(grep -m1 -E 'ERROR|fuzz finding' "$log")"
fi
echo "$target: $done_runs executions in $((SECONDS - start)) s, $findings finding(s)"
