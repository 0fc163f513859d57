#!/usr/bin/env bash
# saddle-post ksvd-eval on small directed SBM runs (the asymmetric G and its symmetrisation,
# ksvd.symmetrize): the table lists each run and feature set with an accuracy mean ± std and the
# CSV holds every split; the block labels are read from the run file itself. A missing file, a run
# file of another workload, an unfinished ksvd run, a missing labels dataset and labels of the
# wrong length are refused with exit code 2 and one line.
src=$(cd "$(dirname "$0")/../.." && pwd)
source "$src/tests/cli/common.sh"
post() { /usr/bin/python3 "$src/jobs/post/saddle-post" ksvd-eval "$@"; }

sbm="$src/inputs/ksvd_digraph.toml"
common=(ksvd.data.nodes=300 ksvd.data.blocks=3 ksvd.data.p_in=0.08 ksvd.data.p_out=0.06 ksvd.method=exact ksvd.rank=4 -q)
"$SADDLE" run "$sbm" run.name=asym "${common[@]}" || fail "asymmetric sbm run"
mpi 2 "$SADDLE" run "$sbm" run.name=sym ksvd.symmetrize=true "${common[@]}" || fail "symmetrised sbm run"
"$SADDLE" run "$sbm" run.name=small ksvd.data.nodes=200 "${common[@]:1}" || fail "small sbm run"
/usr/bin/python3 - <<'PY' || fail "the symmetrised run is not marked, or its V is not +-U"
import h5py, numpy as np
r = h5py.File("out/sym.h5", "r")["result"]
assert r.attrs["symmetrize"] == 1 and h5py.File("out/asym.h5", "r")["result"].attrs["symmetrize"] == 0
U, V = r["U"][:], r["V"][:]
assert all(min(abs(V[:, l] - U[:, l]).max(), abs(V[:, l] + U[:, l]).max()) < 1e-10 for l in range(4))
PY

table=$(post out/asym.h5 out/sym.h5 --labels out/asym.h5:/result/labels_rows --features uv rows cols --repeats 3 --out t.csv 2>err.txt) ||
  fail "ksvd-eval exited $?: $table $(cat err.txt)"
[ ! -s err.txt ] || fail "ksvd-eval wrote to stderr (a warning?): $(cat err.txt)"
echo "$table"
grep -q "^run  *method  *kernel  *sym  *center  *rank  *features  *dim  *accuracy$" <<<"$table" || fail "no table header"
for line in "asym  *exact  *given  *no  *no  *4  *uv  *8 " "asym  *exact  *given  *no  *no  *4  *rows  *4 " \
    "sym  *exact  *given  *yes  *no  *4  *cols  *4 "; do
  grep -Eq "^$line *[01]\.[0-9]{3} ± [01]\.[0-9]{3}$" <<<"$table" || fail "no row '$line' with an accuracy"
done
[ "$(grep -c ' ± ' <<<"$table")" -eq 6 ] || fail "expected 6 table rows"
/usr/bin/python3 - <<'PY' || fail "t.csv"
import csv
rows = list(csv.DictReader(open("t.csv")))
assert len(rows) == 6 and rows[0]["features"] == "uv" and rows[0]["repeats"] == "3"
for r in rows:
    acc = [float(r[f"split_{i}"]) for i in range(3)]
    assert abs(sum(acc) / 3 - float(r["accuracy_mean"])) < 1e-5
    assert float(r["accuracy_mean"]) > 0.6, r  # three blocks, well separated: far above chance
PY

refused_by "missing.h5: no such file" post missing.h5 --labels out/asym.h5:/result/labels_rows
"$SADDLE" run deck.toml -q || fail "selftest run"
refused_by "not a ksvd run file" post out/deck.h5 --labels out/asym.h5:/result/labels_rows
refused_by "has no dataset /result/nope" post out/asym.h5 --labels out/asym.h5:/result/nope
refused_by "nolabels.h5: no such file" post out/asym.h5 --labels nolabels.h5:/labels
refused_by "wants FILE:/DATASET" post out/asym.h5 --labels out/asym.h5
refused_by "has n = 200 rows but out/asym.h5:/result/labels_rows holds 300 labels" post out/small.h5 --labels out/asym.h5:/result/labels_rows
/usr/bin/python3 -c "
import h5py, shutil
shutil.copy('out/asym.h5', 'unfinished.h5')
del h5py.File('unfinished.h5', 'r+')['result/U']" || fail "making an unfinished run file"
refused_by "without /result/U (the run has not finished?)" post unfinished.h5 --labels out/asym.h5:/result/labels_rows
echo PASS
