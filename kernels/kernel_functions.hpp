#pragma once
// Kernel functions of the asymmetric kernel SVD (docs/algorithms.md section 1), evaluated as tiles:
// a tile of inner products T = X_b Z_bᵀ comes from one GEMM, and a Kokkos kernel turns it in
// place into kernel values κ(x_i, z_j):
//   linear  x·z
//   rbf     exp(−‖x − z‖² / 2σ²)
//   sne     exp(−β_i (‖x_i − z_j‖² − d_i)) / S_i, β_i = 1/2σ_i² set by bisection so that row i has
//           perplexity P (d_i: the row's smallest distance, a shift that cancels in the ratio);
//           j = i is excluded (value 0) when rows and columns are the same point set
//   kl      exp(−a KL(p‖q)) = exp(−a (Σ p log p − p·log q)): the GEMM runs on (p, log q)
// The tile lives where the backend that computed its GEMM keeps memory: the element-wise step
// runs on the matching execution space (transform_tile<Space>). No MPI.
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/host_loops.hpp"
#include "kernels/kokkos_compat.hpp"
#include "kernels/linalg/backend.hpp"
#include "kernels/spaces.hpp"

namespace saddle::kernels {

enum class KernelType { Linear, Rbf, Sne, Kl };

// exp(x) to about 1 ulp, written so that compilers vectorise it (no branches, no libm call but
// fma): x = n ln2 + r with |r| <= ln2/2, exp(r) by the degree-11 Chebyshev interpolant
// (relative error 4e-18 on that interval, so rounding dominates), 2^n assembled in the exponent
// bits of the rounding shifter. Arguments are clamped to [-708, 709]: below, the result is
// e^-708 ~ 3e-308 instead of a subnormal, which no kernel sum can tell apart from 0.
KOKKOS_INLINE_FUNCTION double fast_exp(double x) {
  constexpr double kLog2e = 1.4426950408889634074, kLn2Hi = 6.93147180369123816490e-01,
                   kLn2Lo = 1.90821492927058770002e-10, kShifter = 6755399441055744.0;  // 1.5*2^52
  x = x < -708.0 ? -708.0 : x;
  x = x > 709.0 ? 709.0 : x;
  const double t = x * kLog2e + kShifter;  // n in the low mantissa bits
  const double n = t - kShifter;
  const double r = kc::fma(-n, kLn2Lo, kc::fma(-n, kLn2Hi, x));
  double p = 2.5110037605963777712e-8;
  p = kc::fma(p, r, 2.7632639639041029749e-7);
  p = kc::fma(p, r, 2.7557240918578969823e-6);
  p = kc::fma(p, r, 0.000024801485482328492419);
  p = kc::fma(p, r, 0.00019841269890047113707);
  p = kc::fma(p, r, 0.0013888888952314774652);
  p = kc::fma(p, r, 0.0083333333333196006109);
  p = kc::fma(p, r, 0.041666666666488095495);
  p = kc::fma(p, r, 0.16666666666666680806);
  p = kc::fma(p, r, 0.50000000000000183855);
  p = kc::fma(p, r, 0.99999999999999999976);
  p = kc::fma(p, r, 0.99999999999999999693);
  const auto bits = static_cast<std::uint64_t>(kc::bit_cast<std::int64_t>(t) + 1023) << 52;  // the shifter's bits shift out
  return p * kc::bit_cast<double>(bits);
}

// Per-row and per-column constants of the element-wise step, for the rows and columns of a tile.
struct TileRows {
  const double* norm = nullptr;   // ‖x_i‖² (rbf, sne) or Σ p log p (kl)
  const double* beta = nullptr;   // sne: 1/2σ_i²
  const double* shift = nullptr;  // sne: smallest squared distance of the row
  const double* inv_sum = nullptr;  // sne: 1/S_i
  const std::int64_t* global = nullptr;  // sne self-exclusion: global row indices (nullptr: first_global + i)
  std::int64_t first_global = 0;
};
struct TileCols {
  const double* norm = nullptr;  // ‖z_j‖² (rbf, sne)
  std::int64_t first_global = 0;
  const std::int64_t* global = nullptr;
};

struct KernelSpec {
  KernelType type = KernelType::Rbf;
  double gamma = 0.5;        // rbf: 1/2σ²
  double a = 1.0;            // kl
  bool exclude_self = false;  // sne with Z = X
  bool prescaled = false;     // rbf: the GEMM already gave −γ‖x − z‖² (augmented coordinates)
};

// In place: tile (nr x nc, leading dimension ld) holds inner products on entry, kernel values
// on exit, one row per iteration of a parallel loop on `Space` (space_for: on a host space, a
// plain loop inside a parallel region, e.g. one part of ksvd's row tiles on host threads). Every pointer (the tile and the
// row and column constants) must be accessible from Space: HostExec (the default) for the host
// backend's tiles, Exec for a tile a device GEMM wrote into Mem.
template <class Space = HostExec>
void transform_tile(const KernelSpec& k, std::int64_t nr, std::int64_t nc, double* tile, std::int64_t ld,
                    const TileRows& rows, const TileCols& cols) {
  const std::int64_t work = nr * nc;
  switch (k.type) {
    case KernelType::Linear: return;
    case KernelType::Rbf: {
      if (k.prescaled) {
        space_for<Space>("ksvd::tile_rbf", nr, work, KOKKOS_LAMBDA(const std::int64_t i) {
          double* t = tile + i * ld;
          for (std::int64_t j = 0; j < nc; ++j) t[j] = fast_exp(t[j] < 0.0 ? t[j] : 0.0);
        });
        return;
      }
      const double g = k.gamma;
      const double *xn = rows.norm, *zn = cols.norm;
      space_for<Space>("ksvd::tile_rbf", nr, work, KOKKOS_LAMBDA(const std::int64_t i) {
        double* t = tile + i * ld;
        const double xi = xn[i];
        for (std::int64_t j = 0; j < nc; ++j) {
          const double d2 = xi + zn[j] - 2.0 * t[j];
          t[j] = fast_exp(-g * (d2 > 0.0 ? d2 : 0.0));
        }
      });
      return;
    }
    case KernelType::Sne: {
      const bool self = k.exclude_self;
      space_for<Space>("ksvd::tile_sne", nr, work, KOKKOS_LAMBDA(const std::int64_t i) {
        double* t = tile + i * ld;
        const double xi = rows.norm[i], b = rows.beta[i], s = rows.shift[i], inv = rows.inv_sum[i];
        for (std::int64_t j = 0; j < nc; ++j) {
          const double d2 = xi + cols.norm[j] - 2.0 * t[j];
          t[j] = fast_exp(-b * ((d2 > 0.0 ? d2 : 0.0) - s)) * inv;
        }
        if (self) {
          const std::int64_t gi = rows.global ? rows.global[i] : rows.first_global + i;
          for (std::int64_t j = 0; j < nc; ++j)
            if ((cols.global ? cols.global[j] : cols.first_global + j) == gi) t[j] = 0.0;
        }
      });
      return;
    }
    case KernelType::Kl: {
      const double a = k.a;
      const double* ne = rows.norm;
      space_for<Space>("ksvd::tile_kl", nr, work, KOKKOS_LAMBDA(const std::int64_t i) {
        double* t = tile + i * ld;
        const double h = ne[i];
        for (std::int64_t j = 0; j < nc; ++j) t[j] = fast_exp(-a * (h - t[j]));
      });
      return;
    }
  }
}

// Squared norms of the rows of a (n x d).
inline std::vector<double> row_norms(std::int64_t n, std::int64_t d, const double* a) {
  std::vector<double> out(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    double s = 0;
    for (std::int64_t k = 0; k < d; ++k) s += a[i * d + k] * a[i * d + k];
    out[static_cast<std::size_t>(i)] = s;
  }
  return out;
}

// The SNE row constants of rows x (nr x d) against all columns z (m x d): β_i by bisection on
// log-perplexity (entropy in nats) to |H − log P| ≤ 1e−10·max(1, log P), the shift d_i and
// 1/S_i. Rows are processed in blocks whose distance rows come from one GEMM.
struct SneRows {
  std::vector<double> beta, shift, inv_sum, perplexity;
};
inline SneRows calibrate_sne(const linalg::Backend& la, std::int64_t nr, std::int64_t m, std::int64_t d, const double* x,
                             const double* z, const double* xn, const double* zn, std::int64_t first_global,
                             bool exclude_self, double perplexity) {
  SneRows out;
  out.beta.resize(static_cast<std::size_t>(nr));
  out.shift.resize(out.beta.size());
  out.inv_sum.resize(out.beta.size());
  out.perplexity.resize(out.beta.size());
  const double target = std::log(perplexity);
  const std::int64_t block = std::max<std::int64_t>(1, std::min<std::int64_t>(256, (std::int64_t{1} << 22) / std::max<std::int64_t>(m, 1)));
  std::vector<double> dist(static_cast<std::size_t>(block * m));
  for (std::int64_t i0 = 0; i0 < nr; i0 += block) {
    const std::int64_t b = std::min(block, nr - i0);
    la.gemm(false, true, b, m, d, 1.0, x + i0 * d, d, z, d, 0.0, dist.data(), m);
    double *beta = out.beta.data() + i0, *shift = out.shift.data() + i0, *inv = out.inv_sum.data() + i0,
           *perp = out.perplexity.data() + i0;
    double* D = dist.data();
    Kokkos::parallel_for("ksvd::sne_bisection", host_range(b),
                         [=](const std::int64_t r) {
      double* row = D + r * m;
      const std::int64_t gi = first_global + i0 + r;
      double dmin = std::numeric_limits<double>::infinity();
      for (std::int64_t j = 0; j < m; ++j) {
        const double d2 = xn[i0 + r] + zn[j] - 2.0 * row[j];
        row[j] = d2 > 0.0 ? d2 : 0.0;
        if (!(exclude_self && j == gi) && row[j] < dmin) dmin = row[j];
      }
      for (std::int64_t j = 0; j < m; ++j) row[j] -= dmin;
      // Entropy H(β) = log S + β Σ p_j d_j decreases from log(neighbours) at β = 0 to 0.
      auto entropy = [&](double bt, double& sum) {
        double s = 0, sd = 0;
        for (std::int64_t j = 0; j < m; ++j) {
          const double e = (exclude_self && j == gi) ? 0.0 : fast_exp(-bt * row[j]);
          s += e;
          sd += e * row[j];
        }
        sum = s;
        return std::log(s) + bt * sd / s;
      };
      double lo = 0, hi = std::numeric_limits<double>::infinity(), bt = 1.0, sum = 0;
      double h = entropy(bt, sum);
      for (int it = 0; it < 200 && std::fabs(h - target) > 1e-10 * std::max(1.0, target); ++it) {
        if (h > target) {
          lo = bt;
          bt = std::isinf(hi) ? bt * 2.0 : 0.5 * (lo + hi);
        } else {
          hi = bt;
          bt = 0.5 * (lo + hi);
        }
        h = entropy(bt, sum);
      }
      beta[r] = bt;
      shift[r] = dmin;
      inv[r] = 1.0 / sum;
      perp[r] = std::exp(h);
    });
  }
  return out;
}

}  // namespace saddle::kernels
