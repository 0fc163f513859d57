#!/usr/bin/env bash
# saddle-post bandwidth on a synthetic study folder (the layout bench/bandwidth_study.sh writes):
# the numbers of the table worked out by hand (target SWD, steps and time to target, speedups,
# time and exchange time per step, bytes per step, the verification's discrepancy, the link's
# alpha and rate, the model's compute time), the markdown rows, the PNG; a failed run left out
# with a warning; a folder that is no study refused with exit 2 and one line.
src=$(cd "$(dirname "$0")/../.." && pwd)
source "$src/tests/cli/common.sh"
post() { /usr/bin/python3 "$src/jobs/post/saddle-post" bandwidth "$@"; }
/usr/bin/python3 - <<'PY' || fail "writing the synthetic study"
import csv, json, os
import h5py
import numpy as np

os.makedirs("study/runs"); os.makedirs("study/torch")
json.dump(dict(decks=dict(digits=dict(widths=[256, 256])), baseline="f32", target_factor=1.2, short_warmup=5, cores=2,
               methods=dict(f32=dict(label="f32 base", overrides=["wgan.exchange.precision=float32"]),
                            bucket=dict(label="bucket 4-bit", overrides=["wgan.exchange.quantizer=bucket"])),
               peers=dict(allreduce=dict(label="torch ddp"))), open("study/study.json", "w"))

def saddle(name, step, swd, t, x, per_rank_step=1000.0, ranks=2):
    with h5py.File(f"study/runs/{name}.h5", "w") as f:
        f.attrs.update(saddle_version="test", workload="wgan", schema_version=np.int64(1))
        m = f.create_group("metrics")
        m["step"] = np.asarray(step, np.int64)
        m["swd"], m["time_step"], m["time_exchange"] = np.asarray(swd, float), np.asarray(t, float), np.asarray(x, float)
        m["bytes_total"] = ranks * per_rank_step * np.asarray(step, float)

full = [0, 10, 20, 30, 40, 50]
short = [0, 5, 10, 15, 20]
# baseline: final SWD = median(0.20, 0.22, 0.21) = 0.21, target 0.252, reached at step 30 after 3.0 s
saddle("digits_f32_n2_full", full, [0.8, 0.5, 0.3, 0.2, 0.22, 0.21], [0.1 * s for s in full], [0.04 * s for s in full])
saddle("digits_bucket_n2_full", full, [0.8, 0.6, 0.4, 0.26, 0.25, 0.24], [0.08 * s for s in full], [0.02 * s for s in full], 125.0)
# at 1 Gbit/s: 0.2 s/step from step 5 to 20 (f32; 0.15 s of it exchanging), 0.1 s/step (bucket)
saddle("digits_f32_n2_bw1", short, [0.8] * 5, [0, 1.5, 2.3, 3.4, 4.5], [0, 1.0, 1.7, 2.5, 3.25])
saddle("digits_bucket_n2_bw1", short, [0.8] * 5, [0, 0.9, 1.3, 1.9, 2.4], [0, 0.5, 0.8, 1.1, 1.4], 125.0)
# the full baseline at 1 Gbit/s: same SWD, step 30 after 6.3 s (steps x s/step says 6.0: -4.76 %)
saddle("digits_f32_n2_bw1_verify", full, [0.8, 0.5, 0.3, 0.2, 0.22, 0.21], [0.21 * s for s in full], [0.15 * s for s in full])
saddle("digits_bucket_n2_bw2", short, [0.8] * 5, [0, 1, 2, 3, 4], [0] * 5, 125.0)  # a failed run (rc 1)

def peer(name, step, swd, t):
    with open(f"study/torch/{name}.csv", "w") as f:
        f.write("step,time_step,swd,bytes,wasserstein\n")
        for s, w, x in zip(step, swd, t):
            f.write(f"{s},{x},{w},{2016532 * s},0.5\n")

peer("digits_allreduce_n2_full", full, [0.8, 0.4, 0.25, 0.2, 0.2, 0.2], [0.05 * s for s in full])  # step 20, 1.0 s
peer("digits_allreduce_n2_bw1", short, [0.8] * 5, [0, 0.5, 0.7, 1.1, 1.4])  # 0.06 s/step: 1.2 s

with open("study/runs.csv", "w", newline="") as f:
    w = csv.DictWriter(f, ["side", "deck", "method", "ranks", "gbit", "kind", "path", "rc"])
    w.writeheader()
    for side, m, g, kind, rc in [("saddle", "f32", 0, "full", 0), ("saddle", "bucket", 0, "full", 0), ("torch", "allreduce", 0, "full", 0),
                                 ("saddle", "f32", 1, "short", 0), ("saddle", "bucket", 1, "short", 0), ("torch", "allreduce", 1, "short", 0),
                                 ("saddle", "f32", 1, "verify", 0), ("saddle", "bucket", 2, "short", 1)]:
        tag = "full" if kind == "full" else f"bw{g}" + ("_verify" if kind == "verify" else "")
        sub, ext = ("runs", "h5") if side == "saddle" else ("torch", "csv")
        w.writerow(dict(side=side, deck="digits", method=m, ranks=2, gbit=g, kind=kind, path=f"{sub}/digits_{m}_n2_{tag}.{ext}", rc=rc))

