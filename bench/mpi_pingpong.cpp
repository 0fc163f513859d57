// MPI ping-pong between ranks 0 and 1 (bench/bandwidth_study.sh): the one-way time of a message
// of each size, half the median round trip (robust to a shared machine's preemptions; the mean is
// printed too), for the latency alpha and the inverse bandwidth beta of
// the alpha-beta model (jobs/post/saddle_post/bandwidth.py). Plain MPI (blocking MPI_Send /
// MPI_Recv of bytes), no Saddle code, so it measures only the transport Open MPI chose.
//   mpirun -n 2 build/bench/mpi_pingpong [--seconds S] [--max-bytes B]
// Each size runs for about S seconds (default 0.25, at least 3 round trips) after 2 warm-up round
// trips. Rank 0 prints the CSV header `bytes,round_trips,one_way_s,one_way_mean_s,gbit_per_s` and
// one row per size (1 byte to B = 16 MiB, x4 each; one_way_s the median), then a summary line
//   pingpong latency_us=L bandwidth_gbit=G
// with L the one-way time of 1 byte and G the rate of the largest message (bits = 8 x bytes).
#include <mpi.h>

#include <algorithm>
#include <cstdio>
#include <numeric>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

// Round-trip seconds of `count` round trips of `bytes` (rank 0's clock; the others get zeros).
std::vector<double> round_trips(int rank, std::vector<char>& buf, long bytes, long count) {
  std::vector<double> t(static_cast<std::size_t>(count), 0.0);
  MPI_Barrier(MPI_COMM_WORLD);
  for (long i = 0; i < count; ++i) {
    const double t0 = MPI_Wtime();
    if (rank == 0) {
      MPI_Send(buf.data(), static_cast<int>(bytes), MPI_BYTE, 1, 0, MPI_COMM_WORLD);
      MPI_Recv(buf.data(), static_cast<int>(bytes), MPI_BYTE, 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    } else if (rank == 1) {
      MPI_Recv(buf.data(), static_cast<int>(bytes), MPI_BYTE, 0, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      MPI_Send(buf.data(), static_cast<int>(bytes), MPI_BYTE, 0, 0, MPI_COMM_WORLD);
    }
    t[static_cast<std::size_t>(i)] = MPI_Wtime() - t0;
  }
  MPI_Bcast(t.data(), static_cast<int>(count), MPI_DOUBLE, 0, MPI_COMM_WORLD);
  return t;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, size = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  double seconds = 0.25;
  long max_bytes = 16L << 20;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--seconds")) seconds = std::atof(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--max-bytes")) max_bytes = std::atol(argv[i + 1]);
  }
  if (size < 2 || seconds <= 0 || max_bytes < 1) {
    if (rank == 0) std::fprintf(stderr, "mpi_pingpong: needs 2 ranks (got %d), --seconds > 0, --max-bytes >= 1\n", size);
    MPI_Finalize();
    return 2;
  }
  std::vector<char> buf(static_cast<std::size_t>(max_bytes), 1);
  if (rank == 0) std::printf("bytes,round_trips,one_way_s,one_way_mean_s,gbit_per_s\n");
  double latency = 0, rate = 0;
  for (long bytes = 1;; bytes = std::min(bytes * 4, max_bytes)) {
    const double warm = median(round_trips(rank, buf, bytes, 2));
    const long count = std::max(3L, static_cast<long>(seconds / std::max(warm, 1e-7)));
    const std::vector<double> t = round_trips(rank, buf, bytes, count);
    const double one_way = median(t) / 2, mean = std::accumulate(t.begin(), t.end(), 0.0) / static_cast<double>(count) / 2;
    rate = 8.0 * static_cast<double>(bytes) / one_way / 1e9;
    if (bytes == 1) latency = one_way;
    if (rank == 0) std::printf("%ld,%ld,%.9g,%.9g,%.6g\n", bytes, count, one_way, mean, rate);
    if (bytes == max_bytes) break;
  }
  if (rank == 0) std::printf("pingpong latency_us=%.2f bandwidth_gbit=%.4g\n", latency * 1e6, rate);
  MPI_Finalize();
  return 0;
}
