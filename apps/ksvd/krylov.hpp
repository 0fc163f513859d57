#pragma once
// ksvd.method = "krylov": the s leading singular triplets of G by SLEPc's SVD solvers
// (thick-restart Lanczos bidiagonalisation by default) on the matrix-free kernel operator, given
// to PETSc as a shell matrix whose products run the tile loop (docs/algorithms.md section 1,
// docs/workloads/ksvd.md). G is never formed. PETSc and SLEPc are initialised for the solve on
// (a duplicate of) the engine's communicator and finalised after it.
#include <cstdint>
#include <string>

#include "apps/ksvd/kernel_operator.hpp"
#include "apps/ksvd/methods.hpp"
#include "engine/comm.hpp"

namespace saddle::apps::ksvd {

struct KrylovOptions {
  std::string solver = "trlanczos";  // trlanczos, lanczos, cross, cyclic, randomized (ksvd.krylov.solver)
  double tol = 1e-8;                 // ksvd.tol: max_l ‖G v_l − σ_l u_l‖ / σ_l, and the same for Gᵀ
  std::int64_t max_iters = 300;      // ksvd.max_iters: SLEPc's iteration limit
  std::int64_t ncv = 0;              // ksvd.krylov.ncv: subspace size; 0 = SLEPc's choice
  std::string options;               // ksvd.krylov.options: PETSc/SLEPc options, e.g. "-svd_monitor"
};

// Collective. U: this rank's rows x s, V: m x s on every rank, sigma: s descending; iterations
// from SVDGetIterationNumber. Throws InputError naming ksvd.max_iters when fewer than s triplets
// converge, InputError naming ksvd.krylov.options when PETSc refuses them, and std::runtime_error
// for any other PETSc error; on every rank alike (the solve runs inside Comm::agree).
Triplets krylov_svd(KernelOperator& op, const engine::Comm& comm, std::int64_t s, const KrylovOptions& o);

// What is wrong with an options string by PETSc's tokenising rules (an option is -name, a token
// that is no option must be the value of the one before it, quotes must close); "" when nothing.
// No PETSc call: usable from validate().
std::string krylov_options_problem(const std::string& options);

}  // namespace saddle::apps::ksvd
