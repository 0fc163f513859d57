// ksvd: asymmetric kernel SVD (docs/algorithms.md section 1). The s leading singular triplets of
// G_ij = κ(x_i, z_j) by an exact SVD of the formed matrix (LAPACK, or ScaLAPACK on more ranks), by
// randomized subspace iteration or SLEPc's Krylov solvers on the matrix-free operator, or by the
// asymmetric Nyström method (methods.hpp, krylov.hpp, exact_scalapack.hpp); then scores,
// matrix-free residuals against ksvd.tol and out-of-sample scores (results.hpp). Rows are
// distributed over ranks. Driver steps: randomized = the sketch, then one per iteration until the
// tolerance or max_iters (the last also computes the scores; finished() stops the driver early);
// the other methods take one step.
#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "apps/ksvd/data.hpp"
#include "apps/ksvd/exact_scalapack.hpp"
#include "apps/ksvd/kernel_operator.hpp"
#include "apps/ksvd/krylov.hpp"
#include "apps/ksvd/memory.hpp"
#include "apps/ksvd/methods.hpp"
#include "apps/ksvd/phases.hpp"
#include "apps/ksvd/results.hpp"
#include "engine/workload.hpp"
#include "kernels/linalg/host_backend.hpp"

namespace saddle::apps::ksvd {

using engine::Config;
using engine::InputError;

class KernelSvd : public engine::Workload {
 public:
  void declare(engine::Schema& s) const override {
    s.string("ksvd.method").def(std::string("randomized")).one_of({"exact", "randomized", "krylov", "nystrom"})
        .help("exact: (Sca)LAPACK SVD of the formed G; randomized: matrix-free subspace iteration; krylov: SLEPc on the "
              "matrix-free operator; nystrom: asymmetric Nyström");
    s.integer("ksvd.rank").def(std::int64_t{10}).range(1).help("number of singular triplets s");
    s.real("ksvd.tol").def(1e-8).range(0).help("relative residual max_l ||G v_l - s_l u_l|| / s_l (and for G') to reach");
    s.integer("ksvd.max_iters").def(std::int64_t{300}).range(1, 1000000).help("randomized, krylov: iteration limit");
    s.integer("ksvd.oversample").def(std::int64_t{10}).range(0).help("randomized: extra sketch columns p");
    s.integer("ksvd.power_iters").optional().range(0, 1000)
        .help("randomized: exactly this many power iterations, no tolerance stop (instead of max_iters)");
    s.string("ksvd.krylov.solver").def(std::string("trlanczos")).one_of({"trlanczos", "lanczos", "cross", "cyclic", "randomized"})
        .help("krylov: the SLEPc SVD solver (SVDTRLANCZOS, ...)");
    s.integer("ksvd.krylov.ncv").optional().range(1).help("krylov: subspace size (SLEPc's ncv; default: SLEPc's choice)");
    s.string("ksvd.krylov.options").def(std::string("")).help("krylov: extra PETSc/SLEPc options, e.g. \"-svd_monitor\"");
    s.boolean("ksvd.symmetrize").def(false).help("use (G + G')/2 (n = m): the symmetric baseline, kernel-PCA-like");
    s.integer("ksvd.nystrom_rows").optional().range(1).help("nystrom: sampled rows (required for nystrom)");
    s.integer("ksvd.nystrom_cols").optional().range(1).help("nystrom: sampled columns (required for nystrom)");
    s.boolean("ksvd.center").def(false).help("double centring (I - 11'/n) G (I - 11'/m), matrix-free");
    s.integer("ksvd.tile_rows").def(std::int64_t{128}).range(1, 65536).help("rows of a kernel tile");
    s.integer("ksvd.tile_cols").def(std::int64_t{512}).range(1, 65536).help("columns of a kernel tile");
    s.string("ksvd.device").def(std::string("auto")).one_of({"auto", "host", "device"}).restart_neutral()
        .help("where kernel tiles and their products run: host, device (Kokkos's default execution space: a GPU in a "
              "CUDA build, the host otherwise) or auto (device when that is not the host)");
    s.string("ksvd.data.source").def(std::string("synthetic")).one_of({"synthetic", "hdf5"}).help("where the data comes from");
    s.string("ksvd.data.path").optional().help("hdf5: file with /X (and /Z, /Xtest) or /G (dense, or CSR group)");
    s.string("ksvd.data.matrix").def(std::string("G"))
        .help("hdf5: name of the given matrix in the file (dense, or CSR group), e.g. \"A\"; set: points are not read");
    s.string("ksvd.data.generator").def(std::string("blobs")).one_of({"blobs", "sbm"}).help("synthetic: Gaussian blobs or a directed SBM graph");
    s.integer("ksvd.data.n").def(std::int64_t{1000}).range(1).help("blobs: rows (points x)");
    s.integer("ksvd.data.m").optional().range(1).help("blobs: columns (points z); absent: Z = X");
    s.integer("ksvd.data.d").def(std::int64_t{2}).range(1, 100000).help("blobs: dimension");
    s.integer("ksvd.data.clusters").def(std::int64_t{3}).range(1).help("blobs: clusters");
    s.real("ksvd.data.cluster_std").def(1.0).range(0).help("blobs: standard deviation within a cluster");
    s.real("ksvd.data.spread").def(4.0).range(0).help("blobs: standard deviation of the cluster centres");
    s.real("ksvd.data.shift").def(0.0).help("blobs: offset added to every coordinate of z");
    s.integer("ksvd.data.test_points").def(std::int64_t{0}).range(0).help("blobs: out-of-sample rows (scores_test)");
    s.integer("ksvd.data.nodes").def(std::int64_t{1000}).range(2).help("sbm: nodes");
    s.integer("ksvd.data.blocks").def(std::int64_t{4}).range(1).help("sbm: blocks (contiguous)");
    s.real("ksvd.data.p_in").def(0.1).range(0, 1).help("sbm: edge probability inside a block");
    s.real("ksvd.data.p_out").def(0.05).range(0, 1).help("sbm: edge probability from block b to b + 1");
    s.real("ksvd.data.p_noise").def(0.0).range(0, 1).help("sbm: edge probability between other blocks");
    s.string("ksvd.kernel.type").def(std::string("rbf")).one_of({"linear", "rbf", "sne", "kl", "given"})
        .help("kernel; given = the matrix itself (/G or sbm)");
    s.real("ksvd.kernel.sigma").def(1.0).range(0).help("rbf bandwidth (> 0)");
    s.real("ksvd.kernel.perplexity").def(30.0).range(1).help("sne: perplexity of every row");
    s.real("ksvd.kernel.a").def(1.0).range(0).help("kl: exp(-a KL(p||q))");
  }

