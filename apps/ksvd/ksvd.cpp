// ksvd: asymmetric kernel SVD (ALGORITHMS.md section 1). The s leading singular triplets of
// G_ij = κ(x_i, z_j) by an exact SVD of the formed matrix, by randomized range finding
// (Halko–Martinsson–Tropp) on the matrix-free operator, or by the asymmetric Nyström method;
// then scores, matrix-free residuals and out-of-sample scores. Rows are distributed over ranks.
// Driver steps: randomized = sketch, one per power iteration, projection (+ scores); the other
// methods take one step.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "apps/ksvd/data.hpp"
#include "apps/ksvd/kernel_operator.hpp"
#include "apps/ksvd/tsqr.hpp"
#include "engine/workload.hpp"
#include "kernels/counter_rng.hpp"
#include "kernels/linalg/host_backend.hpp"

namespace saddle::apps::ksvd {

using engine::Config;
using engine::InputError;

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

}  // namespace

class KernelSvd : public engine::Workload {
 public:
  void declare(engine::Schema& s) const override {
    s.string("ksvd.method").def(std::string("randomized")).one_of({"exact", "randomized", "nystrom"})
        .help("exact: LAPACK on the formed G; randomized: matrix-free HMT; nystrom: asymmetric Nyström");
    s.integer("ksvd.rank").def(std::int64_t{10}).range(1).help("number of singular triplets s");
    s.integer("ksvd.oversample").def(std::int64_t{10}).range(0).help("randomized: extra sketch columns p");
    s.integer("ksvd.power_iters").def(std::int64_t{2}).range(0, 1000).help("randomized: power iterations q");
    s.integer("ksvd.nystrom_rows").optional().range(1).help("nystrom: sampled rows (required for nystrom)");
    s.integer("ksvd.nystrom_cols").optional().range(1).help("nystrom: sampled columns (required for nystrom)");
    s.boolean("ksvd.center").def(false).help("double centring (I - 11'/n) G (I - 11'/m), matrix-free");
    s.integer("ksvd.tile_rows").def(std::int64_t{128}).range(1, 65536).help("rows of a kernel tile");
    s.integer("ksvd.tile_cols").def(std::int64_t{512}).range(1, 65536).help("columns of a kernel tile");
    s.string("ksvd.data.source").def(std::string("synthetic")).one_of({"synthetic", "hdf5"}).help("where the data comes from");
    s.string("ksvd.data.path").optional().help("hdf5: file with /X (and /Z, /Xtest) or /G (dense, or CSR group)");
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
    return c.string("ksvd.method") == "randomized" ? c.integer("ksvd.power_iters") + 2 : 1;
  }

  void validate(const Config& c) const override {
    if (c.is_set("run.steps"))
      throw c.error("run.steps", "ksvd sets the number of driver steps itself (randomized: power_iters + 2, otherwise 1)");
    const std::string method = c.string("ksvd.method"), source = c.string("ksvd.data.source"), type = c.string("ksvd.kernel.type");
    if (source == "hdf5" && !c.has("ksvd.data.path")) throw c.error("ksvd.data.path", "is required when ksvd.data.source = \"hdf5\"");
    if (source == "synthetic" && c.has("ksvd.data.path")) throw c.error("ksvd.data.path", "is only read when ksvd.data.source = \"hdf5\"");
    for (const std::string k : {"ksvd.nystrom_rows", "ksvd.nystrom_cols"}) {
      if (method == "nystrom" && !c.has(k)) throw c.error(k, "is required for ksvd.method = \"nystrom\"");
      if (method != "nystrom" && c.has(k)) throw c.error(k, "is only used by ksvd.method = \"nystrom\"");
    }
    if (!(c.real("ksvd.kernel.sigma") > 0)) throw c.error("ksvd.kernel.sigma", "must be > 0");
    if (source == "synthetic") {
      const bool sbm = c.string("ksvd.data.generator") == "sbm";
      if (sbm && type != "given") throw c.error("ksvd.kernel.type", "an sbm graph is a given matrix: use type = \"given\"");
      if (!sbm && type == "given") throw c.error("ksvd.kernel.type", "\"given\" needs a matrix (/G or the sbm generator), not points");
      if (!sbm && type == "kl") throw c.error("ksvd.kernel.type", "kl compares histograms: read them from HDF5 (blobs have negative coordinates)");
      const std::int64_t n = sbm ? c.integer("ksvd.data.nodes") : c.integer("ksvd.data.n");
      const std::int64_t m = sbm ? n : c.has("ksvd.data.m") ? c.integer("ksvd.data.m") : n;
      check_sizes(c, n, m);
      if (sbm && c.integer("ksvd.data.blocks") > n) throw c.error("ksvd.data.blocks", "exceeds the number of nodes");
    }
  }

