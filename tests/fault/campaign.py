#!/usr/bin/python3
"""The fault campaign (docs/reliability.md): kill runs at random moments, restart them, and check
that the restarted run ends bit for bit equal to an uninterrupted one.

For every workload a small deck with frequent checkpoints runs once uninterrupted (the reference).
Each trial then starts the same deck under `mpirun`, hits it once with a fault at a random moment
of the reference's wall time (setup, steps, checkpoint writes, run-file flushes and the final
/result write all fall in that window), and reruns the same command with run.restart = "auto"
until it completes. A trial passes when
  - the faulted run ended (no hang) with the exit code its fault allows,
  - the run file left behind is readable, or the restart rebuilt it,
  - the final /result equals the reference's bit for bit (timings in /result/performance excepted),
  - /metrics holds the reference's rows, none lost or duplicated, bit for bit (time_* series,
    which are wall-clock measurements, excepted).
Faults: kill -9 of one rank, kill -9 of mpirun, SIGTERM to one rank, SIGUSR1 to mpirun (the
documented stop signals: the run writes a checkpoint and exits 3), and, with --sites, SIGKILL
raised by the engine itself at a chosen site (SADDLE_FAULT_KILL=<site>:<n>: inside setup, a step,
a checkpoint write, a metrics flush or the /result write).

  /usr/bin/python3 tests/fault/campaign.py --saddle build/saddle --trials 40
prints one line per trial and a table per workload and fault; exit 1 if any trial failed.
"""
import argparse
import csv
import os
import random
import shutil
import signal
import subprocess
import sys
import time

import h5py
import numpy as np

DECKS = {
    "selftest": """
[run]
workload = "selftest"
steps = 120
log_every = 5
checkpoint_every = 10
flush_interval = 0.05
[selftest]
n = 20000
lr = 0.2
sigma = 0.1
step_delay = 0.01
""",
    "qoda": """
[run]
workload = "qoda"
steps = 600
log_every = 20
checkpoint_every = 50
flush_interval = 0.05
[qoda.problem]
noise = "relative"
sigma = 0.1
blocks = [16, 16, 16, 16]
[qoda.exchange]
levels = "adaptive"
coder = "huffman"
adapt_every = 25
[qoda.rates]
schedule = "adaptive"
""",
    "wgan": """
[run]
workload = "wgan"
steps = 150
log_every = 10
checkpoint_every = 20
flush_interval = 0.05
[wgan]
batch = 32
eval_samples = 200
samples = 64
[wgan.generator]
widths = [32, 32]
[wgan.critic]
widths = [32, 32]
""",
    "hb": """
[run]
workload = "hb"
log_every = 1
checkpoint_every = 2
flush_interval = 0.05
[hb]
game = "quadratic"
p_eigenvalues = [0.2]
q_eigenvalues = [0.2]
a_singular = [1.0]
steps = 4000
starts = 2
h = {min = 0.005, max = 2.0, count = 48, scale = "log"}
beta = {min = -0.95, max = 0.95, count = 48, scale = "linear"}
chunk = 512
""",
    "ksvd": """
[run]
workload = "ksvd"
log_every = 1
checkpoint_every = 1
flush_interval = 0.05
[ksvd]
method = "randomized"
rank = 5
oversample = 10
power_iters = 6
[ksvd.data]
generator = "sbm"
nodes = 1500
blocks = 5
p_in = 0.04
p_out = 0.03
p_noise = 0.004
[ksvd.kernel]
type = "given"
""",
    "mail": """
[run]
workload = "mail"
log_every = 1
checkpoint_every = 1
flush_interval = 0.05
[mail]
algorithms = ["bc", "mail_bro", "murmail"]
seeds = 12
seed_chunk = 2
budgets = [100, 1000, 3000]
[mail.game]
states = 8
""",
}

FAULTS = ["kill9_rank", "kill9_mpirun", "sigterm_rank", "sigusr1_mpirun"]
SITES = ["setup", "step", "checkpoint", "flush", "result"]


