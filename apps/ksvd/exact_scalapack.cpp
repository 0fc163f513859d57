#include "apps/ksvd/exact_scalapack.hpp"

#include <mpi.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cmath>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <utility>

// BLACS and ScaLAPACK (Debian's libscalapack-openmpi ships no header): the C interface of BLACS
// over MPI and the Fortran routines, with 32-bit integers; the character arguments of pdgesvd
// carry gfortran's hidden lengths.
extern "C" {
int Csys2blacs_handle(MPI_Comm comm);
void Cfree_blacs_system_handle(int handle);
void Cblacs_gridinit(int* context, const char* order, int nprow, int npcol);
void Cblacs_gridinfo(int context, int* nprow, int* npcol, int* myrow, int* mycol);
void Cblacs_gridexit(int context);
int numroc_(const int* n, const int* nb, const int* iproc, const int* isrcproc, const int* nprocs);
void descinit_(int* desc, const int* m, const int* n, const int* mb, const int* nb, const int* irsrc, const int* icsrc,
               const int* ictxt, const int* lld, int* info);
void pdgemr2d_(const int* m, const int* n, const double* a, const int* ia, const int* ja, const int* desca, double* b,
               const int* ib, const int* jb, const int* descb, const int* ictxt);
void pdgesvd_(const char* jobu, const char* jobvt, const int* m, const int* n, double* a, const int* ia, const int* ja,
              const int* desca, double* s, double* u, const int* iu, const int* ju, const int* descu, double* vt,
              const int* ivt, const int* jvt, const int* descvt, double* work, const int* lwork, int* info,
              std::size_t jobu_len, std::size_t jobvt_len);
}

namespace saddle::apps::ksvd {
namespace {

using engine::RowRange;
using Desc = std::array<int, 9>;

int to_int(std::int64_t v, const char* what) {
  if (v < 0 || v > INT_MAX)
    throw std::runtime_error(std::string("ksvd exact: ") + what + " = " + std::to_string(v) +
                             " exceeds ScaLAPACK's 32-bit indices");
  return static_cast<int>(v);
}

std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

// BLACS grids over one communicator; every rank of it creates each grid (collective).
class Blacs {
 public:
  Blacs(MPI_Comm comm, int rank) : system_(Csys2blacs_handle(comm)), rank_(rank) {}
  Blacs(const Blacs&) = delete;
  Blacs& operator=(const Blacs&) = delete;
  ~Blacs() {
    for (int c : contexts_) Cblacs_gridexit(c);
    Cfree_blacs_system_handle(system_);
  }
  // A rows x cols grid of ranks 0 .. rows*cols − 1 in row-major order; −1 on the other ranks.
  int grid(int rows, int cols) {
    int context = system_;
    Cblacs_gridinit(&context, "R", rows, cols);
    if (rank_ >= rows * cols) return -1;
    contexts_.push_back(context);
    return context;
  }

