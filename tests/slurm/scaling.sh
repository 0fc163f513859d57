#!/usr/bin/env bash
# jobs/scaling/scaling.py --target slurm: one job per point and an analysis job that depends on
# them; once the analysis job has run, the study folder holds the CSVs and the plot.
source "$(dirname "$0")/common.sh"
out=$(SADDLE="$SADDLE" /usr/bin/python3 "$repo/jobs/scaling/scaling.py" "$repo/inputs/selftest.toml" \
  --ranks 1 2 --mode strong --target slurm --sbatch-args="--time=5" --out "$work/study" \
  run.steps=100 selftest.n=5000) || fail "scaling.py --target slurm: $out"
echo "$out"
analysis=$(sed -n 's/^analysis: job \([0-9]*\) .*/\1/p' <<<"$out")
[ -n "$analysis" ] || fail "no analysis job id printed"
state=$(wait_job "$analysis" 300)
cat "$work"/study/logs/*.out
[ "$state" = COMPLETED ] || fail "analysis job state $state"
for f in scaling.csv scaling_summary.csv scaling.png runs/strong_n1_r1.h5 runs/strong_n2_r1.h5; do
  [ -s "$work/study/$f" ] || fail "study/$f missing"
done
grep -q "^strong_n2_r1,strong,2,1,selftest,1,100," "$work/study/scaling.csv" || fail "$(cat "$work/study/scaling.csv")"
grep -q "^strong,2,1," "$work/study/scaling_summary.csv" || fail "$(cat "$work/study/scaling_summary.csv")"
echo PASS
