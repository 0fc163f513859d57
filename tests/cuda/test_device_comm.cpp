// engine::DeviceComm (engine/device_comm.hpp): every transport's allreduce (IEEE halves too),
// allgather and broadcast on device buffers against engine::Comm on host copies, at 1, 2 and 3 ranks. Without a
// CUDA device (on any rank) these report themselves skipped. The DeviceTransport tests (the
// resolution of parallel.device_collectives) need no device and run everywhere.
// No ASSERT before a collective: a rank that returned early would leave the others waiting.
#include <gtest/gtest.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "cuda/cuda_test_util.hpp"
#include "engine/comm.hpp"
#include "engine/device_comm.hpp"
#include "engine/half.hpp"

using namespace saddle::engine;
using saddle::test::DeviceVector;

namespace {

// Skips on every rank alike when any rank has no device.
#define SKIP_WITHOUT_DEVICE_ON_ANY_RANK(comm)                                                        \
  do {                                                                                               \
    const std::string why = ::saddle::test::no_device_reason();                                      \
    if ((comm).allreduce(why.empty() ? 0 : 1, Op::Max) != 0)                                         \
      GTEST_SKIP() << (why.empty() ? std::string("no CUDA device on another rank") : why);           \
  } while (0)

template <class T>
std::vector<T> rank_values(int rank, std::size_t n, int salt) {
  std::vector<T> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<T>((rank + 1) * 3 + static_cast<int>(i % 7) * (salt + 1) - 5);
  return v;
}

template <class T>
void check_transport(const Comm& comm, DeviceComm& dc, int salt) {
  const std::size_t n = 1000 + static_cast<std::size_t>(salt);
  for (Op op : {Op::Sum, Op::Max, Op::Min}) {
    auto host = rank_values<T>(comm.rank(), n, salt);
    DeviceVector<T> dev(host);
    dc.allreduce(dev.get(), n, op);
    comm.allreduce(host.data(), n, op);
    EXPECT_EQ(dev.host(), host) << transport_name(dc.transport()) << " allreduce op " << static_cast<int>(op);
  }
  {
    const auto mine = rank_values<T>(comm.rank(), n, salt + 1);
    DeviceVector<T> send(mine), recv(n * static_cast<std::size_t>(comm.size()));
    dc.allgather(send.get(), n, recv.get());
    EXPECT_EQ(recv.host(), comm.allgatherv(mine)) << transport_name(dc.transport()) << " allgather";
  }
  for (int root = 0; root < comm.size(); ++root) {
    auto host = rank_values<T>(comm.rank(), n, salt + 2);
    DeviceVector<T> dev(host);
    dc.broadcast(dev.get(), n, root);
    comm.bcast(host.data(), n, root);
    EXPECT_EQ(dev.host(), host) << transport_name(dc.transport()) << " broadcast from " << root;
  }
  // Empty collectives return at once.
  dc.allreduce(static_cast<T*>(nullptr), 0, Op::Sum);
}

// allreduce_half_sum against Comm::allreduce_half_sum on a host copy. Up to two ranks each
// element's sum is one combine, rounded to half (values with 11 significant bits at different
// scales, so the sums round); from three ranks NCCL may associate the combines otherwise than MPI,
// so the values are multiples of 1/64 below 8, whose sums are exact in any order.
void check_half_sum(const Comm& comm, DeviceComm& dc) {
  const std::size_t n = 1003;
  std::vector<std::uint16_t> host(n);
  for (std::size_t i = 0; i < n; ++i) {
    const double x = comm.size() <= 2 ? (1.0 + static_cast<double>((i * 37 + static_cast<std::size_t>(comm.rank()) * 11) % 1024) / 1024.0) *
                                            (static_cast<double>(1 << (i % 9)) / (comm.rank() == 0 ? 1.0 : 256.0)) * (i % 3 == 0 ? -1.0 : 1.0)
                                      : static_cast<double>((i + static_cast<std::size_t>(comm.rank()) * 5) % 512) / 64.0;
    host[i] = half_from_double(x);
  }
  DeviceVector<std::uint16_t> dev(host);
  dc.allreduce_half_sum(dev.get(), n);
  comm.allreduce_half_sum(host.data(), n);
  EXPECT_EQ(dev.host(), host) << transport_name(dc.transport()) << " allreduce_half_sum";
}

void check_all_types(const Comm& comm, DeviceTransport t) {
  DeviceComm dc(comm, t);
  EXPECT_EQ(dc.transport(), t);
  EXPECT_GE(dc.device(), 0);
  check_transport<double>(comm, dc, 0);
  check_transport<float>(comm, dc, 1);
  check_transport<std::int32_t>(comm, dc, 2);
  check_half_sum(comm, dc);
}

}  // namespace

