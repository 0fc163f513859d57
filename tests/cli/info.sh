#!/usr/bin/env bash
set -eu
out=$("$SADDLE" info)
echo "$out"
grep -q "^saddle " <<<"$out"
grep -q "Kokkos 3\|Kokkos 4" <<<"$out"
grep -q "HDF5 1" <<<"$out"
grep -q "selftest:" <<<"$out"
"$SADDLE" --help >/dev/null 2>&1; [ $? -eq 0 ] || { echo "--help should exit 0"; exit 1; }
echo PASS
