#!/usr/bin/env bash
# qoda's workers are its ranks: a checkpoint written by 2 ranks restarts on 2 ranks (and ends
# equal to a straight run), and is refused with exit 2 and one message on 1 rank; a checkpoint of
# the layout before oda/ is refused by name.
source "$(dirname "$0")/common.sh"
cat > qoda.toml <<'DECK'
[run]
workload = "qoda"
output = "out"
steps = 40
checkpoint_every = 20
[qoda.problem]
dim_x = 8
dim_y = 8
noise = "relative"
sigma = 0.1
DECK
mpi 2 "$SADDLE" run qoda.toml run.name=straight -q || fail "straight run"
mpi 2 "$SADDLE" run qoda.toml -q || fail "first run"
rm out/qoda.ckpt/step_40.h5
out=$("$SADDLE" run qoda.toml -q 2>&1); code=$?
echo "$out"
[ "$code" -eq 2 ] || fail "restart on 1 rank: exit $code, expected 2"
grep -q "written by 2 ranks and this run has 1; qoda's workers are its ranks" <<<"$out" || fail "message"
[ "$(grep -c 'saddle: error' <<<"$out")" -eq 1 ] || fail "expected one error line"
mpi 2 "$SADDLE" run qoda.toml -q || fail "restart on 2 ranks"
h5diff out/straight.h5 out/qoda.h5 /result/x_last /result/x_last || fail "restart differs from the straight run"

# A checkpoint from before the shared optimistic-dual-averaging layout (no /state/oda) is refused
# by name, with the file (it was "cannot open group /state/oda", exit 1).
mpi 2 "$SADDLE" run qoda.toml run.name=old -q || fail "old run"
rm out/old.ckpt/step_40.h5
/usr/bin/python3 -c "import h5py, sys; del h5py.File(sys.argv[1], 'r+')['state/oda']" out/old.ckpt/step_20.h5 || fail "h5py"
REFUSAL_LINES=any refused_by "cannot continue from out/old.ckpt/step_20.h5: checkpoint group /state has no 'oda' group" \
  mpi 2 "$SADDLE" run qoda.toml run.name=old -q
echo PASS