TEST(DeviceComm, NcclMatchesHostComm) {
  const Comm comm;
  SKIP_WITHOUT_DEVICE_ON_ANY_RANK(comm);
  check_all_types(comm, DeviceTransport::Nccl);
}

TEST(DeviceComm, StagedMatchesHostComm) {
  const Comm comm;
  SKIP_WITHOUT_DEVICE_ON_ANY_RANK(comm);
  check_all_types(comm, DeviceTransport::Staged);
}

TEST(DeviceComm, MpiMatchesHostCommOrIsRefused) {
  const Comm comm;
  SKIP_WITHOUT_DEVICE_ON_ANY_RANK(comm);
  if (comm.allreduce(mpi_is_cuda_aware() ? 1 : 0, Op::Min) == 1) {
    check_all_types(comm, DeviceTransport::Mpi);
  } else {
    // Not CUDA-aware (the Open MPI of Debian): refused on every rank, before any collective.
    try {
      DeviceComm dc(comm, DeviceTransport::Mpi);
      ADD_FAILURE() << "transport mpi accepted by an MPI that is not CUDA-aware";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find("CUDA-aware"), std::string::npos) << e.what();
    }
  }
}

TEST(DeviceComm, AutoResolvesToNcclWithADevice) {
  const Comm comm;
  SKIP_WITHOUT_DEVICE_ON_ANY_RANK(comm);
  EXPECT_EQ(resolve_device_collectives(comm, "auto"), DeviceTransport::Nccl);
  EXPECT_GE(select_local_device(comm), 0);
}

// --- transport resolution: no device needed ---------------------------------------------------

TEST(DeviceTransport, AutoPicksNcclWithNcclAndADeviceElseStaged) {
  EXPECT_EQ(resolve_device_transport("auto", {true, 1, false}), DeviceTransport::Nccl);
  EXPECT_EQ(resolve_device_transport("auto", {true, 0, true}), DeviceTransport::Staged);
  EXPECT_EQ(resolve_device_transport("auto", {false, 4, true}), DeviceTransport::Staged);
  EXPECT_EQ(resolve_device_transport("staged", {false, 0, false}), DeviceTransport::Staged);
}

TEST(DeviceTransport, ExplicitChoicesNeedWhatTheyUse) {
  EXPECT_EQ(resolve_device_transport("nccl", {true, 2, false}), DeviceTransport::Nccl);
  EXPECT_THROW(resolve_device_transport("nccl", {true, 0, false}), std::invalid_argument);
  EXPECT_THROW(resolve_device_transport("nccl", {false, 2, false}), std::invalid_argument);
  EXPECT_EQ(resolve_device_transport("mpi", {false, 1, true}), DeviceTransport::Mpi);
  try {
    resolve_device_transport("mpi", {true, 1, false});
    ADD_FAILURE() << "mpi accepted without a CUDA-aware MPI";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("not CUDA-aware"), std::string::npos) << e.what();
  }
  EXPECT_THROW(resolve_device_transport("mpi", {true, 0, true}), std::invalid_argument);
  EXPECT_THROW(resolve_device_transport("gloo", {true, 1, true}), std::invalid_argument);
  EXPECT_STREQ(transport_name(DeviceTransport::Nccl), "nccl");
  EXPECT_STREQ(transport_name(DeviceTransport::Mpi), "mpi");
  EXPECT_STREQ(transport_name(DeviceTransport::Staged), "staged");
}

// Here (any machine): what this machine resolves to agrees with the pure rules.
TEST(DeviceTransport, ThisMachineResolvesByTheRules) {
  const Comm comm;
  const DeviceEnvironment env = device_environment(comm);
  EXPECT_TRUE(env.nccl_built);
  EXPECT_EQ(resolve_device_collectives(comm, "auto"), env.device_count > 0 ? DeviceTransport::Nccl : DeviceTransport::Staged);
  EXPECT_EQ(env.mpi_cuda_aware, mpi_is_cuda_aware());
}