with open("study/pingpong.csv", "w") as f:  # alpha 10 / 20 us; 16 MiB at 40 / 1 Gbit/s after alpha
    f.write("set_gbit,bytes,round_trips,one_way_s,one_way_mean_s,gbit_per_s,qdisc\n")
    for g, a, rate in [(0, 10e-6, 40e9), (1, 20e-6, 1e9)]:
        for b in (1, 65536, 16777216):
            t = a + 8 * b / rate if b > 1 else a
            f.write(f"{g},{b},10,{t},{t},{8 * b / t / 1e9},x\n")
PY
out=$(post study --model 2>err.txt) || fail "saddle-post bandwidth exited $?: $(cat err.txt)"
grep -qF "digits_bucket_n2_bw2.h5: the run failed (exit code 1); left out" err.txt || fail "no warning for the failed run: $(cat err.txt)"
for f in bandwidth.csv bandwidth.md bandwidth.png model.csv; do
  [ -s "study/$f" ] || fail "study/$f missing or empty"
  grep -qx "study/$f" <<<"$out" || fail "study/$f not printed"
done
/usr/bin/python3 - <<'PY' || fail "bandwidth.csv holds wrong numbers"
import csv, math, sys
rows = {(r["side"], r["method"], r["link"]): r for r in csv.DictReader(open("study/bandwidth.csv"))}
want = {  # (side, method, link): {field: value}
    ("saddle", "f32", "unshaped"): dict(target_swd=0.252, final_swd=0.21, steps_to_target=30, time_to_target_s=3.0, speedup=1.0,
                                         s_per_step=0.1, exchange_s_per_step=0.04, bytes_per_step=1000),
    ("saddle", "bucket", "unshaped"): dict(steps_to_target=40, time_to_target_s=3.2, speedup=3.0 / 3.2, final_swd=0.25,
                                            bytes_per_step=125),
    ("saddle", "f32", "1 Gbit/s"): dict(steps_to_target=30, time_to_target_s=6.0, speedup=1.0, s_per_step=0.2,
                                         exchange_s_per_step=0.15),
    ("saddle", "bucket", "1 Gbit/s"): dict(time_to_target_s=4.0, speedup=1.5, s_per_step=0.1, exchange_s_per_step=0.06),
    ("torch", "allreduce", "unshaped"): dict(steps_to_target=20, time_to_target_s=1.0, speedup=3.0, bytes_per_step=2016532),
    ("torch", "allreduce", "1 Gbit/s"): dict(time_to_target_s=1.2, speedup=5.0, s_per_step=0.06),
}
bad = []
for key, fields in want.items():
    if key not in rows:
        bad.append(f"no row {key}")
        continue
    for k, v in fields.items():
        got = float(rows[key][k])
        if not math.isclose(got, v, rel_tol=1e-6, abs_tol=1e-12):
            bad.append(f"{key} {k} = {got}, expected {v}")
if ("saddle", "bucket", "2 Gbit/s") in rows:
    bad.append("the failed run has a row")
if len(rows) != 6:
    bad.append(f"{len(rows)} rows, expected 6")
model = list(csv.DictReader(open("study/model.csv")))
if len([m for m in model if m["kind"] == "prediction"]) != 2 * 9:
    bad.append("model.csv: not 9 predictions per method")
if bad:
    print("\n".join(bad))
sys.exit(1 if bad else 0)
PY
md=$(cat study/bandwidth.md)
for want in "| f32 base | 1 kB | 0.2100 | 30 | 3 (1.00×) | 6 (1.00×) |" \
    "| bucket 4-bit | 0.125 kB | 0.2500 | 40 | 3.2 (0.94×) | 4 (1.50×) |" \
    "| torch ddp | 2.02 MB | 0.2000 | 20 | 1 (3.00×) | 1.2 (5.00×) |" \
    "| f32 base | 100 / 40 | 200 / 150 |" \
    "target SWD 0.252 = 1.2 × the baseline's final SWD 0.21 at 2 ranks" \
    "| 1 Gbit/s | 20.0 | 1 |" "| unshaped | 10.0 | 40 |" \
    "reached the target at step 30 after 6.3 s; steps × s/step of the short run predicted 6 s (discrepancy -4.8 %); SWD trajectory identical" \
    "| digits | f32 base | allreduce | 60 |"; do
  grep -qF -- "$want" <<<"$md" || fail "bandwidth.md lacks '$want':"$'\n'"$md"
  grep -qF -- "$want" <<<"$out" || fail "the printed tables lack '$want'"
done
mkdir empty
refused_by "no study.json" post empty
refused_by "missing.h5" post study/runs/missing.h5
echo PASS
