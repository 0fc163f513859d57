#include <gtest/gtest.h>

#include <cstring>
#include <numeric>

#include "engine/comm.hpp"
#include "engine/error.hpp"
#include "kernels/spaces.hpp"

using namespace saddle::engine;

TEST(Comm, RankSizeAndBroadcast) {
  const Comm c;
  int world = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &world);
  EXPECT_EQ(c.size(), world);
  std::string s = c.is_root() ? "hello from root" : "";
  c.bcast(s);
  EXPECT_EQ(s, "hello from root");
  std::vector<double> v;
  if (c.rank() == c.size() - 1) v = {1.5, 2.5, 3.5};
  c.bcast(v, c.size() - 1);
  EXPECT_EQ(v, (std::vector<double>{1.5, 2.5, 3.5}));
  EXPECT_EQ(c.bcast_value(c.rank() + 40, 0), 40);
}

TEST(Comm, AllreduceScalarsVectorsAndViews) {
  const Comm c;
  const int p = c.size(), r = c.rank();
  EXPECT_EQ(c.allreduce(std::int64_t{r + 1}, Op::Sum), std::int64_t{p} * (p + 1) / 2);
  EXPECT_EQ(c.allreduce(double(r), Op::Max), double(p - 1));
  EXPECT_EQ(c.allreduce(double(r), Op::Min), 0.0);
  std::vector<float> v = {float(r), 1.0f};
  c.allreduce(v, Op::Sum);
  EXPECT_EQ(v[0], float(p * (p - 1) / 2));
  EXPECT_EQ(v[1], float(p));
  Kokkos::View<double**, saddle::kernels::HostMem> m("m", 3, 4);
  Kokkos::deep_copy(m, double(r + 1));
  c.allreduce(m, Op::Max);
  EXPECT_EQ(m(2, 3), double(p));
  auto sub = Kokkos::subview(m, Kokkos::ALL, 1);  // strided: rejected, not silently wrong
  EXPECT_THROW(c.allreduce(sub, Op::Sum), std::invalid_argument);
}

TEST(Comm, ExscanGivesRowOffsets) {
  const Comm c;
  const std::int64_t off = c.exscan_sum(c.rank() + 1);
  EXPECT_EQ(off, std::int64_t{c.rank()} * (c.rank() + 1) / 2);
}

TEST(Comm, AllgathervOfUnevenBytePayloads) {
  const Comm c;
  std::vector<std::uint8_t> mine(static_cast<std::size_t>(c.rank() * 3), static_cast<std::uint8_t>(c.rank() + 1));
  std::vector<std::size_t> counts;
  const auto all = c.allgatherv(mine.data(), mine.size(), &counts);
  ASSERT_EQ(counts.size(), static_cast<std::size_t>(c.size()));
  std::size_t pos = 0;
  for (int q = 0; q < c.size(); ++q) {
    EXPECT_EQ(counts[q], static_cast<std::size_t>(3 * q));
    for (std::size_t k = 0; k < counts[q]; ++k) EXPECT_EQ(static_cast<int>(all[pos++]), q + 1);
  }
  EXPECT_EQ(pos, all.size());
  Kokkos::View<std::int32_t*, saddle::kernels::HostMem> view("v", 2);
  Kokkos::deep_copy(view, c.rank());
  const std::vector<std::int32_t> ints = c.allgatherv(view, &counts);
  ASSERT_EQ(ints.size(), static_cast<std::size_t>(2 * c.size()));
  EXPECT_EQ(counts, std::vector<std::size_t>(static_cast<std::size_t>(c.size()), 2));
  for (int q = 0; q < c.size(); ++q) EXPECT_EQ(ints[static_cast<std::size_t>(2 * q + 1)], q);
  const std::vector<double> uneven = c.allgatherv(std::vector<double>(static_cast<std::size_t>(c.rank()), 0.5 + c.rank()));
  ASSERT_EQ(uneven.size(), static_cast<std::size_t>(c.size() * (c.size() - 1) / 2));
  if (!uneven.empty()) {
    EXPECT_EQ(uneven.back(), 0.5 + (c.size() - 1));
  }
  EXPECT_EQ(c.allgather(c.rank() * 2), [&] {
    std::vector<int> e(static_cast<std::size_t>(c.size()));
    for (int q = 0; q < c.size(); ++q) e[q] = 2 * q;
    return e;
  }());
}

TEST(Comm, SendRecvRing) {
  const Comm c;
  const int p = c.size(), r = c.rank();
  if (p == 1) return;
  const double out[2] = {double(r), double(r) * 10};
  double in[2] = {-1, -1};
  if (r % 2 == 0) {
    c.send(out, 2, (r + 1) % p);
    c.recv(in, 2, (r + p - 1) % p);
  } else {
    c.recv(in, 2, (r + p - 1) % p);
    c.send(out, 2, (r + 1) % p);
  }
  EXPECT_EQ(in[0], double((r + p - 1) % p));
  EXPECT_EQ(in[1], 10.0 * ((r + p - 1) % p));
}

TEST(Comm, ProcessGridSplitsDataAndLayer) {
  const Comm c;
  const ProcessGrid flat = make_process_grid(c, 1);
  EXPECT_EQ(flat.data.size(), c.size());
  EXPECT_EQ(flat.layer.size(), 1);
  const ProcessGrid stages = make_process_grid(c, c.size());
  EXPECT_EQ(stages.data.size(), 1);
  EXPECT_EQ(stages.layer.size(), c.size());
  EXPECT_EQ(stages.layer_index(), c.rank());
  // Stage l of every replica sums to the same value over its data communicator.
  EXPECT_EQ(stages.layer.allreduce(1, Op::Sum), c.size());
  EXPECT_THROW(make_process_grid(c, c.size() + 1), InputError);
  EXPECT_THROW(make_process_grid(c, 0), InputError);
}

TEST(Comm, BlockRowsPartitionEveryRowOnce) {
  for (std::int64_t n : {0, 1, 7, 100}) {
    for (int parts : {1, 2, 3, 5}) {
      std::int64_t expect = 0;
      for (int q = 0; q < parts; ++q) {
        const RowRange r = block_rows(n, q, parts);
        EXPECT_EQ(r.begin, expect);
        EXPECT_LE(r.count(), n / parts + 1);
        EXPECT_GE(r.count(), n / parts);
        expect = r.end;
      }
      EXPECT_EQ(expect, n);
    }
  }
}

TEST(Comm, AgreeReportsTheLowestFailingRankOnEveryRank) {
  const Comm c;
  EXPECT_NO_THROW(c.agree([] {}));
  const int bad = c.size() - 1;
  try {
    c.agree([&] {
      if (c.rank() == bad) throw InputError("row 12 of /X is NaN (rank " + std::to_string(bad) + ")");
    });
    ADD_FAILURE() << "agree did not throw";
  } catch (const CollectiveError& e) {
    EXPECT_EQ(e.origin_rank(), bad);
    EXPECT_EQ(e.exit_code(), kExitBadInput);
    EXPECT_EQ(std::string(e.what()), "row 12 of /X is NaN (rank " + std::to_string(bad) + ")");
  }
}
