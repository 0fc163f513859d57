#!/usr/bin/python3
"""The wgan study over a limited network (issue 15 part 3): the driver that bench/bandwidth_study.sh
runs inside its own network namespace, whose loopback it shapes with tc. Run it through the .sh
(root; it makes and removes the namespace); `--dry-run` prints the plan and its estimated duration.

What it measures, for every deck (digits, and a wider network), rank count and exchange method
(Saddle: float32 allreduce, float16 allreduce, layer-wise adaptive levels + Huffman, global
adaptive + Huffman, bucket 4-bit; the PyTorch DDP peer bench/peers/wgan_ddp.py: float32 allreduce,
fp16 hook, PowerSGD):
  1. one MPI ping-pong (build/bench/mpi_pingpong) per link: unshaped loopback, then each shaping;
  2. a full run (--steps) of each method on the unshaped loopback: its SWD trajectory, hence the
     steps to the target SWD; the trajectory is the same bits whatever the link (same deck, same
     seed; the link changes only when bytes arrive), so it is measured once;
  3. per shaped link, a short run (--short-steps) of each method: its time per step at that link
     (time_step between the first logged step after --short-warmup and the last);
  4. one full run of the baseline at one shaped link (--verify), to check step 2 x step 3 against
     a measured time to target (saddle-post bandwidth reports the discrepancy).
Run files go to OUT/runs, the peer's CSVs to OUT/torch, the ping-pongs to OUT/pingpong.csv, one
row per run to OUT/runs.csv, the plan to OUT/study.json; then `saddle-post bandwidth OUT --model`
writes the table, the figure and the alpha-beta model's predictions.

Open MPI runs over TCP on lo only (pml ob1, btl tcp,self, btl_tcp_if_include lo, no shared-memory
collectives), so every byte goes through the shaped qdisc; the ping-pong shows it. Idle ranks yield
their core (mpi_yield_when_idle; see MPI_FLAGS).
"""
import argparse
import csv
import datetime
import json
import os
import platform
import shlex
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
DECK = "inputs/wgan_digits.toml"

# name: (label, overrides of wgan.exchange, wire bits per coordinate for the estimate, codec ns per
# coordinate per rank for the estimate)
METHODS = {
    "f32": ("float32 allreduce (baseline)", ["wgan.exchange.precision=float32"], 32, 0),
    "f16": ("float16 allreduce", ["wgan.exchange.precision=float16"], 16, 2),
    "layerwise": ("layer-wise adaptive, Huffman, 16 levels (QODA)",
                  ["wgan.exchange.quantizer=layerwise", "wgan.exchange.levels=adaptive", "wgan.exchange.coder=huffman",
                   "wgan.exchange.num_levels=16"], 2.5, 60),
    "global": ("global adaptive, Huffman, 16 levels",
               ["wgan.exchange.quantizer=global", "wgan.exchange.levels=adaptive", "wgan.exchange.coder=huffman",
                "wgan.exchange.num_levels=16"], 2, 50),
    "bucket": ("bucket 1024, 4-bit min-max (CGX)", ["wgan.exchange.quantizer=bucket", "wgan.exchange.num_levels=16"], 4.1, 20),
    "bucket_rs": ("bucket 1024, 4-bit, reduce-scatter",
                  ["wgan.exchange.quantizer=bucket", "wgan.exchange.num_levels=16", "wgan.exchange.collective=reduce_scatter"],
                  4.1, 25),
}
PEERS = {
    "allreduce": ("torch DDP float32 allreduce", 32),
    "fp16": ("torch DDP fp16_compress_hook", 16),
    "powersgd": ("torch DDP PowerSGD", 1.5),
}
# TCP on lo only (no shared memory: pml ob1, btl tcp,self, no sm/han collectives). Idle ranks yield
# the core: a shaped qdisc hands packets over in softirq context (its timer), which busy-polling
# ranks starve on 2 cores (measured: 142 against 69 ms per digits step at 2.5 Gbit/s, ping-pong
# latency 4-9 ms instead of 8 us, on a loaded machine); Open MPI yields anyway when oversubscribed.
MPI_FLAGS = ["--oversubscribe", "--bind-to", "none", "--mca", "pml", "ob1", "--mca", "btl", "tcp,self",
             "--mca", "btl_tcp_if_include", "lo", "--mca", "oob_tcp_if_include", "lo", "--mca", "coll", "^sm,han",
             "--mca", "mpi_yield_when_idle", "1"]