  std::int64_t steps(const Config& c) const override {
    return c.string("ksvd.method") == "randomized" ? 1 + iteration_limit(c) : 1;
  }
  // Randomized: Rayleigh–Ritz iterations at most (power_iters = q fixes q + 1 of them, no tolerance stop).
  static std::int64_t iteration_limit(const Config& c) {
    return c.has("ksvd.power_iters") ? c.integer("ksvd.power_iters") + 1 : c.integer("ksvd.max_iters");
  }

  void validate(const Config& c) const override {
    if (c.is_set("run.steps"))
      throw c.error("run.steps", "ksvd sets the number of driver steps itself (randomized: at most max_iters + 1, otherwise 1)");
    if (c.has("ksvd.power_iters") && c.is_set("ksvd.max_iters"))
      throw c.error("ksvd.power_iters", "fixes the number of iterations; it cannot be combined with ksvd.max_iters (the tolerance stop)");
    const std::string method = c.string("ksvd.method"), source = c.string("ksvd.data.source"), type = c.string("ksvd.kernel.type");
    if (source == "hdf5" && !c.has("ksvd.data.path")) throw c.error("ksvd.data.path", "is required when ksvd.data.source = \"hdf5\"");
    if (source == "synthetic" && c.has("ksvd.data.path")) throw c.error("ksvd.data.path", "is only read when ksvd.data.source = \"hdf5\"");
    if (source == "synthetic" && c.is_set("ksvd.data.matrix"))
      throw c.error("ksvd.data.matrix", "is only read when ksvd.data.source = \"hdf5\"");
    if (c.is_set("ksvd.data.matrix") && type != "given")
      throw c.error("ksvd.data.matrix", "names a given matrix: use ksvd.kernel.type = \"given\"");
    if (c.boolean("ksvd.symmetrize") && method == "nystrom")
      throw c.error("ksvd.symmetrize", "is not supported by ksvd.method = \"nystrom\" (use exact, randomized or krylov)");
    for (const std::string k : {"ksvd.nystrom_rows", "ksvd.nystrom_cols"}) {
      if (method == "nystrom" && !c.has(k)) throw c.error(k, "is required for ksvd.method = \"nystrom\"");
      if (method != "nystrom" && c.has(k)) throw c.error(k, "is only used by ksvd.method = \"nystrom\"");
    }
    const std::string options_problem = krylov_options_problem(c.string("ksvd.krylov.options"));
    if (!options_problem.empty()) throw c.error("ksvd.krylov.options", options_problem);
    if (method == "krylov" && !(c.real("ksvd.tol") > 0)) throw c.error("ksvd.tol", "must be > 0 for ksvd.method = \"krylov\"");
    if (c.has("ksvd.krylov.ncv") && c.integer("ksvd.krylov.ncv") < c.integer("ksvd.rank"))
      throw c.error("ksvd.krylov.ncv", "must be at least ksvd.rank = " + std::to_string(c.integer("ksvd.rank")));
    if (!(c.real("ksvd.kernel.sigma") > 0)) throw c.error("ksvd.kernel.sigma", "must be > 0");
    if (c.string("ksvd.device") == "device" && !KernelOperator::device_available())
      throw c.error("ksvd.device", std::string("\"device\" needs a linalg backend for the Kokkos execution space ") +
                                       kernels::Exec::name() + ", which this build lacks (host and CUDA builds have one): use \"host\" or \"auto\"");
    if (source == "synthetic") {
      const bool sbm = c.string("ksvd.data.generator") == "sbm";
      if (sbm && type != "given") throw c.error("ksvd.kernel.type", "an sbm graph is a given matrix: use type = \"given\"");
      if (!sbm && type == "given") throw c.error("ksvd.kernel.type", "\"given\" needs a matrix (/G or the sbm generator), not points");
      if (!sbm && type == "kl") throw c.error("ksvd.kernel.type", "kl compares histograms: read them from HDF5 (blobs have negative coordinates)");
      const std::int64_t n = sbm ? c.integer("ksvd.data.nodes") : c.integer("ksvd.data.n");
      const std::int64_t m = sbm ? n : c.has("ksvd.data.m") ? c.integer("ksvd.data.m") : n;
      check_sizes(c, n, m);
      if (c.boolean("ksvd.symmetrize") && n != m)
        throw c.error("ksvd.symmetrize", "(G + G')/2 needs n = m, but G is " + std::to_string(n) + " x " + std::to_string(m));
      if (c.boolean("ksvd.symmetrize") && c.integer("ksvd.data.test_points") > 0)
        throw c.error("ksvd.symmetrize", "has no out-of-sample rows: set ksvd.data.test_points = 0");
      if (sbm && c.integer("ksvd.data.blocks") > n) throw c.error("ksvd.data.blocks", "exceeds the number of nodes");
    }
  }