 private:
  int system_, rank_;
  std::vector<int> contexts_;
};

int numroc(int n, int nb, int iproc, int nprocs) {
  const int zero = 0;
  return numroc_(&n, &nb, &iproc, &zero, &nprocs);
}

// A descriptor of an m x n matrix in mb x nb blocks from process (0, 0); context −1 (a rank
// outside the grid, as pdgemr2d wants it) gives a descriptor that only names the shape.
Desc describe(int m, int n, int mb, int nb, int context, int lld) {
  Desc d{1, -1, m, n, mb, nb, 0, 0, lld};
  if (context < 0) return d;
  const int zero = 0;
  int info = 0;
  descinit_(d.data(), &m, &n, &mb, &nb, &zero, &zero, &context, &lld, &info);
  if (info != 0) throw std::runtime_error("ksvd exact: ScaLAPACK descinit failed with info = " + std::to_string(info));
  return d;
}

// Rows of width `width` held as from[r] on rank r to to[r] on rank r (one alltoallv of whole rows,
// between neighbours for the layouts used here); `in` is released.
std::vector<double> move_rows(const engine::Comm& comm, std::vector<double>& in, int width, const std::vector<RowRange>& from,
                              const std::vector<RowRange>& to) {
  const int P = comm.size(), me = comm.rank();
  bool same = true;
  for (int r = 0; r < P; ++r) same = same && from[r].begin == to[r].begin && from[r].end == to[r].end;
  if (same) return std::exchange(in, {});
  auto overlap = [](const RowRange& a, const RowRange& b) {
    return std::max<std::int64_t>(0, std::min(a.end, b.end) - std::max(a.begin, b.begin));
  };
  std::vector<int> sc(P), sd(P), rc(P), rd(P);
  for (int r = 0; r < P; ++r) {
    sc[r] = static_cast<int>(overlap(from[me], to[r]));
    sd[r] = sc[r] ? static_cast<int>(std::max(from[me].begin, to[r].begin) - from[me].begin) : 0;
    rc[r] = static_cast<int>(overlap(from[r], to[me]));
    rd[r] = rc[r] ? static_cast<int>(std::max(from[r].begin, to[me].begin) - to[me].begin) : 0;
  }
  std::vector<double> out(static_cast<std::size_t>(to[me].count()) * static_cast<std::size_t>(width));
  MPI_Datatype row;
  MPI_Type_contiguous(width, MPI_DOUBLE, &row);
  MPI_Type_commit(&row);
  MPI_Alltoallv(in.data(), sc.data(), sd.data(), row, out.data(), rc.data(), rd.data(), row, comm.raw());
  MPI_Type_free(&row);
  std::vector<double>().swap(in);
  return out;
}

std::string pdgesvd_failure(int info, int r) {
  std::string why = info < 0 ? "argument " + std::to_string(-info) + " is illegal"
                    : info == r + 1 ? "the singular values differ between processes (heterogeneous grid)"
                                    : "the bidiagonal QR iteration (dbdsqr) did not converge";
  return "ksvd exact: ScaLAPACK pdgesvd failed with info = " + std::to_string(info) + " (" + why + ")";
}

}  // namespace

ScalapackLayout scalapack_layout(std::int64_t rows, std::int64_t cols, int ranks) {
  int a = 1;
  for (int d = 1; static_cast<std::int64_t>(d) * d <= ranks; ++d)
    if (ranks % d == 0) a = d;
  ScalapackLayout l;
  l.prow = rows >= cols ? ranks / a : a;
  l.pcol = ranks / l.prow;
  const std::int64_t per = std::min(ceil_div(rows, l.prow), ceil_div(cols, l.pcol));
  l.block = static_cast<int>(std::clamp<std::int64_t>(per / 4, 1, 64));
  return l;
}

Triplets scalapack_svd(std::vector<double>& local, std::int64_t n64, std::int64_t m64, std::int64_t s64, const engine::Comm& comm) {
  const int P = comm.size(), me = comm.rank(), one = 1;
  const int n = to_int(n64, "n"), m = to_int(m64, "m"), s = to_int(s64, "rank"), r = std::min(n, m);
  // This rank's rows of G, row-major, are columns of Gᵀ (m x n), column-major with leading
  // dimension m. ScaLAPACK describes a 1-D layout of uniform blocks: c = ceil(n/P) columns of Gᵀ
  // per rank on a 1 x P grid; block_rows gives the first n mod P ranks one row more instead.
  const int c = static_cast<int>(ceil_div(n, P));
  std::vector<RowRange> rows(static_cast<std::size_t>(P)), line(rows.size());
  for (int p = 0; p < P; ++p) {
    rows[p] = engine::block_rows(n, p, P);
    line[p] = RowRange{std::min<std::int64_t>(std::int64_t{p} * c, n), std::min<std::int64_t>(std::int64_t{p + 1} * c, n)};
  }
  std::vector<double> A1 = move_rows(comm, local, m, rows, line);
  const int mine = static_cast<int>(line[me].count());

  Blacs blacs(comm.raw(), me);
  const ScalapackLayout L = scalapack_layout(m, n, P);
  const int line_grid = blacs.grid(1, P), grid = blacs.grid(L.prow, L.pcol), root = blacs.grid(1, 1);
  int pr = 0, pc = 0, myrow = 0, mycol = 0;
  Cblacs_gridinfo(grid, &pr, &pc, &myrow, &mycol);
  const int nb = L.block;
  const int mp = numroc(m, nb, myrow, pr), nq = numroc(n, nb, mycol, pc);
  const int uq = numroc(r, nb, mycol, pc), vp = numroc(r, nb, myrow, pr);
  auto sized = [](int a, int b) { return static_cast<std::size_t>(std::max(1, a)) * static_cast<std::size_t>(std::max(1, b)); };

  // 1-D columns of Gᵀ -> 2-D block-cyclic on the pr x pc grid.
  const Desc d_line = describe(m, n, std::max(1, m), std::max(1, c), line_grid, std::max(1, m));
  const Desc d_a = describe(m, n, nb, nb, grid, std::max(1, mp));
  std::vector<double> A(sized(mp, nq));
  A1.resize(std::max<std::size_t>(A1.size(), 1));
  pdgemr2d_(&m, &n, A1.data(), &one, &one, d_line.data(), A.data(), &one, &one, d_a.data(), &line_grid);
  std::vector<double>().swap(A1);

  // Gᵀ = U' Σ VT' with U' = V (m x r) and VT' = Uᵀ (r x n).
  const Desc d_u = describe(m, r, nb, nb, grid, std::max(1, mp)), d_vt = describe(r, n, nb, nb, grid, std::max(1, vp));
  std::vector<double> U(sized(mp, uq)), VT(sized(vp, nq)), sv(static_cast<std::size_t>(r));
  double query = 0;
  int lwork = -1, info = 0;
  pdgesvd_("V", "V", &m, &n, A.data(), &one, &one, d_a.data(), sv.data(), U.data(), &one, &one, d_u.data(), VT.data(), &one,
           &one, d_vt.data(), &query, &lwork, &info, 1, 1);
  if (info != 0) throw std::runtime_error(pdgesvd_failure(info, r) + " in the workspace query");
  if (!(query < static_cast<double>(INT_MAX)))
    throw std::runtime_error("ksvd exact: pdgesvd asks for " + std::to_string(query) + " workspace entries, beyond its 32-bit size");
  lwork = std::max(1, static_cast<int>(query));
  std::vector<double> work(static_cast<std::size_t>(lwork));
  pdgesvd_("V", "V", &m, &n, A.data(), &one, &one, d_a.data(), sv.data(), U.data(), &one, &one, d_u.data(), VT.data(), &one,
           &one, d_vt.data(), work.data(), &lwork, &info, 1, 1);
  if (info != 0) throw std::runtime_error(pdgesvd_failure(info, r));
  std::vector<double>().swap(work);
  std::vector<double>().swap(A);

  Triplets t;
  // U of G: the first s rows of VT' (s x n) to the 1-D layout, where this rank's columns,
  // column-major with leading dimension s, are its rows of U row-major; then back to block_rows.
  const Desc d_uline = describe(s, n, std::max(1, s), std::max(1, c), line_grid, std::max(1, s));
  std::vector<double> Uline(sized(s, mine));
  pdgemr2d_(&s, &n, VT.data(), &one, &one, d_vt.data(), Uline.data(), &one, &one, d_uline.data(), &line_grid);
  Uline.resize(static_cast<std::size_t>(s) * static_cast<std::size_t>(mine));
  t.U = move_rows(comm, Uline, s, line, rows);
  // V of G: the first s columns of U' (m x s) to rank 0, row-major there, then to every rank.
  const Desc d_root = describe(m, s, std::max(1, m), std::max(1, s), root, std::max(1, m));
  std::vector<double> V0(me == 0 ? sized(m, s) : 1);
  pdgemr2d_(&m, &s, U.data(), &one, &one, d_u.data(), V0.data(), &one, &one, d_root.data(), &line_grid);
  t.V.resize(static_cast<std::size_t>(m) * static_cast<std::size_t>(s));
  if (me == 0)
    for (std::size_t j = 0, ms = static_cast<std::size_t>(m), ss = static_cast<std::size_t>(s); j < ms; ++j)
      for (std::size_t l = 0; l < ss; ++l) t.V[j * ss + l] = V0[j + l * ms];
  comm.bcast(t.V.data(), t.V.size());
  t.sigma.assign(sv.begin(), sv.begin() + s);
  return t;
}

double exact_bytes_per_rank(double n, double m, int ranks) {
  const double r = std::min(n, m), w = sizeof(double);
  // G, LAPACKE's column-major copy of it, u and vt with their copies, gesdd's workspace.
  if (ranks <= 1) return w * (2 * n * m + 2 * r * (n + m) + 4 * r * r + 8 * std::max(n, m));
  const double P = ranks, line = m * std::ceil(n / P);
  const ScalapackLayout L = scalapack_layout(static_cast<std::int64_t>(m), static_cast<std::int64_t>(n), ranks);
  const double nb = L.block;
  auto loc = [&](double k, int procs) { return std::ceil(std::ceil(k / nb) / procs) * nb; };
  const double mp = loc(m, L.prow), nq = loc(n, L.pcol), rq = loc(r, L.pcol), rp = loc(r, L.prow);
  const double work = r * (std::ceil(m / P) + std::ceil(n / P)) + nb * (mp + nq + 1) + nq + 6 * std::max(n, m) + 4 * r;
  // The rows and their shifted copy; the 1-D piece, pdgemr2d's buffer of it and the 2-D piece;
  // during pdgesvd the 2-D piece, U', VT' and the workspace.
  return w * std::max({2 * line, 2 * line + mp * nq, mp * nq + mp * rq + rp * nq + work});
}

double exact_entries_per_rank(double n, double m, int ranks) {
  const double r = std::min(n, m);
  if (ranks <= 1) return std::max(n * m, 4 * r * r + 7 * r);
  const double P = ranks;
  const ScalapackLayout L = scalapack_layout(static_cast<std::int64_t>(m), static_cast<std::int64_t>(n), ranks);
  const double nb = L.block;
  auto loc = [&](double k, int procs) { return std::ceil(std::ceil(k / nb) / procs) * nb; };
  return std::max({m * std::ceil(n / P), loc(m, L.prow) * loc(n, L.pcol), r * (std::ceil(m / P) + std::ceil(n / P)) + 6 * std::max(n, m)});
}

}  // namespace saddle::apps::ksvd
