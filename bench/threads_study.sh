#!/usr/bin/env bash
# Threads against one thread, one rank (docs/benchmarks.md, "Threads"): the decks
# inputs/wgan_digits.toml (run.steps=200), inputs/ksvd_sne_blobs.toml (exact: LAPACK's gesdd on G),
# inputs/ksvd_large.toml at n = m = 10,000 (the matrix-free randomized solver) and
# inputs/hb_quadratic_map.toml,
# each run by the Serial build on 1 thread (the reference) and by an OpenMP build on 1 and on
# THREADS threads, interleaved (every configuration once per round), REPEATS rounds; best of the
# rounds. Prints per deck the best times and the ratios Serial/OpenMP-1 (how much slower the
# OpenMP build is on one thread; > 1: faster) and OpenMP-1/OpenMP-THREADS (the threads' speedup),
# of the best times and of the medians.
#
#   bash bench/threads_study.sh [OpenMP build dir = build-omp] [Serial build dir = build]
#
# Environment: REPEATS (3), THREADS (2), DECKS (the three above, as deck[:override,...] words),
# OUT (a scratch directory; default a new one under /tmp), WAIT (OMP_WAIT_POLICY of the runs;
# default unset: libgomp spins a while, then sleeps; "active" spins on, and then a waiting Kokkos
# thread takes a core from OpenBLAS's threads inside LAPACK calls), BIND (OMP_PROC_BIND; default
# spread, with OMP_PLACES=cores). Time = the run file's setup + steps timers (what the deck computes; the
# process start, 0.1-0.3 s of dynamic loading, is left out) and the wall time of the process.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
omp=$(cd "${1:-$src/build-omp}" && pwd)/saddle
serial=$(cd "${2:-$src/build}" && pwd)/saddle
repeats=${REPEATS:-3}
threads=${THREADS:-2}
decks=${DECKS:-"wgan_digits:run.steps=200 ksvd_sne_blobs ksvd_large:ksvd.data.n=10000,ksvd.data.m=10000 hb_quadratic_map"}
out=${OUT:-$(mktemp -d /tmp/threads_study.XXXXXX)}
wait_policy=${WAIT:-}
bind=${BIND:-spread}
py=/usr/bin/python3
for b in "$omp" "$serial"; do [ -x "$b" ] || { echo "no $b: build it first (make saddle)" >&2; exit 2; }; done
"$omp" info | grep -q "execution space OpenMP" || { echo "$omp is not an OpenMP build" >&2; exit 2; }
"$serial" info | grep -q "execution space Serial" || { echo "$serial is not a Serial build" >&2; exit 2; }
cd "$src"
echo "# threads_study: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(hostname), $(nproc) CPUs, git $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
echo "# OpenMP: $("$omp" info | sed -n 2p)"
echo "# Serial: $("$serial" info | sed -n 2p)"
echo "# $repeats rounds, best of each; OMP_WAIT_POLICY=${wait_policy:-unset} OMP_PROC_BIND=$bind OMP_PLACES=cores; load: $(cut -d' ' -f1-3 /proc/loadavg)"

# run CONFIG BINARY THREADS DECK OVERRIDES... -> appends "deck config compute wall" to $out/times
run() {
  local config=$1 bin=$2 t=$3 deck=$4
  shift 4
  local name="${deck}_${config}" t0 t1
  t0=$(date +%s.%N)
  env ${wait_policy:+OMP_WAIT_POLICY=$wait_policy} OMP_NUM_THREADS="$t" OMP_PROC_BIND="$bind" OMP_PLACES=cores \
    "$bin" run "inputs/$deck.toml" run.output="$out" run.name="$name" run.checkpoint_every=0 "$@" -q \
    >"$out/$name.log" 2>&1 || { echo "FAILED: $name (see $out/$name.log)" >&2; exit 1; }
  t1=$(date +%s.%N)
  $py - "$out/$name.h5" "$deck" "$config" "$t0" "$t1" >>"$out/times" <<'PY'
import sys, h5py
f = h5py.File(sys.argv[1], "r")
compute = sum(float(f["timers"][k][()].max()) for k in ("setup", "steps"))
print(sys.argv[2], sys.argv[3], f"{compute:.4f}", f"{float(sys.argv[5]) - float(sys.argv[4]):.4f}")
PY
}

: >"$out/times"
for _ in $(seq "$repeats"); do
  for d in $decks; do
    deck=${d%%:*}
    ov=()
    [ "$d" != "$deck" ] && IFS=, read -r -a ov <<<"${d#*:}"
    run serial1 "$serial" 1 "$deck" "${ov[@]}"
    run omp1 "$omp" 1 "$deck" "${ov[@]}"
    run "omp$threads" "$omp" "$threads" "$deck" "${ov[@]}"
  done
done

$py - "$out/times" "$threads" <<'PY'
import sys, collections, statistics
times = collections.defaultdict(lambda: ([], []))
order = []
for line in open(sys.argv[1]):
    deck, config, compute, wall = line.split()
    if deck not in order: order.append(deck)
    times[deck, config][0].append(float(compute))
    times[deck, config][1].append(float(wall))
t = sys.argv[2]
print(f"{'deck':18} {'Serial 1':>9} {'OpenMP 1':>9} {'OpenMP ' + t:>9}   {'Serial/OpenMP-1':>15} {'OpenMP 1/' + t + ' (speedup)':>20}"
      f" {'median':>7}   (best compute s; median: the speedup of the medians; wall s in brackets)")
for d in order:
    s, o1, o2 = (times[d, c] for c in ("serial1", "omp1", "omp" + t))
    b = [min(x[0]) for x in (s, o1, o2)]
    w = [min(x[1]) for x in (s, o1, o2)]
    med = statistics.median(o1[0]) / statistics.median(o2[0])
    print(f"{d:18} {b[0]:9.3f} {b[1]:9.3f} {b[2]:9.3f}   {b[0] / b[1]:15.2f} {b[1] / b[2]:20.2f} {med:7.2f}"
          f"   [{w[0]:.2f} {w[1]:.2f} {w[2]:.2f}; {w[0] / w[1]:.2f}, {w[1] / w[2]:.2f}]")
PY
echo "# raw times: $out/times"
