#include "apps/ksvd/krylov.hpp"

#include <slepcsvd.h>

#include <cctype>
#include <cstdio>
#include <exception>
#include <stdexcept>
#include <vector>

#include "engine/error.hpp"

namespace saddle::apps::ksvd {
namespace {

// The user's options live under this prefix (SVDSetOptionsPrefix), apart from anything else in
// PETSc's database: "-svd_monitor" in ksvd.krylov.options is "-ksvd_svd_monitor" there.
constexpr const char* kPrefix = "ksvd_";

// "PETSc error N: what it means; the message of the call that failed".
std::string petsc_message(PetscErrorCode code) {
  const char* text = nullptr;
  char* specific = nullptr;
  PetscErrorMessage(code, &text, &specific);
  std::string message = "PETSc error " + std::to_string(code);
  if (text) message += ": " + std::string(text);
  if (specific && *specific) message += "; " + std::string(specific);
  return message;
}
std::runtime_error petsc_failure(PetscErrorCode code, const char* what) {
  return std::runtime_error(std::string("krylov: ") + what + " failed (" + petsc_message(code) + ")");
}
void check(PetscErrorCode code, const char* what) {
  if (code) throw petsc_failure(code, what);
}

// PETSc and SLEPc for one solve (PETSc 3.18 may be initialised again after PetscFinalize, and
// the test binaries run several solves in one process). PETSC_COMM_WORLD is a duplicate of the
// engine's communicator, so PETSc's attributes and error handler stay off the engine's own.
// PETSc's signal handler is off: the engine handles SIGTERM and SIGUSR1 (checkpoints), and
// PETSc's would replace those handlers and reset them to the default at PetscFinalize. Errors
// return codes instead of printing (PetscReturnErrorHandler); every code is checked and thrown.
class PetscSession {
 public:
  explicit PetscSession(const engine::Comm& comm) {
    PetscBool up = PETSC_FALSE;
    check(PetscInitialized(&up), "PetscInitialized");
    if (up) throw std::runtime_error("krylov: PETSc is already initialised in this process (by someone else)");
    // Set before PetscInitialize, which reads them: no signal handler, no ~/.petscrc, and no
    // report of unused options at PetscFinalize (unused_options() reports ours, once).
    check(PetscOptionsSetValue(nullptr, "-no_signal_handler", nullptr), "PetscOptionsSetValue");
    check(PetscOptionsSetValue(nullptr, "-skip_petscrc", nullptr), "PetscOptionsSetValue");
    check(PetscOptionsSetValue(nullptr, "-options_left", "no"), "PetscOptionsSetValue");
    MPI_Comm_dup(comm.raw(), &comm_);
    PETSC_COMM_WORLD = comm_;
    const PetscErrorCode code = SlepcInitializeNoArguments();
    if (code) {
      release();
      throw petsc_failure(code, "SlepcInitialize");
    }
    PetscPushErrorHandler(PetscReturnErrorHandler, nullptr);
  }
  ~PetscSession() {
    PetscPopErrorHandler();
    SlepcFinalize();
    release();
  }
  PetscSession(const PetscSession&) = delete;
  PetscSession& operator=(const PetscSession&) = delete;

  MPI_Comm comm() const { return comm_; }

  // ksvd.krylov.options into the database under kPrefix. PETSc refuses little (a missing
  // -options_file, -prefix_pop without push); krylov_options_problem() caught the rest in validate.
  void insert(const std::string& options) {
    std::string text = options;
    for (char& ch : text)
      if (std::isspace(static_cast<unsigned char>(ch))) ch = ' ';
    check(PetscOptionsPrefixPush(nullptr, kPrefix), "PetscOptionsPrefixPush");
    const PetscErrorCode code = PetscOptionsInsertString(nullptr, text.c_str());
    check(PetscOptionsPrefixPop(nullptr), "PetscOptionsPrefixPop");
    if (code) throw engine::InputError("key 'ksvd.krylov.options': PETSc refuses \"" + options + "\" (" + petsc_message(code) + ")");
  }

