// The ksvd workload end to end at 1, 2 and 3 ranks, against independent references: a LAPACK
// dgesvd of the explicitly formed kernel matrix (direct formulas, not the app's tiles), a
// matrix with a known decaying spectrum, the explicit centring formula, the same graph as CSR and
// dense; Nyström with every row and column equals exact; a restart continues bit for bit; bad
// data exits 2. Every comparison is against the reference, so the results at 1, 2 and 3 ranks
// agree with each other to the same tolerance (singular values 1e-10, U and V rows).
#include <gtest/gtest.h>
#include <lapacke.h>
#include <signal.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "apps/ksvd/exact_scalapack.hpp"
#include "engine/error.hpp"
#include "engine/h5.hpp"
#include "mpi/driver_test_support.hpp"

using namespace saddle::engine;
using namespace saddle::testing;

namespace {

const Scratch scratch("ksvd");

using Mat = std::vector<double>;  // row-major

Mat gaussian(std::size_t n, unsigned seed, double scale = 1.0, double shift = 0.0) {
  std::mt19937_64 g(seed);
  std::normal_distribution<double> d;
  Mat v(n);
  for (auto& x : v) x = shift + scale * d(g);
  return v;
}

std::string deck(const std::string& name, const std::string& body) { return run_deck(name, "ksvd", "log_every = 1\n" + body); }

// Rank 0 writes an HDF5 file of datasets (name, data, dims); every rank waits for it.
struct Dataset {
  std::string name;
  Mat data;
  std::vector<hsize_t> dims;
};
std::string data_file(const std::string& name, const std::vector<Dataset>& sets) {
  const std::string path = dir() + "/" + name + ".h5";
  if (world().is_root()) {
    fs::create_directories(dir());
    h5::File f = h5::File::create(path);
    for (const auto& s : sets) f.root().write(s.name, s.data, s.dims);
    f.close();
  }
  world().barrier();
  return path;
}

Mat rbf(const Mat& x, const Mat& z, int d, double sigma) {
  const std::size_t n = x.size() / d, m = z.size() / d;
  Mat g(n * m);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < m; ++j) {
      double s = 0;
      for (int k = 0; k < d; ++k) s += (x[i * d + k] - z[j * d + k]) * (x[i * d + k] - z[j * d + k]);
      g[i * m + j] = std::exp(-s / (2 * sigma * sigma));
    }
  return g;
}

// (I − 11ᵀ/n) G (I − 11ᵀ/m) as matrix products.
Mat centred(const Mat& g, int n, int m) {
  Mat Pn(n * n), Pm(m * m), t(n * m), out(n * m);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) Pn[i * n + j] = (i == j) - 1.0 / n;
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < m; ++j) Pm[i * m + j] = (i == j) - 1.0 / m;
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < m; ++j) {
      double s = 0;
      for (int k = 0; k < n; ++k) s += Pn[i * n + k] * g[k * m + j];
      t[i * m + j] = s;
    }
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < m; ++j) {
      double s = 0;
      for (int k = 0; k < m; ++k) s += t[i * m + k] * Pm[k * m + j];
      out[i * m + j] = s;
    }
  return out;
}

struct Svd {
  Mat s, U, V;  // U n x r, V m x r (columns = singular vectors), signs fixed
};
// LAPACK dgesvd of g (n x m), first r triplets, largest-magnitude entry of each u positive.
Svd reference_svd(Mat g, int n, int m, int r) {
  const int p = std::min(n, m);
  Mat s(p), u(n * p), vt(p * m), superb(p);
  EXPECT_EQ(LAPACKE_dgesvd(LAPACK_ROW_MAJOR, 'S', 'S', n, m, g.data(), m, s.data(), u.data(), p, vt.data(), m, superb.data()), 0);
  Svd out{Mat(s.begin(), s.begin() + r), Mat(n * r), Mat(m * r)};
  for (int l = 0; l < r; ++l) {
    int best = 0;
    for (int i = 0; i < n; ++i)
      if (std::fabs(u[i * p + l]) > std::fabs(u[best * p + l])) best = i;
    const double sign = u[best * p + l] < 0 ? -1.0 : 1.0;
    for (int i = 0; i < n; ++i) out.U[i * r + l] = sign * u[i * p + l];
    for (int j = 0; j < m; ++j) out.V[j * r + l] = sign * vt[l * m + j];
  }
  return out;
}

struct Result {
  Mat s, U, V, scores_rows, scores_cols, residuals, scores_test;
};
Result read_result(const std::string& name) {
  h5::File f = h5::File::open(dir() + "/out/" + name + ".h5", h5::File::Mode::ReadOnly);
  const h5::Group r = f.root().open_group("result");
  Result out{r.read<double>("singular_values"), r.read<double>("U"), r.read<double>("V"), r.read<double>("scores_rows"),
             r.read<double>("scores_cols"), r.read<double>("residuals"), {}};
  if (r.exists("scores_test")) out.scores_test = r.read<double>("scores_test");
  return out;
}

double max_abs_diff(const Mat& a, const Mat& b) {
  EXPECT_EQ(a.size(), b.size());
  double w = 0;
  for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) w = std::max(w, std::fabs(a[i] - b[i]));
  return w;
}

// A (n x k) B (k x m).
Mat matmul(const Mat& a, const Mat& b, int n, int k, int m) {
  Mat c(n * m, 0.0);
  for (int i = 0; i < n; ++i)
    for (int l = 0; l < k; ++l)
      for (int j = 0; j < m; ++j) c[i * m + j] += a[i * k + l] * b[l * m + j];
  return c;
}
Mat transpose(const Mat& a, int n, int m) {
  Mat t(a.size());
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < m; ++j) t[j * n + i] = a[i * m + j];
  return t;
}