  void setup(const engine::RunContext& ctx) override {
    const Config& c = ctx.config;
    ctx_ = &ctx;
    comm_ = ctx.grid.world;
    seed_ = ctx.seed;
    method_ = parse_method(c.string("ksvd.method"));
    rank_ = c.integer("ksvd.rank");
    limit_ = iteration_limit(c);
    early_stop_ = !c.has("ksvd.power_iters");
    tol_ = c.real("ksvd.tol");
    phases_ = PhaseLog(ctx.timers, [this] { return op_ ? op_->flops() : 0.0; });
    if (comm_.size() > 1) kernels::linalg::set_blas_threads(1);  // ranks fill the cores
    const KernelConfig kc{c.string("ksvd.kernel.type"), c.real("ksvd.kernel.sigma"), c.real("ksvd.kernel.perplexity"),
                          c.real("ksvd.kernel.a"), c.integer("ksvd.tile_rows"), c.integer("ksvd.tile_cols"),
                          use_device(c.string("ksvd.device"))};
    {
      auto t = ctx.timers.scope("ksvd.data");
      comm_.agree([&] {
        const bool generated = c.string("ksvd.data.source") == "synthetic";
        if (generated) require_generated_memory(c, comm_.size());
        data_ = load_data(c, seed_, comm_);
        if (!generated) require_solver_memory(c, data_.n, data_.m, data_.d, data_.n_test, comm_.size());
        const bool matrix = data_.kind != Data::Kind::Points;
        if (matrix && kc.type != "given")
          throw c.error("ksvd.kernel.type", "the data is a matrix (" + data_.describe + "): use type = \"given\"");
        if (!matrix && kc.type == "given")
          throw c.error("ksvd.kernel.type", "\"given\" needs a matrix /G, but the data are points (" + data_.describe + ")");
        check_sizes(c, data_.n, data_.m);
        if (c.boolean("ksvd.symmetrize") && data_.n != data_.m)
          throw c.error("ksvd.symmetrize", "(G + G')/2 needs n = m, but G is " + std::to_string(data_.n) + " x " +
                                               std::to_string(data_.m) + " (" + data_.describe + ")");
        if (c.boolean("ksvd.symmetrize") && data_.n_test > 0)
          throw c.error("ksvd.symmetrize", "has no out-of-sample rows (k(z, x) of a new x is not in G), but the data hold " +
                                               std::to_string(data_.n_test) + " test rows (" + data_.describe + ")");
        check_exact_per_rank(c, data_.n, data_.m, comm_.size());
      });
    }
    ctx.log("ksvd: " + data_.describe + ", kernel " + kc.type + ", method " + c.string("ksvd.method"));
    {
      auto t = phases_.phase("kernel_setup");
      comm_.agree([&] {
        try {
          op_ = std::make_unique<KernelOperator>(data_, kc, kernels::linalg::host_backend(), comm_);
          if (data_.n_test > 0) test_rows_ = op_->make_test_rows(data_.Xtest, data_.test_rows.begin);
        } catch (const InputError& e) {
          throw InputError(std::string(e.what()) + " (data: " + data_.describe + ")");
        }
      });
      if (c.boolean("ksvd.center")) op_->enable_centering();
      if (c.boolean("ksvd.symmetrize")) op_->enable_symmetrize();
    }
    k_ = sketch_columns(rank_, c.integer("ksvd.oversample"), data_.n, data_.m);
    if (method_ == Method::Krylov)
      krylov_ = KrylovOptions{c.string("ksvd.krylov.solver"), c.real("ksvd.tol"), c.integer("ksvd.max_iters"),
                              c.has("ksvd.krylov.ncv") ? c.integer("ksvd.krylov.ncv") : 0, c.string("ksvd.krylov.options")};
    if (method_ == Method::Nystrom) {
      nys_rows_ = c.integer("ksvd.nystrom_rows");
      nys_cols_ = c.integer("ksvd.nystrom_cols");
    }
    Q_.clear();
    done_ = false;
    sigma_est_ = 0;
    residual_est_ = 0;
    iterations_ = 0;
  }

