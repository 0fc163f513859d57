#!/usr/bin/env bash
# The storage and concurrency cases of docs/reliability.md, run against one saddle binary and
# printed as Markdown table rows: case | exit code | seconds | first error line. Run it against an
# older binary to compare. Needs root for the tmpfs cases (a small tmpfs as run.output; skipped
# otherwise). The cli tests (disk_full, run_lock, output_refusals) hold the same cases as pass/fail.
#   tests/fault/storage_cases.sh [SADDLE=build/saddle] [MPIEXEC=mpirun]
set -u
saddle=$(realpath "${1:-build/saddle}")
mpiexec=${2:-mpirun}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
work=$(mktemp -d "${TMPDIR:-/tmp}/saddle_storage.XXXXXX")
trap 'umount "$work/full" 2>/dev/null; rm -rf "$work"' EXIT
cd "$work"
cat > deck.toml <<'DECK'
[run]
workload = "selftest"
output = "out"
steps = 30
checkpoint_every = 10
log_every = 5

[selftest]
n = 200000
lr = 0.2
sigma = 0.1
DECK
# row NAME CMD...: one table row; a run still going after 60 s counts as a hang.
row() {
  local name=$1 start=$SECONDS rc msg
  shift
  msg=$(timeout -s KILL 60 "$@" 2>&1 >/dev/null); rc=$?
  if [ $rc -eq 137 ]; then  # ranks that mpirun's death left behind would keep the tmpfs busy
    rc="hang (killed after 60 s)"
    pkill -9 -f "^$saddle run" 2>/dev/null
    sleep 1
  fi
  msg=$(grep -m1 -E "error|Error|ERROR|signal|Signal" <<<"$msg" | tr -d '`|' | sed -E 's/n{20,}/nnn…nnn/' | cut -c1-150)
  echo "| $name | $rc | $((SECONDS - start)) | ${msg:-(nothing)} |"
}
echo "| case | exit | s | first error line |"
echo "|---|---|---|---|"
"$mpiexec" -n 2 "$saddle" run deck.toml run.name=straight -q >/dev/null 2>&1

root=0
mkdir full
if [ "$(id -u)" -eq 0 ] && mount -t tmpfs -o size=64k tmpfs full 2>/dev/null; then umount full; root=1; fi
if [ $root -eq 1 ]; then
  for np in 1 2; do
    mount -t tmpfs -o size=2500k tmpfs full  # room for the step-10 checkpoint, not step 20's
    row "disk full in a checkpoint, $np rank(s)" "$mpiexec" -n $np "$saddle" run deck.toml run.output=full -q
    echo "|   checkpoints left | $(ls full/deck.ckpt 2>/dev/null | tr '\n' ' ') | | |"
    umount -l full
  done
  mount -t tmpfs -o size=1200k tmpfs full  # the run file's metadata, not /result
  row "disk full in the /result write, 2 ranks" "$mpiexec" -n 2 "$saddle" run deck.toml run.output=full run.checkpoint_every=0 -q
  umount -l full
  mount -t tmpfs -o size=1m,ro tmpfs full
  row "read-only output directory, 2 ranks" "$mpiexec" -n 2 "$saddle" run deck.toml run.output=full -q
  umount -l full
fi

mkdir -p out && touch out/filed.ckpt
row ".ckpt path is a regular file" "$saddle" run deck.toml run.name=filed -q
row "run.name of 300 characters" "$saddle" run deck.toml run.name="$(printf 'n%.0s' $(seq 300))" -q
row "NUL in run.output (\\u0000 in the deck)" bash -c "sed 's|^output = \"out\"|output = \"ab\\\\u0000cd\"|' deck.toml > nul.toml && \"$saddle\" run nul.toml -q"

# Two runs of one deck into one output at the same time.
"$saddle" run deck.toml run.name=twice selftest.step_delay=0.1 -q >/dev/null 2>&1 &
first=$!
sleep 1
row "second run into the same output while the first runs" "$saddle" run deck.toml run.name=twice selftest.step_delay=0.1 -q
wait $first
echo "|   first run's exit; run file completed, metric rows | $? | | completed=$(h5dump -a /completed out/twice.h5 2>/dev/null | grep -m1 -o '(0): [0-9]*' | cut -c5-), rows=$(h5dump -H -d /metrics/step out/twice.h5 2>/dev/null | grep -m1 -o 'DATASPACE  SIMPLE { ( [0-9]*' | grep -o '[0-9]*$') | |"

# A checkpoint damaged on disk (one byte of its data flipped) after kill -9.
"$saddle" run deck.toml run.name=damaged selftest.step_delay=0.1 -q >/dev/null 2>&1 &
pid=$!
for _ in $(seq 300); do [ -f out/damaged.ckpt/step_20.h5 ] && break; sleep 0.05; done
kill -9 $pid; wait $pid 2>/dev/null
f=out/damaged.ckpt/step_20.h5
size=$(stat -c %s $f)
/usr/bin/python3 -c "import sys; p=sys.argv[1]; o=int(sys.argv[2]); b=bytearray(open(p,'rb').read()); b[o]^=0x40; open(p,'wb').write(b)" $f $((size / 2))
row "restart from a checkpoint with one flipped data byte" "$saddle" run deck.toml run.name=damaged -q
if h5diff -q out/straight.h5 out/damaged.h5 /result/x /result/x >/dev/null 2>&1; then same=yes; else same=no; fi
echo "|   restarted /result/x equal to the uninterrupted run | $same | | |"
