#include "apps/ksvd/methods.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>

#include "apps/ksvd/exact_scalapack.hpp"
#include "apps/ksvd/tsqr.hpp"
#include "kernels/counter_rng.hpp"
#include "kernels/linalg/host_backend.hpp"

namespace saddle::apps::ksvd {
namespace {

// The `count` smallest of n keys drawn from the stream `purpose`, in increasing index order.
std::vector<std::int64_t> sample_indices(std::uint64_t seed, const char* purpose, std::int64_t n, std::int64_t count) {
  const kernels::CounterRng rng(seed, purpose);
  std::vector<std::int64_t> idx(static_cast<std::size_t>(n));
  std::iota(idx.begin(), idx.end(), 0);
  if (count >= n) return idx;
  std::vector<double> key(idx.size());
  for (std::int64_t i = 0; i < n; ++i) key[i] = rng.uniform(static_cast<std::uint64_t>(i), 0);
  std::nth_element(idx.begin(), idx.begin() + count, idx.end(), [&](std::int64_t a, std::int64_t b) {
    return key[a] < key[b] || (key[a] == key[b] && a < b);
  });
  idx.resize(static_cast<std::size_t>(count));
  std::sort(idx.begin(), idx.end());
  return idx;
}

// The first s columns of a (rows x ld, row-major).
std::vector<double> leading_columns(const double* a, std::int64_t rows, std::int64_t ld, std::int64_t s) {
  std::vector<double> out(static_cast<std::size_t>(rows * s));
  for (std::int64_t i = 0; i < rows; ++i) std::copy(a + i * ld, a + i * ld + s, out.begin() + i * s);
  return out;
}

}  // namespace

Method parse_method(const std::string& name) {
  if (name == "exact") return Method::Exact;
  if (name == "randomized") return Method::Randomized;
  if (name == "krylov") return Method::Krylov;
  if (name == "nystrom") return Method::Nystrom;
  throw std::invalid_argument("ksvd: unknown method '" + name + "'");
}

Triplets exact_svd(KernelOperator& op, const engine::Comm& comm, std::int64_t s) {
  const std::int64_t nl = op.local_rows(), n = op.n(), m = op.m();
  std::vector<double> G(static_cast<std::size_t>(nl * m));
  op.block(nullptr, nullptr, G.data());
  if (op.centered())
    for (std::int64_t i = 0; i < nl; ++i)
      for (std::int64_t j = 0; j < m; ++j) G[i * m + j] += -op.row_means()[i] - op.col_means()[j] + op.grand_mean();
  if (comm.size() > 1) return scalapack_svd(G, n, m, s, comm, op.symmetrized());
  if (op.symmetrized())  // (G_c + G_cᵀ)/2 = the centred (G + Gᵀ)/2 (n = m)
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t j = i + 1; j < m; ++j) G[i * m + j] = G[j * m + i] = 0.5 * (G[i * m + j] + G[j * m + i]);
  // One rank: LAPACK gesdd (divide and conquer) on the whole G, with the BLAS threads it has.
  const std::int64_t r = std::min(n, m);
  std::vector<double> sv(static_cast<std::size_t>(r)), u(static_cast<std::size_t>(n * r)), vt(static_cast<std::size_t>(r * m));
  op.linalg().svd(n, m, G.data(), sv.data(), u.data(), vt.data());
  Triplets t;
  t.U = leading_columns(u.data(), n, r, s);
  t.V.resize(static_cast<std::size_t>(m * s));
  for (std::int64_t j = 0; j < m; ++j)
    for (std::int64_t l = 0; l < s; ++l) t.V[j * s + l] = vt[l * m + j];
  t.sigma.assign(sv.begin(), sv.begin() + s);
  return t;
}

void randomized_sketch(KernelOperator& op, const engine::Comm& comm, std::uint64_t seed, std::int64_t k, std::vector<double>& Q) {
  const std::int64_t nl = op.local_rows(), m = op.m();
  const kernels::CounterRng rng(seed, "ksvd_omega");
  std::vector<double> omega(static_cast<std::size_t>(m * k));
  for (std::int64_t j = 0; j < m; ++j)
    for (std::int64_t c = 0; c < k; ++c) omega[j * k + c] = rng.normal(static_cast<std::uint64_t>(j), static_cast<std::uint32_t>(c));
  Q.assign(static_cast<std::size_t>(nl * k), 0.0);
  op.apply(omega.data(), k, Q.data(), nullptr, 0, nullptr);
  std::vector<double> R;
  tsqr(comm, op.linalg(), nl, k, Q.data(), R);
}

