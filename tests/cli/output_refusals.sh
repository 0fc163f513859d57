#!/usr/bin/env bash
# `saddle run` refuses, before any computation and with exit 2, outputs it could not write (the
# path and the cause named) and sizes the machine's memory cannot hold (the key named).
source "$(dirname "$0")/common.sh"
mkdir -p out
touch out/filed.ckpt
refused_by "'out/filed.ckpt' is not a directory, and it must be the run's checkpoint directory" \
  "$SADDLE" run deck.toml run.name=filed -q
mkdir -p out/dir.h5
refused_by "'out/dir.h5' is a directory, and it must be the run file" "$SADDLE" run deck.toml run.name=dir -q

# An output directory that cannot be written: a read-only mount (root ignores permission bits).
mkdir ro
if [ "$(id -u)" -ne 0 ]; then
  chmod 555 ro
  refused_by "cannot write in the output directory 'ro': Permission denied" "$SADDLE" run deck.toml run.output=ro -q
elif mount -t tmpfs -o size=1m,ro tmpfs ro 2>/dev/null; then
  trap 'umount ro; rm -rf "$work"' EXIT
  REFUSAL_LINES=any refused_by "cannot write in the output directory 'ro': Read-only file system" \
    mpi 2 "$SADDLE" run deck.toml run.output=ro -q
else
  echo "read-only output not checked: cannot mount a tmpfs here"
fi

# 2^50 rows of 8 bytes: 8 PiB per rank, more than any machine.
refused_by "key 'selftest.n': needs about 8.0 PiB of memory on one rank, more than the" \
  "$SADDLE" run deck.toml selftest.n=1125899906842624 -q
REFUSAL_LINES=any refused_by "key 'selftest.n': needs about 4.0 PiB of memory on one rank" \
  mpi 2 "$SADDLE" run deck.toml selftest.n=1125899906842624 -q
# 2^61 rows overflowed the byte count (SIGSEGV); 2^63 - 1 spun in setup.
for n in 2305843009213693952 9223372036854775807; do
  refused_by "key 'selftest.n': needs about" timeout -s KILL 60 "$SADDLE" run deck.toml selftest.n=$n -q
done
[ ! -e out/deck.h5 ] || fail "a refused run wrote its run file"
echo PASS
