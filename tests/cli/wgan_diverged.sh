#!/usr/bin/env bash
# A wgan run whose steps are far too large diverges: with the float64 allreduce (gda) and with the
# quantised exchange (qoda, where the quantiser meets the non-finite gradient first) every rank
# stops with exit 1 and the message says so and names wgan.lr.
src=$(cd "$(dirname "$0")/../.." && pwd)
source "$src/tests/cli/common.sh"
for opt in gda qoda; do
  exchange=wgan.exchange.precision=\"float64\"
  [ "$opt" = qoda ] && exchange=wgan.exchange.quantizer=\"layerwise\"
  msg=$(mpi 2 "$SADDLE" run "$src/inputs/wgan_ring.toml" run.name=\"diverged_$opt\" wgan.optimizer=\"$opt\" "$exchange" wgan.lr=5 \
        run.steps=300 run.log_every=100 wgan.eval_samples=50 -q 2>&1)
  rc=$?
  [ "$rc" -ne 0 ] && [ "$rc" -ne 2 ] || fail "$opt: exit $rc, expected a run failure: $msg"
  grep -q "saddle: error: training diverged" <<<"$msg" || fail "$opt: no divergence message: $msg"
  grep -q "lower wgan.lr" <<<"$msg" || fail "$opt: the message does not name wgan.lr: $msg"
done
echo PASS
