// ksvd's kernel operator with its tiles on the default execution space (KernelConfig::device:
// views in Mem, transform_tile<Exec>, the backend of Exec) against the host path and against a
// dense reference formed entry by entry from block(): the products G A and Gᵀ B, centred, and
// symmetrised, and the out-of-sample product, for every kernel type. On a CPU build Exec is the
// host, so the two paths must give the same bits; on a GPU build they agree to rounding. Also the
// host path with its row tiles split into parts (KernelConfig::host_parts, what host threads do)
// against one part.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "apps/ksvd/data.hpp"
#include "apps/ksvd/kernel_operator.hpp"
#include "kernels/linalg/host_backend.hpp"
#include "kernels/spaces.hpp"

namespace ks = saddle::apps::ksvd;
namespace sk = saddle::kernels;

namespace {

std::vector<double> draw(std::size_t n, unsigned seed, bool positive) {
  std::mt19937_64 g(seed);
  std::normal_distribution<double> normal;
  std::uniform_real_distribution<double> uniform(0.1, 1.0);
  std::vector<double> v(n);
  for (auto& x : v) x = positive ? uniform(g) : normal(g);
  return v;
}

// Square points data, Z = X (so sne excludes j = i), on this one process.
ks::Data points(std::int64_t n, std::int64_t d, bool positive) {
  ks::Data data;
  data.kind = ks::Data::Kind::Points;
  data.n = data.m = n;
  data.d = d;
  data.same_set = true;
  data.rows = {0, n};
  data.X = draw(static_cast<std::size_t>(n * d), 7, positive);
  data.Z = data.X;
  return data;
}

double max_abs(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s = std::max(s, std::fabs(x));
  return s;
}

// max |a − b| / max |b|.
double relative_error(const std::vector<double>& a, const std::vector<double>& b) {
  double e = 0;
  for (std::size_t i = 0; i < a.size(); ++i) e = std::max(e, std::fabs(a[i] - b[i]));
  return e / std::max(max_abs(b), 1e-300);
}

std::int64_t differing_bits(const std::vector<double>& a, const std::vector<double>& b) {
  std::int64_t n = 0;
  for (std::size_t i = 0; i < a.size(); ++i) n += std::memcmp(&a[i], &b[i], sizeof(double)) != 0;
  return n;
}

// The operator's G (n x m) centred and/or symmetrised, from its uncentred entries.
std::vector<double> dense_reference(ks::KernelOperator& op, bool center, bool symmetrize) {
  const std::int64_t n = op.n(), m = op.m();
  std::vector<double> g(static_cast<std::size_t>(n * m));
  op.block(nullptr, nullptr, g.data());
  if (center) {
    std::vector<double> r(n, 0.0), c(m, 0.0);
    double all = 0;
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t j = 0; j < m; ++j) {
        r[i] += g[i * m + j] / m;
        c[j] += g[i * m + j] / n;
        all += g[i * m + j];
      }
    all /= static_cast<double>(n) * m;
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t j = 0; j < m; ++j) g[i * m + j] += -r[i] - c[j] + all;
  }
  if (symmetrize) {
    std::vector<double> s(g.size());
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t j = 0; j < n; ++j) s[i * n + j] = 0.5 * (g[i * n + j] + g[j * n + i]);
    g = std::move(s);
  }
  return g;
}

struct Products {
  std::vector<double> row, col, test;
};

Products products(ks::KernelOperator& op, const ks::RowSet* test, const std::vector<double>& A, std::int64_t ka,
                  const std::vector<double>& B, std::int64_t kb) {
  Products p;
  p.row.resize(static_cast<std::size_t>(op.n() * ka));
  p.col.resize(static_cast<std::size_t>(op.m() * kb));
  op.apply(A.data(), ka, p.row.data(), B.data(), kb, p.col.data());
  if (test) {
    p.test.resize(static_cast<std::size_t>(test->count * ka));
    op.apply_test(*test, A.data(), ka, p.test.data());
  }
  return p;
}