def widths_list(text):
    return [int(w) for w in text.strip("[]").split(",") if w.strip()]


def options(argv=None):
    p = argparse.ArgumentParser(prog="bench/bandwidth_study.sh", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", default="build", help="build directory (saddle, bench/mpi_pingpong)")
    p.add_argument("--out", default="", help="study directory (default out/bandwidth_<UTC date and time>)")
    p.add_argument("--bandwidths", default="10,5,2.5,1", help="shaped rates in Gbit/s, comma-separated")
    p.add_argument("--ranks", default="2,4", help="rank counts, comma-separated")
    p.add_argument("--decks", default="digits,wide", help="digits (the deck's networks) and/or wide (--wide-widths)")
    p.add_argument("--wide-widths", default="512,512", help="hidden widths of G and D in the wide deck")
    p.add_argument("--methods", default="f32,f16,layerwise,global,bucket",
                   help=f"Saddle exchanges, of {','.join(METHODS)} (the first is the baseline)")
    p.add_argument("--peers", default="allreduce,fp16,powersgd", help="torch DDP hooks (empty: no peer)")
    p.add_argument("--peer-decks", default="digits", help="decks the torch peer runs")
    p.add_argument("--powersgd-rank", type=int, default=4)
    p.add_argument("--steps", default="digits=300,wide=150", help="generator iterations of the full runs, per deck")
    p.add_argument("--log-every", type=int, default=20, help="full runs: steps between SWD evaluations")
    p.add_argument("--short-steps", type=int, default=20, help="timed runs per shaped link")
    p.add_argument("--short-warmup", type=int, default=5, help="steps of a timed run left out of its time per step")
    p.add_argument("--verify", default="digits:2:1",
                   help="DECK:RANKS:GBIT of the full baseline (and peer allreduce) runs on a shaped link; empty: none")
    p.add_argument("--pingpong-seconds", type=float, default=0.25, help="per message size")
    p.add_argument("--target-factor", type=float, default=1.2,
                   help="target SWD = factor x the baseline's final SWD (its first rank count, each deck)")
    p.add_argument("--dry-run", action="store_true", help="print the plan and its estimated duration, run nothing")
    p.add_argument("--netns", default="", help=argparse.SUPPRESS)  # set by bandwidth_study.sh
    p.add_argument("--check", action="store_true", help=argparse.SUPPRESS)  # the .sh: options and estimate only
    a = p.parse_args(argv)
    a.bandwidths = [float(b) for b in a.bandwidths.split(",") if b]
    a.ranks = [int(r) for r in a.ranks.split(",") if r]
    a.decks = [d for d in a.decks.split(",") if d]
    a.methods = [m for m in a.methods.split(",") if m]
    a.peers = [m for m in a.peers.split(",") if m]
    a.peer_decks = [d for d in a.peer_decks.split(",") if d]
    a.steps = dict((k, int(v)) for k, v in (kv.split("=") for kv in a.steps.split(",") if kv))
    bad = [m for m in a.methods if m not in METHODS] + [m for m in a.peers if m not in PEERS] + \
          [d for d in a.decks + a.peer_decks if d not in ("digits", "wide")] + [d for d in a.decks if d not in a.steps]
    if bad or not a.methods or not a.bandwidths or not a.ranks or min(a.ranks) < 2 or any(b <= 0 for b in a.bandwidths):
        p.error(f"bad or missing values {bad}: methods of {list(METHODS)}, peers of {list(PEERS)}, decks digits/wide "
                "each with --steps, rates > 0, rank counts >= 2")
    if a.short_steps <= a.short_warmup or a.short_warmup < 1:
        p.error("--short-steps must exceed --short-warmup >= 1")
    a.verify = a.verify.split(":") if a.verify else []
    if a.verify:
        if len(a.verify) != 3 or a.verify[0] not in a.decks or int(a.verify[1]) not in a.ranks or float(a.verify[2]) not in a.bandwidths:
            p.error("--verify DECK:RANKS:GBIT with a deck, rank count and rate of the study")
        a.verify = [a.verify[0], int(a.verify[1]), float(a.verify[2])]
    a.out = a.out or os.path.join("out", "bandwidth_" + datetime.datetime.utcnow().strftime("%Y%m%d_%H%M%S"))
    return a


def deck_widths(a, deck):
    return [256, 256] if deck == "digits" else widths_list(a.wide_widths)


def deck_overrides(a, deck):
    """The overrides every Saddle run of `deck` gets (float32 arithmetic like the torch peer)."""
    over = ["wgan.precision=float32"]
    if deck == "wide":
        w = "[" + ",".join(str(x) for x in deck_widths(a, deck)) + "]"
        over += [f"wgan.generator.widths={w}", f"wgan.critic.widths={w}"]
    return over


def coords_per_step(widths, latent=32, dim=64, n_critic=5):
    """Coordinates exchanged per generator iteration: n_critic critic gradients and one generator's."""
    def params(ws):
        return sum(a * b + b for a, b in zip(ws[:-1], ws[1:]))
    return n_critic * params([dim, *widths, 1]) + params([latent, *widths, dim])


def fmt_rate(b):
    return f"{b:g}"


def plan(a):
    """Every run of the study in order: dicts with side, deck, method, ranks, gbit (0 = unshaped),
    kind (full/short/verify), steps, log_every, name."""
    runs = []

    def add(side, deck, method, ranks, gbit, kind):
        steps = a.short_steps if kind == "short" else a.steps[deck]
        log = a.short_warmup if kind == "short" else a.log_every
        tag = "full" if kind == "full" else (f"bw{fmt_rate(gbit)}" + ("_verify" if kind == "verify" else ""))
        runs.append(dict(side=side, deck=deck, method=method, ranks=ranks, gbit=gbit, kind=kind, steps=steps, log_every=log,
                         name=f"{deck}_{method}_n{ranks}_{tag}"))

    for gbit in [0.0, *a.bandwidths]:
        for deck in a.decks:
            for ranks in a.ranks:
                kind = "full" if gbit == 0 else "short"
                for m in a.methods:
                    add("saddle", deck, m, ranks, gbit, kind)
                if deck in a.peer_decks:
                    for m in a.peers:
                        add("torch", deck, m, ranks, gbit, kind)
        if a.verify and gbit == a.verify[2]:
            deck, ranks = a.verify[0], a.verify[1]
            add("saddle", deck, a.methods[0], ranks, gbit, "verify")
            if deck in a.peer_decks and a.peers:
                add("torch", deck, a.peers[0], ranks, gbit, "verify")
    return runs


def estimate(a, r):
    """A rough guess of a run's seconds on an idle 2-core machine (for the plan only)."""
    cores = max(os.cpu_count() or 2, 1)
    load = max(1.0, r["ranks"] / cores)
    n = coords_per_step(deck_widths(a, r["deck"]))
    gbit = r["gbit"] or 40.0
    p = r["ranks"]
    if r["side"] == "saddle":
        bits, codec = METHODS[r["method"]][2], METHODS[r["method"]][3]
        compute = n * (20e-9 + codec * 1e-9 * (1 + 0.5 * p)) * load
        wire = (2 * (p - 1) / p if codec == 0 or "rs" in r["method"] else p - 1) * n * bits / 8
        overhead = 1.0 + 0.25 * p
    else:
        bits = PEERS[r["method"]][1]
        compute = n * 60e-9 * load
        wire = 2 * (p - 1) / p * n * bits / 8
        overhead = 2.0 + 1.5 * p  # python and torch imported per rank
    return overhead + r["steps"] * (compute + wire * 8 / (gbit * 1e9))


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def shape(gbit):
    """The loopback's root qdisc: none (unshaped) or a token bucket at gbit Gbit/s. The burst is
    1 ms at the rate (at least 256 KiB: four 64 KiB loopback segments); 50 ms of queue."""
    subprocess.run(["tc", "qdisc", "del", "dev", "lo", "root"], stderr=subprocess.DEVNULL)
    if gbit:
        burst = max(256 * 1024, int(gbit * 1e9 / 8 * 1e-3))
        sh(["tc", "qdisc", "replace", "dev", "lo", "root", "tbf", "rate", f"{int(gbit * 1000)}mbit", "burst", str(burst),
            "latency", "50ms"])
    out = subprocess.run(["tc", "qdisc", "show", "dev", "lo"], capture_output=True, text=True).stdout.strip()
    print(f"# link: {out}", flush=True)
    return out


def env():
    e = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MASTER_ADDR="127.0.0.1", GLOO_SOCKET_IFNAME="lo")
    if os.geteuid() == 0:
        e.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    return e


