#!/usr/bin/env bash
# Deck errors at 2 ranks: exit 2 and the message printed once, not once per rank.
source "$(dirname "$0")/common.sh"
out=$(mpi 2 "$SADDLE" run deck.toml run.stpes=3 2>&1); code=$?
echo "$out"
[ $code -eq 2 ] || fail "exit code $code"
[ "$(grep -c "unknown key 'run.stpes' (did you mean 'run.steps'?)" <<<"$out")" -eq 1 ] || fail "message not printed exactly once"
out=$(mpi 2 "$SADDLE" run deck.toml parallel.layer=3 2>&1); code=$?
echo "$out"
[ $code -eq 2 ] || fail "exit code $code"
grep -q "parallel.layer" <<<"$out" || fail "parallel.layer not named"
echo PASS
