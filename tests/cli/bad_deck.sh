#!/usr/bin/env bash
# Runs `saddle check` on a malformed deck and requires exit code 2 and a single error message
# that contains the deck's `# expect:` text (the offending key). `# args:` adds command-line words.
set -u
deck=$1
expect=$(sed -n 's/^# expect: //p' "$deck")
args=$(sed -n 's/^# args: //p' "$deck")
target=$(sed -n 's/^# deck: //p' "$deck")  # check another path instead (a missing file)
[ -n "$expect" ] || { echo "no '# expect:' line in $deck"; exit 1; }
cd "$(dirname "$deck")"
# shellcheck disable=SC2086
out=$("$SADDLE" check "${target:-$(basename "$deck")}" $args 2>&1)
code=$?
echo "$out"
[ "$code" -eq 2 ] || { echo "FAIL: exit code $code, expected 2"; exit 1; }
grep -qF -- "$expect" <<<"$out" || { echo "FAIL: message does not contain: $expect"; exit 1; }
n=$(grep -c "saddle: error" <<<"$out")
[ "$n" -eq 1 ] || { echo "FAIL: $n error lines, expected 1"; exit 1; }
echo "PASS"
