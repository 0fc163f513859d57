// Collective write of a row-distributed array through engine::h5 (parallel HDF5, hyperslabs)
// against the same bytes written with raw MPI-IO (MPI_File_write_at_all): the cost of the HDF5
// layer over the I/O it sits on.   mpirun -n 2 bench_io [MiB per rank] [directory]
#include <mpi.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "engine/comm.hpp"
#include "engine/h5.hpp"
#include "engine/runtime.hpp"

using namespace saddle::engine;

int main(int argc, char** argv) {
  Runtime runtime(argc, argv);
  const Comm world;
  const double mib = argc > 1 ? std::atof(argv[1]) : 64.0;
  const std::string dir = argc > 2 ? argv[2] : ".";
  const std::int64_t cols = 64;
  const auto rows = static_cast<std::int64_t>(mib * 1024 * 1024 / 8 / cols);
  std::vector<double> local(static_cast<std::size_t>(rows * cols));
  for (std::size_t i = 0; i < local.size(); ++i) local[i] = static_cast<double>(i) * 1e-3 + world.rank();
  const double bytes = static_cast<double>(world.size()) * static_cast<double>(local.size()) * 8.0;
  using clock = std::chrono::steady_clock;
  double best_h5 = 1e30, best_mpi = 1e30;
  for (int rep = 0; rep < 5; ++rep) {
    // Both sides start from no file: freeing the old file's pages is not part of either write.
    if (world.is_root()) std::remove((dir + "/bench_io.h5").c_str());
    world.barrier();
    auto t0 = clock::now();
    {
      h5::File f = h5::File::create(dir + "/bench_io.h5", &world);
      f.root().write_rows("U", local.data(), rows, cols);
      f.close();
    }
    world.barrier();
    best_h5 = std::min(best_h5, std::chrono::duration<double>(clock::now() - t0).count());

    if (world.is_root()) MPI_File_delete((dir + "/bench_io.bin").c_str(), MPI_INFO_NULL);
    world.barrier();
    t0 = clock::now();
    MPI_File fh;
    MPI_File_open(world.raw(), (dir + "/bench_io.bin").c_str(), MPI_MODE_CREATE | MPI_MODE_WRONLY, MPI_INFO_NULL, &fh);
    const MPI_Offset offset = static_cast<MPI_Offset>(world.exscan_sum(rows) * cols * 8);
    MPI_File_write_at_all(fh, offset, local.data(), static_cast<int>(local.size()), MPI_DOUBLE, MPI_STATUS_IGNORE);
    MPI_File_close(&fh);
    world.barrier();
    best_mpi = std::min(best_mpi, std::chrono::duration<double>(clock::now() - t0).count());
  }
  if (world.is_root()) {
    std::printf("ranks %d  bytes %.0f\n", world.size(), bytes);
    std::printf("h5_write_rows_MiB_per_s %.1f\n", bytes / best_h5 / 1048576.0);
    std::printf("mpiio_write_at_all_MiB_per_s %.1f\n", bytes / best_mpi / 1048576.0);
    std::printf("ratio_h5_over_mpiio %.3f\n", best_mpi / best_h5);
    std::remove((dir + "/bench_io.h5").c_str());
    std::remove((dir + "/bench_io.bin").c_str());
  }
  return 0;
}
