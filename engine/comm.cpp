#include "engine/comm.hpp"

#include <algorithm>
#include <chrono>
#include <climits>
#include <numeric>
#include <stdexcept>
#include <thread>

#include "engine/error.hpp"
#include "engine/half.hpp"

namespace saddle::engine {

MPI_Op mpi_op(Op op) {
  switch (op) {
    case Op::Sum: return MPI_SUM;
    case Op::Max: return MPI_MAX;
    case Op::Min: return MPI_MIN;
  }
  return MPI_SUM;
}

Comm::Comm() : Comm(MPI_COMM_WORLD, false) {}

void Comm::wait_idle(MPI_Request& request) {
  for (int done = 0;;) {
    MPI_Test(&request, &done, MPI_STATUS_IGNORE);
    if (done) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

Comm::Comm(MPI_Comm comm, bool owned) {
  if (owned) {
    comm_ = std::shared_ptr<MPI_Comm>(new MPI_Comm(comm), [](MPI_Comm* c) {
      int finalized = 0;
      MPI_Finalized(&finalized);
      if (!finalized && *c != MPI_COMM_NULL) MPI_Comm_free(c);
      delete c;
    });
  } else {
    comm_ = std::make_shared<MPI_Comm>(comm);
  }
  MPI_Comm_rank(comm, &rank_);
  MPI_Comm_size(comm, &size_);
}

int Comm::checked_count(std::size_t n) {
  if (n > static_cast<std::size_t>(INT_MAX))
    throw std::length_error("engine::Comm: message of " + std::to_string(n) + " elements exceeds MPI's int count");
  return static_cast<int>(n);
}

void Comm::barrier() const { MPI_Barrier(raw()); }

void Comm::bcast(std::string& s, int root) const {
  std::vector<char> buf(s.begin(), s.end());
  bcast(buf, root);
  s.assign(buf.begin(), buf.end());
}

namespace {
// MPI user function of allreduce_half_sum: inout[i] = half(float(in[i]) + float(inout[i])).
void half_sum(void* in, void* inout, int* len, MPI_Datatype*) {
  half_add(static_cast<const std::uint16_t*>(in), static_cast<std::uint16_t*>(inout), static_cast<std::size_t>(*len));
}
}  // namespace

MPI_Op Comm::make_half_sum_op() {
  MPI_Op op;
  MPI_Op_create(&half_sum, /*commute=*/1, &op);
  return op;
}

void Comm::allreduce_half_sum(std::uint16_t* data, std::size_t n) const {
  // Created and freed per call (both local operations), so no op outlives MPI_Finalize.
  MPI_Op op = make_half_sum_op();
  MPI_Allreduce(MPI_IN_PLACE, data, checked_count(n), MPI_UINT16_T, op, raw());
  MPI_Op_free(&op);
}

std::int64_t Comm::exscan_sum(std::int64_t value) const {
  std::int64_t out = 0;
  MPI_Exscan(&value, &out, 1, MPI_INT64_T, MPI_SUM, raw());
  return rank_ == 0 ? 0 : out;
}

Comm Comm::split(int color, int key) const {
  MPI_Comm out;
  MPI_Comm_split(raw(), color, key, &out);
  return Comm(out, true);
}

void Comm::agree(const std::function<void()>& f) const {
  std::string message;
  int code = kExitDone;
  try {
    f();
  } catch (const std::exception& e) {
    message = e.what();
    code = exit_code_of(e);
  }
  const int failing = allreduce(code != kExitDone ? rank_ : size_, Op::Min);
  if (failing == size_) return;
  int origin_code = code;
  bcast(&origin_code, 1, failing);
  bcast(message, failing);
  throw CollectiveError(message, origin_code, failing);
}

ProcessGrid make_process_grid(const Comm& world, int layers) {
  if (layers < 1 || world.size() % layers != 0)
    throw InputError("parallel.layer = " + std::to_string(layers) + " must be a positive divisor of the rank count (" +
                     std::to_string(world.size()) + " ranks); data replicas = ranks / layer");
  const int d = world.rank() / layers, l = world.rank() % layers;
  ProcessGrid g{world, world.split(l, d), world.split(d, l)};
  return g;
}

RowRange block_rows(std::int64_t global_rows, int part, int parts) {
  const std::int64_t base = global_rows / parts, extra = global_rows % parts;
  RowRange r;
  r.begin = part * base + std::min<std::int64_t>(part, extra);
  r.end = r.begin + base + (part < extra ? 1 : 0);
  return r;
}

}  // namespace saddle::engine
