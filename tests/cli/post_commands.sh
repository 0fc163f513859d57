#!/usr/bin/env bash
# jobs/post/saddle-post on files a run produced: report (provenance, deck, last metrics, timers)
# of a finished and of an interrupted run, plot (PNG listed), and one-line errors with exit code 2
# for a checkpoint, a truncated file, a non-HDF5 file, a missing file, an unknown metric and a
# bad command line.
src=$(cd "$(dirname "$0")/../.." && pwd)
source "$src/tests/cli/common.sh"
post() { /usr/bin/python3 "$src/jobs/post/saddle-post" "$@"; }
refused() { refused_by "$1" post "${@:2}"; }  # expected message fragment, then the arguments

mpi 2 "$SADDLE" run deck.toml -q || fail "selftest run"
report=$(post report out/deck.h5) || fail "report exited $?"
for want in "out/deck.h5: selftest, completed, 60 steps, 2 rank(s)" "workload             selftest" \
    "[selftest]  n = 101" "metrics at step 60 (last of 13 rows)" "distance" "timers [s], 2 rank(s)" "steps "; do
  grep -qF -- "$want" <<<"$report" || fail "report lacks '$want':"$'\n'"$report"
done
# The last metric value printed is the one in the file.
last=$(/usr/bin/python3 -c 'import h5py,sys; print("%.6g" % h5py.File(sys.argv[1])["metrics/distance"][-1])' out/deck.h5)
grep -qE "^  distance +$last\$" <<<"$report" || fail "report's distance is not $last:"$'\n'"$report"

# An interrupted run (killed before its results) is reported as such, with the steps it logged.
SADDLE_FAULT_KILL=checkpoint:3 "$SADDLE" run deck.toml run.name=cut -q 2>/dev/null
report=$(post report out/cut.h5) || fail "report of an interrupted run exited $?"
grep -qF "out/cut.h5: selftest, NOT completed" <<<"$report" || fail "interrupted run not flagged:"$'\n'"$report"

listing=$(post plot out/deck.h5 --out figs --metrics distance) || fail "plot exited $?"
[ "$listing" = figs/deck_metrics.png ] && [ -s figs/deck_metrics.png ] || fail "plot wrote: $listing"
post plot out/deck.h5 >/dev/null && [ -s out/deck_metrics.png ] || fail "plot beside the run file"

refused "is a checkpoint, not a run file" report "$(ls out/deck.ckpt/*.h5 | head -1)"
head -c 4000 out/deck.h5 > truncated.h5
refused "truncated.h5: cannot be read: truncated or damaged" report truncated.h5
echo "not hdf5" > text.h5
refused "text.h5: not an HDF5 file" plot text.h5
refused "missing.h5: no such file" report missing.h5
refused "no metric nonesuch" plot out/deck.h5 --metrics nonesuch
refused "invalid choice" frobnicate out/deck.h5
refused "the following arguments are required" report
echo "PASS"