// Points shared by several tests: X 61 x 3, Z 47 x 3 (shifted), Xtest 9 x 3.
constexpr int kN = 61, kM = 47, kD = 3, kT = 9;
const Mat& X() { static const Mat x = gaussian(kN * kD, 11); return x; }
const Mat& Z() { static const Mat z = gaussian(kM * kD, 12, 1.0, 0.4); return z; }
const Mat& Xt() { static const Mat t = gaussian(kT * kD, 13); return t; }
std::string points_file() {
  return data_file("points", {{"X", X(), {kN, kD}}, {"Z", Z(), {kM, kD}}, {"Xtest", Xt(), {kT, kD}}});
}
std::string points_deck(const std::string& name, const std::string& extra) {
  return deck(name, "[ksvd]\nrank = 4\n" + extra + "\n[ksvd.data]\nsource = \"hdf5\"\npath = \"" + points_file() +
                        "\"\n[ksvd.kernel]\ntype = \"rbf\"\nsigma = 1.3\n");
}

}  // namespace

TEST(Ksvd, ExactEqualsLapackOnTheFormedMatrix) {
  const std::string d = points_deck("exact", "method = \"exact\"\ntile_rows = 7\ntile_cols = 10");
  ASSERT_EQ(run({"run", d, "--quiet"}), kExitDone);
  if (!world().is_root()) return;
  const Mat G = rbf(X(), Z(), kD, 1.3);
  const Svd ref = reference_svd(G, kN, kM, 4);
  const Result r = read_result("exact");
  for (int l = 0; l < 4; ++l) EXPECT_NEAR(r.s[l], ref.s[l], 1e-12 * ref.s[0]);
  EXPECT_LT(max_abs_diff(r.U, ref.U), 1e-10);
  EXPECT_LT(max_abs_diff(r.V, ref.V), 1e-10);
  EXPECT_LT(max_abs_diff(r.scores_rows, matmul(G, ref.V, kN, kM, 4)), 1e-10);
  EXPECT_LT(max_abs_diff(r.scores_cols, matmul(transpose(G, kN, kM), ref.U, kM, kN, 4)), 1e-10);
  for (double e : r.residuals) EXPECT_LT(e, 1e-12);
  EXPECT_LT(max_abs_diff(r.scores_test, matmul(rbf(Xt(), Z(), kD, 1.3), ref.V, kT, kM, 4)), 1e-10);
}

// exact on more than one rank is ScaLAPACK pdgesvd of Gᵀ (m x n) on a block-cyclic grid: 37 x 53
// gives a P x 1 grid (Gᵀ taller than wide), 61 x 29 a 1 x P grid, so at 2 and 3 ranks both
// block-cyclic directions are exercised, with ragged blocks (block 4 or 7, tile 7 x 10); at 1 rank
// it is LAPACK gesdd. Centred and not, against LAPACK dgesvd of the matrix formed here.
TEST(Ksvd, ExactOnNonSquareMatricesEqualsLapack) {
  const int P = world().size();
  for (const auto& [n, m] : {std::pair{37, 53}, std::pair{61, 29}}) {
    const auto layout = saddle::apps::ksvd::scalapack_layout(m, n, P);
    EXPECT_EQ(layout.prow * layout.pcol, P);
    if (P <= 3) {  // (4 ranks: 2 x 2)
      EXPECT_EQ(layout.prow, m >= n ? P : 1) << n << " x " << m;
    }
    const Mat x = gaussian(n * kD, 31 + n), z = gaussian(m * kD, 32 + m, 1.1, 0.3);
    const std::string file = data_file("ns_" + std::to_string(n), {{"X", x, {static_cast<hsize_t>(n), kD}}, {"Z", z, {static_cast<hsize_t>(m), kD}}});
    for (const std::string center : {"false", "true"}) {
      const std::string name = "ns_" + std::to_string(n) + "_c" + center;
      ASSERT_EQ(run({"run", deck(name, "[ksvd]\nmethod = \"exact\"\nrank = 6\ntile_rows = 7\ntile_cols = 10\ncenter = " + center +
                                           "\n[ksvd.data]\nsource = \"hdf5\"\npath = \"" + file + "\"\n[ksvd.kernel]\ntype = \"rbf\"\nsigma = 1.2\n"),
                     "--quiet"}),
                kExitDone);
      if (!world().is_root()) continue;
      const Mat G = rbf(x, z, kD, 1.2);
      const Svd ref = reference_svd(center == "true" ? centred(G, n, m) : G, n, m, 6);
      const Result r = read_result(name);
      for (int l = 0; l < 6; ++l) EXPECT_NEAR(r.s[l], ref.s[l], 1e-12 * ref.s[0]) << name << " l = " << l;
      EXPECT_LT(max_abs_diff(r.U, ref.U), 1e-10) << name;
      EXPECT_LT(max_abs_diff(r.V, ref.V), 1e-10) << name;
      for (double e : r.residuals) EXPECT_LT(e, 1e-12 * ref.s[0]) << name;
    }
  }
}

