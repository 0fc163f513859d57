#pragma once
// Level sets of the stochastic quantiser (docs/algorithms.md section 2):
// 0 = l_0 < l_1 < ... < l_s = 1, the uniform and exponential families, the exact variance of
// stochastic rounding onto them, and the adaptive family: levels that minimise that variance on
// a histogram of normalised coordinates, by coordinate descent (each l_j optimal given its
// neighbours).
//
// The histogram's bin edges are the union of a fine quadratic grid ((k/H)^2, fine near 0 where
// normalised coordinates of large blocks live) and the uniform and exponential levels. Bins hold
// (count, sum u, sum u^2), so the variance of any level set whose levels are bin edges is exact,
// and the descent, started from the uniform levels, never ends above their variance.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <vector>

namespace saddle::kernels::quant {

inline std::vector<double> uniform_levels(int s) {
  std::vector<double> l(static_cast<std::size_t>(s) + 1);
  for (int j = 0; j <= s; ++j) l[static_cast<std::size_t>(j)] = static_cast<double>(j) / static_cast<double>(s);
  return l;
}

// l_0 = 0, l_j = p^(s - j) for j >= 1.
inline std::vector<double> exponential_levels(int s, double p) {
  std::vector<double> l(static_cast<std::size_t>(s) + 1, 0.0);
  for (int j = 1; j <= s; ++j) l[static_cast<std::size_t>(j)] = std::pow(p, s - j);
  return l;
}

// The interval [l_j, l_{j+1}] holding u in [0, 1]: the largest j <= s - 1 with l_j <= u.
inline int level_interval(const double* l, int s, double u) {
  int lo = 0, hi = s - 1;  // invariant: l[lo] <= u, answer in [lo, hi]
  while (lo < hi) {
    const int mid = (lo + hi + 1) / 2;
    if (l[mid] <= u) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

// Variance of stochastic rounding of one normalised coordinate u: (l_{j+1} - u)(u - l_j).
inline double rounding_variance(const std::vector<double>& l, double u) {
  const int s = static_cast<int>(l.size()) - 1;
  const int j = level_interval(l.data(), s, u);
  return (l[static_cast<std::size_t>(j) + 1] - u) * (u - l[static_cast<std::size_t>(j)]);
}

// Per-type statistics of normalised coordinates u in [0, 1] on fixed bin edges.
class LevelHistogram {
 public:
  // `fine` quadratic bins, plus the uniform and exponential(p) levels with s intervals as edges;
  // a refit sends 3 float64 per bin and layer, so the bins are few.
  LevelHistogram(int s, double exp_base, int fine = 64) {
    for (int k = 0; k <= fine; ++k) edges_.push_back(static_cast<double>(k) * k / (static_cast<double>(fine) * fine));
    for (double v : uniform_levels(s)) edges_.push_back(v);
    for (double v : exponential_levels(s, exp_base)) edges_.push_back(v);
    std::sort(edges_.begin(), edges_.end());
    edges_.erase(std::unique(edges_.begin(), edges_.end()), edges_.end());
  }
  const std::vector<double>& edges() const { return edges_; }
  std::size_t bins() const { return edges_.size() - 1; }
  // Bin of u: [e_k, e_{k+1}), the last one closed.
  std::size_t bin(double u) const {
    const auto it = std::upper_bound(edges_.begin(), edges_.end(), u);
    const auto k = static_cast<std::size_t>(it - edges_.begin());
    return k == 0 ? 0 : std::min(k - 1, bins() - 1);
  }
  // Adds u to `stats` (3 doubles per bin: count, sum, sum of squares).
  void add(std::vector<double>& stats, double u) const {
    const std::size_t k = 3 * bin(u);
    stats[k] += 1;
    stats[k + 1] += u;
    stats[k + 2] += u * u;
  }
  std::vector<double> empty_stats() const { return std::vector<double>(3 * bins(), 0.0); }

 private:
  std::vector<double> edges_;
};

// Exact variance sums over a histogram for levels that are bin edges (given as edge indices).
class EdgeVariance {
 public:
  EdgeVariance(const LevelHistogram& h, const std::vector<double>& stats) : e_(h.edges()) {
    const std::size_t b = h.bins();
    n_.assign(b + 1, 0.0);
    s1_.assign(b + 1, 0.0);
    s2_.assign(b + 1, 0.0);
    for (std::size_t k = 0; k < b; ++k) {
      n_[k + 1] = n_[k] + stats[3 * k];
      s1_[k + 1] = s1_[k] + stats[3 * k + 1];
      s2_[k + 1] = s2_[k] + stats[3 * k + 2];
    }
  }
  // sum over the coordinates in [e_a, e_b) of (e_b - u)(u - e_a) = -S2 + (e_a + e_b) S1 - e_a e_b N.
  double interval(std::size_t a, std::size_t b) const {
    const double n = n_[b] - n_[a], s1 = s1_[b] - s1_[a], s2 = s2_[b] - s2_[a];
    return std::max(0.0, -s2 + (e_[a] + e_[b]) * s1 - e_[a] * e_[b] * n);
  }
  double total(const std::vector<std::size_t>& idx) const {
    double v = 0;
    for (std::size_t j = 0; j + 1 < idx.size(); ++j) v += interval(idx[j], idx[j + 1]);
    return v;
  }
  // Expected index counts of stochastic rounding onto the levels `idx` (s + 1 symbols).
  std::vector<double> expected_indices(const std::vector<std::size_t>& idx) const {
    std::vector<double> c(idx.size(), 0.0);
    for (std::size_t j = 0; j + 1 < idx.size(); ++j) {
      const std::size_t a = idx[j], b = idx[j + 1];
      const double n = n_[b] - n_[a], s1 = s1_[b] - s1_[a], w = e_[b] - e_[a];
      const double up = std::min(n, std::max(0.0, (s1 - e_[a] * n) / w));
      c[j + 1] += up;
      c[j] += n - up;
    }
    return c;
  }
  std::size_t edge_of(double level) const {
    const auto it = std::lower_bound(e_.begin(), e_.end(), level);
    if (it == e_.end() || *it != level) throw std::logic_error("level is not a histogram edge");
    return static_cast<std::size_t>(it - e_.begin());
  }

 private:
  const std::vector<double>& e_;
  std::vector<double> n_, s1_, s2_;
};

// Levels (s intervals) minimising the exact variance on the histogram, by coordinate descent from
// `start` (levels that are edges, e.g. uniform_levels(s)): each interior level moves to the edge
// between its neighbours that minimises the two adjacent intervals' variance; a tie keeps it.
inline std::vector<double> fit_levels(const LevelHistogram& h, const std::vector<double>& stats,
                                      const std::vector<double>& start, int sweeps = 30) {
  const EdgeVariance ev(h, stats);
  std::vector<std::size_t> idx;
  for (double l : start) idx.push_back(ev.edge_of(l));
  for (int sweep = 0; sweep < sweeps; ++sweep) {
    bool moved = false;
    for (std::size_t j = 1; j + 1 < idx.size(); ++j) {
      const std::size_t a = idx[j - 1], b = idx[j + 1];
      double best = ev.interval(a, idx[j]) + ev.interval(idx[j], b);
      std::size_t arg = idx[j];
      for (std::size_t k = a + 1; k < b; ++k) {
        const double v = ev.interval(a, k) + ev.interval(k, b);
        if (v < best) {
          best = v;
          arg = k;
        }
      }
      moved |= arg != idx[j];
      idx[j] = arg;
    }
    if (!moved) break;
  }
  std::vector<double> out;
  for (std::size_t k : idx) out.push_back(h.edges()[k]);
  return out;
}

}  // namespace saddle::kernels::quant
