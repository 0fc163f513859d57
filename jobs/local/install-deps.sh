#!/usr/bin/env bash
# Installs, from Debian 12's own packages, whatever Saddle needs that this machine lacks.
# Safe to rerun: packages already present are left alone and apt is not touched at all.
# `--bench` adds the benchmark peers' packages, `--dev` the sanitizer, fuzzing and valgrind
# tools (.ci/run; docs/development.md).
set -euo pipefail

packages=(
  build-essential cmake pkg-config git
  libtrilinos-kokkos-dev                   # Kokkos 3.4 (Serial)
  openmpi-bin libopenmpi-dev               # Open MPI 4.1
  libhdf5-openmpi-dev hdf5-tools           # parallel HDF5 1.10, h5dump/h5diff
  libopenblas-dev liblapacke-dev           # BLAS/LAPACK + LAPACKE
  libgtest-dev libtoml11-dev               # GoogleTest, toml11
  zlib1g-dev                               # zlib: wgan reads the gzip CSV of the digits set
  libglpk-dev                              # GLPK: LP reference and fallback of the mail stage games
  libslepc-real-dev                        # SLEPc 3.18 + PETSc: ksvd method = "krylov" (matrix-free Lanczos)
  libscalapack-openmpi-dev                 # ScaLAPACK + BLACS: ksvd method = "exact" on more than one rank
  python3 python3-h5py python3-numpy python3-matplotlib python3-scipy  # jobs/post (use /usr/bin/python3)
  python3-sklearn                          # ships digits.csv.gz, read by inputs/wgan_digits.toml; peer of bench/ksvd_vs_sklearn.sh
  slurm-wlm munge                          # jobs/local-slurm: a one-node SLURM for the job scripts and tests
)
# Peers of the benchmarks in bench/ only (not needed to build, test or run): `install-deps.sh --bench`.
bench_packages=(
  python3-torch                            # bench/wgan_vs_torch.sh: PyTorch's CPU WGAN-GP
)
# The fuzz and valgrind presets and their passes in .ci/run: `install-deps.sh --dev`.
dev_packages=(
  clang libclang-rt-14-dev                 # the fuzz preset: clang 14, libFuzzer, ASan + UBSan runtimes
  valgrind                                 # tests/valgrind/memcheck.sh
)
for arg in "$@"; do
  case "$arg" in
    --bench) packages+=("${bench_packages[@]}") ;;
    --dev) packages+=("${dev_packages[@]}") ;;
    *) echo "usage: $0 [--bench] [--dev]" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
