#!/usr/bin/env bash
# The README's two quick-start commands on a fresh Debian 12 machine:
#   bash jobs/local/quickstart.sh run    # install what is missing, build, train the wgan flagship on 2 ranks
#   bash jobs/local/quickstart.sh test   # install what is missing, build, run the test suite
# BUILD_DIR (default build) and JOBS (default: all cores) may be set.
set -euo pipefail
cd "$(dirname "$0")/../.."

mode=${1:-}
case "$mode" in run|test) ;; *) echo "usage: $0 run|test" >&2; exit 2 ;; esac

bash jobs/local/install-deps.sh

build=${BUILD_DIR:-build}
jobs=${JOBS:-$(nproc)}
# Open MPI refuses to run as root and to place more ranks than cores unless told.
if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
export OMPI_MCA_rmaps_base_oversubscribe=1

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release
cmake --build "$build" -j "$jobs"

if [ "$mode" = run ]; then
  # The flagship: WGAN-GP on the digits set, 2 ranks, a few minutes; then the grid of samples.
  "$build/saddle" info
  mpirun -n 2 "$build/saddle" run inputs/wgan_digits.toml run.output="$build/out" run.restart=no
  /usr/bin/python3 jobs/post/saddle-post wgan "$build/out/wgan_digits.h5"
  echo "quickstart: results in $build/out/wgan_digits.h5; the figures listed above show the generated digits"
else
  ctest --test-dir "$build" --output-on-failure -j "$jobs"
fi
