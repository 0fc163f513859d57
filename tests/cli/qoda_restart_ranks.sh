#!/usr/bin/env bash
# qoda's workers are its ranks: a checkpoint written by 2 ranks restarts on 2 ranks (and ends
# equal to a straight run), and is refused with exit 2 and one message on 1 rank.
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
echo PASS