def pingpong(a, gbit, qdisc, writer):
    cmd = ["mpirun", "-n", "2", *MPI_FLAGS, os.path.join(a.build, "bench", "mpi_pingpong"), "--seconds", str(a.pingpong_seconds)]
    out = sh(cmd, capture_output=True, text=True, env=env(), timeout=600).stdout
    for line in out.splitlines():
        if line.startswith("pingpong"):
            print(f"# {fmt_rate(gbit) + ' Gbit/s' if gbit else 'unshaped'}: {line}", flush=True)
        elif line and line[0].isdigit():
            b, n, t, mean, g = line.split(",")
            writer.writerow(dict(set_gbit=gbit, bytes=int(b), round_trips=int(n), one_way_s=float(t), one_way_mean_s=float(mean),
                                 gbit_per_s=float(g), qdisc=qdisc))


def run_one(a, r):
    e = env()
    if r["side"] == "saddle":
        path = os.path.join(a.out, "runs", r["name"] + ".h5")
        cmd = ["mpirun", "-n", str(r["ranks"]), *MPI_FLAGS, os.path.join(a.build, "saddle"), "run", os.path.join(SRC, DECK),
               f"run.output={os.path.join(a.out, 'runs')}", f"run.name={r['name']}", "run.restart=no", f"run.steps={r['steps']}",
               f"run.log_every={r['log_every']}", "-q", *deck_overrides(a, r["deck"]), *METHODS[r["method"]][1]]
    else:
        path = os.path.join(a.out, "torch", r["name"] + ".csv")
        cmd = ["/usr/bin/python3", os.path.join(HERE, "peers", "wgan_ddp.py"), "--ranks", str(r["ranks"]), "--hook", r["method"],
               "--powersgd-rank", str(a.powersgd_rank), "--steps", str(r["steps"]), "--log-every", str(r["log_every"]),
               "--widths", ",".join(str(w) for w in deck_widths(a, r["deck"])), "--batch", "32", "--out", path]
    t0 = time.time()
    limit = 120 + 10 * estimate(a, r)
    proc = subprocess.Popen(cmd, env=e, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        text, rc = proc.communicate(timeout=limit)[0], proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the run's own process group (mpirun or the peer and its ranks)
        text, rc = proc.communicate()[0] + f"\n(killed after {limit:.0f} s)", 124
    wall = time.time() - t0
    if rc:
        print(f"# FAILED ({rc}): {shlex.join(cmd)}\n{text[-2000:]}", flush=True)
    return dict(r, path=os.path.relpath(path, a.out), wall_s=round(wall, 3), rc=rc, command=shlex.join(cmd))


def commit():
    try:
        return subprocess.run(["git", "-C", SRC, "describe", "--always", "--dirty"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return ""


def main(argv=None):
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # --dry-run | head
    a = options(argv)
    runs = plan(a)
    total = sum(estimate(a, r) for r in runs) + 6 * (1 + len(a.bandwidths))
    cores = os.cpu_count() or 0
    if not a.netns:  # (the .sh printed it before making the namespace)
        print(f"# bandwidth study: {len(runs)} runs ({sum(r['side'] == 'saddle' for r in runs)} Saddle, "
              f"{sum(r['side'] == 'torch' for r in runs)} torch), links unshaped + {', '.join(fmt_rate(b) for b in a.bandwidths)} Gbit/s, "
              f"ranks {a.ranks} on {cores} cores{' (oversubscribed above ' + str(cores) + ')' if max(a.ranks) > cores else ''}, "
              f"decks {a.decks}, methods {a.methods}, peers {a.peers or 'none'}", flush=True)
        print(f"# estimated duration: {total / 60:.0f} min on an idle machine (a rough guess; a loaded one takes longer)", flush=True)
    if a.check:
        return 0
    if a.dry_run:
        for r in runs:
            print(f"  {r['name']:40s} {r['side']:6s} {r['steps']:5d} steps  ~{estimate(a, r):6.1f} s")
        return 0
    if not a.netns:
        sys.exit("bandwidth_study.py: run it through bench/bandwidth_study.sh (it makes the network namespace)")
    for exe in (os.path.join(a.build, "saddle"), os.path.join(a.build, "bench", "mpi_pingpong")):
        if not os.access(exe, os.X_OK):
            sys.exit(f"bandwidth_study.py: {exe} is missing (cmake --build {a.build} --target saddle mpi_pingpong)")
    os.makedirs(os.path.join(a.out, "runs"), exist_ok=True)
    os.makedirs(os.path.join(a.out, "torch"), exist_ok=True)
    study = dict(
        command="bench/bandwidth_study.sh " + shlex.join(sys.argv[1:]), started_utc=datetime.datetime.utcnow().isoformat(timespec="seconds"),
        host=socket.gethostname(), cpu=platform.processor() or platform.machine(), cores=cores, commit=commit(),
        netns=a.netns, mpi_flags=MPI_FLAGS, bandwidths_gbit=a.bandwidths, ranks=a.ranks, baseline=a.methods[0],
        peer_baseline=a.peers[0] if a.peers else "", target_factor=a.target_factor, short_warmup=a.short_warmup,
        decks={d: dict(deck=DECK, widths=deck_widths(a, d), overrides=deck_overrides(a, d), steps=a.steps[d],
                       coords_per_step=coords_per_step(deck_widths(a, d))) for d in a.decks},
        methods={m: dict(label=METHODS[m][0], overrides=METHODS[m][1]) for m in a.methods},
        peers={m: dict(label=PEERS[m][0] + (f" rank {a.powersgd_rank}" if m == "powersgd" else "")) for m in a.peers},
        verify=a.verify, estimated_s=round(total))
    with open(os.path.join(a.out, "study.json"), "w") as f:
        json.dump(study, f, indent=1)
    fields = ["side", "deck", "method", "ranks", "gbit", "kind", "steps", "log_every", "name", "path", "wall_s", "rc", "command"]
    t_start = time.time()
    done = []
    with open(os.path.join(a.out, "pingpong.csv"), "w", newline="") as pf, open(os.path.join(a.out, "runs.csv"), "w", newline="") as rf:
        pw = csv.DictWriter(pf, ["set_gbit", "bytes", "round_trips", "one_way_s", "one_way_mean_s", "gbit_per_s", "qdisc"],
                            lineterminator="\n")
        pw.writeheader()
        rw = csv.DictWriter(rf, fields, lineterminator="\n")
        rw.writeheader()
        current = None
        for r in runs:
            if r["gbit"] != current:
                current = r["gbit"]
                qdisc = shape(current)
                pingpong(a, current, qdisc, pw)
                pf.flush()
            row = run_one(a, r)
            done.append(row)
            rw.writerow(row)
            rf.flush()
            print(f"{time.time() - t_start:7.0f} s  {r['name']:40s} {r['side']:6s} {row['wall_s']:7.1f} s"
                  f"{'' if row['rc'] == 0 else '  FAILED'}", flush=True)
        shape(0)
    failed = sum(1 for r in done if r["rc"])
    print(f"# {len(done)} runs in {(time.time() - t_start) / 60:.1f} min (estimated {total / 60:.0f}); {failed} failed", flush=True)
    post = subprocess.run(["/usr/bin/python3", os.path.join(SRC, "jobs", "post", "saddle-post"), "bandwidth", a.out, "--model"])
    return 1 if failed or post.returncode else 0


if __name__ == "__main__":
    sys.exit(main())