// exact on a CSR given matrix (45 x 38, real weights, so the singular values are distinct).
TEST(Ksvd, ExactOnACsrMatrixEqualsLapack) {
  const int n = 45, m = 38;
  std::mt19937_64 g(17);
  std::uniform_real_distribution<double> u;
  Mat dense(n * m, 0.0), values;
  std::vector<std::int64_t> indptr{0}, indices;
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < m; ++j)
      if (u(g) < 0.2) {
        dense[i * m + j] = 0.5 + u(g);
        indices.push_back(j);
        values.push_back(dense[i * m + j]);
      }
    indptr.push_back(static_cast<std::int64_t>(indices.size()));
  }
  const std::string fc = dir() + "/exact_csr.h5";
  if (world().is_root()) {
    h5::File f = h5::File::create(fc);
    const h5::Group G = f.root().create_group("G");
    G.write("indptr", indptr);
    G.write("indices", indices);
    G.write("data", values);
    G.write_attr("shape", std::vector<std::int64_t>{n, m});
    f.close();
  }
  world().barrier();
  ASSERT_EQ(run({"run", deck("exact_csr", "[ksvd]\nmethod = \"exact\"\nrank = 5\n[ksvd.data]\nsource = \"hdf5\"\npath = \"" + fc +
                                          "\"\n[ksvd.kernel]\ntype = \"given\"\n"), "--quiet"}),
            kExitDone);
  if (!world().is_root()) return;
  const Svd ref = reference_svd(dense, n, m, 5);
  const Result r = read_result("exact_csr");
  for (int l = 0; l < 5; ++l) EXPECT_NEAR(r.s[l], ref.s[l], 1e-12 * ref.s[0]);
  EXPECT_LT(max_abs_diff(r.U, ref.U), 1e-10);
  EXPECT_LT(max_abs_diff(r.V, ref.V), 1e-10);
}

// Two rows on up to 3 ranks: a rank that holds no rows still takes part in every collective
// (it once skipped the column-side reduction and the job died with MPI_ERR_TRUNCATE or hung).
TEST(Ksvd, RanksWithoutRowsTakePart) {
  const Mat x = gaussian(2 * kD, 21), z = gaussian(5 * kD, 22);
  const std::string file = data_file("two_rows", {{"X", x, {2, kD}}, {"Z", z, {5, kD}}});
  const Svd ref = reference_svd(rbf(x, z, kD, 1.3), 2, 5, 2);
  for (const std::string method : {"exact", "randomized", "krylov", "nystrom"}) {
    const std::string extra = method == "randomized" ? "oversample = 0\npower_iters = 3" : method == "nystrom" ? "nystrom_rows = 2\nnystrom_cols = 5" : "";
    const std::string name = "two_rows_" + method;
    ASSERT_EQ(run({"run", deck(name, "[ksvd]\nrank = 2\ncenter = false\nmethod = \"" + method + "\"\n" + extra + "\n[ksvd.data]\nsource = \"hdf5\"\npath = \"" +
                                   file + "\"\n[ksvd.kernel]\ntype = \"rbf\"\nsigma = 1.3\n"),
                   "--quiet"}),
              kExitDone)
        << method;
    if (!world().is_root()) continue;
    const Result r = read_result(name);
    EXPECT_LT(max_abs_diff(r.s, ref.s), 1e-12 * ref.s[0]) << method;
    EXPECT_LT(max_abs_diff(r.U, ref.U), 1e-10) << method;
    EXPECT_LT(max_abs_diff(r.V, ref.V), 1e-10) << method;
  }
}

TEST(Ksvd, NystromWithEveryRowAndColumnEqualsExact) {
  for (const std::string center : {"false", "true"}) {
    const std::string e = "ex_c" + center, y = "ny_c" + center;
    ASSERT_EQ(run({"run", points_deck(e, "method = \"exact\"\ncenter = " + center), "--quiet"}), kExitDone);
    ASSERT_EQ(run({"run", points_deck(y, "method = \"nystrom\"\nnystrom_rows = 61\nnystrom_cols = 47\ncenter = " + center), "--quiet"}),
              kExitDone);
    if (!world().is_root()) continue;
    const Result a = read_result(e), b = read_result(y);
    EXPECT_LT(max_abs_diff(a.s, b.s), 1e-10 * a.s[0]);
    EXPECT_LT(max_abs_diff(a.U, b.U), 1e-10);
    EXPECT_LT(max_abs_diff(a.V, b.V), 1e-10);
    EXPECT_LT(max_abs_diff(a.scores_test, b.scores_test), 1e-10);
  }
}

TEST(Ksvd, CentringEqualsTheExplicitFormula) {
  ASSERT_EQ(run({"run", points_deck("cex", "method = \"exact\"\ncenter = true"), "--quiet"}), kExitDone);
  ASSERT_EQ(run({"run", points_deck("crand", "method = \"randomized\"\ncenter = true\noversample = 20\npower_iters = 6"), "--quiet"}),
            kExitDone);
  if (!world().is_root()) return;
  const Mat G = rbf(X(), Z(), kD, 1.3), Gc = centred(G, kN, kM);
  const Svd ref = reference_svd(Gc, kN, kM, 4);
  const Result e = read_result("cex"), r = read_result("crand");
  for (int l = 0; l < 4; ++l) {
    EXPECT_NEAR(e.s[l], ref.s[l], 1e-12 * ref.s[0]);
    EXPECT_NEAR(r.s[l], ref.s[l], 1e-10 * ref.s[0]);
  }
  EXPECT_LT(max_abs_diff(e.U, ref.U), 1e-10);
  EXPECT_LT(max_abs_diff(r.U, ref.U), 1e-8);
  EXPECT_LT(max_abs_diff(r.scores_rows, matmul(Gc, ref.V, kN, kM, 4)), 1e-8);
  // A new point's centred kernel row: k(x) − c − mean(k(x)) + g.
  const Mat Kt = rbf(Xt(), Z(), kD, 1.3);
  Mat c(kM, 0.0), Ktc(Kt);
  double g = 0;
  for (int i = 0; i < kN; ++i)
    for (int j = 0; j < kM; ++j) {
      c[j] += G[i * kM + j] / kN;
      g += G[i * kM + j] / (kN * kM);
    }
  for (int i = 0; i < kT; ++i) {
    double mu = 0;
    for (int j = 0; j < kM; ++j) mu += Kt[i * kM + j] / kM;
    for (int j = 0; j < kM; ++j) Ktc[i * kM + j] += -c[j] - mu + g;
  }
  EXPECT_LT(max_abs_diff(e.scores_test, matmul(Ktc, ref.V, kT, kM, 4)), 1e-10);
}