  void step(std::int64_t step) override {
    Triplets t;
    if (method_ == Method::Exact) {
      auto p = phases_.phase("exact");
      t = exact_svd(*op_, comm_, rank_);
    } else if (method_ == Method::Krylov) {
      auto p = phases_.phase("krylov");
      t = krylov_svd(*op_, comm_, rank_, krylov_);
    } else if (method_ == Method::Nystrom) {
      auto p = phases_.phase("nystrom");
      t = nystrom_svd(*op_, comm_, data_.rows, rank_, seed_, nys_rows_, nys_cols_);
    } else if (step == 1) {
      auto p = phases_.phase("sketch");
      return randomized_sketch(*op_, comm_, seed_, k_, Q_);
    } else {
      // The last allowed iteration, and one that meets the tolerance, finish instead of advancing Q.
      const bool last = step == 1 + limit_;
      RitzStep it;
      {
        auto p = phases_.phase("iterate");
        it = randomized_iterate(*op_, comm_, k_, rank_, Q_, last ? HUGE_VAL : early_stop_ ? tol_ : -1.0);
      }
      iterations_ = step - 1;
      sigma_est_ = it.ritz.sigma[0];
      residual_est_ = it.residual;
      if (it.advanced) return;
      t = std::move(it.ritz);
      t.iterations = iterations_;
    }
    auto p = phases_.phase("scores");
    res_ = finish_triplets(std::move(t), *op_, comm_, data_.rows.begin, test_rows_, data_.n_test > 0);
    done_ = true;
  }