def processes():
    """(pid, state, parent pid, session id) of every process (from /proc)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        yield int(entry), fields[0], int(fields[1]), int(fields[3])


def children(pid):
    """Pids whose parent is `pid`."""
    return [p for p, _, parent, _ in processes() if parent == pid]


def session_alive(sid):
    """Whether any process of session `sid` is still running (orphaned ranks included)."""
    return any(session == sid and state != "Z" for _, state, _, session in processes())


class Runner:
    def __init__(self, args, work):
        self.args, self.work = args, work
        self.env = dict(os.environ, OMPI_MCA_rmaps_base_oversubscribe="1")
        if os.geteuid() == 0:
            self.env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")

    def command(self, deck, name):
        return [self.args.mpiexec, "-n", str(self.args.ranks), self.args.saddle, "run", deck,
                f"run.name={name}", f"run.output={self.work}/out", "-q"]

    def start(self, deck, name, extra_env=None):
        env = dict(self.env, **(extra_env or {}))
        return subprocess.Popen(self.command(deck, name), env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True, start_new_session=True)

    def finish(self, proc, timeout):
        """Waits for the launcher and every process of its session; (exit code, stderr, hung)."""
        hung = False
        try:
            _, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            hung = True
            os.killpg(proc.pid, signal.SIGKILL)
            _, err = proc.communicate()
        deadline = time.time() + timeout
        while session_alive(proc.pid):
            if time.time() > deadline:
                hung = True
                os.killpg(proc.pid, signal.SIGKILL)
            time.sleep(0.05)
        return proc.returncode, err or "", hung

    def run(self, deck, name, timeout, extra_env=None):
        return self.finish(self.start(deck, name, extra_env), timeout)


def readable(path):
    try:
        with h5py.File(path, "r") as f:
            for k in f["metrics"]:
                f["metrics"][k][...]
            f["config"].attrs["toml"]
        return True
    except Exception:
        return False


def flatten(group, prefix=""):
    """{path: bytes} of every dataset and attribute below `group` (h5py), raw bits."""
    out = {}
    for k, v in group.attrs.items():
        out[f"{prefix}@{k}"] = np.asarray(v).tobytes()
    for k, obj in group.items():
        p = f"{prefix}/{k}"
        if isinstance(obj, h5py.Group):
            out.update(flatten(obj, p))
        else:
            out[p] = np.asarray(obj[...]).tobytes()
            for a, v in obj.attrs.items():
                out[f"{p}@{a}"] = np.asarray(v).tobytes()
    return out


def compare(ref_path, path):
    """[] when /result and /metrics match bit for bit (timings excepted), else the differences."""
    problems = []
    with h5py.File(ref_path, "r") as r, h5py.File(path, "r") as f:
        if int(f.attrs.get("completed", 0)) != 1:
            problems.append("run file not completed")
        a = {k: v for k, v in flatten(r["result"]).items() if not k.startswith("/performance")}
        b = {k: v for k, v in flatten(f["result"]).items() if not k.startswith("/performance")}
        for k in sorted(set(a) | set(b)):
            if a.get(k) != b.get(k):
                problems.append(f"/result{k} differs")
        rs, fs = r["metrics/step"][...], f["metrics/step"][...]
        if len(np.unique(fs)) != len(fs):
            problems.append("duplicated metric rows")
        if not np.array_equal(rs, fs):
            problems.append(f"metric steps differ ({len(fs)} rows, reference {len(rs)})")
        else:
            for k in r["metrics"]:
                if k.startswith("time_"):
                    continue
                if k not in f["metrics"] or r["metrics"][k][...].tobytes() != f["metrics"][k][...].tobytes():
                    problems.append(f"/metrics/{k} differs")
    return problems


def inject(proc, fault):
    """Applies `fault` to the running job; False when there was nothing left to hit."""
    if proc.poll() is not None:
        return False
    ranks = [p for p in children(proc.pid)]
    try:
        if fault == "kill9_mpirun":
            os.kill(proc.pid, signal.SIGKILL)
        elif fault == "sigusr1_mpirun":
            os.kill(proc.pid, signal.SIGUSR1)
        else:
            if not ranks:
                return False
            os.kill(random.choice(ranks), signal.SIGKILL if fault == "kill9_rank" else signal.SIGTERM)
    except ProcessLookupError:
        return False
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--saddle", default="build/saddle")
    ap.add_argument("--mpiexec", default=os.environ.get("MPIEXEC", "mpirun"))
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--trials", type=int, default=8, help="trials per workload and fault kind")
    ap.add_argument("--workloads", default=",".join(DECKS))
    ap.add_argument("--faults", default=",".join(FAULTS))
    ap.add_argument("--sites", default="", help="comma list of engine kill sites to try as well (%s)" % ",".join(SITES))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds before a run counts as hung")
    ap.add_argument("--work", default=None, help="scratch directory (default: a new one under /tmp, removed at the end)")
    ap.add_argument("--csv", default=None, help="write one row per trial here")
    args = ap.parse_args()
    args.saddle = os.path.abspath(args.saddle)
    random.seed(args.seed)
    work = args.work or subprocess.check_output(["mktemp", "-d", "/tmp/saddle_fault.XXXXXX"], text=True).strip()
    os.makedirs(f"{work}/out", exist_ok=True)
    runner = Runner(args, work)
    rows, failed = [], 0
    faults = [f for f in args.faults.split(",") if f] + [f"site_{s}" for s in args.sites.split(",") if s]
    for wl in [w for w in args.workloads.split(",") if w]:
        deck = f"{work}/{wl}.toml"
        with open(deck, "w") as f:
            f.write(DECKS[wl])
        t0 = time.time()
        code, err, hung = runner.run(deck, f"{wl}_ref", args.timeout)
        t_ref = time.time() - t0
        if code != 0 or hung:
            print(f"{wl}: reference run failed ({code}): {err.strip()}")
            return 2
        ref = f"{work}/out/{wl}_ref.h5"
        print(f"{wl}: reference {t_ref:.1f} s", flush=True)
        for fault in faults:
            for trial in range(args.trials):
                name = f"{wl}_{fault}_{trial}"
                extra = {}
                at = random.uniform(0.0, 1.1 * t_ref)
                if fault.startswith("site_"):
                    site = fault[5:]
                    # setup and the /result write happen once; /metrics refreshes on rank 0 only.
                    count = 1 if site in ("setup", "result") else random.randint(1, 3)
                    rank = 0 if site == "flush" else random.randrange(args.ranks)
                    extra["SADDLE_FAULT_KILL"] = f"{site}:{count}:{rank}"
                    at = 0.0
                proc = runner.start(deck, name, extra)
                hit = True
                if not fault.startswith("site_"):
                    time.sleep(at)
                    hit = inject(proc, fault)
                code, err, hung = runner.finish(proc, args.timeout)
                if fault.startswith("site_"):
                    hit = "fault injection: SIGKILL" in err
                run_file = f"{work}/out/{name}.h5"
                left_readable = readable(run_file) if os.path.exists(run_file) else None
                # Allowed: any exit of a killed job, never a hang. A stop signal gives 0 (too
                # late), 3 (checkpoint written) or, when it lands before the process has installed
                # its handlers (the dynamic loader's first ~0.2 s), death by that signal.
                problems = ["hung"] if hung else []
                first_exit = code
                stop_sig = {"sigterm_rank": signal.SIGTERM, "sigusr1_mpirun": signal.SIGUSR1}.get(fault)
                if stop_sig and hit and code not in (0, 3, 128 + stop_sig, -stop_sig):
                    problems.append(f"exit {code} after {fault} ({err.strip()[-200:]})")
                restarts = 0
                while code != 0 and restarts < 3 and not hung:
                    restarts += 1
                    code, err, hung = runner.run(deck, name, args.timeout)
                    if code == 2 and "lock" in err:  # the killed run's orphans still held it
                        time.sleep(1.0)
                if hung:
                    problems.append("restart hung")
                elif code != 0:
                    problems.append(f"restart exited {code}: {err.strip()[-300:]}")
                else:
                    problems += compare(ref, run_file)
                ok = not problems
                failed += not ok
                rows.append(dict(workload=wl, fault=fault, trial=trial, at=round(at, 3), hit=hit, exit=first_exit,
                                 left_readable=left_readable, restarts=restarts, bit_exact=ok,
                                 problems="; ".join(problems)))
                print(f"{wl:8s} {fault:16s} #{trial:<3d} at {at:6.2f} s  hit={int(hit)} exit={first_exit} readable={left_readable} "
                      f"restarts={restarts}  {'bit-exact' if ok else 'FAIL: ' + '; '.join(problems)}", flush=True)
    print("\nworkload  fault             trials  hit  exit3  bit-exact  unreadable-left  failed")
    keys = sorted({(r["workload"], r["fault"]) for r in rows}, key=lambda k: (list(DECKS).index(k[0]), k[1]))
    for wl, fault in keys:
        rs = [r for r in rows if r["workload"] == wl and r["fault"] == fault]
        print(f"{wl:9s} {fault:17s} {len(rs):6d} {sum(r['hit'] for r in rs):4d} {sum(r['exit'] == 3 for r in rs):6d} {sum(r['bit_exact'] for r in rs):10d} "
              f"{sum(r['left_readable'] is False for r in rs):16d} {sum(not r['bit_exact'] for r in rs):7d}")
    print(f"total: {len(rows)} trials, {len(rows) - failed} bit-exact, {failed} failed")
    if args.csv:
        with open(args.csv, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