  void setup(const engine::RunContext& ctx) override {
    const Config& c = ctx.config;
    ctx_ = &ctx;
    comm_ = ctx.grid.world;
    seed_ = ctx.seed;
    method_ = c.string("ksvd.method");
    rank_ = c.integer("ksvd.rank");
    power_ = c.integer("ksvd.power_iters");
    if (comm_.size() > 1) kernels::linalg::set_blas_threads(1);  // ranks fill the cores
    KernelConfig kc;
    kc.type = c.string("ksvd.kernel.type");
    kc.sigma = c.real("ksvd.kernel.sigma");
    kc.perplexity = c.real("ksvd.kernel.perplexity");
    kc.a = c.real("ksvd.kernel.a");
    kc.tile_rows = c.integer("ksvd.tile_rows");
    kc.tile_cols = c.integer("ksvd.tile_cols");
    {
      auto t = ctx.timers.scope("ksvd.data");
      comm_.agree([&] {
        data_ = load_data(c, seed_, comm_);
        const bool matrix = data_.kind != Data::Kind::Points;
        if (matrix && kc.type != "given")
          throw c.error("ksvd.kernel.type", "the data is a matrix (" + data_.describe + "): use type = \"given\"");
        if (!matrix && kc.type == "given")
          throw c.error("ksvd.kernel.type", "\"given\" needs a matrix /G, but the data are points (" + data_.describe + ")");
        check_sizes(c, data_.n, data_.m);
      });
    }
    ctx.log("ksvd: " + data_.describe + ", kernel " + kc.type + ", method " + method_);
    {
      auto t = phase("kernel_setup");
      comm_.agree([&] {
        try {
          op_ = std::make_unique<KernelOperator>(data_, kc, kernels::linalg::host_backend(), comm_);
          if (data_.n_test > 0) test_rows_ = op_->make_test_rows(data_.Xtest, data_.test_rows.begin);
        } catch (const InputError& e) {
          throw InputError(std::string(e.what()) + " (data: " + data_.describe + ")");
        }
      });
      if (c.boolean("ksvd.center")) op_->enable_centering();
    }
    k_ = std::min<std::int64_t>(rank_ + c.integer("ksvd.oversample"), std::min(data_.n, data_.m));
    if (method_ == "nystrom") {
      nys_rows_ = c.integer("ksvd.nystrom_rows");
      nys_cols_ = c.integer("ksvd.nystrom_cols");
    }
    Q_.clear();
    done_ = false;
    sigma_est_ = 0;
  }