// G = U diag(0.6^l) Vᵀ with random orthonormal U, V: top singular values to 1e-8 relative and
// the leading subspaces to 1e-8 (cosines of the principal angles).
TEST(Ksvd, RandomizedMatchesExactOnADecayingSpectrum) {
  const int n = 150, m = 110, p = 60, s = 6;
  Mat A = gaussian(n * p, 21), B = gaussian(m * p, 22), tau(p);
  LAPACKE_dgeqrf(LAPACK_ROW_MAJOR, n, p, A.data(), p, tau.data());
  LAPACKE_dorgqr(LAPACK_ROW_MAJOR, n, p, p, A.data(), p, tau.data());
  LAPACKE_dgeqrf(LAPACK_ROW_MAJOR, m, p, B.data(), p, tau.data());
  LAPACKE_dorgqr(LAPACK_ROW_MAJOR, m, p, p, B.data(), p, tau.data());
  Mat AS(A);
  for (int i = 0; i < n; ++i)
    for (int l = 0; l < p; ++l) AS[i * p + l] *= std::pow(0.6, l);
  const Mat G = matmul(AS, transpose(B, m, p), n, p, m);
  const std::string f = data_file("decay", {{"G", G, {static_cast<hsize_t>(n), static_cast<hsize_t>(m)}}});
  const std::string d = deck("decay", "[ksvd]\nmethod = \"randomized\"\nrank = 6\noversample = 10\npower_iters = 2\n"
                                      "[ksvd.data]\nsource = \"hdf5\"\npath = \"" + f + "\"\n[ksvd.kernel]\ntype = \"given\"\n");
  ASSERT_EQ(run({"run", d, "--quiet"}), kExitDone);
  if (!world().is_root()) return;
  const Result r = read_result("decay");
  for (int l = 0; l < s; ++l) EXPECT_NEAR(r.s[l] / std::pow(0.6, l), 1.0, 1e-8);
  const Svd ref = reference_svd(G, n, m, s);
  const Mat cu = matmul(transpose(ref.U, n, s), r.U, s, n, s), cv = matmul(transpose(ref.V, m, s), r.V, s, m, s);
  Mat sv(s), tmp(s * s), superb(s);
  for (const Mat* c : {&cu, &cv}) {
    tmp = *c;
    LAPACKE_dgesvd(LAPACK_ROW_MAJOR, 'N', 'N', s, s, tmp.data(), s, sv.data(), nullptr, 1, nullptr, 1, superb.data());
    EXPECT_GT(sv[s - 1], 1.0 - 1e-8);  // smallest cosine of the principal angles
  }
  EXPECT_LT(max_abs_diff(r.U, ref.U), 1e-7);
  for (int l = 0; l < s; ++l) EXPECT_LT(r.residuals[l], 1e-7);
}

// Without power_iters the iteration runs until the relative residual meets ksvd.tol: on the
// decaying spectrum σ_l = 0.6^l with a narrow sketch (k = 8) it stops well before max_iters, and
// the singular values are those of the construction; the run file says converged, its iterations
// and its steps. With max_iters too small for the tolerance the run still ends with exit 0, writes
// converged = 0 and the achieved residual.
TEST(Ksvd, RandomizedIteratesToTheTolerance) {
  const int n = 150, m = 110, p = 40;
  Mat A = gaussian(n * p, 31), B = gaussian(m * p, 32), tau(p);
  LAPACKE_dgeqrf(LAPACK_ROW_MAJOR, n, p, A.data(), p, tau.data());
  LAPACKE_dorgqr(LAPACK_ROW_MAJOR, n, p, p, A.data(), p, tau.data());
  LAPACKE_dgeqrf(LAPACK_ROW_MAJOR, m, p, B.data(), p, tau.data());
  LAPACKE_dorgqr(LAPACK_ROW_MAJOR, m, p, p, B.data(), p, tau.data());
  for (int i = 0; i < n; ++i)
    for (int l = 0; l < p; ++l) A[i * p + l] *= std::pow(0.8, l);
  const Mat G = matmul(A, transpose(B, m, p), n, p, m);
  const std::string f = data_file("tol", {{"G", G, {static_cast<hsize_t>(n), static_cast<hsize_t>(m)}}});
  const std::string body = "[ksvd]\nmethod = \"randomized\"\nrank = 6\noversample = 2\ntol = 1e-10\n"
                           "[ksvd.data]\nsource = \"hdf5\"\npath = \"" + f + "\"\n[ksvd.kernel]\ntype = \"given\"\n";
  ASSERT_EQ(run({"run", deck("tol", body), "--quiet"}), kExitDone);
  ASSERT_EQ(run({"run", deck("tol_short", body), "ksvd.max_iters=3", "--quiet"}), kExitDone);
  if (!world().is_root()) return;
  const Result r = read_result("tol");
  for (int l = 0; l < 6; ++l) EXPECT_NEAR(r.s[l] / std::pow(0.8, l), 1.0, 1e-12);
  h5::File file = h5::File::open(dir() + "/out/tol.h5", h5::File::Mode::ReadOnly);
  const h5::Group res = file.root().open_group("result");
  EXPECT_EQ(res.read_attr<std::int64_t>("converged"), 1);
  const auto iters = res.read_attr<std::int64_t>("iterations");
  EXPECT_GT(iters, 3);
  EXPECT_LT(iters, 300);
  EXPECT_EQ(file.root().read_attr<std::int64_t>("steps"), iters + 1);  // the sketch, then the iterations
  EXPECT_LE(res.read_attr<double>("relative_residual"), 1e-10);
  for (double x : res.read<double>("relative_residuals")) EXPECT_LE(x, 1e-10);
  h5::File shortf = h5::File::open(dir() + "/out/tol_short.h5", h5::File::Mode::ReadOnly);
  const h5::Group rs = shortf.root().open_group("result");
  EXPECT_EQ(rs.read_attr<std::int64_t>("converged"), 0);
  EXPECT_EQ(rs.read_attr<std::int64_t>("iterations"), 3);
  EXPECT_GT(rs.read_attr<double>("relative_residual"), 1e-10);
  EXPECT_EQ(shortf.root().read_attr<std::int64_t>("steps"), 4);
}