void check_type(const std::string& type, bool center, bool symmetrize) {
  SCOPED_TRACE("kernel " + type + (center ? ", centred" : "") + (symmetrize ? ", symmetrised" : ""));
  const std::int64_t n = 45, d = 3, ka = 3, kb = 2, n_test = 6;
  const bool positive = type == "kl";
  const ks::Data data = points(n, d, positive);
  // Tiles of 8 x 16: several per side, the last ones partial.
  ks::KernelConfig config{type, 1.3, 9.0, 0.8, 8, 16, false};
  saddle::engine::Comm comm;
  const auto& la = sk::linalg::host_backend();
  ks::KernelOperator host(data, config, la, comm);
  config.device = true;
  ks::KernelOperator device(data, config, la, comm);
  EXPECT_EQ(host.tile_space(), std::string(sk::HostExec::name()));
  EXPECT_EQ(device.tile_space(), std::string(sk::Exec::name()));
  for (ks::KernelOperator* op : {&host, &device}) {
    if (center) op->enable_centering();
    if (symmetrize) op->enable_symmetrize();
  }
  const auto A = draw(static_cast<std::size_t>(n * ka), 11, false), B = draw(static_cast<std::size_t>(n * kb), 12, false);
  // Out-of-sample rows (not with symmetrisation, which has none): points near the training ones.
  const auto xt = draw(static_cast<std::size_t>(n_test * d), 13, positive);
  ks::RowSet test_host, test_device;
  if (!symmetrize) {
    test_host = host.make_test_rows(xt, 0);
    test_device = device.make_test_rows(xt, 0);
  }
  const Products h = products(host, symmetrize ? nullptr : &test_host, A, ka, B, kb);
  const Products g = products(device, symmetrize ? nullptr : &test_device, A, ka, B, kb);
  EXPECT_EQ(host.evaluations(), device.evaluations());

  // The dense reference: G A and Gᵀ B.
  const auto G = dense_reference(host, center, symmetrize);
  std::vector<double> row(static_cast<std::size_t>(n * ka), 0.0), col(static_cast<std::size_t>(n * kb), 0.0);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < n; ++j) {
      for (std::int64_t c = 0; c < ka; ++c) row[i * ka + c] += G[i * n + j] * A[j * ka + c];
      for (std::int64_t c = 0; c < kb; ++c) col[j * kb + c] += G[i * n + j] * B[i * kb + c];
    }
  EXPECT_GT(max_abs(row), 1e-3);
  EXPECT_LT(relative_error(h.row, row), 1e-12);
  EXPECT_LT(relative_error(h.col, col), 1e-12);
  EXPECT_LT(relative_error(g.row, row), 1e-12);
  EXPECT_LT(relative_error(g.col, col), 1e-12);
  if (!symmetrize) {
    // κ(x_test, z) from an operator whose rows are the test points (no self-exclusion: other
    // points), centred with the training means: k(x) − c − μ(x) + g.
    ks::Data tdata = data;
    tdata.n = n_test;
    tdata.rows = {0, n_test};
    tdata.X = xt;
    tdata.same_set = false;
    config.device = false;
    ks::KernelOperator top(tdata, config, la, comm);
    std::vector<double> kt(static_cast<std::size_t>(n_test * n));
    top.block(nullptr, nullptr, kt.data());
    std::vector<double> ref(static_cast<std::size_t>(n_test * ka), 0.0);
    for (std::int64_t i = 0; i < n_test; ++i) {
      double mu = 0;
      for (std::int64_t j = 0; j < n; ++j) mu += kt[i * n + j] / n;
      for (std::int64_t j = 0; j < n; ++j) {
        const double k = center ? kt[i * n + j] - host.col_means()[j] - mu + host.grand_mean() : kt[i * n + j];
        for (std::int64_t c = 0; c < ka; ++c) ref[i * ka + c] += k * A[j * ka + c];
      }
    }
    EXPECT_LT(relative_error(h.test, ref), 1e-12);
    EXPECT_LT(relative_error(g.test, ref), 1e-12);
  }
  if constexpr (sk::kExecIsHost) {
    // One code path, one backend: the same bits.
    EXPECT_EQ(differing_bits(g.row, h.row), 0);
    EXPECT_EQ(differing_bits(g.col, h.col), 0);
    EXPECT_EQ(differing_bits(g.test, h.test), 0);
    EXPECT_EQ(differing_bits(device.row_means(), host.row_means()), 0);
    EXPECT_EQ(differing_bits(device.col_means(), host.col_means()), 0);
  }
}

}  // namespace

TEST(KsvdDevice, ProductsOnTheDefaultExecutionSpaceMatchHostAndDense) {
  ASSERT_TRUE(ks::KernelOperator::device_available());
  for (const std::string type : {"linear", "rbf", "sne", "kl"})
    for (const bool center : {false, true})
      for (const bool symmetrize : {false, true}) check_type(type, center, symmetrize);
}

// The row tiles split into 2, 4 and 6 parts (6 row tiles of 8 rows; on a Serial build the parts
// run one after the other, on OpenMP over the threads): the row side G A is the same bits as with
// one part (each row's tiles are evaluated whole by one part), the column side Gᵀ B, summed over
// the parts' partial sums, agrees to rounding; both match the dense reference.
TEST(KsvdDevice, RowTilesSplitIntoPartsMatchOnePart) {
  const std::int64_t n = 45, d = 3, ka = 3, kb = 2;
  for (const std::string type : {"linear", "rbf", "sne", "kl"})
    for (const bool center : {false, true}) {
      SCOPED_TRACE("kernel " + type + (center ? ", centred" : ""));
      const ks::Data data = points(n, d, type == "kl");
      ks::KernelConfig config{type, 1.3, 9.0, 0.8, 8, 16, false};
      saddle::engine::Comm comm;
      const auto& la = sk::linalg::host_backend();
      config.host_parts = 1;
      ks::KernelOperator one(data, config, la, comm);
      if (center) one.enable_centering();
      const auto A = draw(static_cast<std::size_t>(n * ka), 11, false), B = draw(static_cast<std::size_t>(n * kb), 12, false);
      const Products ref = products(one, nullptr, A, ka, B, kb);
      const auto G = dense_reference(one, center, false);
      std::vector<double> col(static_cast<std::size_t>(n * kb), 0.0);
      for (std::int64_t i = 0; i < n; ++i)
        for (std::int64_t j = 0; j < n; ++j)
          for (std::int64_t c = 0; c < kb; ++c) col[j * kb + c] += G[i * n + j] * B[i * kb + c];
      EXPECT_LT(relative_error(ref.col, col), 1e-12);
      for (const int parts : {2, 4, 6}) {
        SCOPED_TRACE("parts " + std::to_string(parts));
        config.host_parts = parts;
        ks::KernelOperator split(data, config, la, comm);
        if (center) split.enable_centering();
        const Products p = products(split, nullptr, A, ka, B, kb);
        EXPECT_LT(relative_error(p.col, col), 1e-12);
        EXPECT_LT(relative_error(p.col, ref.col), 1e-14);
        if (!center) EXPECT_EQ(differing_bits(p.row, ref.row), 0);  // centring's means come from a column sum
        else EXPECT_LT(relative_error(p.row, ref.row), 1e-14);
      }
    }
}