  void step(std::int64_t step) override {
    if (method_ == "exact") return run_exact();
    if (method_ == "nystrom") return run_nystrom();
    const std::int64_t nl = op_->local_rows(), m = op_->m();
    if (step == 1) {
      auto t = phase("sketch");
      const kernels::CounterRng rng(seed_, "ksvd_omega");
      std::vector<double> omega(static_cast<std::size_t>(m * k_));
      for (std::int64_t j = 0; j < m; ++j)
        for (std::int64_t c = 0; c < k_; ++c) omega[j * k_ + c] = rng.normal(static_cast<std::uint64_t>(j), static_cast<std::uint32_t>(c));
      Q_.assign(static_cast<std::size_t>(nl * k_), 0.0);
      op_->apply(omega.data(), k_, Q_.data(), nullptr, 0, nullptr);
      std::vector<double> R;
      tsqr(comm_, op_->linalg(), nl, k_, Q_.data(), R);
      return;
    }
    if (step <= power_ + 1) {
      auto t = phase("power");
      // Q <- orth(G orth(Gᵀ Q)); the R of Gᵀ Q estimates σ_1 on the way.
      std::vector<double> W(static_cast<std::size_t>(m * k_)), R(static_cast<std::size_t>(k_ * k_));
      op_->apply(nullptr, 0, nullptr, Q_.data(), k_, W.data());
      op_->linalg().qr(m, k_, W.data(), R.data());
      sigma_est_ = largest_singular_value(R);
      op_->apply(W.data(), k_, Q_.data(), nullptr, 0, nullptr);
      tsqr(comm_, op_->linalg(), nl, k_, Q_.data(), R);
      return;
    }
    std::vector<double> U, V, sigma;
    {
      auto t = phase("project");
      // Bᵀ = Gᵀ Q (m x k) = V_b Σ Ũᵀ, so G ≈ Q B = (Q Ũ) Σ V_bᵀ.
      std::vector<double> Bt(static_cast<std::size_t>(m * k_)), Vb(static_cast<std::size_t>(m * k_)), Ut(static_cast<std::size_t>(k_ * k_)),
          s(static_cast<std::size_t>(k_));
      op_->apply(nullptr, 0, nullptr, Q_.data(), k_, Bt.data());
      op_->linalg().svd(m, k_, Bt.data(), s.data(), Vb.data(), Ut.data());
      U.assign(static_cast<std::size_t>(nl * rank_), 0.0);
      op_->linalg().gemm(false, true, nl, rank_, k_, 1.0, Q_.data(), k_, Ut.data(), k_, 0.0, U.data(), rank_);
      V.resize(static_cast<std::size_t>(m * rank_));
      for (std::int64_t j = 0; j < m; ++j)
        for (std::int64_t l = 0; l < rank_; ++l) V[j * rank_ + l] = Vb[j * k_ + l];
      sigma.assign(s.begin(), s.begin() + rank_);
    }
    finalize(std::move(U), std::move(V), std::move(sigma));
  }

  engine::MetricValues metrics(std::int64_t) override {
    return {{"sigma_1", done_ ? sigma_[0] : sigma_est_},
            {"kernel_evaluations", comm_.allreduce(op_->evaluations(), engine::Op::Sum)},
            {"residual_max", done_ ? *std::max_element(res_rows_.begin(), res_rows_.end()) : 0.0}};
  }

  void save(const engine::h5::Group& g) const override {
    g.write_attr("done", static_cast<std::int64_t>(done_));
    g.write_attr("k", k_);
    g.write_attr("sigma_estimate", sigma_est_);
    g.write_attr("has_q", static_cast<std::int64_t>(!Q_.empty()));
    if (!Q_.empty()) g.write_rows("Q", Q_.data(), op_->local_rows(), k_);
    if (!done_) return;
    g.write("sigma", sigma_);
    g.write("residuals", res_rows_);
    g.write("residuals_cols", res_cols_);
    g.write("V", V_, {static_cast<hsize_t>(op_->m()), static_cast<hsize_t>(rank_)});
    g.write("scores_cols", scores_cols_, {static_cast<hsize_t>(op_->m()), static_cast<hsize_t>(rank_)});
    g.write_rows("U", U_.data(), op_->local_rows(), rank_);
    g.write_rows("scores_rows", scores_rows_.data(), op_->local_rows(), rank_);
    if (data_.n_test > 0) g.write_rows("scores_test", scores_test_.data(), test_rows_.count, rank_);
  }

  void load(const engine::h5::Group& g) override {
    if (g.read_attr<std::int64_t>("k") != k_) throw InputError("checkpoint holds another ksvd sketch width");
    sigma_est_ = g.read_attr<double>("sigma_estimate");
    Q_ = g.read_attr<std::int64_t>("has_q") ? g.read_rows<double>("Q", data_.rows.begin, op_->local_rows()) : std::vector<double>{};
    done_ = g.read_attr<std::int64_t>("done") != 0;
    if (!done_) return;
    sigma_ = g.read<double>("sigma");
    res_rows_ = g.read<double>("residuals");
    res_cols_ = g.read<double>("residuals_cols");
    V_ = g.read<double>("V");
    scores_cols_ = g.read<double>("scores_cols");
    U_ = g.read_rows<double>("U", data_.rows.begin, op_->local_rows());
    scores_rows_ = g.read_rows<double>("scores_rows", data_.rows.begin, op_->local_rows());
    if (data_.n_test > 0) scores_test_ = g.read_rows<double>("scores_test", data_.test_rows.begin, test_rows_.count);
  }

