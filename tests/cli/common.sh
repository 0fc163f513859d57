# Shared by the cli tests: a scratch directory and a selftest deck.
set -u
work=$(mktemp -d "${TMPDIR:-/tmp}/saddle_cli.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
cat > deck.toml <<'DECK'
[run]
workload = "selftest"
output = "out"
steps = 60
log_every = 5
checkpoint_every = 10

[selftest]
n = 101
lr = 0.2
sigma = 0.1
DECK
mpi() { "$MPIEXEC" -n "$1" "${@:2}"; }
fail() { echo "FAIL: $*"; exit 1; }
same_result() {  # bit-for-bit equality of /result/x in two run files
  h5diff "$1" "$2" /result/x /result/x || fail "$1 and $2 differ in /result/x"
  h5diff "$1" "$2" /metrics/distance /metrics/distance || fail "$1 and $2 differ in /metrics/distance"
}
# "$@" must be refused: exit code 2, one line on stderr (any number with REFUSAL_LINES=any)
# containing the fixed string $1. The message is left in $refusal.
refused_by() {
  local want=$1 rc
  shift
  refusal=$("$@" 2>&1 >/dev/null); rc=$?
  [ $rc -eq 2 ] || fail "$* exited $rc, not 2: $refusal"
  [ "${REFUSAL_LINES:-1}" = any ] || [ "$(wc -l <<<"$refusal")" -eq 1 ] || fail "$*: more than one line: $refusal"
  grep -qF -- "$want" <<<"$refusal" || fail "$*: '$want' not in: $refusal"
}
