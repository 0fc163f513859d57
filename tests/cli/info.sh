#!/usr/bin/env bash
set -eu
out=$("$SADDLE" info)
echo "$out"
grep -q "^saddle " <<<"$out"
grep -q "Kokkos 3\|Kokkos 4" <<<"$out"
grep -q "HDF5 1" <<<"$out"
grep -q "selftest:" <<<"$out"
help=$("$SADDLE" --help 2>&1) || { echo "--help should exit 0"; exit 1; }
grep -q "^usage: saddle run" <<<"$help" || { echo "--help does not start with the usage"; exit 1; }
echo PASS