  void finish(const engine::h5::Group& result) override {
    const auto m = static_cast<hsize_t>(op_->m()), s = static_cast<hsize_t>(rank_);
    const std::int64_t nl = op_->local_rows();
    result.write("singular_values", sigma_);
    result.write_rows("U", U_.data(), nl, rank_);
    result.write("V", V_, {m, s});
    result.write_rows("scores_rows", scores_rows_.data(), nl, rank_);
    result.write("scores_cols", scores_cols_, {m, s});
    result.write("residuals", res_rows_);
    result.write("residuals_cols", res_cols_);
    if (data_.n_test > 0) result.write_rows("scores_test", scores_test_.data(), test_rows_.count, rank_);
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
    result.write_attr("method", method_);
    result.write_attr("kernel", c.string("ksvd.kernel.type"));
    result.write_attr("data", data_.describe);
    result.write_attr("n", op_->n());
    result.write_attr("m", op_->m());
    result.write_attr("rank", rank_);
    result.write_attr("sketch_columns", k_);
    result.write_attr("power_iters", power_);
    result.write_attr("center", static_cast<std::int64_t>(op_->centered()));
    // Per phase: seconds (slowest rank), floating-point operations (all ranks), GFLOP/s.
    const engine::h5::Group perf = result.create_group("performance");
    double total_s = 0, total_f = 0;
    std::string line;
    for (auto& [name, p] : perf_) {
      const double sec = comm_.allreduce(p.seconds, engine::Op::Max), fl = comm_.allreduce(p.flops, engine::Op::Sum);
      total_s += sec;
      total_f += fl;
      perf.write_attr(name + "_seconds", sec);
      perf.write_attr(name + "_gflops", sec > 0 ? fl / sec * 1e-9 : 0.0);
      line += " " + name + " " + fmt(sec) + " s" + (fl > 0 ? " (" + fmt(sec > 0 ? fl / sec * 1e-9 : 0.0) + " GFLOP/s)" : "");
    }
    perf.write_attr("total_seconds", total_s);
    perf.write_attr("gflops", total_s > 0 ? total_f / total_s * 1e-9 : 0.0);
    perf.write_attr("kernel_evaluations", comm_.allreduce(op_->evaluations(), engine::Op::Sum));
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    const double rss = comm_.allreduce(static_cast<double>(ru.ru_maxrss) / 1024.0, engine::Op::Max);
    perf.write_attr("peak_rss_mib_max_rank", rss);
    ctx_->log("ksvd phases:" + line + "; peak RSS " + fmt(rss) + " MiB per rank");
  }

 private:
  struct Perf {
    double seconds = 0, flops = 0;
  };
  // A timed phase: engine timer "ksvd.<name>" and this workload's seconds and flops.
  class Phase {
   public:
    Phase(KernelSvd& w, const std::string& name)
        : w_(w), name_(name), scope_(w.ctx_->timers, "ksvd." + name), start_(std::chrono::steady_clock::now()),
          flops0_(w.op_ ? w.op_->flops() : 0.0) {}
    ~Phase() {
      Perf& p = w_.perf_[name_];
      p.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
      p.flops += (w_.op_ ? w_.op_->flops() : 0.0) - flops0_;
    }

   private:
    KernelSvd& w_;
    std::string name_;
    engine::Timers::Scope scope_;
    std::chrono::steady_clock::time_point start_;
    double flops0_;
  };
  Phase phase(const std::string& name) { return Phase(*this, name); }

  static std::string fmt(double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%.3g", v);
    return b;
  }

  static void check_sizes(const Config& c, std::int64_t n, std::int64_t m) {
    const std::int64_t s = c.integer("ksvd.rank");
    if (s > std::min(n, m))
      throw c.error("ksvd.rank", std::to_string(s) + " exceeds min(n, m) = " + std::to_string(std::min(n, m)) + " of the " +
                                     std::to_string(n) + " x " + std::to_string(m) + " kernel matrix");
    if (c.string("ksvd.method") == "exact" && static_cast<double>(n) * static_cast<double>(m) > 1e8)
      throw c.error("ksvd.method", "\"exact\" forms G on every rank, and " + std::to_string(n) + " x " + std::to_string(m) +
                                       " exceeds 1e8 entries: use \"randomized\" or \"nystrom\"");
    if (c.string("ksvd.method") != "nystrom") return;
    const std::int64_t nr = c.integer("ksvd.nystrom_rows"), nc = c.integer("ksvd.nystrom_cols");
    if (nr > n) throw c.error("ksvd.nystrom_rows", std::to_string(nr) + " exceeds the " + std::to_string(n) + " rows");
    if (nc > m) throw c.error("ksvd.nystrom_cols", std::to_string(nc) + " exceeds the " + std::to_string(m) + " columns");
    if (s > std::min(nr, nc))
      throw c.error("ksvd.rank", std::to_string(s) + " exceeds min(nystrom_rows, nystrom_cols) = " + std::to_string(std::min(nr, nc)));
  }

