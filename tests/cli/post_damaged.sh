#!/usr/bin/env bash
# saddle-post on damaged run files: small runs of every workload (selftest on 2 ranks; ksvd, qoda,
# wgan, hb and both mail decks), then tests/cli/post_damaged.py damages each object and attribute
# of each file in turn, truncates the files, and runs every saddle-post command that applies on
# every variant: each must exit 0, or exit 2 with one line on stderr naming the file; never a
# traceback, another exit code or a hang. It prints the counts.
src=$(cd "$(dirname "$0")/../.." && pwd)
source "$src/tests/cli/common.sh"
in=$src/inputs

mpi 2 "$SADDLE" run deck.toml run.name=selftest -q || fail "selftest run"
"$SADDLE" run "$in/ksvd_sne_blobs.toml" ksvd.data.n=300 ksvd.data.test_points=20 -q || fail "ksvd run"
"$SADDLE" run "$in/qoda_bilinear.toml" run.steps=100 -q || fail "qoda run"
"$SADDLE" run "$in/wgan_ring.toml" run.steps=30 run.log_every=10 wgan.eval_samples=200 -q || fail "wgan run"
"$SADDLE" run "$in/hb_bilinear.toml" hb.steps=2000 "hb.trace_h=[0.1]" "hb.trace_beta=[0.1]" -q || fail "hb run"
for deck in mail_random mail_concentrability; do
  "$SADDLE" run "$in/$deck.toml" mail.seeds=6 mail.seed_chunk=4 'mail.budgets=[30, 300]' mail.murmail.inner_episodes=2 -q \
    || fail "$deck run"
done
mkdir variants
/usr/bin/python3 "$src/tests/cli/post_damaged.py" "$src/jobs/post" variants out/*.h5 || fail "saddle-post on damaged run files"
echo PASS