RitzStep randomized_iterate(KernelOperator& op, const engine::Comm& comm, std::int64_t k, std::int64_t s, std::vector<double>& Q,
                            double stop_below) {
  const std::int64_t nl = op.local_rows(), m = op.m();
  std::vector<double> Bt(static_cast<std::size_t>(m * k)), Vb(static_cast<std::size_t>(m * k)), Ut(static_cast<std::size_t>(k * k)),
      sv(static_cast<std::size_t>(k));
  op.apply(nullptr, 0, nullptr, Q.data(), k, Bt.data());
  op.linalg().svd(m, k, Bt.data(), sv.data(), Vb.data(), Ut.data());
  std::vector<double> U(static_cast<std::size_t>(nl * k)), Y(static_cast<std::size_t>(nl * k), 0.0);
  op.linalg().gemm(false, true, nl, k, k, 1.0, Q.data(), k, Ut.data(), k, 0.0, U.data(), k);
  op.apply(Vb.data(), k, Y.data(), nullptr, 0, nullptr);
  std::vector<double> r(static_cast<std::size_t>(s), 0.0);
  for (std::int64_t i = 0; i < nl; ++i)
    for (std::int64_t l = 0; l < s; ++l) {
      const double e = Y[i * k + l] - sv[l] * U[i * k + l];
      r[l] += e * e;
    }
  comm.allreduce(r, engine::Op::Sum);
  RitzStep out;
  for (std::int64_t l = 0; l < s; ++l) out.residual = std::max(out.residual, relative_residual(std::sqrt(r[l]), sv[l], sv[0]));
  Triplets& t = out.ritz;
  t.U = leading_columns(U.data(), nl, k, s);
  t.V = leading_columns(Vb.data(), m, k, s);
  t.sigma.assign(sv.begin(), sv.begin() + s);
  if (!(out.residual <= stop_below)) {
    out.advanced = true;
    std::vector<double> R;
    tsqr(comm, op.linalg(), nl, k, Y.data(), R);
    Q = std::move(Y);
  }
  return out;
}