  double largest_singular_value(const std::vector<double>& R) const {
    std::vector<double> a(R), s(static_cast<std::size_t>(k_)), u(static_cast<std::size_t>(k_ * k_)), vt(u.size());
    op_->linalg().svd(k_, k_, a.data(), s.data(), u.data(), vt.data());
    return s[0];
  }

  void run_exact() {
    const std::int64_t nl = op_->local_rows(), n = op_->n(), m = op_->m();
    std::vector<double> U, V, sigma;
    {
      auto t = phase("exact");
      std::vector<double> local(static_cast<std::size_t>(nl * m));
      op_->block(nullptr, nullptr, local.data());
      if (op_->centered())
        for (std::int64_t i = 0; i < nl; ++i)
          for (std::int64_t j = 0; j < m; ++j)
            local[i * m + j] += -op_->row_means()[i] - op_->col_means()[j] + op_->grand_mean();
      auto G = comm_.allgatherv(local);
      // Rank 0 factors G with every core its ranks hold (the others wait in the broadcast) and
      // sends the s leading triplets.
      std::vector<double> Ua(static_cast<std::size_t>(n * rank_)), Vs(static_cast<std::size_t>(m * rank_)), s(static_cast<std::size_t>(rank_));
      if (comm_.is_root()) {
        const int cores = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
        const int before = comm_.size() > 1 ? kernels::linalg::set_blas_threads(std::min(comm_.size(), cores)) : 0;
        const std::int64_t r = std::min(n, m);
        std::vector<double> sv(static_cast<std::size_t>(r)), u(static_cast<std::size_t>(n * r)), vt(static_cast<std::size_t>(r * m));
        op_->linalg().svd(n, m, G.data(), sv.data(), u.data(), vt.data());
        if (comm_.size() > 1) kernels::linalg::set_blas_threads(before);
        for (std::int64_t i = 0; i < n; ++i)
          for (std::int64_t l = 0; l < rank_; ++l) Ua[i * rank_ + l] = u[i * r + l];
        for (std::int64_t j = 0; j < m; ++j)
          for (std::int64_t l = 0; l < rank_; ++l) Vs[j * rank_ + l] = vt[l * m + j];
        std::copy(sv.begin(), sv.begin() + rank_, s.begin());
      }
      // The waiting ranks sleep (bcast_idle): a blocking broadcast spins on the cores the
      // factorisation's BLAS threads run on.
      std::vector<double> packed;
      if (comm_.is_root()) {
        packed = Ua;
        packed.insert(packed.end(), Vs.begin(), Vs.end());
        packed.insert(packed.end(), s.begin(), s.end());
      } else {
        packed.resize(Ua.size() + Vs.size() + s.size());
      }
      comm_.bcast_idle(packed.data(), packed.size());
      std::copy(packed.begin(), packed.begin() + static_cast<std::ptrdiff_t>(Ua.size()), Ua.begin());
      std::copy(packed.begin() + static_cast<std::ptrdiff_t>(Ua.size()), packed.begin() + static_cast<std::ptrdiff_t>(Ua.size() + Vs.size()), Vs.begin());
      std::copy(packed.end() - static_cast<std::ptrdiff_t>(s.size()), packed.end(), s.begin());
      U.assign(Ua.begin() + data_.rows.begin * rank_, Ua.begin() + data_.rows.end * rank_);
      V = std::move(Vs);
      sigma = std::move(s);
    }
    finalize(std::move(U), std::move(V), std::move(sigma));
  }

