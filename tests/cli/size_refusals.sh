#!/usr/bin/env bash
# Sizes that pass the schema but cannot be allocated are refused before anything is allocated,
# with exit 2 naming the key (issue 17: they crashed with SIGSEGV, bad_alloc or max_size(), or
# spun in setup). 2^63 - 1 is the largest integer a deck holds; 1e9 is large but plausible.
src=$(cd "$(dirname "$0")/../.." && pwd)
source "$src/tests/cli/common.sh"
max=9223372036854775807
refused() {  # refused DECK KEY VALUE [MESSAGE]: the override KEY=VALUE is refused naming KEY
  local deck=$1 key=$2 value=$3 want=${4:-"key '$2': needs about"}
  refused_by "$want" timeout -s KILL 60 "$SADDLE" run "$src/inputs/$deck.toml" "$key=$value" run.output=out -q
}
refused selftest selftest.n 1125899906842624
refused ksvd_sne_blobs ksvd.data.clusters $max
refused ksvd_sne_blobs ksvd.data.test_points $max
# exact splits G over the ranks: its per-rank memory is refused in the name of ksvd.method.
refused ksvd_sne_blobs ksvd.data.n 1000000000 "key 'ksvd.method': needs about"
grep -qF "use more ranks" <<<"$refusal" || fail "exact's G is split over ranks: $refusal"
refused ksvd_sne_blobs ksvd.data.n $max "needs n and m below 2^31"
refused ksvd_digraph ksvd.data.nodes $max
refused ksvd_digraph ksvd.data.nodes 1000000000
# A randomized run's rows are split over ranks, its columns are not.
refused_by "key 'ksvd.data.n': needs about" "$SADDLE" run "$src/inputs/ksvd_sne_blobs.toml" ksvd.method=\"randomized\" \
  ksvd.data.n=1000000000000 run.output=out -q
grep -qF "use more ranks" <<<"$refusal" && fail "n = m is held whole by every rank: $refusal"
refused hb_limit_cycle hb.h.count $max "more than 1e15 trajectories"
refused hb_limit_cycle hb.beta.count 1000000000 "every rank holds all of it"
refused hb_limit_cycle hb.starts 100000000000
refused mail_random mail.seeds $max "every rank holds all of it"
refused mail_random mail.seeds 1000000000
# A huge perplexity was printed as -9223372036854775808 (converted to an integer first).
refused ksvd_sne_blobs ksvd.kernel.perplexity 1e19 "key 'ksvd.kernel.perplexity': 1e+19 must be smaller than the number of neighbours"
# The sketch width and chunk counts no longer overflow: these run (quickly) to the end.
"$SADDLE" run "$src/inputs/ksvd_sne_blobs.toml" ksvd.oversample=$max run.output=out -q || fail "ksvd.oversample=2^63-1 failed"
"$SADDLE" run "$src/inputs/mail_random.toml" mail.seed_chunk=$max mail.seeds=2 run.output=out -q || fail "mail.seed_chunk=2^63-1 failed"
"$SADDLE" run "$src/inputs/hb_limit_cycle.toml" hb.chunk=$max hb.h.count=2 hb.beta.count=2 hb.steps=200 run.output=out -q || fail "hb.chunk=2^63-1 failed"
echo PASS
