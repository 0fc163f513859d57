#!/usr/bin/env bash
# jobs/scaling/scaling.py --target local: strong and weak studies of the selftest deck at 1 and 2
# ranks give their CSVs (one row per run, timers and provenance), the summary and the plot;
# `saddle-post scaling-report` redoes the analysis; bad studies exit 2 with one line.
src=$(cd "$(dirname "$0")/../.." && pwd)
source "$src/tests/cli/common.sh"
study() { /usr/bin/python3 "$src/jobs/scaling/scaling.py" "$@"; }
# Expected message fragment, then the arguments (saddle check's own message may come first).
refused() { REFUSAL_LINES=any refused_by "$1" study "${@:2}"; }
export MPIEXEC

study deck.toml --ranks 2 1 --mode strong --repeats 2 --out strong run.steps=40 >log 2>&1 || fail "strong study: $(cat log)"
for f in scaling.csv scaling_summary.csv scaling.png study.json runs/strong_n1_r1.h5 runs/strong_n2_r2.h5; do
  [ -s strong/$f ] || fail "strong/$f missing"
done
[ "$(wc -l < strong/scaling.csv)" -eq 5 ] || fail "strong/scaling.csv has not 4 runs: $(cat strong/scaling.csv)"
head -1 strong/scaling.csv | grep -q "^name,mode,ranks,repeat,workload,completed,steps,.*t_steps,wall,saddle_version,git_revision" \
  || fail "strong/scaling.csv header: $(head -1 strong/scaling.csv)"
grep -q "^strong_n2_r2,strong,2,2,selftest,1,40," strong/scaling.csv || fail "strong_n2_r2 row: $(cat strong/scaling.csv)"
grep -q "^strong,1,2,.*,1.0,1.0$" strong/scaling_summary.csv || fail "summary at N0 is not 1, 1: $(cat strong/scaling_summary.csv)"
grep -q "^strong,2,2," strong/scaling_summary.csv || fail "no summary at 2 ranks: $(cat strong/scaling_summary.csv)"

study deck.toml --ranks 1 2 --mode weak --weak-key selftest.n --out weak run.steps=40 >log 2>&1 || fail "weak study: $(cat log)"
# The weak key is scaled with the rank count: 101 per rank.
grep -q "^weak_n1_r1,weak,1,1,selftest,1,40,101," weak/scaling.csv || fail "weak n1: $(cat weak/scaling.csv)"
grep -q "^weak_n2_r1,weak,2,1,selftest,1,40,202," weak/scaling.csv || fail "weak n2: $(cat weak/scaling.csv)"
/usr/bin/python3 - weak/runs/weak_n2_r1.h5 <<'PY' || fail "weak n2 did not run with n = 202"
import h5py, sys
assert h5py.File(sys.argv[1])["result/x"].shape == (202,)
PY
rm weak/scaling.csv weak/scaling.png
/usr/bin/python3 "$src/jobs/post/saddle-post" scaling-report weak >log || fail "scaling-report: $(cat log)"
[ -s weak/scaling.csv ] && [ -s weak/scaling.png ] || fail "scaling-report did not rewrite the CSV and plot"

refused "--mode weak needs at least one --weak-key" deck.toml --ranks 1 --mode weak
refused "--weak-key selftest.lr: not an integer key" deck.toml --ranks 1 --mode weak --weak-key selftest.lr
refused "--weak-key selftest.m: no such key" deck.toml --ranks 1 --mode weak --weak-key selftest.m
refused "the deck check failed" deck.toml --ranks 1 --mode strong selftest.nn=3
refused "run strong_n1_r1 failed (exit 1)" deck.toml --ranks 1 --mode strong --out bad --mpiexec false
mkdir empty
refused "no readable run files" analyse empty
echo "PASS"