// A linear kernel of rank d = 3 < sketch width: TSQR must still give an orthonormal basis.
TEST(Ksvd, RandomizedHandlesARankDeficientLinearKernel) {
  const std::string d = deck("linear", "[ksvd]\nmethod = \"randomized\"\nrank = 3\noversample = 5\npower_iters = 1\n"
                                       "[ksvd.data]\nsource = \"hdf5\"\npath = \"" + points_file() + "\"\n[ksvd.kernel]\ntype = \"linear\"\n");
  ASSERT_EQ(run({"run", d, "--quiet"}), kExitDone);
  if (!world().is_root()) return;
  const Svd ref = reference_svd(matmul(X(), transpose(Z(), kM, kD), kN, kD, kM), kN, kM, 3);
  const Result r = read_result("linear");
  for (int l = 0; l < 3; ++l) EXPECT_NEAR(r.s[l], ref.s[l], 1e-11 * ref.s[0]);
  EXPECT_LT(max_abs_diff(r.U, ref.U), 1e-9);
}

namespace {

// A directed graph of 4 blocks of 20 nodes (70 nodes), as a dense /G and as a CSR group /G.
struct Graph {
  Mat dense;
  std::string dense_file, csr_file;
};
const Graph& graph() {
  static const Graph gr = [] {
    const int n = 70, m = 70;
    std::mt19937_64 g(5);
    std::uniform_real_distribution<double> u;
    Mat dense(n * m, 0.0), indptr{0}, indices, values;
    for (int i = 0; i < n; ++i) {
      for (int j = 0; j < m; ++j)
        if (i != j && u(g) < ((i / 20) == (j / 20) ? 0.3 : ((j / 20) == (i / 20 + 1) % 4 ? 0.15 : 0.02))) {
          dense[i * m + j] = 1.0;
          indices.push_back(j);
          values.push_back(1.0);
        }
      indptr.push_back(static_cast<double>(indices.size()));
    }
    const std::string fd = data_file("graph_dense", {{"G", dense, {n, m}}});
    const std::string fc = dir() + "/graph_csr.h5";
    if (world().is_root()) {
      h5::File f = h5::File::create(fc);
      const h5::Group G = f.root().create_group("G");
      G.write("indptr", std::vector<std::int64_t>(indptr.begin(), indptr.end()));
      G.write("indices", std::vector<std::int64_t>(indices.begin(), indices.end()));
      G.write("data", values);
      G.write_attr("shape", std::vector<std::int64_t>{n, m});
      f.close();
    }
    world().barrier();
    return Graph{dense, fd, fc};
  }();
  return gr;
}

}  // namespace

// The same directed graph as a CSR group and as a dense matrix.
TEST(Ksvd, CsrAndDenseInputsOfTheSameGraphAgree) {
  const int n = 70, m = 70;
  const Mat& dense = graph().dense;
  const std::string &fd = graph().dense_file, &fc = graph().csr_file;
  for (const auto& [name, path] : {std::pair{"gd", fd}, std::pair{"gc", fc}})
    ASSERT_EQ(run({"run", deck(name, "[ksvd]\nmethod = \"randomized\"\nrank = 5\npower_iters = 3\n[ksvd.data]\nsource = \"hdf5\"\npath = \"" + path +
                                          "\"\n[ksvd.kernel]\ntype = \"given\"\n"), "--quiet"}),
              kExitDone);
  ASSERT_EQ(run({"run", deck("gce", "[ksvd]\nmethod = \"exact\"\nrank = 5\n[ksvd.data]\nsource = \"hdf5\"\npath = \"" + fc +
                                    "\"\n[ksvd.kernel]\ntype = \"given\"\n"), "--quiet"}),
            kExitDone);
  if (!world().is_root()) return;
  const Result a = read_result("gd"), b = read_result("gc"), e = read_result("gce");
  EXPECT_LT(max_abs_diff(a.s, b.s), 1e-12 * a.s[0]);
  EXPECT_LT(max_abs_diff(a.U, b.U), 1e-10);
  EXPECT_LT(max_abs_diff(a.V, b.V), 1e-10);
  const Svd ref = reference_svd(dense, n, m, 5);
  for (int l = 0; l < 5; ++l) EXPECT_NEAR(e.s[l], ref.s[l], 1e-12 * ref.s[0]);
  EXPECT_NEAR(a.s[0], ref.s[0], 1e-4 * ref.s[0]);  // a flat spectrum: randomized is approximate here
}

// Checkpoints after every step; a rerun from the step-2 checkpoint ends bit for bit equal.
TEST(Ksvd, RestartFromACheckpointIsBitForBit) {
  const std::string d = points_deck("restart", "method = \"randomized\"\npower_iters = 3");
  ASSERT_EQ(run({"run", d, "run.checkpoint_every=1", "run.checkpoint_keep=10", "--quiet"}), kExitDone);
  Result full;
  if (world().is_root()) {
    full = read_result("restart");
    for (int s : {3, 4, 5}) fs::remove(dir() + "/out/restart.ckpt/step_" + std::to_string(s) + ".h5");
  }
  world().barrier();
  ASSERT_EQ(run({"run", d, "--quiet"}), kExitDone);
  if (!world().is_root()) return;
  h5::File f = h5::File::open(dir() + "/out/restart.h5", h5::File::Mode::ReadOnly);
  EXPECT_EQ(f.root().read_attr<std::int64_t>("restarted_from_step"), 2);
  const Result again = read_result("restart");
  EXPECT_EQ(again.s, full.s);
  EXPECT_EQ(again.U, full.U);
  EXPECT_EQ(again.V, full.V);
  EXPECT_EQ(again.scores_rows, full.scores_rows);
}