  engine::MetricValues metrics(std::int64_t) override {
    return {{"sigma_1", done_ ? res_.sigma[0] : sigma_est_},
            {"kernel_evaluations", comm_.allreduce(op_->evaluations(), engine::Op::Sum)},
            {"residual_max", done_ ? *std::max_element(res_.res_rows.begin(), res_.res_rows.end()) : 0.0},
            {"relative_residual", done_ ? res_.max_relative() : residual_est_}};
  }

  bool finished() const override { return done_; }

  void save(const engine::h5::Group& g) const override {
    g.write_attr("done", static_cast<std::int64_t>(done_));
    g.write_attr("k", k_);
    g.write_attr("sigma_estimate", sigma_est_);
    g.write_attr("residual_estimate", residual_est_);
    g.write_attr("iterations", iterations_);
    g.write_attr("has_q", static_cast<std::int64_t>(!Q_.empty()));
    if (!Q_.empty()) g.write_rows("Q", Q_.data(), op_->local_rows(), k_);
    if (!done_) return;
    g.write("sigma", res_.sigma);
    g.write("residuals", res_.res_rows);
    g.write("residuals_cols", res_.res_cols);
    g.write("relative_residuals", res_.relative);
    g.write("V", res_.V, {static_cast<hsize_t>(op_->m()), static_cast<hsize_t>(rank_)});
    g.write("scores_cols", res_.scores_cols, {static_cast<hsize_t>(op_->m()), static_cast<hsize_t>(rank_)});
    g.write_rows("U", res_.U.data(), op_->local_rows(), rank_);
    g.write_rows("scores_rows", res_.scores_rows.data(), op_->local_rows(), rank_);
    if (data_.n_test > 0) g.write_rows("scores_test", res_.scores_test.data(), test_rows_.count, rank_);
  }

  void load(const engine::h5::Group& g) override {
    if (g.read_attr<std::int64_t>("k") != k_) throw InputError("checkpoint holds another ksvd sketch width");
    sigma_est_ = g.read_attr<double>("sigma_estimate");
    residual_est_ = g.read_attr<double>("residual_estimate");
    iterations_ = g.read_attr<std::int64_t>("iterations");
    Q_ = g.read_attr<std::int64_t>("has_q") ? g.read_rows<double>("Q", data_.rows.begin, op_->local_rows()) : std::vector<double>{};
    done_ = g.read_attr<std::int64_t>("done") != 0;
    if (!done_) return;
    res_.sigma = g.read<double>("sigma");
    res_.res_rows = g.read<double>("residuals");
    res_.res_cols = g.read<double>("residuals_cols");
    res_.relative = g.read<double>("relative_residuals");
    res_.iterations = iterations_;
    res_.V = g.read<double>("V");
    res_.scores_cols = g.read<double>("scores_cols");
    res_.U = g.read_rows<double>("U", data_.rows.begin, op_->local_rows());
    res_.scores_rows = g.read_rows<double>("scores_rows", data_.rows.begin, op_->local_rows());
    if (data_.n_test > 0) res_.scores_test = g.read_rows<double>("scores_test", data_.test_rows.begin, test_rows_.count);
  }

