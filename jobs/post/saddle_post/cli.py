"""The saddle-post command line: one subcommand per module.

Each command module offers add_arguments(parser) and run(args) -> exit code. A RunFileError, a
bad argument or a file that cannot be written is one line `saddle-post: <message>` on stderr
and exit code 2, never a traceback.
"""
import argparse
import sys

from . import bandwidth, hb, ksvd, ksvd_eval, mail, plot, qoda, report, runfile, scaling, wgan, wgan_timeline

PROG = "saddle-post"
COMMANDS = {
    "report": (report, "summarise run files: provenance, deck, last metric values, timers"),
    "plot": (plot, "PNG of metric series against step"),
    "hb": (hb, "figures of an hb run file (stability maps, AvgS, trajectories, metrics)"),
    "mail": (mail, "Nash gap against expert queries of a mail run file (mean ± std per algorithm)"),
    "qoda": (qoda, "figures of qoda run files (convergence against iterations and bytes, levels, metrics)"),
    "ksvd": (ksvd, "figures of a ksvd run file (singular values, residuals, scores, phases)"),
    "ksvd-eval": (ksvd_eval, "node classification (logistic regression) on the features of ksvd runs: accuracy mean ± std"),
    "wgan": (wgan, "figures of a wgan run file (generated samples: digit grid or ring scatter; loss and SWD curves)"),
    "wgan-timeline": (wgan_timeline, "per-stage busy/idle timeline of the last step of a layer-parallel wgan run"),
    "bandwidth": (bandwidth, "table, figure and alpha-beta model of a bandwidth study (bench/bandwidth_study.sh)"),
    "scaling-report": (scaling, "CSV, table and plot of a scaling study (jobs/scaling/scaling.py)"),
}


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: '<program>: <message> (see <prog> --help)', exit code 2."""

    def error(self, message):
        self.exit(2, f"{self.prog.split()[0]}: {message} (see {self.prog} --help)\n")


def parser():
    p = Parser(prog=PROG, description="Post-processing of Saddle run files.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, summary) in COMMANDS.items():
        module.add_arguments(sub.add_parser(name, help=summary, description=module.__doc__,
                                            formatter_class=argparse.RawDescriptionHelpFormatter))
    return p


def one_line(e):
    """The message of a RunFileError or OSError, on one line."""
    if isinstance(e, OSError) and e.filename and e.strerror:
        return f"{e.filename}: {e.strerror}"
    return (str(e).splitlines() or [type(e).__name__])[0]


def main(argv=None):
    a = parser().parse_args(argv)
    try:
        return COMMANDS[a.command][0].run(a)
    except (runfile.RunFileError, OSError) as e:
        print(f"{PROG}: {one_line(e)}", file=sys.stderr)
        return 2
