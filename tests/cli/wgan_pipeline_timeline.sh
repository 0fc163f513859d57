#!/usr/bin/env bash
# saddle-post wgan-timeline on a 2-stage pipelined ring run (parallel.layer = 2, 2 micro-batches,
# 2 steps): the Gantt PNG of the last step is written beside the run file (and to -o), its path
# printed, and it is not blank; a wgan run without a pipeline and a run file of another workload
# are refused with exit 2 and one line.
src=$(cd "$(dirname "$0")/../.." && pwd)
source "$src/tests/cli/common.sh"
post() { /usr/bin/python3 "$src/jobs/post/saddle-post" wgan-timeline "$@"; }
small=(run.steps=2 run.log_every=1 wgan.n_critic=2 wgan.eval_samples=200 wgan.swd_projections=8
       'wgan.generator.widths=[16,16]' 'wgan.critic.widths=[16,16]' -q)
mpi 2 "$SADDLE" run "$src/inputs/wgan_ring.toml" run.name=piped parallel.layer=2 parallel.micro_batches=2 "${small[@]}" \
  || fail "pipelined ring run"
listing=$(post out/piped.h5) || fail "saddle-post wgan-timeline exited $?"
[ "$listing" = out/piped_timeline.png ] || fail "printed '$listing', not out/piped_timeline.png"
post out/piped.h5 -o figs/gantt.png >/dev/null || fail "wgan-timeline -o exited $?"
for png in out/piped_timeline.png figs/gantt.png; do
  # a real figure: a PNG of some size, with bars of more than a few colours
  /usr/bin/python3 - "$png" <<'PY' || fail "$png is not a drawn timeline"
import sys
import matplotlib.image as mpimg
import numpy as np
with open(sys.argv[1], "rb") as f:
    assert f.read(8) == b"\x89PNG\r\n\x1a\n", "not a PNG"
img = mpimg.imread(sys.argv[1])
assert img.shape[0] > 200 and img.shape[1] > 800, img.shape
colours = np.unique((img[..., :3] * 255).astype(np.uint8).reshape(-1, 3), axis=0)
assert len(colours) > 20, f"{len(colours)} colours"
PY
done
"$SADDLE" run "$src/inputs/wgan_ring.toml" run.name=plain "${small[@]}" || fail "plain ring run"
refused_by "no /result/pipeline" post out/plain.h5
"$SADDLE" run deck.toml -q || fail "selftest run"
refused_by "not a wgan run file" post out/deck.h5
refused_by "no such file" post missing.h5
echo PASS
