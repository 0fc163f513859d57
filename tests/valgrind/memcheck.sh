#!/usr/bin/env bash
# valgrind memcheck over one small run of each workload (docs/development.md, "Sanitizers and
# valgrind"): every run must finish with exit code 0 and no memcheck error -- invalid reads and
# writes, uses of uninitialised values, bad frees, definite leaks. Open MPI's own reports are
# suppressed (its shipped openmpi-valgrind.supp and openmpi.supp here, which says why).
#   tests/valgrind/memcheck.sh SADDLE [WORKLOAD ...]      (default: every workload)
# SADDLE must not use AVX-512 (valgrind 3.19 cannot decode it): build it with SADDLE_NATIVE=OFF,
# e.g. the 'valgrind' preset. RANKS=2 runs each deck on two ranks instead of one; JOBS (default 2)
# runs go at a time.
set -u
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
saddle=$(realpath "${1:?usage: $0 SADDLE [WORKLOAD ...]}")
shift
workloads=("$@")
[ ${#workloads[@]} -gt 0 ] || workloads=(selftest ksvd qoda wgan wgan_pipeline hb mail)
if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_btl_vader_single_copy_mechanism=none

# A few steps of each workload at a size that takes seconds natively.
deck_of() {
  case $1 in
    selftest) echo "$src/inputs/selftest.toml run.steps=20 run.checkpoint_every=10 selftest.n=1000" ;;
    ksvd) echo "$src/inputs/ksvd_sne_blobs.toml ksvd.data.n=120 ksvd.data.test_points=10" ;;
    qoda) echo "$src/inputs/qoda_layers.toml run.steps=20 qoda.problem.dim=48 qoda.problem.blocks=[16,4,16,4,8] qoda.exchange.adapt_every=5" ;;
    wgan) echo "$src/inputs/wgan_ring.toml run.steps=6 run.log_every=3 wgan.eval_samples=100 wgan.batch=16" ;;
    # One stage with 4 micro-batches in 1f1b slots (the pipeline's code paths on one rank).
    wgan_pipeline) echo "$src/inputs/wgan_ring.toml run.steps=4 run.log_every=2 wgan.eval_samples=100 wgan.batch=16 parallel.micro_batches=4" ;;
    hb) echo "$src/inputs/hb_bilinear.toml hb.steps=200 hb.h.count=3 hb.beta.count=3 hb.trace_every=50" ;;
    mail) echo "$src/inputs/mail_random.toml mail.seeds=1 mail.budgets=[20] mail.murmail.inner_episodes=2 mail.game.states=4" ;;
    *) echo "unknown workload $1" >&2; return 1 ;;
  esac
}

# One workload: its memcheck logs in $work/<workload>.<pid>.log, its verdict in $work/<workload>.result.
check() {
  local w=$1 deck rc errors start=$SECONDS
  deck=$(deck_of "$w") || { echo "memcheck $w: no deck" >"$work/$w.result"; return; }
  set -f  # the deck's words are not file patterns
  # shellcheck disable=SC2086
  mpirun -n "${RANKS:-1}" valgrind --tool=memcheck --error-exitcode=99 --track-origins=yes --num-callers=40 \
    --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite \
    --suppressions=/usr/share/openmpi/openmpi-valgrind.supp --suppressions="$here/openmpi.supp" \
    --log-file="$work/$w.%p.log" "$saddle" run $deck run.output="$work/out" run.name="$w" run.restart=no -q \
    >"$work/$w.out" 2>&1
  rc=$?
  set +f
  errors=$(cat "$work/$w".*.log | awk '/ERROR SUMMARY:/ { n += $4; seen = 1 } END { if (seen) print n }')
  echo "memcheck $w: exit $rc, ${errors:-?} errors, $((SECONDS - start)) s" >"$work/$w.result"
  [ "$rc" -eq 0 ] && [ "${errors:-1}" = 0 ] || echo failed >>"$work/$w.result"
}

work=$(mktemp -d "${TMPDIR:-/tmp}/saddle_valgrind.XXXXXX")
trap 'rm -rf "$work"' EXIT
# JOBS runs at a time (default 2), each on one core.
for w in "${workloads[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "${JOBS:-2}" ]; do wait -n; done
  check "$w" &
done
wait
status=0
for w in "${workloads[@]}"; do
  head -1 "$work/$w.result"
  if grep -q failed "$work/$w.result"; then
    status=1
    cat "$work/$w.out" "$work/$w".*.log
  fi
done
exit $status