TEST(Ksvd, BadDataExitsTwo) {
  const std::string kernel = "\n[ksvd.kernel]\ntype = \"rbf\"\n";
  auto bad = [&](const std::string& name, const std::vector<Dataset>& sets, const std::string& extra = "", const std::string& type = "rbf") {
    const std::string f = data_file(name, sets);
    return run({"run", deck(name, "[ksvd]\n" + (extra.empty() ? std::string("rank = 2") : extra) + "\n[ksvd.data]\nsource = \"hdf5\"\npath = \"" + f +
                                      "\"\n[ksvd.kernel]\ntype = \"" + type + "\"\n"), "--quiet"});
  };
  EXPECT_EQ(bad("no_dataset", {{"Y", gaussian(20, 1), {10, 2}}}), kExitBadInput);
  EXPECT_EQ(bad("shape_mismatch", {{"X", gaussian(20, 1), {10, 2}}, {"Z", gaussian(30, 1), {10, 3}}}), kExitBadInput);
  Mat nan = gaussian(20, 1);
  nan[13] = std::nan("");
  EXPECT_EQ(bad("nan", {{"X", nan, {10, 2}}}), kExitBadInput);
  EXPECT_EQ(bad("rank_too_large", {{"X", gaussian(20, 1), {10, 2}}, {"Z", gaussian(4, 1), {2, 2}}}, "rank = 3"), kExitBadInput);
  EXPECT_EQ(bad("given_for_points", {{"X", gaussian(20, 1), {10, 2}}}, "", "given"), kExitBadInput);
  EXPECT_EQ(bad("kl_negative", {{"X", gaussian(20, 1), {10, 2}}}, "", "kl"), kExitBadInput);
  EXPECT_EQ(bad("perplexity", {{"X", gaussian(20, 1), {10, 2}}}, "", "sne"), kExitBadInput);  // 30 > 9 neighbours
  EXPECT_EQ(run({"run", deck("missing_file", "[ksvd.data]\nsource = \"hdf5\"\npath = \"" + dir() + "/nope.h5\"\n"), "--quiet"}), kExitBadInput);
}

namespace {

// Krylov (SLEPc) against a LAPACK reference of the formed matrix: σ to 1e-8 relative, U and V
// (signs fixed the same way) to `vec_tol`, and the run's own residuals within ksvd.tol relative
// to σ on both sides (the mapping onto SLEPc's convergence test, krylov.cpp).
void expect_krylov_matches(const std::string& name, const Svd& ref, int s, double tol, double vec_tol) {
  const Result r = read_result(name);
  h5::File f = h5::File::open(dir() + "/out/" + name + ".h5", h5::File::Mode::ReadOnly);
  const h5::Group g = f.root().open_group("result");
  const Mat res_cols = g.read<double>("residuals_cols");
  EXPECT_EQ(g.read_attr_string("method"), "krylov") << name;
  ASSERT_EQ(r.s.size(), static_cast<std::size_t>(s)) << name;
  for (int l = 0; l < s; ++l) {
    EXPECT_NEAR(r.s[l], ref.s[l], 1e-8 * ref.s[l]) << name << " sigma_" << l + 1;
    EXPECT_LE(r.residuals[l], tol * r.s[l]) << name << " residual G v - s u, l = " << l + 1;
    EXPECT_LE(res_cols[l], tol * r.s[l]) << name << " residual G'u - s v, l = " << l + 1;
  }
  EXPECT_LT(max_abs_diff(r.U, ref.U), vec_tol) << name;
  EXPECT_LT(max_abs_diff(r.V, ref.V), vec_tol) << name;
}

std::string linear_file() {  // X 61 x 8, Z 47 x 8: a linear kernel of rank 8
  return data_file("linear8", {{"X", gaussian(kN * 8, 31), {kN, 8}}, {"Z", gaussian(kM * 8, 32, 1.0, 0.3), {kM, 8}}});
}

}  // namespace

// RBF on points, every SLEPc solver ksvd offers; the default (trlanczos) at the default ksvd.tol.
TEST(Ksvd, KrylovEqualsLapackOnTheFormedRbfMatrix) {
  const Svd ref = reference_svd(rbf(X(), Z(), kD, 1.3), kN, kM, 4);
  ASSERT_EQ(run({"run", points_deck("kry_default", "method = \"krylov\"\ntile_rows = 7\ntile_cols = 10"), "--quiet"}), kExitDone);
  if (world().is_root()) expect_krylov_matches("kry_default", ref, 4, 1e-8, 1e-6);
  for (const std::string solver : {"trlanczos", "lanczos", "cross", "cyclic", "randomized"}) {
    const std::string name = "kry_" + solver;
    ASSERT_EQ(run({"run", points_deck(name, "method = \"krylov\"\ntol = 1e-10\nkrylov.solver = \"" + solver + "\""), "--quiet"}),
              kExitDone)
        << solver;
    if (world().is_root()) expect_krylov_matches(name, ref, 4, 1e-10, 1e-8);
  }
}

