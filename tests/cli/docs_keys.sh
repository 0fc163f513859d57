#!/usr/bin/env bash
# The key tables in docs/ must equal `saddle check --keys [WORKLOAD]`: each sits between
# `<!-- keys:NAME -->` and `<!-- /keys -->` (NAME = engine for the [run]/[parallel] keys), and
# every workload of this build must have one. A difference fails with a diff.
# `SADDLE=build/saddle bash tests/cli/docs_keys.sh --write` rewrites the tables from the command.
set -u
if [ "${1:-}" = --write ]; then
  /usr/bin/python3 - "$SADDLE" "$(dirname "$0")/../../docs" <<'PY' || exit 1
import pathlib, re, subprocess, sys
saddle, docs = sys.argv[1], pathlib.Path(sys.argv[2])
def table(name):
    return subprocess.run([saddle, "check", "--keys"] + ([] if name == "engine" else [name]),
                          check=True, capture_output=True, text=True).stdout
for page in sorted(docs.rglob("*.md")):
    text = page.read_text()
    new = re.sub(r"(?m)^(<!-- keys:([a-z_]+) -->\n).*?^(<!-- /keys -->)$",
                 lambda m: m.group(1) + table(m.group(2)) + m.group(3), text, flags=re.S)
    if new != text:
        page.write_text(new)
        print(f"rewrote the key tables of {page}")
PY
  exit 0
fi
docs=$(cd "$(dirname "$0")/../../docs" && pwd) || { echo "FAIL: no docs/ beside tests/"; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/saddle_docs_keys.XXXXXX")
trap 'rm -rf "$work"' EXIT
status=0

# Split every marked table of the docs into $work/doc_<NAME>.
while IFS= read -r page; do
  awk -v page="$page" -v dir="$work" '
    /^<!-- keys:[a-z_]+ -->$/ { name = substr($2, 6); file = dir "/doc_" name; inside = 1
                                print page > (dir "/where_" name); next }
    /^<!-- \/keys -->$/ { if (!inside) { print page ": <!-- /keys --> without an opening marker"; exit 1 }
                          inside = 0; close(file); next }
    inside { print > file }
    END { if (inside) { print page ": table " name " has no <!-- /keys -->"; exit 1 } }
  ' "$page" || status=1
done < <(find "$docs" -name '*.md' | sort)

dup=$(find "$docs" -name '*.md' -exec grep -hoE '^<!-- keys:[a-z_]+ -->$' {} + | sort | uniq -d)
[ -z "$dup" ] || { echo "FAIL: a table is in docs/ more than once: $dup"; status=1; }

workloads=$("$SADDLE" info | sed -n '/^workloads:/,$p' | sed -n 's/^  \([a-z_]*\): .*/\1/p')
[ -n "$workloads" ] || { echo "FAIL: 'saddle info' lists no workloads"; exit 1; }
for name in engine $workloads; do
  if [ "$name" = engine ]; then args=(); else args=("$name"); fi
  "$SADDLE" check --keys "${args[@]}" > "$work/cmd_$name" || { echo "FAIL: saddle check --keys ${args[*]} exited $?"; status=1; continue; }
  if [ ! -f "$work/doc_$name" ]; then
    echo "FAIL: no <!-- keys:$name --> table in docs/ (paste the output of 'saddle check --keys ${args[*]}')"
    status=1
  elif ! diff -u --label "$(cat "$work/where_$name") (keys:$name)" --label "saddle check --keys ${args[*]}" \
      "$work/doc_$name" "$work/cmd_$name"; then
    echo "FAIL: the keys:$name table in $(cat "$work/where_$name") differs from 'saddle check --keys ${args[*]}'"
    status=1
  fi
done
for doc in "$work"/doc_*; do
  name=${doc##*/doc_}
  [ -f "$work/cmd_$name" ] || { echo "FAIL: $(cat "$work/where_$name") has a keys:$name table but no such workload"; status=1; }
done
[ $status -eq 0 ] && echo PASS
exit $status