  // Asymmetric Nyström: C = G(:, S_c), R = G(S_r, :), core G(S_r, S_c) = Ũ Σ̃ Ṽᵀ;
  // U ∝ C Ṽ Σ̃⁻¹, V ∝ Rᵀ Ũ Σ̃⁻¹ (columns normalised), σ = √(nm / ñm̃) σ̃. Centring uses the
  // means over the samples (the exact double centring when every row and column is sampled).
  void run_nystrom() {
    const std::int64_t nl = op_->local_rows(), n = op_->n(), m = op_->m(), s = rank_;
    std::vector<double> U, V, sigma;
    {
      auto t = phase("nystrom");
      const auto Sr = sample_indices(seed_, "ksvd_nystrom_rows", n, nys_rows_);
      const auto Sc = sample_indices(seed_, "ksvd_nystrom_cols", m, nys_cols_);
      const auto nr = static_cast<std::int64_t>(Sr.size()), nc = static_cast<std::int64_t>(Sc.size());
      std::vector<std::int64_t> mine;  // local indices of this rank's sampled rows
      for (auto i : Sr)
        if (i >= data_.rows.begin && i < data_.rows.end) mine.push_back(i - data_.rows.begin);
      const auto nm = static_cast<std::int64_t>(mine.size());
      const std::int64_t first = comm_.exscan_sum(nm);
      std::vector<double> C(static_cast<std::size_t>(nl * nc)), R(static_cast<std::size_t>(nm * m));
      op_->block(nullptr, &Sc, C.data());
      op_->block(&mine, nullptr, R.data());
      if (op_->centered()) {
        std::vector<double> a(static_cast<std::size_t>(nl), 0.0), cm(static_cast<std::size_t>(m), 0.0);
        for (std::int64_t i = 0; i < nl; ++i) {
          for (std::int64_t j = 0; j < nc; ++j) a[i] += C[i * nc + j];
          a[i] /= static_cast<double>(nc);
        }
        for (std::int64_t i = 0; i < nm; ++i)
          for (std::int64_t j = 0; j < m; ++j) cm[j] += R[i * m + j];
        comm_.allreduce(cm, engine::Op::Sum);
        for (double& v : cm) v /= static_cast<double>(nr);
        double ga = 0;
        for (auto i : mine) ga += a[i];
        const double g = comm_.allreduce(ga, engine::Op::Sum) / static_cast<double>(nr);
        for (std::int64_t i = 0; i < nl; ++i)
          for (std::int64_t j = 0; j < nc; ++j) C[i * nc + j] += -a[i] - cm[Sc[j]] + g;
        for (std::int64_t i = 0; i < nm; ++i)
          for (std::int64_t j = 0; j < m; ++j) R[i * m + j] += -a[mine[i]] - cm[j] + g;
      }
      std::vector<double> core_local(static_cast<std::size_t>(nm * nc));
      for (std::int64_t i = 0; i < nm; ++i) std::copy(C.begin() + mine[i] * nc, C.begin() + (mine[i] + 1) * nc, core_local.begin() + i * nc);
      auto core = comm_.allgatherv(core_local);
      const std::int64_t r = std::min(nr, nc);
      std::vector<double> sc(static_cast<std::size_t>(r)), uc(static_cast<std::size_t>(nr * r)), vtc(static_cast<std::size_t>(r * nc));
      op_->linalg().svd(nr, nc, core.data(), sc.data(), uc.data(), vtc.data());
      // U = C Ṽ_s Σ̃⁻¹ and V = Rᵀ Ũ_s Σ̃⁻¹ (this rank's sampled rows), then unit columns.
      std::vector<double> Vt_s(static_cast<std::size_t>(nc * s)), Us(static_cast<std::size_t>(nm * s));
      for (std::int64_t j = 0; j < nc; ++j)
        for (std::int64_t l = 0; l < s; ++l) Vt_s[j * s + l] = vtc[l * nc + j] / sc[l];
      for (std::int64_t i = 0; i < nm; ++i)
        for (std::int64_t l = 0; l < s; ++l) Us[i * s + l] = uc[(first + i) * r + l] / sc[l];
      U.assign(static_cast<std::size_t>(nl * s), 0.0);
      V.assign(static_cast<std::size_t>(m * s), 0.0);
      op_->linalg().gemm(false, false, nl, s, nc, 1.0, C.data(), nc, Vt_s.data(), s, 0.0, U.data(), s);
      op_->linalg().gemm(true, false, m, s, nm, 1.0, R.data(), m, Us.data(), s, 0.0, V.data(), s);
      comm_.allreduce(V, engine::Op::Sum);
      std::vector<double> un(static_cast<std::size_t>(s), 0.0), vn(static_cast<std::size_t>(s), 0.0);
      for (std::int64_t i = 0; i < nl; ++i)
        for (std::int64_t l = 0; l < s; ++l) un[l] += U[i * s + l] * U[i * s + l];
      comm_.allreduce(un, engine::Op::Sum);
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
      sigma.resize(static_cast<std::size_t>(s));
      for (std::int64_t l = 0; l < s; ++l) sigma[l] = scale * sc[l];
    }
    finalize(std::move(U), std::move(V), std::move(sigma));
  }

