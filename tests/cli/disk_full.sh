#!/usr/bin/env bash
# A disk that fills during a checkpoint or the /result write, at 1 and 2 ranks: no hang, exit 1,
# one message naming the file and "No space left on device", the previous checkpoint intact and
# usable by a restart. Needs root (a small tmpfs as run.output); skipped (77) otherwise.
source "$(dirname "$0")/common.sh"
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root to mount a tmpfs"; exit 77; }
mkdir full
mount -t tmpfs -o size=64k tmpfs full 2>/dev/null || { echo "SKIP: cannot mount a tmpfs"; exit 77; }
umount full
trap 'umount full 2>/dev/null; rm -rf "$work"' EXIT
big=(selftest.n=200000 run.steps=30 run.checkpoint_every=10)  # 1.6 MB per checkpoint and result
mpi 2 "$SADDLE" run deck.toml run.name=straight "${big[@]}" -q || fail "straight run"

# "$@" must exit 1 within 60 s with one error line containing $1; the message is left in $failure.
fails_with() {
  local want=$1 rc
  shift
  failure=$(timeout -s KILL 60 "$@" 2>&1 >/dev/null); rc=$?
  [ $rc -ne 137 ] || fail "$* hung (killed after 60 s)"
  [ $rc -eq 1 ] || fail "$* exited $rc, not 1: $failure"
  [ "$(grep -c "saddle: error" <<<"$failure")" -eq 1 ] || fail "not one error line: $failure"
  grep -qF -- "$want" <<<"$failure" || fail "'$want' not in: $failure"
}

for np in 1 2; do
  # Room for the step-10 checkpoint, not for step 20's next to it.
  mount -t tmpfs -o size=2500k tmpfs full
  fails_with "checkpoint of step 20 not written: " "$MPIEXEC" -n $np "$SADDLE" run deck.toml run.output=full "${big[@]}" -q
  grep -qF "full/deck.ckpt/step_20.h5.tmp" <<<"$failure" || fail "the file is not named: $failure"
  grep -qF "No space left on device" <<<"$failure" || fail "the cause is not named: $failure"
  grep -qF "the previous checkpoint full/deck.ckpt/step_10.h5 is intact" <<<"$failure" || fail "$failure"
  [ "$(ls full/deck.ckpt)" = step_10.h5 ] || fail "expected step_10.h5 alone: $(ls full/deck.ckpt)"
  mount -o remount,size=16m full
  out=$(mpi $np "$SADDLE" run deck.toml run.output=full "${big[@]}" 2>&1) || fail "restart: $out"
  grep -q "restarted from full/deck.ckpt/step_10.h5" <<<"$out" || fail "did not restart from step 10: $out"
  h5diff out/straight.h5 full/deck.h5 /result/x /result/x || fail "restart after a full disk differs (np $np)"
  umount full

  # No checkpoints: room for the run file's metadata, not for /result.
  mount -t tmpfs -o size=1200k tmpfs full
  fails_with "results not written to full/deck.h5: " "$MPIEXEC" -n $np "$SADDLE" run deck.toml run.output=full "${big[@]}" \
    run.checkpoint_every=0 -q
  grep -qF "No space left on device" <<<"$failure" || fail "the cause is not named: $failure"
  umount full
done
echo PASS
