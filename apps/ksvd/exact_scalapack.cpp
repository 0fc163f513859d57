#include "apps/ksvd/exact_scalapack.hpp"

#include <lapacke.h>
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
// over MPI and the Fortran routines, with 32-bit integers; character arguments carry gfortran's
// hidden lengths.
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
void pdtran_(const int* m, const int* n, const double* alpha, const double* a, const int* ia, const int* ja, const int* desca,
             const double* beta, double* c, const int* ic, const int* jc, const int* descc);
void pdgebrd_(const int* m, const int* n, double* a, const int* ia, const int* ja, const int* desca, double* d, double* e,
              double* tauq, double* taup, double* work, const int* lwork, int* info);
void pdormbr_(const char* vect, const char* side, const char* trans, const int* m, const int* n, const int* k, const double* a,
              const int* ia, const int* ja, const int* desca, const double* tau, double* c, const int* ic, const int* jc,
              const int* descc, double* work, const int* lwork, int* info, std::size_t vect_len, std::size_t side_len,
              std::size_t trans_len);
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

void check_info(const char* routine, int info) {
  if (info != 0) throw std::runtime_error(std::string("ksvd exact: ") + routine + " failed with info = " + std::to_string(info));
}

// The workspace a ScaLAPACK routine asks for in a query (lwork = −1), as a 32-bit size.
int workspace(double query, const char* routine) {
  if (!(query < static_cast<double>(INT_MAX)))
    throw std::runtime_error(std::string("ksvd exact: ") + routine + " asks for " + std::to_string(query) +
                             " workspace entries, beyond its 32-bit size");
  return std::max(1, static_cast<int>(query));
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

Triplets scalapack_svd(std::vector<double>& local, std::int64_t n64, std::int64_t m64, std::int64_t s64, const engine::Comm& comm,
                       bool symmetrize) {
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
  auto sized = [](int a, int b) { return static_cast<std::size_t>(std::max(1, a)) * static_cast<std::size_t>(std::max(1, b)); };

  // 1-D columns of Gᵀ -> 2-D block-cyclic on the pr x pc grid.
  const Desc d_line = describe(m, n, std::max(1, m), std::max(1, c), line_grid, std::max(1, m));
  const Desc d_a = describe(m, n, nb, nb, grid, std::max(1, mp));
  std::vector<double> A(sized(mp, nq));
  A1.resize(std::max<std::size_t>(A1.size(), 1));
  pdgemr2d_(&m, &n, A1.data(), &one, &one, d_line.data(), A.data(), &one, &one, d_a.data(), &line_grid);
  std::vector<double>().swap(A1);
  if (symmetrize) {  // A <- (A + Aᵀ)/2 (n = m): pdtran computes C = β C + α Aᵀ into a copy
    const double half = 0.5;
    std::vector<double> C(A);
    pdtran_(&m, &n, &half, A.data(), &one, &one, d_a.data(), &half, C.data(), &one, &one, d_a.data());
    A.swap(C);
  }

  // Gᵀ = Q B Pᵀ (pdgebrd; B upper bidiagonal when m >= n, lower otherwise), B = U_B Σ V_Bᵀ for the
  // s largest singular values only (LAPACK dbdsvdx: bisection and inverse iteration on the
  // bidiagonal, O(r s) work, on rank 0 and broadcast), then U' = Q U_B (m x s) and
  // VT' = (P V_B)ᵀ (s x n) by pdormbr. U' is the V of G, VT' the Uᵀ of G. (pdgesvd would find
  // all r vectors by QR iteration, dbdsqr: O(r³) of rotations, several times the reduction.)
  const int tq = numroc(r, nb, mycol, pc), tp = numroc(r, nb, myrow, pr), ldiag = std::max(tq, tp) + 1;
  std::vector<double> dl(static_cast<std::size_t>(ldiag)), el(dl.size()), tauq(dl.size()), taup(dl.size());
  double query = 0;
  int lwork = -1, info = 0;
  pdgebrd_(&m, &n, A.data(), &one, &one, d_a.data(), dl.data(), el.data(), tauq.data(), taup.data(), &query, &lwork, &info);
  check_info("pdgebrd (workspace query)", info);
  lwork = workspace(query, "pdgebrd");
  std::vector<double> work(static_cast<std::size_t>(lwork));
  pdgebrd_(&m, &n, A.data(), &one, &one, d_a.data(), dl.data(), el.data(), tauq.data(), taup.data(), work.data(), &lwork, &info);
  check_info("pdgebrd", info);
  std::vector<double>().swap(work);

  // Global index of local row / column l (blocks of nb dealt round-robin from process 0).
  auto global = [nb](int l, int me_, int procs) { return (l / nb) * nb * procs + me_ * nb + l % nb; };
  // The bidiagonal B from the diagonal and the first super- (m >= n) or subdiagonal of A, summed
  // over ranks (each entry lives on one).
  const bool upper = m >= n;
  std::vector<double> D(static_cast<std::size_t>(r), 0.0), E(static_cast<std::size_t>(std::max(1, r - 1)), 0.0);
  for (int lj = 0; lj < nq; ++lj) {
    const int gj = global(lj, mycol, pc);
    for (int gi = std::max(0, gj - 1); gi <= std::min(m - 1, gj + 1); ++gi) {
      if ((gi / nb) % pr != myrow) continue;
      const double a = A[static_cast<std::size_t>(lj) * static_cast<std::size_t>(std::max(1, mp)) +
                         static_cast<std::size_t>((gi / (nb * pr)) * nb + gi % nb)];
      if (gi == gj && gi < r) D[gi] = a;
      if (upper && gj == gi + 1 && gi < r - 1) E[gi] = a;
      if (!upper && gi == gj + 1 && gj < r - 1) E[gj] = a;
    }
  }
  comm.allreduce(D, engine::Op::Sum);
  comm.allreduce(E, engine::Op::Sum);
  const std::size_t ldz = 2 * static_cast<std::size_t>(r);
  std::vector<double> Z(ldz * static_cast<std::size_t>(s + 1)), sv(static_cast<std::size_t>(r));
  int status[2] = {0, s};  // dbdsvdx's info and the number of values it found, from rank 0 to all
  if (me == 0) {
    lapack_int found = 0;
    std::vector<lapack_int> superb(12 * static_cast<std::size_t>(r));
    status[0] = static_cast<int>(LAPACKE_dbdsvdx(LAPACK_COL_MAJOR, upper ? 'U' : 'L', 'V', 'I', r, D.data(), E.data(), 0.0, 0.0, 1,
                                                 s, &found, sv.data(), Z.data(), static_cast<lapack_int>(ldz), superb.data()));
    status[1] = static_cast<int>(found);
  }
  comm.bcast(status, 2);
  info = status[0];
  if (info == 0 && status[1] != s)
    throw std::runtime_error("ksvd exact: dbdsvdx found " + std::to_string(status[1]) + " of the " + std::to_string(s) +
                             " leading singular values of the bidiagonal");
  check_info("dbdsvdx (the s leading singular triplets of the bidiagonal)", info);
  comm.bcast(Z.data(), Z.size());
  comm.bcast(sv.data(), static_cast<std::size_t>(s));

  // U' = Q [U_B; 0] and VT' = [V_Bᵀ 0] Pᵀ, distributed like A.
  const int sq = numroc(s, nb, mycol, pc), sp = numroc(s, nb, myrow, pr);
  const Desc d_u = describe(m, s, nb, nb, grid, std::max(1, mp)), d_vt = describe(s, n, nb, nb, grid, std::max(1, sp));
  std::vector<double> U(sized(mp, sq), 0.0), VT(sized(sp, nq), 0.0);
  for (int lj = 0; lj < sq; ++lj)
    for (int li = 0; li < mp; ++li) {
      const int gi = global(li, myrow, pr), gl = global(lj, mycol, pc);
      if (gi < r) U[static_cast<std::size_t>(lj) * static_cast<std::size_t>(std::max(1, mp)) + li] = Z[static_cast<std::size_t>(gl) * ldz + gi];
    }
  for (int lj = 0; lj < nq; ++lj)
    for (int li = 0; li < sp; ++li) {
      const int gl = global(li, myrow, pr), gj = global(lj, mycol, pc);
      if (gj < r) VT[static_cast<std::size_t>(lj) * static_cast<std::size_t>(std::max(1, sp)) + li] = Z[static_cast<std::size_t>(gl) * ldz + r + gj];
    }
  for (const bool left : {true, false}) {
    const char* vect = left ? "Q" : "P";
    const char* side = left ? "L" : "R";
    const char* trans = left ? "N" : "T";
    const int rows = left ? m : s, cols = left ? s : n, k = left ? n : m;
    double* c_ = left ? U.data() : VT.data();
    const int* d_c = left ? d_u.data() : d_vt.data();
    const double* tau = left ? tauq.data() : taup.data();
    lwork = -1;
    pdormbr_(vect, side, trans, &rows, &cols, &k, A.data(), &one, &one, d_a.data(), tau, c_, &one, &one, d_c, &query, &lwork,
             &info, 1, 1, 1);
    check_info("pdormbr (workspace query)", info);
    lwork = workspace(query, "pdormbr");
    work.assign(static_cast<std::size_t>(lwork), 0.0);
    pdormbr_(vect, side, trans, &rows, &cols, &k, A.data(), &one, &one, d_a.data(), tau, c_, &one, &one, d_c, work.data(), &lwork,
             &info, 1, 1, 1);
    check_info(left ? "pdormbr (Q U_B)" : "pdormbr (V_Bᵀ Pᵀ)", info);
  }
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

double exact_bytes_per_rank(double n, double m, double s, int ranks) {
  const double r = std::min(n, m), w = sizeof(double);
  // G, LAPACKE's column-major copy of it, u and vt with their copies, gesdd's workspace.
  if (ranks <= 1) return w * (2 * n * m + 2 * r * (n + m) + 4 * r * r + 8 * std::max(n, m));
  const double P = ranks, line = m * std::ceil(n / P);
  const ScalapackLayout L = scalapack_layout(static_cast<std::int64_t>(m), static_cast<std::int64_t>(n), ranks);
  const double nb = L.block;
  auto loc = [&](double k, int procs) { return std::ceil(std::ceil(k / nb) / procs) * nb; };
  const double mp = loc(m, L.prow), nq = loc(n, L.pcol);
  // The rows and their shifted copy; the 1-D piece, pdgemr2d's buffer of it and the 2-D piece;
  // then the 2-D piece, pdgebrd's and pdormbr's workspaces (blocks of rows and columns), the
  // bidiagonal and the s leading vectors of B on every rank, U' and VT'.
  const double work = 2 * nb * (mp + nq + nb) + 8 * std::max(n, m), vectors = 2 * r * (s + 1) + (mp + nq) * loc(s, 1);
  return w * std::max({2 * line, 2 * line + mp * nq, mp * nq + work + vectors});
}

double exact_entries_per_rank(double n, double m, int ranks) {
  const double r = std::min(n, m);
  if (ranks <= 1) return std::max(n * m, 4 * r * r + 7 * r);
  const double P = ranks;
  const ScalapackLayout L = scalapack_layout(static_cast<std::int64_t>(m), static_cast<std::int64_t>(n), ranks);
  const double nb = L.block;
  auto loc = [&](double k, int procs) { return std::ceil(std::ceil(k / nb) / procs) * nb; };
  return std::max(m * std::ceil(n / P), loc(m, L.prow) * loc(n, L.pcol));
}

}  // namespace saddle::apps::ksvd
