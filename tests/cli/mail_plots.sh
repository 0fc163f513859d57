#!/usr/bin/env bash
# saddle-post mail on small runs of both mail decks (2 ranks): the figure is written and listed,
# and the two decks' results agree with a 1-rank run bit for bit; a selftest run file, a run
# without learners and a missing file are refused with exit code 2 and one line.
src=$(cd "$(dirname "$0")/../.." && pwd)
source "$src/tests/cli/common.sh"
post() { "$src/jobs/post/saddle-post" mail "$@"; }

small="mail.seeds=6 mail.seed_chunk=4"
mpi 2 "$SADDLE" run "$src/inputs/mail_random.toml" $small 'mail.budgets=[30, 300]' mail.murmail.inner_episodes=2 -q || fail "mail_random run"
"$SADDLE" run "$src/inputs/mail_random.toml" $small 'mail.budgets=[30, 300]' mail.murmail.inner_episodes=2 run.name=one -q || fail "mail_random 1-rank run"
h5diff out/mail_random.h5 out/one.h5 /result /result || fail "mail_random differs between 2 ranks and 1"
mpi 2 "$SADDLE" run "$src/inputs/mail_concentrability.toml" $small 'mail.budgets=[30, 300]' -q || fail "mail_concentrability run"

for run in mail_random mail_concentrability; do
  listing=$(post out/$run.h5) || fail "saddle-post mail on $run exited $?"
  [ -s out/${run}_plots/nash_gap.png ] || fail "out/${run}_plots/nash_gap.png missing or empty"
  grep -qx "out/${run}_plots/nash_gap.png" <<<"$listing" || fail "nash_gap.png not printed: $listing"
done

refused() { refused_by "$2" post "$1"; }  # file, then words the message must contain
"$SADDLE" run deck.toml -q || fail "selftest run"
refused out/deck.h5 "not a mail run file"
"$SADDLE" run "$src/inputs/mail_random.toml" mail.seeds=0 run.name=nolearners -q || fail "solve-only run"
refused out/nolearners.h5 "no learner curves"
refused missing.h5 "no such file"
echo "mail_plots: ok"