  void finish(const engine::h5::Group& result) override {
    const auto m = static_cast<hsize_t>(op_->m()), s = static_cast<hsize_t>(rank_);
    const std::int64_t nl = op_->local_rows();
    result.write("singular_values", res_.sigma);
    result.write_rows("U", res_.U.data(), nl, rank_);
    result.write("V", res_.V, {m, s});
    result.write_rows("scores_rows", res_.scores_rows.data(), nl, rank_);
    result.write("scores_cols", res_.scores_cols, {m, s});
    result.write("residuals", res_.res_rows);
    result.write("residuals_cols", res_.res_cols);
    result.write("relative_residuals", res_.relative);
    if (data_.n_test > 0) result.write_rows("scores_test", res_.scores_test.data(), test_rows_.count, rank_);
    if (!op_->rows().beta.empty()) {
      std::vector<double> sig(op_->rows().beta.size()), perp = op_->rows().perplexity;
      for (std::size_t i = 0; i < sig.size(); ++i) sig[i] = 1.0 / std::sqrt(2.0 * op_->rows().beta[i]);
      result.write_distributed("sne_sigma", sig.data(), nl);
      result.write_distributed("sne_perplexity", perp.data(), nl);
    }
    if (!data_.row_labels.empty()) {
      result.write_distributed("labels_rows", data_.row_labels.data(), nl);
      result.write("labels_cols", data_.col_labels);
    }
    const Config& c = ctx_->config;
    result.write_attr("method", c.string("ksvd.method"));
    result.write_attr("kernel", c.string("ksvd.kernel.type"));
    result.write_attr("data", data_.describe);
    result.write_attr("n", op_->n());
    result.write_attr("m", op_->m());
    result.write_attr("rank", rank_);
    result.write_attr("sketch_columns", k_);
    const double achieved = res_.max_relative();
    const bool converged = achieved <= tol_;
    result.write_attr("tol", tol_);
    result.write_attr("relative_residual", achieved);
    result.write_attr("converged", static_cast<std::int64_t>(converged));
    result.write_attr("iterations", res_.iterations);
    if (method_ == Method::Randomized) result.write_attr("max_iters", limit_);
    ctx_->log("ksvd: relative residual " + fmt(achieved) + " (tol " + fmt(tol_) + ")" +
              (res_.iterations > 0 ? " after " + std::to_string(res_.iterations) + " iterations" : ""));
    if (!converged && comm_.is_root()) {
      const std::string why =
          method_ == Method::Nystrom ? "nystrom does not iterate: its error is set by nystrom_rows and nystrom_cols"
          : method_ == Method::Randomized
              ? std::string(early_stop_ ? "raise ksvd.max_iters or ksvd.oversample" : "ksvd.power_iters fixes the iterations: drop it to iterate to ksvd.tol")
              : method_ == Method::Krylov ? "raise ksvd.max_iters or ksvd.krylov.ncv"
                                          : "the singular values are too close to zero for this tolerance in float64";
      std::fprintf(stderr, "saddle: warning: ksvd: not converged: relative residual %s > ksvd.tol = %s (%s); results written with converged = 0\n",
                   fmt(achieved).c_str(), fmt(tol_).c_str(), why.c_str());
    }
    result.write_attr("center", static_cast<std::int64_t>(op_->centered()));
    if (method_ == Method::Krylov) result.write_attr("krylov_solver", krylov_.solver);
    result.write_attr("symmetrize", static_cast<std::int64_t>(op_->symmetrized()));
    result.write_attr("tile_space", op_->tile_space());
    const double evaluations = comm_.allreduce(op_->evaluations(), engine::Op::Sum);
    ctx_->log(phases_.write(result, comm_, evaluations));
  }