  // Signs (largest-magnitude entry of each u_l positive, ties to the lower row), scores
  // G V and Gᵀ U in one matrix-free pass, residuals ‖G v_l − σ_l u_l‖ and ‖Gᵀ u_l − σ_l v_l‖,
  // out-of-sample scores.
  void finalize(std::vector<double> U, std::vector<double> V, std::vector<double> sigma) {
    auto t = phase("scores");
    const std::int64_t nl = op_->local_rows(), m = op_->m(), s = rank_;
    struct Best {
      double abs, value;
      std::int64_t row;
    };
    std::vector<Best> best(static_cast<std::size_t>(s), Best{-1.0, 0.0, -1});
    for (std::int64_t i = 0; i < nl; ++i)
      for (std::int64_t l = 0; l < s; ++l) {
        const double v = U[i * s + l];
        if (std::fabs(v) > best[l].abs) best[l] = Best{std::fabs(v), v, data_.rows.begin + i};
      }
    const auto all = comm_.allgatherv(best);
    for (std::int64_t l = 0; l < s; ++l) {
      Best b{-1.0, 0.0, -1};
      for (std::size_t p = 0; p < all.size() / static_cast<std::size_t>(s); ++p) {
        const Best& o = all[p * static_cast<std::size_t>(s) + static_cast<std::size_t>(l)];
        if (o.abs > b.abs || (o.abs == b.abs && o.row >= 0 && o.row < b.row)) b = o;
      }
      if (b.value < 0) {
        for (std::int64_t i = 0; i < nl; ++i) U[i * s + l] = -U[i * s + l];
        for (std::int64_t j = 0; j < m; ++j) V[j * s + l] = -V[j * s + l];
      }
    }
    scores_rows_.assign(static_cast<std::size_t>(nl * s), 0.0);
    scores_cols_.assign(static_cast<std::size_t>(m * s), 0.0);
    op_->apply(V.data(), s, scores_rows_.data(), U.data(), s, scores_cols_.data());
    res_rows_.assign(static_cast<std::size_t>(s), 0.0);
    res_cols_.assign(static_cast<std::size_t>(s), 0.0);
    for (std::int64_t i = 0; i < nl; ++i)
      for (std::int64_t l = 0; l < s; ++l) {
        const double e = scores_rows_[i * s + l] - sigma[l] * U[i * s + l];
        res_rows_[l] += e * e;
      }
    comm_.allreduce(res_rows_, engine::Op::Sum);
    for (std::int64_t j = 0; j < m; ++j)
      for (std::int64_t l = 0; l < s; ++l) {
        const double e = scores_cols_[j * s + l] - sigma[l] * V[j * s + l];
        res_cols_[l] += e * e;
      }
    for (auto& r : res_rows_) r = std::sqrt(r);
    for (auto& r : res_cols_) r = std::sqrt(r);
    if (data_.n_test > 0) {
      scores_test_.assign(static_cast<std::size_t>(test_rows_.count * s), 0.0);
      op_->apply_test(test_rows_, V.data(), s, scores_test_.data());
    }
    U_ = std::move(U);
    V_ = std::move(V);
    sigma_ = std::move(sigma);
    done_ = true;
  }

  const engine::RunContext* ctx_ = nullptr;
  engine::Comm comm_;
  std::uint64_t seed_ = 1;
  std::string method_;
  std::int64_t rank_ = 1, power_ = 0, k_ = 1, nys_rows_ = 0, nys_cols_ = 0;
  Data data_;
  std::unique_ptr<KernelOperator> op_;
  RowSet test_rows_;
  std::map<std::string, Perf> perf_;
  // State: the current orthonormal basis (randomized), then the results.
  std::vector<double> Q_;
  bool done_ = false;
  double sigma_est_ = 0;
  std::vector<double> sigma_, U_, V_, scores_rows_, scores_cols_, res_rows_, res_cols_, scores_test_;
};

}  // namespace saddle::apps::ksvd

SADDLE_REGISTER_WORKLOAD(ksvd, "asymmetric kernel SVD: exact, randomized (matrix-free) and Nyström, with scores",
                         saddle::apps::ksvd::KernelSvd);