// C = G(:, S_c), R = G(S_r, :), core G(S_r, S_c) = Ũ Σ̃ Ṽᵀ; U ∝ C Ṽ Σ̃⁻¹, V ∝ Rᵀ Ũ Σ̃⁻¹ (columns
// normalised), σ = √(nm / ñm̃) σ̃. Centring uses the means over the samples (the exact double
// centring when every row and column is sampled).
Triplets nystrom_svd(KernelOperator& op, const engine::Comm& comm, const engine::RowRange& rows, std::int64_t s,
                     std::uint64_t seed, std::int64_t sample_rows, std::int64_t sample_cols) {
  const std::int64_t nl = op.local_rows(), n = op.n(), m = op.m();
  const auto Sr = sample_indices(seed, "ksvd_nystrom_rows", n, sample_rows);
  const auto Sc = sample_indices(seed, "ksvd_nystrom_cols", m, sample_cols);
  const auto nr = static_cast<std::int64_t>(Sr.size()), nc = static_cast<std::int64_t>(Sc.size());
  std::vector<std::int64_t> mine;  // local indices of this rank's sampled rows
  for (auto i : Sr)
    if (i >= rows.begin && i < rows.end) mine.push_back(i - rows.begin);
  const auto nm = static_cast<std::int64_t>(mine.size());
  const std::int64_t first = comm.exscan_sum(nm);
  std::vector<double> C(static_cast<std::size_t>(nl * nc)), R(static_cast<std::size_t>(nm * m));
  op.block(nullptr, &Sc, C.data());
  op.block(&mine, nullptr, R.data());
  if (op.centered()) {
    std::vector<double> a(static_cast<std::size_t>(nl), 0.0), cm(static_cast<std::size_t>(m), 0.0);
    for (std::int64_t i = 0; i < nl; ++i) {
      for (std::int64_t j = 0; j < nc; ++j) a[i] += C[i * nc + j];
      a[i] /= static_cast<double>(nc);
    }
    for (std::int64_t i = 0; i < nm; ++i)
      for (std::int64_t j = 0; j < m; ++j) cm[j] += R[i * m + j];
    comm.allreduce(cm, engine::Op::Sum);
    for (double& v : cm) v /= static_cast<double>(nr);
    double ga = 0;
    for (auto i : mine) ga += a[i];
    const double g = comm.allreduce(ga, engine::Op::Sum) / static_cast<double>(nr);
    for (std::int64_t i = 0; i < nl; ++i)
      for (std::int64_t j = 0; j < nc; ++j) C[i * nc + j] += -a[i] - cm[Sc[j]] + g;
    for (std::int64_t i = 0; i < nm; ++i)
      for (std::int64_t j = 0; j < m; ++j) R[i * m + j] += -a[mine[i]] - cm[j] + g;
  }
  std::vector<double> core_local(static_cast<std::size_t>(nm * nc));
  for (std::int64_t i = 0; i < nm; ++i) std::copy(C.begin() + mine[i] * nc, C.begin() + (mine[i] + 1) * nc, core_local.begin() + i * nc);
  auto core = comm.allgatherv(core_local);
  const std::int64_t r = std::min(nr, nc);
  std::vector<double> sc(static_cast<std::size_t>(r)), uc(static_cast<std::size_t>(nr * r)), vtc(static_cast<std::size_t>(r * nc));
  op.linalg().svd(nr, nc, core.data(), sc.data(), uc.data(), vtc.data());
  // U = C Ṽ_s Σ̃⁻¹ and V = Rᵀ Ũ_s Σ̃⁻¹ (this rank's sampled rows), then unit columns.
  std::vector<double> Vt_s(static_cast<std::size_t>(nc * s)), Us(static_cast<std::size_t>(nm * s));
  for (std::int64_t j = 0; j < nc; ++j)
    for (std::int64_t l = 0; l < s; ++l) Vt_s[j * s + l] = vtc[l * nc + j] / sc[l];
  for (std::int64_t i = 0; i < nm; ++i)
    for (std::int64_t l = 0; l < s; ++l) Us[i * s + l] = uc[(first + i) * r + l] / sc[l];
  Triplets t;
  std::vector<double>& U = t.U;
  std::vector<double>& V = t.V;
  U.assign(static_cast<std::size_t>(nl * s), 0.0);
  V.assign(static_cast<std::size_t>(m * s), 0.0);
  op.linalg().gemm(false, false, nl, s, nc, 1.0, C.data(), nc, Vt_s.data(), s, 0.0, U.data(), s);
  op.linalg().gemm(true, false, m, s, nm, 1.0, R.data(), m, Us.data(), s, 0.0, V.data(), s);
  comm.allreduce(V, engine::Op::Sum);
  std::vector<double> un(static_cast<std::size_t>(s), 0.0), vn(static_cast<std::size_t>(s), 0.0);
  for (std::int64_t i = 0; i < nl; ++i)
    for (std::int64_t l = 0; l < s; ++l) un[l] += U[i * s + l] * U[i * s + l];
  comm.allreduce(un, engine::Op::Sum);
  for (std::int64_t j = 0; j < m; ++j)
    for (std::int64_t l = 0; l < s; ++l) vn[l] += V[j * s + l] * V[j * s + l];
  for (std::int64_t l = 0; l < s; ++l) {
    un[l] = un[l] > 0 ? 1.0 / std::sqrt(un[l]) : 0.0;
    vn[l] = vn[l] > 0 ? 1.0 / std::sqrt(vn[l]) : 0.0;
  }
  for (std::int64_t i = 0; i < nl; ++i)
    for (std::int64_t l = 0; l < s; ++l) U[i * s + l] *= un[l];
  for (std::int64_t j = 0; j < m; ++j)
    for (std::int64_t l = 0; l < s; ++l) V[j * s + l] *= vn[l];
  const double scale = std::sqrt(static_cast<double>(n) * static_cast<double>(m) / (static_cast<double>(nr) * static_cast<double>(nc)));
  t.sigma.resize(static_cast<std::size_t>(s));
  for (std::int64_t l = 0; l < s; ++l) t.sigma[l] = scale * sc[l];
  return t;
}

}  // namespace saddle::apps::ksvd