 private:
  // ksvd.device: auto takes the device when Exec is not the host and this build can use it.
  static bool use_device(const std::string& where) {
    if (where == "auto") return !kernels::kExecIsHost && KernelOperator::device_available();
    return where == "device";
  }

  static void check_sizes(const Config& c, std::int64_t n, std::int64_t m) {
    const std::int64_t s = c.integer("ksvd.rank");
    if (s > std::min(n, m))
      throw c.error("ksvd.rank", std::to_string(s) + " exceeds min(n, m) = " + std::to_string(std::min(n, m)) + " of the " +
                                     std::to_string(n) + " x " + std::to_string(m) + " kernel matrix");
    if (c.has("ksvd.krylov.ncv") && c.integer("ksvd.krylov.ncv") > std::min(n, m))
      throw c.error("ksvd.krylov.ncv", std::to_string(c.integer("ksvd.krylov.ncv")) + " exceeds min(n, m) = " + std::to_string(std::min(n, m)));
    // exact: G is split over the ranks (ScaLAPACK), and the memory check of setup refuses what
    // one rank cannot hold; LAPACK and ScaLAPACK index with 32-bit integers.
    if (c.string("ksvd.method") == "exact" && std::max(n, m) > std::int64_t{INT_MAX})
      throw c.error("ksvd.method", "\"exact\" needs n and m below 2^31 (LAPACK and ScaLAPACK index with 32-bit integers), not " +
                                       std::to_string(n) + " x " + std::to_string(m) + ": use \"randomized\" or \"nystrom\"");
    if (c.string("ksvd.method") != "nystrom") return;
    const std::int64_t nr = c.integer("ksvd.nystrom_rows"), nc = c.integer("ksvd.nystrom_cols");
    if (nr > n) throw c.error("ksvd.nystrom_rows", std::to_string(nr) + " exceeds the " + std::to_string(n) + " rows");
    if (nc > m) throw c.error("ksvd.nystrom_cols", std::to_string(nc) + " exceeds the " + std::to_string(m) + " columns");
    if (s > std::min(nr, nc))
      throw c.error("ksvd.rank", std::to_string(s) + " exceeds min(nystrom_rows, nystrom_cols) = " + std::to_string(std::min(nr, nc)));
  }

  // exact on `ranks` ranks: every local array (and ScaLAPACK's workspace) below 2^31 entries.
  static void check_exact_per_rank(const Config& c, std::int64_t n, std::int64_t m, int ranks) {
    if (c.string("ksvd.method") != "exact") return;
    const double entries = exact_entries_per_rank(static_cast<double>(n), static_cast<double>(m), ranks);
    if (entries >= static_cast<double>(INT_MAX))
      throw c.error("ksvd.method", "\"exact\" on " + std::to_string(ranks) + " rank(s) puts about " + std::to_string(static_cast<std::int64_t>(entries)) +
                                       " entries of G or its factors on one rank, beyond the 2^31 that LAPACK's and ScaLAPACK's 32-bit "
                                       "indices reach: use more ranks, or \"randomized\" or \"nystrom\"");
  }

  const engine::RunContext* ctx_ = nullptr;
  engine::Comm comm_;
  std::uint64_t seed_ = 1;
  Method method_ = Method::Randomized;
  std::int64_t rank_ = 1, limit_ = 1, k_ = 1, nys_rows_ = 0, nys_cols_ = 0;
  bool early_stop_ = true;
  double tol_ = 1e-8;
  KrylovOptions krylov_;
  Data data_;
  std::unique_ptr<KernelOperator> op_;
  RowSet test_rows_;
  PhaseLog phases_;
  // State: the current orthonormal basis (randomized), then the results.
  std::vector<double> Q_;
  bool done_ = false;
  double sigma_est_ = 0, residual_est_ = 0;
  std::int64_t iterations_ = 0;
  Results res_;
};

}  // namespace saddle::apps::ksvd

SADDLE_REGISTER_WORKLOAD(ksvd, "asymmetric kernel SVD: exact, randomized (matrix-free), krylov (SLEPc) and Nyström, with scores",
                         saddle::apps::ksvd::KernelSvd);