// A centred linear kernel (rank 8) against (I − 11ᵀ/n) X Zᵀ (I − 11ᵀ/m) formed by products.
TEST(Ksvd, KrylovEqualsLapackOnACentredLinearKernel) {
  const std::string f = linear_file();
  ASSERT_EQ(run({"run", deck("kry_lin", "[ksvd]\nmethod = \"krylov\"\nrank = 5\ncenter = true\ntol = 1e-10\nkrylov.ncv = 8\n[ksvd.data]\n"
                                        "source = \"hdf5\"\npath = \"" + f + "\"\n[ksvd.kernel]\ntype = \"linear\"\n"),
                 "--quiet"}),
            kExitDone);
  if (!world().is_root()) return;
  const Mat x = gaussian(kN * 8, 31), z = gaussian(kM * 8, 32, 1.0, 0.3);
  const Svd ref = reference_svd(centred(matmul(x, transpose(z, kM, 8), kN, 8, kM), kN, kM), kN, kM, 5);
  expect_krylov_matches("kry_lin", ref, 5, 1e-10, 1e-8);
}

// The CSR graph: SLEPc's shell products go through the sparse rows.
TEST(Ksvd, KrylovEqualsLapackOnACsrGraph) {
  const std::string d = deck("kry_csr", "[ksvd]\nmethod = \"krylov\"\nrank = 5\ntol = 1e-10\n[ksvd.data]\nsource = \"hdf5\"\npath = \"" +
                                            graph().csr_file + "\"\n[ksvd.kernel]\ntype = \"given\"\n");
  ASSERT_EQ(run({"run", d, "--quiet"}), kExitDone);
  // PETSc's signal handler stays off: the engine's SIGTERM handler (checkpoint and stop) is still
  // installed after PetscFinalize.
  struct sigaction now {};
  sigaction(SIGTERM, nullptr, &now);
  EXPECT_NE(now.sa_handler, SIG_DFL);
  if (world().is_root()) expect_krylov_matches("kry_csr", reference_svd(graph().dense, 70, 70, 5), 5, 1e-10, 1e-8);
}

// Too few iterations: exit 2 naming ksvd.max_iters; PETSc refusing an option: exit 2. A later
// solve in the same process works (PETSc initialised again after PetscFinalize).
TEST(Ksvd, KrylovFailuresExitTwoOnEveryRank) {
  const std::string base = "method = \"krylov\"\ntol = 1e-12\n";
  EXPECT_EQ(run({"run", points_deck("kry_iters", base + "max_iters = 1\nkrylov.ncv = 4"), "--quiet"}), kExitBadInput);
  EXPECT_EQ(run({"run", points_deck("kry_optfile", base + "krylov.options = \"-options_file " + dir() + "/none.txt\""), "--quiet"}),
            kExitBadInput);
  ASSERT_EQ(run({"run", points_deck("kry_again", base + "krylov.options = \"-svd_max_it 500 -svd_unused_option 1\""), "--quiet"}), kExitDone);
  if (world().is_root()) expect_krylov_matches("kry_again", reference_svd(rbf(X(), Z(), kD, 1.3), kN, kM, 4), 4, 1e-12, 1e-8);
}

// ksvd.symmetrize: the operator (G + Gᵀ)/2, matrix-free in every product (exact: formed, by
// pdtran through ScaLAPACK at 2 and 3 ranks; krylov through the same products), against LAPACK on the
// formed symmetric part (centred: (I − 11ᵀ/n)(G + Gᵀ)/2(I − 11ᵀ/n)). σ_l = |λ_l| and v_l = ±u_l
// (the sign of λ_l). A kernel of points (rbf, X and another Z of the same count, ragged tiles) by
// exact, whose scores S V and S U come from the matrix-free operator; a given matrix G = S + K
// (S symmetric with eigenvalues ±0.6^l, K antisymmetric and as large, so G itself is far from
// symmetric), read by name (ksvd.data.matrix), by exact and randomized.
namespace {
Mat symmetric_part(const Mat& g, int n) {
  Mat s(g);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) s[i * n + j] = 0.5 * (g[i * n + j] + g[j * n + i]);
  return s;
}
void expect_symmetric_svd(const Result& r, const Mat& S, int n, int s, double tol_s, double tol_v, const std::string& what) {
  const Svd ref = reference_svd(S, n, n, s);
  for (int l = 0; l < s; ++l) EXPECT_NEAR(r.s[l], ref.s[l], tol_s * ref.s[0]) << what << " l = " << l;
  EXPECT_LT(max_abs_diff(r.U, ref.U), tol_v) << what;
  EXPECT_LT(max_abs_diff(r.V, ref.V), tol_v) << what;
  EXPECT_LT(max_abs_diff(r.scores_rows, matmul(S, ref.V, n, n, s)), tol_v) << what;
  EXPECT_LT(max_abs_diff(r.scores_cols, matmul(S, ref.U, n, n, s)), tol_v) << what;
  for (double e : r.residuals) EXPECT_LT(e, tol_v) << what;
  for (int l = 0; l < s; ++l) {  // v_l = ±u_l
    double plus = 0, minus = 0;
    for (int i = 0; i < n; ++i) {
      plus = std::max(plus, std::fabs(r.V[i * s + l] - r.U[i * s + l]));
      minus = std::max(minus, std::fabs(r.V[i * s + l] + r.U[i * s + l]));
    }
    EXPECT_LT(std::min(plus, minus), tol_v) << what << " l = " << l;
  }
}
}  // namespace

