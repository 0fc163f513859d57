#!/usr/bin/env bash
# saddle-post wgan on short ring and HDF5 (8 x 8 images) runs: every expected PNG is written and
# listed; a run file of another workload and a missing file are refused with exit 2 and one line.
src=$(cd "$(dirname "$0")/../.." && pwd)
source "$src/tests/cli/common.sh"
post() { /usr/bin/python3 "$src/jobs/post/saddle-post" wgan "$@"; }
mpi 2 "$SADDLE" run "$src/inputs/wgan_ring.toml" run.steps=30 run.log_every=10 wgan.eval_samples=200 -q || fail "wgan_ring run"
listing=$(post out/wgan_ring.h5) || fail "saddle-post wgan exited $?"
for png in samples.png curves.png metrics.png; do
  [ -s "out/wgan_ring_plots/$png" ] || fail "$png missing or empty"
  grep -qx "out/wgan_ring_plots/$png" <<<"$listing" || fail "$png not printed: $listing"
done
/usr/bin/python3 -c "import h5py, numpy as np; h5py.File('images.h5', 'w')['X'] = np.tanh(np.random.default_rng(0).standard_normal((200, 64)))"
"$SADDLE" run "$src/inputs/wgan_digits.toml" run.name=images run.steps=5 wgan.data.type=\"hdf5\" wgan.data.path=\"images.h5\" \
  wgan.eval_samples=30 wgan.generator.widths=[16] wgan.critic.widths=[16] -q || fail "hdf5 run"
post out/images.h5 >/dev/null || fail "saddle-post wgan on the image run exited $?"
[ -s out/images_plots/samples.png ] || fail "image grid missing"
"$SADDLE" run deck.toml -q || fail "selftest run"
for bad in out/deck.h5 missing.h5; do refused_by "$bad" post "$bad"; done  # exit 2, one line naming it
echo PASS