  // Options given in ksvd.krylov.options that no PETSc or SLEPc object asked for.
  std::vector<std::string> unused_options() const {
    PetscInt count = 0;
    char **names = nullptr, **values = nullptr;
    std::vector<std::string> out;
    if (PetscOptionsLeftGet(nullptr, &count, &names, &values)) return out;
    const std::string prefix = kPrefix;
    for (PetscInt i = 0; i < count; ++i) {
      std::string name = names[i] ? names[i] : "";
      if (!name.empty() && name[0] == '-') name.erase(0, 1);
      if (name.compare(0, prefix.size(), prefix) != 0) continue;
      out.push_back("-" + name.substr(prefix.size()) + (values[i] ? " " + std::string(values[i]) : ""));
    }
    PetscOptionsLeftRestore(nullptr, &count, &names, &values);
    return out;
  }

 private:
  void release() {  // no dangling PETSC_COMM_WORLD for a later PetscInitialize
    PETSC_COMM_WORLD = MPI_COMM_NULL;
    MPI_Comm_free(&comm_);
  }
  MPI_Comm comm_ = MPI_COMM_NULL;
};

// PETSc objects destroyed with their scope (before the session ends).
template <class T, PetscErrorCode (*Destroy)(T*)>
struct Owned {
  T obj = nullptr;
  Owned() = default;
  Owned(const Owned&) = delete;
  Owned& operator=(const Owned&) = delete;
  ~Owned() {
    if (obj) Destroy(&obj);
  }
  operator T() const { return obj; }
  T* operator&() { return &obj; }
};
using OwnedMat = Owned<Mat, MatDestroy>;
using OwnedVec = Owned<Vec, VecDestroy>;
using OwnedScatter = Owned<VecScatter, VecScatterDestroy>;
using OwnedSvd = Owned<SVD, SVDDestroy>;

// The shell matrix's state: G x needs all of x on every rank (gathered by a scatter made once),
// Gᵀ y is summed over ranks by the operator and this rank keeps its column range.
struct Shell {
  KernelOperator* op = nullptr;
  VecScatter to_all = nullptr;
  Vec x_all = nullptr;
  std::vector<double> col;
  PetscInt col_begin = 0, col_end = 0;
  std::exception_ptr error;
};

PetscErrorCode shell_mult(Mat A, Vec x, Vec y) {
  Shell* sh = nullptr;
  PetscCall(MatShellGetContext(A, &sh));
  PetscCall(VecScatterBegin(sh->to_all, x, sh->x_all, INSERT_VALUES, SCATTER_FORWARD));
  PetscCall(VecScatterEnd(sh->to_all, x, sh->x_all, INSERT_VALUES, SCATTER_FORWARD));
  const PetscScalar* xa = nullptr;
  PetscScalar* ya = nullptr;
  PetscCall(VecGetArrayRead(sh->x_all, &xa));
  PetscCall(VecGetArrayWrite(y, &ya));
  try {
    sh->op->apply(xa, 1, ya, nullptr, 0, nullptr);
  } catch (...) {
    sh->error = std::current_exception();
  }
  PetscCall(VecRestoreArrayWrite(y, &ya));
  PetscCall(VecRestoreArrayRead(sh->x_all, &xa));
  PetscCheck(!sh->error, PETSC_COMM_SELF, PETSC_ERR_USER, "the kernel operator failed");
  return 0;
}

PetscErrorCode shell_mult_transpose(Mat A, Vec x, Vec y) {
  Shell* sh = nullptr;
  PetscCall(MatShellGetContext(A, &sh));
  const PetscScalar* xa = nullptr;
  PetscScalar* ya = nullptr;
  PetscCall(VecGetArrayRead(x, &xa));
  try {
    sh->op->apply(nullptr, 0, nullptr, xa, 1, sh->col.data());
  } catch (...) {
    sh->error = std::current_exception();
  }
  PetscCall(VecRestoreArrayRead(x, &xa));
  PetscCheck(!sh->error, PETSC_COMM_SELF, PETSC_ERR_USER, "the kernel operator failed");
  PetscCall(VecGetArrayWrite(y, &ya));
  for (PetscInt j = sh->col_begin; j < sh->col_end; ++j) ya[j - sh->col_begin] = sh->col[static_cast<std::size_t>(j)];
  PetscCall(VecRestoreArrayWrite(y, &ya));
  return 0;
}

SVDType solver_type(const std::string& name) {
  if (name == "trlanczos") return SVDTRLANCZOS;
  if (name == "lanczos") return SVDLANCZOS;
  if (name == "cross") return SVDCROSS;
  if (name == "cyclic") return SVDCYCLIC;
  if (name == "randomized") return SVDRANDOMIZED;
  throw engine::InputError("key 'ksvd.krylov.solver': unknown SLEPc solver \"" + name + "\"");
}

bool petsc_key(const std::string& t) {  // PetscOptionsValidKey: -name or --name, name not a number
  if (t.size() < 2 || t[0] != '-') return false;
  const std::size_t k = t[1] == '-' ? 2 : 1;
  return k < t.size() && std::isalpha(static_cast<unsigned char>(t[k]));
}

Triplets solve(KernelOperator& op, const engine::Comm& comm, std::int64_t s, const KrylovOptions& o) {
  PetscSession session(comm);
  session.insert(o.options);
  const MPI_Comm pc = session.comm();
  const std::int64_t nl = op.local_rows(), n = op.n(), m = op.m();

  Shell sh;
  sh.op = &op;
  sh.col.assign(static_cast<std::size_t>(m), 0.0);
  OwnedMat A;
  check(MatCreateShell(pc, static_cast<PetscInt>(nl), PETSC_DECIDE, static_cast<PetscInt>(n), static_cast<PetscInt>(m), &sh, &A),
        "MatCreateShell");
  check(MatShellSetOperation(A, MATOP_MULT, reinterpret_cast<void (*)(void)>(shell_mult)), "MatShellSetOperation");
  check(MatShellSetOperation(A, MATOP_MULT_TRANSPOSE, reinterpret_cast<void (*)(void)>(shell_mult_transpose)), "MatShellSetOperation");
  check(MatShellSetOperation(A, MATOP_MULT_HERMITIAN_TRANSPOSE, reinterpret_cast<void (*)(void)>(shell_mult_transpose)),
        "MatShellSetOperation");
  check(MatSetUp(A), "MatSetUp");
  OwnedVec right, left, all;
  check(MatCreateVecs(A, &right, &left), "MatCreateVecs");
  check(VecGetOwnershipRange(right, &sh.col_begin, &sh.col_end), "VecGetOwnershipRange");
  OwnedScatter to_all;
  check(VecScatterCreateToAll(right, &to_all, &all), "VecScatterCreateToAll");
  sh.to_all = to_all;
  sh.x_all = all;

  OwnedSvd svd;
  check(SVDCreate(pc, &svd), "SVDCreate");
  check(SVDSetOptionsPrefix(svd, kPrefix), "SVDSetOptionsPrefix");
  check(SVDSetOperators(svd, A, nullptr), "SVDSetOperators");
  check(SVDSetImplicitTranspose(svd, PETSC_TRUE), "SVDSetImplicitTranspose");  // Gᵀ only through the shell
  check(SVDSetType(svd, solver_type(o.solver)), "SVDSetType");
  check(SVDSetWhichSingularTriplets(svd, SVD_LARGEST), "SVDSetWhichSingularTriplets");
  // One-sided reorthogonalisation (only the right vectors against the whole basis): 20–25 % less
  // time than two-sided on Cora and a 100,000-node SBM, and the tests' residuals stay within
  // ksvd.tol. "-svd_trlanczos_oneside 0" in ksvd.krylov.options restores two-sided.
  if (o.solver == "trlanczos") check(SVDTRLanczosSetOneSide(svd, PETSC_TRUE), "SVDTRLanczosSetOneSide");
  if (o.solver == "lanczos") check(SVDLanczosSetOneSide(svd, PETSC_TRUE), "SVDLanczosSetOneSide");
  check(SVDSetDimensions(svd, static_cast<PetscInt>(s), o.ncv > 0 ? static_cast<PetscInt>(o.ncv) : PETSC_DEFAULT, PETSC_DEFAULT),
        "SVDSetDimensions");
  // ksvd.tol bounds max(‖G v − σ u‖, ‖Gᵀ u − σ v‖) / σ, measured afterwards by finish_triplets.
  // SLEPc's residual of a triplet is √(‖G v − σ u‖² + ‖Gᵀ u − σ v‖²) (for Lanczos
  // bidiagonalisation the first term is zero up to rounding and the second is the estimate
  // β_k |e_kᵀ y|), and SVD_CONV_REL divides it by σ: so SVD_CONV_REL with tolerance τ implies
  // both of ours ≤ τ. ABS would not scale with σ; NORM divides by ‖G‖ and would let the smaller
  // σ_l through with residuals above τ σ_l. Half of ksvd.tol leaves room for the rounding
  // between SLEPc's estimate and the residual of the vectors it returns.
  check(SVDSetConvergenceTest(svd, SVD_CONV_REL), "SVDSetConvergenceTest");
  check(SVDSetTolerances(svd, 0.5 * o.tol, static_cast<PetscInt>(o.max_iters)), "SVDSetTolerances");
  check(SVDSetFromOptions(svd), "SVDSetFromOptions");
  const PetscErrorCode solved = SVDSolve(svd);
  if (sh.error) std::rethrow_exception(sh.error);
  check(solved, "SVDSolve");

  PetscInt converged = 0, iterations = 0;
  check(SVDGetConverged(svd, &converged), "SVDGetConverged");
  check(SVDGetIterationNumber(svd, &iterations), "SVDGetIterationNumber");
  if (converged < s)
    throw engine::InputError("key 'ksvd.max_iters': krylov: SLEPc converged only " + std::to_string(converged) + " of " + std::to_string(s) +
                             " triplets in " + std::to_string(iterations) + " iterations; raise ksvd.max_iters or ksvd.krylov.ncv");
  Triplets t;
  t.U.assign(static_cast<std::size_t>(nl * s), 0.0);
  t.V.assign(static_cast<std::size_t>(m * s), 0.0);
  t.sigma.assign(static_cast<std::size_t>(s), 0.0);
  t.iterations = iterations;
  for (std::int64_t l = 0; l < s; ++l) {
    PetscReal sigma = 0;
    check(SVDGetSingularTriplet(svd, static_cast<PetscInt>(l), &sigma, left, right), "SVDGetSingularTriplet");
    t.sigma[static_cast<std::size_t>(l)] = sigma;
    check(VecScatterBegin(to_all, right, all, INSERT_VALUES, SCATTER_FORWARD), "VecScatterBegin");
    check(VecScatterEnd(to_all, right, all, INSERT_VALUES, SCATTER_FORWARD), "VecScatterEnd");
    const PetscScalar *u = nullptr, *v = nullptr;
    check(VecGetArrayRead(left, &u), "VecGetArrayRead");
    for (std::int64_t i = 0; i < nl; ++i) t.U[static_cast<std::size_t>(i * s + l)] = u[i];
    check(VecRestoreArrayRead(left, &u), "VecRestoreArrayRead");
    check(VecGetArrayRead(all, &v), "VecGetArrayRead");
    for (std::int64_t j = 0; j < m; ++j) t.V[static_cast<std::size_t>(j * s + l)] = v[j];
    check(VecRestoreArrayRead(all, &v), "VecRestoreArrayRead");
  }
  if (comm.is_root())
    for (const auto& unused : session.unused_options())
      std::fprintf(stderr, "saddle: warning: ksvd.krylov.options: SLEPc did not use %s\n", unused.c_str());
  return t;
}

}  // namespace

Triplets krylov_svd(KernelOperator& op, const engine::Comm& comm, std::int64_t s, const KrylovOptions& o) {
  Triplets t;
  comm.agree([&] { t = solve(op, comm, s, o); });
  return t;
}

std::string krylov_options_problem(const std::string& options) {
  std::vector<std::string> tokens;
  for (std::size_t i = 0; i < options.size();) {
    if (std::isspace(static_cast<unsigned char>(options[i]))) {
      ++i;
      continue;
    }
    std::size_t end = i;
    if (options[i] == '"') {
      end = options.find('"', i + 1);
      if (end == std::string::npos) return "the quote at character " + std::to_string(i + 1) + " does not close";
      ++end;
    } else {
      while (end < options.size() && !std::isspace(static_cast<unsigned char>(options[end]))) ++end;
    }
    tokens.push_back(options.substr(i, end - i));
    i = end;
  }
  for (std::size_t k = 0; k < tokens.size(); ++k) {
    if (petsc_key(tokens[k])) continue;
    if (k > 0 && petsc_key(tokens[k - 1])) continue;  // the value of the option before it
    return "'" + tokens[k] + "' is neither an option (-name) nor the value of one";
  }
  return "";
}

}  // namespace saddle::apps::ksvd