TEST(Ksvd, SymmetrizeEqualsLapackOnTheFormedSymmetricPart) {
  const Mat z = gaussian(kN * kD, 31, 1.0, 0.4);
  const std::string pf = data_file("sym_points", {{"X", X(), {kN, kD}}, {"Z", z, {kN, kD}}});
  for (const std::string center : {"false", "true"}) {
    const std::string name = "sym_rbf_c" + center;
    ASSERT_EQ(run({"run", deck(name, "[ksvd]\nrank = 4\nmethod = \"exact\"\nsymmetrize = true\ntile_rows = 7\ntile_cols = 10\ncenter = " +
                                         center + "\n[ksvd.data]\nsource = \"hdf5\"\npath = \"" + pf +
                                         "\"\n[ksvd.kernel]\ntype = \"rbf\"\nsigma = 1.3\n"),
                   "--quiet"}),
              kExitDone);
    if (!world().is_root()) continue;
    Mat S = symmetric_part(rbf(X(), z, kD, 1.3), kN);
    if (center == "true") S = centred(S, kN, kN);
    expect_symmetric_svd(read_result(name), S, kN, 4, 1e-12, 1e-10, name);
    h5::File f = h5::File::open(dir() + "/out/" + name + ".h5", h5::File::Mode::ReadOnly);
    EXPECT_EQ(f.root().open_group("result").read_attr<std::int64_t>("symmetrize"), 1);
  }
  const int n = 60, p = 40, s = 6;
  Mat Q = gaussian(n * p, 32), tau(p), K = gaussian(n * n, 33);
  LAPACKE_dgeqrf(LAPACK_ROW_MAJOR, n, p, Q.data(), p, tau.data());
  LAPACKE_dorgqr(LAPACK_ROW_MAJOR, n, p, p, Q.data(), p, tau.data());
  Mat QL(Q);
  for (int i = 0; i < n; ++i)
    for (int l = 0; l < p; ++l) QL[i * p + l] *= (l % 3 == 1 ? -1.0 : 1.0) * std::pow(0.6, l);
  const Mat Ssym = matmul(QL, transpose(Q, n, p), n, p, n);
  Mat G(Ssym);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) G[i * n + j] += 0.5 * (K[i * n + j] - K[j * n + i]);
  const std::string gf = data_file("sym_given", {{"K", G, {n, n}}});
  for (const std::string center : {"false", "true"})
    for (const std::string method : {"exact", "randomized", "krylov"}) {
      const std::string name = "sym_" + method + "_c" + center;
      const std::string iters = method == "krylov" ? "tol = 1e-11\n" : "power_iters = 4\n";
      ASSERT_EQ(run({"run", deck(name, "[ksvd]\nrank = 6\nsymmetrize = true\noversample = 10\n" + iters + "method = \"" + method +
                                           "\"\ncenter = " + center + "\n[ksvd.data]\nsource = \"hdf5\"\npath = \"" + gf +
                                           "\"\nmatrix = \"K\"\n[ksvd.kernel]\ntype = \"given\"\n"),
                     "--quiet"}),
                kExitDone)
          << name;
      if (!world().is_root()) continue;
      const Mat S = center == "true" ? centred(Ssym, n, n) : Ssym;
      expect_symmetric_svd(read_result(name), S, n, s, method == "exact" ? 1e-12 : 1e-10, method == "exact" ? 1e-10 : 1e-8, name);
    }
}

// Two rows on up to 3 ranks, symmetrised: the gathers of the symmetric products include a rank
// without rows.
TEST(Ksvd, SymmetrizeWithRanksWithoutRows) {
  const Mat x = gaussian(2 * kD, 41), z = gaussian(2 * kD, 42);
  const std::string file = data_file("sym_two_rows", {{"X", x, {2, kD}}, {"Z", z, {2, kD}}});
  for (const std::string method : {"exact", "randomized"}) {
    const std::string name = "sym_two_rows_" + method;
    ASSERT_EQ(run({"run", deck(name, "[ksvd]\nrank = 2\nsymmetrize = true\noversample = 0\npower_iters = 3\nmethod = \"" + method +
                                         "\"\n[ksvd.data]\nsource = \"hdf5\"\npath = \"" + file + "\"\n[ksvd.kernel]\ntype = \"rbf\"\nsigma = 1.3\n"),
                   "--quiet"}),
              kExitDone)
        << method;
    if (!world().is_root()) continue;
    expect_symmetric_svd(read_result(name), symmetric_part(rbf(x, z, kD, 1.3), 2), 2, 2, 1e-12, 1e-10, name);
  }
}

// Symmetrisation needs n = m and no test rows, and Nyström does not take it; a named matrix
// that is not in the file: exit 2.
TEST(Ksvd, SymmetrizeAndMatrixRefusalsExitTwo) {
  auto go = [&](const std::string& name, const std::string& ksvd, const std::string& path, const std::string& data = "") {
    return run({"run", deck(name, "[ksvd]\nrank = 2\n" + ksvd + "\n[ksvd.data]\nsource = \"hdf5\"\npath = \"" + path + "\"\n" + data +
                                      "[ksvd.kernel]\ntype = \"" + (data.empty() ? "rbf" : "given") + "\"\n"),
                "--quiet"});
  };
  EXPECT_EQ(go("sym_rect", "symmetrize = true", data_file("sym_rect", {{"X", X(), {kN, kD}}, {"Z", Z(), {kM, kD}}})), kExitBadInput);
  EXPECT_EQ(go("sym_test", "symmetrize = true", points_file()), kExitBadInput);  // 61 x 47 and Xtest
  const std::string sq = data_file("sym_square", {{"X", X(), {kN, kD}}, {"Xtest", Xt(), {kT, kD}}});
  EXPECT_EQ(go("sym_xtest", "symmetrize = true", sq), kExitBadInput);
  EXPECT_EQ(go("sym_nystrom", "symmetrize = true\nmethod = \"nystrom\"\nnystrom_rows = 10\nnystrom_cols = 10", sq), kExitBadInput);
  const std::string gf = data_file("named", {{"G", gaussian(25, 3), {5, 5}}});
  EXPECT_EQ(go("matrix_missing", "", gf, "matrix = \"A\"\n"), kExitBadInput);
  EXPECT_EQ(go("matrix_named", "", gf, "matrix = \"G\"\n"), kExitDone);
}
