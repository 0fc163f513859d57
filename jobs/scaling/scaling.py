#!/usr/bin/python3
"""Strong and weak scaling studies of a Saddle deck, run locally or submitted to SLURM.

  jobs/scaling/scaling.py DECK.toml --ranks 1 2 4 --mode strong|weak [--weak-key selftest.n ...]
      [--repeats 2] [--target local|slurm] [--out DIR] [--saddle PATH] [--mpiexec CMD]
      [--sbatch-args="..."] [key.path=value ...]
  jobs/scaling/scaling.py analyse DIR

Each point (N ranks, repeat r) runs the deck with the overrides and run.name=<mode>_n<N>_r<r>
run.output=DIR/runs run.restart=no. strong: the same problem at every N. weak: every --weak-key
(an integer key) is set to N times its value in the resolved deck (`saddle check`, defaults and
overrides included), so the deck gives the problem per rank.
  local: the points one after another with `mpirun --oversubscribe -n N saddle run ... -q`,
         then the analysis; a failed run stops the study (exit 2, naming the command).
  slurm: one `sbatch --ntasks=N jobs/slurm/saddle.sbatch DECK ...` per point (log in DIR/logs),
         then an analysis job after all of them (--dependency=afterany); prints the job ids.
The analysis (saddle_post/scaling.py, also `saddle-post scaling-report DIR`) writes
DIR/scaling.csv, DIR/scaling_summary.csv and DIR/scaling.png. Errors: one line, exit code 2.
"""
import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import time
import tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "jobs", "post"))
from saddle_post import cli, runfile, scaling  # noqa: E402

OVERRIDE = re.compile(r"[A-Za-z_][\w-]*(\.[\w-]+)+=.*", re.S)
OURS = ("run.name", "run.output", "run.restart")


class StudyError(Exception):
    pass


def arguments(argv):
    """The parsed command line; key.path=value words anywhere are the overrides."""
    p = cli.Parser(prog="scaling.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("deck", metavar="DECK.toml")
    p.add_argument("--ranks", type=int, nargs="+", required=True, metavar="N", help="rank counts")
    p.add_argument("--mode", choices=("strong", "weak"), required=True)
    p.add_argument("--weak-key", action="append", default=[], metavar="KEY",
                   help="integer deck key scaled with the rank count (weak mode; repeatable)")
    p.add_argument("--repeats", type=int, default=1, metavar="R", help="runs per rank count (default 1)")
    p.add_argument("--target", choices=("local", "slurm"), default="local")
    p.add_argument("--out", metavar="DIR", help="study folder (default: scaling_<deck>_<mode>)")
    p.add_argument("--saddle", default=os.environ.get("SADDLE", os.path.join(ROOT, "build", "saddle")),
                   help="the saddle binary (default: $SADDLE, else build/saddle)")
    p.add_argument("--mpiexec", default=os.environ.get("MPIEXEC", "mpirun") + " --oversubscribe",
                   help="launcher for local runs (default: '$MPIEXEC --oversubscribe', MPIEXEC=mpirun)")
    p.add_argument("--sbatch-args", default="", metavar="ARGS",
                   help='extra sbatch options for every job, e.g. --sbatch-args="--time=30 --partition=x"')
    a = p.parse_args([w for w in argv if not OVERRIDE.fullmatch(w)])
    a.overrides = [w for w in argv if OVERRIDE.fullmatch(w)]
    if min(a.ranks) < 1 or a.repeats < 1:
        p.error("rank counts and --repeats must be at least 1")
    if (a.mode == "weak") != bool(a.weak_key):
        p.error("--mode weak needs at least one --weak-key, and --weak-key needs --mode weak")
    a.ranks = sorted(set(a.ranks))
    a.deck, a.saddle = os.path.abspath(a.deck), os.path.abspath(a.saddle)
    a.out = os.path.abspath(a.out or f"scaling_{os.path.splitext(os.path.basename(a.deck))[0]}_{a.mode}")
    return a


def base_values(a):
    """The weak keys' values in the deck as `saddle check` resolves it (one rank, so parallel.layer=1)."""
    cmd = [a.saddle, "check", a.deck, *a.overrides, "parallel.layer=1"]
    done = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    if done.returncode:
        raise StudyError(f"the deck check failed (exit {done.returncode}): {shlex.join(cmd)}")
    deck = tomllib.loads(done.stdout)
    base = {}
    for key in a.weak_key:
        try:
            base[key] = scaling.lookup(deck, key)
        except KeyError:
            raise StudyError(f"--weak-key {key}: no such key in the resolved deck") from None
        if type(base[key]) is not int:
            raise StudyError(f"--weak-key {key}: not an integer key (value {base[key]!r})")
    return base


def points(a, base):
    """(name, ranks, overrides) of every run, repeats outermost."""
    keep = [w for w in a.overrides if w.split("=", 1)[0] not in (*OURS, *base)]
    for rep in range(1, a.repeats + 1):
        for n in a.ranks:
            name = f"{a.mode}_n{n}_r{rep}"
            weak = [f"{k}={v * n}" for k, v in base.items()]
            yield name, n, [*keep, *weak, f"run.name={name}", f"run.output={a.out}/runs", "run.restart=no"]


def run_local(a, todo):
    for i, (name, n, args) in enumerate(todo, 1):
        cmd = [*shlex.split(a.mpiexec), "-n", str(n), a.saddle, "run", a.deck, *args, "-q"]
        print(f"[{i}/{len(todo)}] {name}: {shlex.join(cmd)}", flush=True)
        start = time.monotonic()
        rc = subprocess.call(cmd)
        if rc:
            raise StudyError(f"run {name} failed (exit {rc}): {shlex.join(cmd)}")
        print(f"[{i}/{len(todo)}] {name}: {time.monotonic() - start:.1f} s", flush=True)
    return scaling.analyse(a.out)


def sbatch(args, submitted, env=None):
    """Submit one job; its id."""
    cmd = ["sbatch", "--parsable", *args]
    done = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, env=env)
    if done.returncode or not done.stdout.strip():
        already = f"; already submitted: {' '.join(submitted)}" if submitted else ""
        raise StudyError(f"sbatch failed (exit {done.returncode}): {shlex.join(cmd)}{already}")
    return done.stdout.strip().split(";")[0]


