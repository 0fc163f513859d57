#include "apps/qoda/problem.hpp"

#include <cmath>
#include <stdexcept>

#include "engine/error.hpp"
#include "engine/input_file.hpp"
#include "kernels/counter_rng.hpp"
#include "kernels/linalg/ops.hpp"

namespace saddle::apps::qoda {

using engine::Config;
namespace linalg = kernels::linalg;

void Problem::apply(const double* z, double* out) const {
  for (std::int64_t i = 0; i < n; ++i) out[i] = q[static_cast<std::size_t>(i)];
  linalg::host_backend().gemv(n, n, 1.0, M.data(), n, z, 1.0, out);
}

namespace {

// n values log-spaced from 1/condition up to 1.
std::vector<double> log_spectrum(std::int64_t n, double condition) {
  std::vector<double> v(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i)
    v[static_cast<std::size_t>(i)] = n == 1 ? 1.0 : std::pow(condition, -static_cast<double>(i) / static_cast<double>(n - 1));
  return v;
}

// The block sizes of the deck (default: one block), checked against n.
std::vector<std::int64_t> block_sizes(const Config& c, std::int64_t n) {
  if (!c.has("qoda.problem.blocks")) return {n};
  const auto& b = c.int_list("qoda.problem.blocks");
  std::int64_t sum = 0;
  for (auto v : b) sum += v;
  if (sum != n)
    throw c.error("qoda.problem.blocks", "block sizes sum to " + std::to_string(sum) + ", the problem has dimension " + std::to_string(n));
  return b;
}

// One scale per block: the deck's list, one value for all, or [min, max] log-spaced.
std::vector<double> block_scales(const Config& c, std::size_t blocks) {
  const auto& s = c.real_list("qoda.problem.block_scales");
  if (s.size() == blocks) return s;
  if (s.size() == 1) return std::vector<double>(blocks, s[0]);
  if (s.size() == 2) {
    std::vector<double> out(blocks);
    for (std::size_t m = 0; m < blocks; ++m)
      out[m] = blocks == 1 ? s[1] : s[1] * std::pow(s[0] / s[1], static_cast<double>(m) / static_cast<double>(blocks - 1));
    return out;
  }
  throw c.error("qoda.problem.block_scales", "expected one value, [min, max] or one value per block (" + std::to_string(blocks) + ")");
}

// The documented bound on the problem dimension (the solver holds M dense, n x n).
constexpr std::int64_t kMaxDimension = 20000;

void read_problem(const Config& c, Problem& p) {
  const engine::InputFile f(c, "qoda.problem.path");
  using Values = engine::InputFile::Values;
  // Shapes first: nothing is read for a problem that is refused.
  // Unsigned: the rows and columns of a crafted /A may each be near 2^63.
  auto check_dimension = [&](const std::string& name, std::uint64_t n) {
    if (n > static_cast<std::uint64_t>(kMaxDimension))
      throw f.error(name, "gives the problem dimension " + std::to_string(n) + ", outside [1, " + std::to_string(kMaxDimension) + "]");
  };
  if (c.string("qoda.problem.type") == "bilinear") {
    const engine::Shape da = f.shape("A");
    f.expect_matrix("A", da);
    check_dimension("A", static_cast<std::uint64_t>(da[0]) + static_cast<std::uint64_t>(da[1]));
    f.expect_shape("b", f.shape("b"), {da[0]}, " (the rows of /A)");
    f.expect_shape("c", f.shape("c"), {da[1]}, " (the columns of /A)");
    const auto A = f.read<double>("A", Values::Finite).values;
    const auto b = f.read<double>("b", Values::Finite).values, cc = f.read<double>("c", Values::Finite).values;
    const std::int64_t dx = da[0], dy = da[1];
    p.n = dx + dy;
    p.dim_x = dx;
    p.M.assign(static_cast<std::size_t>(p.n * p.n), 0.0);
    for (std::int64_t i = 0; i < dx; ++i)
      for (std::int64_t j = 0; j < dy; ++j) {
        const double a = A[static_cast<std::size_t>(i * dy + j)];
        p.M[static_cast<std::size_t>(i * p.n + dx + j)] = a;
        p.M[static_cast<std::size_t>((dx + j) * p.n + i)] = -a;
      }
    p.q = b;
    for (double v : cc) p.q.push_back(-v);
    return;
  }
  const engine::Shape dm = f.shape("M");
  if (dm.size() != 2 || dm[0] != dm[1] || dm[0] == 0) throw f.error("M", "must be a non-empty square matrix, found " + engine::shape_text(dm));
  check_dimension("M", static_cast<std::uint64_t>(dm[0]));
  f.expect_shape("q", f.shape("q"), {dm[0]}, " (the rows of /M)");
  p.M = f.read<double>("M", Values::Finite).values;
  p.n = dm[0];
  p.q = f.read<double>("q", Values::Finite).values;
  // Monotone: the symmetric part must be positive semidefinite. It is formed divided by the
  // largest |entry|: finite entries near 1e308 would otherwise overflow M + M' to infinities, on
  // which LAPACK's dgeev writes past its arrays.
  double scale = 0;
  for (double v : p.M) scale = std::max(scale, std::fabs(v));
  if (scale == 0) return;
  std::vector<double> S(p.M.size());
  for (std::int64_t i = 0; i < p.n; ++i)
    for (std::int64_t j = 0; j < p.n; ++j)
      S[static_cast<std::size_t>(i * p.n + j)] =
          0.5 * (p.M[static_cast<std::size_t>(i * p.n + j)] / scale) + 0.5 * (p.M[static_cast<std::size_t>(j * p.n + i)] / scale);
  double lowest = INFINITY;
  for (const auto& e : linalg::eigenvalues(p.n, S)) lowest = std::min(lowest, e.real() * scale);
  if (lowest < -1e-10 * std::max(1.0, scale) * static_cast<double>(p.n))
    throw f.error("M", "is not monotone (M + M' has the eigenvalue " + std::to_string(2 * lowest) + ")");
}

}  // namespace

Problem make_problem(const Config& c, std::uint64_t seed) {
  Problem p;
  const bool bilinear = c.string("qoda.problem.type") == "bilinear";
  if (c.has("qoda.problem.path")) {
    read_problem(c, p);
    p.blocks = block_sizes(c, p.n);
  } else {
    const double cond = c.real("qoda.problem.condition");
    std::vector<double> z_star;
    if (bilinear) {
      const std::int64_t d = c.integer("qoda.problem.dim_x");
      p.n = 2 * d;
      p.dim_x = d;
    } else {
      p.n = c.integer("qoda.problem.dim");
    }
    p.blocks = block_sizes(c, p.n);
    const auto scales = block_scales(c, p.blocks.size());
    std::vector<double> D;
    for (std::size_t m = 0; m < p.blocks.size(); ++m) D.insert(D.end(), static_cast<std::size_t>(p.blocks[m]), std::sqrt(scales[m]));
    std::vector<double> M0(static_cast<std::size_t>(p.n * p.n), 0.0);
    if (bilinear) {
      const std::int64_t d = p.dim_x;
      const auto U = linalg::random_orthonormal(seed, "qoda_u", d), V = linalg::random_orthonormal(seed, "qoda_v", d);
      const auto A = linalg::compose_svd(U, d, log_spectrum(d, cond), V, d, d, d);
      for (std::int64_t i = 0; i < d; ++i)
        for (std::int64_t j = 0; j < d; ++j) {
          M0[static_cast<std::size_t>(i * p.n + d + j)] = A[static_cast<std::size_t>(i * d + j)];
          M0[static_cast<std::size_t>((d + j) * p.n + i)] = -A[static_cast<std::size_t>(i * d + j)];
        }
    } else {
      const std::int64_t n = p.n;
      const auto P = linalg::random_orthonormal(seed, "qoda_p", n), Q = linalg::random_orthonormal(seed, "qoda_q", n);
      M0 = linalg::compose_svd(P, n, log_spectrum(n, cond), P, n, n, n);
      // skew * Q J Q' with J = diag([[0, 1], [-1, 0]], ...): spectral norm exactly `skew`.
      const double skew = c.real("qoda.problem.skew");
      std::vector<double> QJ(static_cast<std::size_t>(n * n), 0.0);
      for (std::int64_t i = 0; i < n; ++i)
        for (std::int64_t k = 0; k + 1 < n; k += 2) {
          QJ[static_cast<std::size_t>(i * n + k)] = -skew * Q[static_cast<std::size_t>(i * n + k + 1)];
          QJ[static_cast<std::size_t>(i * n + k + 1)] = skew * Q[static_cast<std::size_t>(i * n + k)];
        }
      linalg::host_backend().gemm(false, true, n, n, n, 1.0, QJ.data(), n, Q.data(), n, 1.0, M0.data(), n);
    }
    p.M.resize(M0.size());
    for (std::int64_t i = 0; i < p.n; ++i)
      for (std::int64_t j = 0; j < p.n; ++j)
        p.M[static_cast<std::size_t>(i * p.n + j)] = D[static_cast<std::size_t>(i)] * M0[static_cast<std::size_t>(i * p.n + j)] * D[static_cast<std::size_t>(j)];
    const kernels::CounterRng rng(seed, "qoda_solution");
    for (std::int64_t i = 0; i < p.n; ++i) z_star.push_back(rng.normal(static_cast<std::uint64_t>(i), 0));
    p.q.assign(static_cast<std::size_t>(p.n), 0.0);
    for (std::int64_t i = 0; i < p.n; ++i) {
      double s = 0;
      for (std::int64_t j = 0; j < p.n; ++j) s += p.M[static_cast<std::size_t>(i * p.n + j)] * z_star[static_cast<std::size_t>(j)];
      p.q[static_cast<std::size_t>(i)] = -s;
    }
  }
  // The solution by LAPACK (independent of how q was built); none when M is singular.
  if (p.n <= 8192) {
    try {
      std::vector<double> rhs(p.q.size());
      for (std::size_t i = 0; i < rhs.size(); ++i) rhs[i] = -p.q[i];
      p.x_star = linalg::solve(p.n, p.M, rhs);
    } catch (const std::runtime_error&) {
      p.x_star.clear();
    }
  }
  return p;
}

}  // namespace saddle::apps::qoda
