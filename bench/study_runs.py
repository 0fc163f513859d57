"""What the bench studies that run a list of methods through mpirun share (bench/qoda_table.py,
bench/wgan_qoda_table.py): their common command-line options and the environment of the runs."""
import argparse
import os


def parser(deck, deck_help=None):
    """An argument parser with --build, --ranks, --deck, --only and trailing overrides; a study
    adds its own options."""
    p = argparse.ArgumentParser()
    p.add_argument("--build", default="build")
    p.add_argument("--ranks", type=int, default=2)
    p.add_argument("--deck", default=deck, help=deck_help)
    p.add_argument("--only", default="", help="comma-separated indices of METHODS to run (default all)")
    p.add_argument("extra", nargs="*", help="overrides for every method")
    return p


def selected(args, k):
    """Whether method k is among --only (all when --only is empty)."""
    return not args.only or str(k) in args.only.split(",")


def mpi_env():
    """One thread per rank, and Open MPI's consent to run as root where needed."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    if os.geteuid() == 0:
        env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    return env