def run_slurm(a, todo):
    logs, extra = os.path.join(a.out, "logs"), shlex.split(a.sbatch_args)
    os.makedirs(logs, exist_ok=True)
    script, env = os.path.join(ROOT, "jobs", "slurm", "saddle.sbatch"), dict(os.environ, SADDLE=a.saddle)
    ids = []
    for name, n, args in todo:
        ids.append(sbatch([*extra, f"--ntasks={n}", f"--job-name={name}", f"--output={logs}/{name}-%j.out",
                           script, a.deck, *args], ids, env))
        print(f"{name}: job {ids[-1]}", flush=True)
    wrap = shlex.join(["/usr/bin/python3", os.path.abspath(__file__), "analyse", a.out])
    job = sbatch([*extra, "--ntasks=1", "--job-name=scaling_analyse", f"--output={logs}/analyse-%j.out",
                  f"--dependency=afterany:{':'.join(ids)}", "--wrap", wrap], ids)
    print(f"analysis: job {job} (after {' '.join(ids)}); results in {a.out}")
    return 0


def main(argv):
    if argv[:1] == ["analyse"]:
        if len(argv) != 2:
            print("scaling.py: usage: scaling.py analyse DIR", file=sys.stderr)
            return 2
        return scaling.analyse(argv[1])
    a = arguments(argv)
    base = base_values(a)
    todo = list(points(a, base))
    os.makedirs(os.path.join(a.out, "runs"), exist_ok=True)
    with open(os.path.join(a.out, "study.json"), "w") as f:
        json.dump(dict(deck=a.deck, mode=a.mode, ranks=a.ranks, repeats=a.repeats, weak_keys=list(base),
                       base=base, overrides=a.overrides, target=a.target, saddle=a.saddle), f, indent=1)
    return (run_local if a.target == "local" else run_slurm)(a, todo)


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except (StudyError, runfile.RunFileError, OSError) as e:
        print(f"scaling.py: {cli.one_line(e)}", file=sys.stderr)
        sys.exit(2)
