#include "apps/mail/learners.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <stdexcept>

#include "apps/mail/solvers.hpp"
#include "kernels/counter_rng.hpp"

namespace saddle::apps::mail {

using kernels::MarkovGame;

Algorithm algorithm_from_name(const std::string& name) {
  if (name == "bc") return Algorithm::BC;
  if (name == "mail_bro") return Algorithm::MailBro;
  if (name == "murmail") return Algorithm::Murmail;
  if (name == "murmail_exact_planning") return Algorithm::MurmailExactPlanning;
  throw std::invalid_argument("unknown mail algorithm '" + name + "'");
}

const char* algorithm_name(Algorithm a) {
  switch (a) {
    case Algorithm::BC: return "bc";
    case Algorithm::MailBro: return "mail_bro";
    case Algorithm::Murmail: return "murmail";
    case Algorithm::MurmailExactPlanning: return "murmail_exact_planning";
  }
  return "?";
}

namespace {

// Uniforms of one seed: draw n is Philox block (index, n mod 2^32, n / 2^32) of (key, purpose).
class Stream {
 public:
  Stream(std::uint64_t key, const char* purpose, std::uint64_t index) : rng_(key, purpose), index_(index) {}
  double uniform() {
    const auto b = rng_.bits(index_, static_cast<std::uint32_t>(n_), static_cast<std::uint32_t>(n_ >> 32));
    ++n_;
    return kernels::CounterRng::to_unit(b.v[0], b.v[1]);
  }
  // An index drawn from the distribution p[0..n).
  std::int64_t pick(const double* p, std::int64_t n) {
    const double u = uniform();
    double c = 0;
    std::int64_t last = 0;
    for (std::int64_t k = 0; k < n; ++k) {
      if (p[k] <= 0) continue;
      c += p[k];
      last = k;
      if (u < c) return k;
    }
    return last;  // u beyond a sum that rounding left below 1
  }

 private:
  kernels::CounterRng rng_;
  std::uint64_t index_;
  std::uint64_t n_ = 0;
};

std::int64_t step_state(const MarkovGame& g, std::int64_t s, std::int64_t a, std::int64_t b, Stream& rng) {
  const std::int64_t r = g.row(s, a, b);
  const std::int64_t k = rng.pick(&g.prob[g.ptr[r]], g.ptr[r + 1] - g.ptr[r]);
  return g.next[g.ptr[r] + k];
}

// A state distributed as d^{mu,nu}: the state where a trajectory from rho stops, continuing
// each step with probability gamma.
std::int64_t sample_occupancy(const MarkovGame& g, const double* mu, const double* nu, Stream& rng) {
  std::int64_t s = rng.pick(g.rho.data(), g.S);
  while (rng.uniform() < g.gamma) {
    const std::int64_t a = rng.pick(mu + s * g.A, g.A), b = rng.pick(nu + s * g.B, g.B);
    s = step_state(g, s, a, b, rng);
  }
  return s;
}

std::vector<double> deterministic(const std::vector<std::int32_t>& act, std::int64_t n) {
  std::vector<double> p(act.size() * static_cast<std::size_t>(n), 0.0);
  for (std::size_t s = 0; s < act.size(); ++s) p[s * static_cast<std::size_t>(n) + static_cast<std::size_t>(act[s])] = 1.0;
  return p;
}

double gap_of(const MarkovGame& g, const std::vector<double>& mu, const std::vector<double>& nu, double tol) {
  return nash_gap(g, Exchange::serial(), mu.data(), nu.data(), tol).nash_gap();
}

// Exponential-weights learners with averaged outputs (MAIL-BRO, MURMAIL).
struct Averaged {
  std::vector<double> mu, nu, sum_mu, sum_nu;
  std::int64_t rounds = 0;
  explicit Averaged(const MarkovGame& g)
      : mu(static_cast<std::size_t>(g.S * g.A), 1.0 / static_cast<double>(g.A)),
        nu(static_cast<std::size_t>(g.S * g.B), 1.0 / static_cast<double>(g.B)),
        sum_mu(mu.size(), 0.0),
        sum_nu(nu.size(), 0.0) {}
  void output(std::vector<double>& m, std::vector<double>& n) const {
    if (rounds == 0) {
      m = mu;
      n = nu;
      return;
    }
    m.resize(sum_mu.size());
    n.resize(sum_nu.size());
    for (std::size_t k = 0; k < m.size(); ++k) m[k] = sum_mu[k] / static_cast<double>(rounds);
    for (std::size_t k = 0; k < n.size(); ++k) n[k] = sum_nu[k] / static_cast<double>(rounds);
  }
  // pi(.|s) <- pi(.|s) exp(-eta (pi(.|s) - e_act)), renormalised.
  static void update(double* p, std::int64_t n, std::int64_t act, double eta) {
    double z = 0;
    for (std::int64_t k = 0; k < n; ++k) z += (p[k] = p[k] * std::exp(-eta * (p[k] - (k == act ? 1.0 : 0.0))));
    for (std::int64_t k = 0; k < n; ++k) p[k] /= z;
  }
  void accumulate() {
    for (std::size_t k = 0; k < mu.size(); ++k) sum_mu[k] += mu[k];
    for (std::size_t k = 0; k < nu.size(); ++k) sum_nu[k] += nu[k];
    ++rounds;
  }
};

// Runs `round` (which returns the queries it made) until every budget is passed; the output at a
// budget is the averaged policy after the last round whose cumulative queries fit in it.
std::vector<double> by_budgets(const MarkovGame& g, const LearnerOptions& opt, Averaged& st,
                               const std::function<std::int64_t()>& round) {
  std::vector<double> gaps;
  std::int64_t total = 0;
  std::vector<double> m, n;
  st.output(m, n);
  double cached = -1;
  while (gaps.size() < opt.budgets.size()) {
    const std::int64_t used = round();
    if (used <= 0) throw std::logic_error("mail: a learner round made no expert query");
    total += used;
    while (gaps.size() < opt.budgets.size() && opt.budgets[gaps.size()] < total) {
      if (cached < 0) cached = gap_of(g, m, n, opt.eval_tol);
      gaps.push_back(cached);
    }
    st.output(m, n);
    cached = -1;
    while (gaps.size() < opt.budgets.size() && opt.budgets[gaps.size()] == total) {
      if (cached < 0) cached = gap_of(g, m, n, opt.eval_tol);
      gaps.push_back(cached);
    }
  }
  return gaps;
}

// One round's expert queries and update, shared by MAIL-BRO and MURMAIL: a state drawn from the
// occupancy of (μ, ν's response) is answered with an expert action for μ, one drawn from (μ's
// response, ν) with an expert action for ν; then exponential weights with step η. Two queries.
void query_and_update(const MarkovGame& g, Averaged& st, const std::vector<double>& mu_E,
                      const std::vector<double>& nu_E, const double* mu_response, const double* nu_response,
                      double eta, Stream& rng) {
  const std::int64_t s = sample_occupancy(g, st.mu.data(), nu_response, rng);
  const std::int64_t a = rng.pick(&mu_E[s * g.A], g.A);
  const std::int64_t s2 = sample_occupancy(g, mu_response, st.nu.data(), rng);
  const std::int64_t b = rng.pick(&nu_E[s2 * g.B], g.B);
  st.accumulate();
  Averaged::update(&st.mu[s * g.A], g.A, a, eta);
  Averaged::update(&st.nu[s2 * g.B], g.B, b, eta);
}

std::vector<double> mail_bro(const MarkovGame& g, const std::vector<double>& mu_E, const std::vector<double>& nu_E,
                             const LearnerOptions& opt, Stream& rng) {
  Averaged st(g);
  // The oracle: exact best responses by policy iteration, warm-started from the previous round's.
  std::vector<std::int32_t> br_mu(static_cast<std::size_t>(g.S), 0), br_nu(static_cast<std::size_t>(g.S), 0);
  return by_budgets(g, opt, st, [&] {
    best_response_policy_iteration(g, true, st.nu.data(), br_mu);
    best_response_policy_iteration(g, false, st.mu.data(), br_nu);
    const auto mu_star = deterministic(br_mu, g.A), nu_star = deterministic(br_nu, g.B);
    query_and_update(g, st, mu_E, nu_E, mu_star.data(), nu_star.data(), opt.eta, rng);
    return std::int64_t{2};
  });
}

// The maximum-uncertainty response: the controlling player's deterministic policy that
// (approximately) maximises E_{s ~ d} ||pi_E(.|s) - pi(.|s)||^2 of the other player's current
// policy pi, learned by an optimistic (UCBVI) loop on an estimated model, or planned on the true
// transitions when `exact_planning`. Adds the expert queries made to `queries`.
std::vector<double> mu_response(const MarkovGame& g, bool ctrl_max, const double* pi, const double* pi_E,
                                const LearnerOptions& opt, bool exact_planning, Stream& rng, std::int64_t& queries) {
  const std::int64_t S = g.S, C = ctrl_max ? g.A : g.B, F = ctrl_max ? g.B : g.A;
  const double rmax = 2.0, vmax = rmax / (1 - g.gamma);
  std::vector<double> Nsc(static_cast<std::size_t>(S * C), 0.0), Nscs(exact_planning ? 0 : static_cast<std::size_t>(S * C * S), 0.0);
  std::vector<double> rsum(static_cast<std::size_t>(S), 0.0), rn(static_cast<std::size_t>(S), 0.0);
  std::vector<double> V(static_cast<std::size_t>(S), vmax), Q(static_cast<std::size_t>(S * C), vmax);
  // Transitions of the controlled MDP under the other player's pi (exact planning only).
  auto expect_true = [&](std::int64_t s, std::int64_t c) {
    double e = 0;
    for (std::int64_t f = 0; f < F; ++f) {
      const double p = pi[s * F + f];
      if (p != 0) e += p * g.expect(ctrl_max ? g.row(s, c, f) : g.row(s, f, c), V.data());
    }
    return e;
  };
  auto plan = [&] {
    for (std::int64_t it = 0; it < opt.plan_sweeps; ++it) {
      for (std::int64_t s = 0; s < S; ++s)
        for (std::int64_t c = 0; c < C; ++c) {
          double q = vmax;
          if (exact_planning) {
            if (rn[s] > 0) q = rsum[s] / rn[s] + opt.bonus / std::sqrt(rn[s]) + g.gamma * expect_true(s, c);
          } else if (Nsc[s * C + c] > 0) {
            const double n = Nsc[s * C + c];
            double e = 0;
            for (std::int64_t t = 0; t < S; ++t) e += Nscs[(s * C + c) * S + t] * V[t];
            q = (rn[s] > 0 ? rsum[s] / rn[s] : rmax) + opt.bonus / std::sqrt(n) + g.gamma * e / n;
          }
          Q[s * C + c] = std::min(q, vmax);
        }
      for (std::int64_t s = 0; s < S; ++s) V[s] = *std::max_element(&Q[s * C], &Q[s * C] + C);
    }
  };
  auto greedy = [&](std::int64_t s) { return static_cast<std::int64_t>(std::max_element(&Q[s * C], &Q[s * C] + C) - &Q[s * C]); };
  for (std::int64_t e = 0; e < opt.inner_episodes; ++e) {
    std::int64_t s = rng.pick(g.rho.data(), S);
    for (;;) {
      const std::int64_t c = greedy(s), f = rng.pick(pi + s * F, F);
      // Two independent expert samples: 1{X = X'} - 2 pi(X|s) + ||pi(.|s)||^2 is unbiased for
      // ||pi_E(.|s) - pi(.|s)||^2.
      const std::int64_t x = rng.pick(pi_E + s * F, F), x2 = rng.pick(pi_E + s * F, F);
      queries += 2;
      rsum[s] += uncertainty_sample(pi + s * F, F, x, x2);
      rn[s] += 1;
      const std::int64_t t = ctrl_max ? step_state(g, s, c, f, rng) : step_state(g, s, f, c, rng);
      Nsc[s * C + c] += 1;
      if (!exact_planning) Nscs[(s * C + c) * S + t] += 1;
      if (!(rng.uniform() < g.gamma)) break;
      s = t;
    }
    plan();
  }
  std::vector<std::int32_t> act(static_cast<std::size_t>(S));
  for (std::int64_t s = 0; s < S; ++s) act[s] = static_cast<std::int32_t>(greedy(s));
  return deterministic(act, C);
}

std::vector<double> murmail(const MarkovGame& g, const std::vector<double>& mu_E, const std::vector<double>& nu_E,
                            const LearnerOptions& opt, bool exact_planning, Stream& rng) {
  Averaged st(g);
  return by_budgets(g, opt, st, [&] {
    std::int64_t queries = 0;
    const auto y = mu_response(g, false, st.mu.data(), mu_E.data(), opt, exact_planning, rng, queries);
    const auto x = mu_response(g, true, st.nu.data(), nu_E.data(), opt, exact_planning, rng, queries);
    query_and_update(g, st, mu_E, nu_E, x.data(), y.data(), opt.eta, rng);
    return queries + 2;
  });
}

// Expert samples along trajectories from rho (continuing with probability gamma); calls
// `at(samples so far, counts)` after each sample until `last` samples.
void bc_counts(const MarkovGame& g, const std::vector<double>& mu_E, const std::vector<double>& nu_E, std::int64_t last,
               Stream& rng, std::vector<double>& Na, std::vector<double>& Nb,
               const std::function<void(std::int64_t)>& at) {
  Na.assign(static_cast<std::size_t>(g.S * g.A), 0.0);
  Nb.assign(static_cast<std::size_t>(g.S * g.B), 0.0);
  std::int64_t s = rng.pick(g.rho.data(), g.S);
  for (std::int64_t n = 1; n <= last; ++n) {
    const std::int64_t a = rng.pick(&mu_E[s * g.A], g.A), b = rng.pick(&nu_E[s * g.B], g.B);
    Na[s * g.A + a] += 1;
    Nb[s * g.B + b] += 1;
    at(n);
    if (rng.uniform() < g.gamma) s = step_state(g, s, a, b, rng);
    else s = rng.pick(g.rho.data(), g.S);
  }
}

// pi(a|s) = N(s,a)/N(s), uniform where s was never seen.
std::vector<double> normalise_counts(const std::vector<double>& N, std::int64_t S, std::int64_t n) {
  std::vector<double> p(N.size());
  for (std::int64_t s = 0; s < S; ++s) {
    double tot = 0;
    for (std::int64_t k = 0; k < n; ++k) tot += N[s * n + k];
    for (std::int64_t k = 0; k < n; ++k) p[s * n + k] = tot > 0 ? N[s * n + k] / tot : 1.0 / static_cast<double>(n);
  }
  return p;
}

}  // namespace

double uncertainty_sample(const double* pi, std::int64_t n, std::int64_t x, std::int64_t x2) {
  double norm2 = 0;
  for (std::int64_t k = 0; k < n; ++k) norm2 += pi[k] * pi[k];
  return (x == x2 ? 1.0 : 0.0) - 2 * pi[x] + norm2;
}

std::vector<double> max_uncertainty_response(const MarkovGame& g, bool ctrl_max, const double* pi, const double* pi_E,
                                             const LearnerOptions& opt, bool exact_planning, std::uint64_t key,
                                             std::uint64_t index, std::int64_t& queries) {
  Stream rng(key, "mail_response", index);
  return mu_response(g, ctrl_max, pi, pi_E, opt, exact_planning, rng, queries);
}

void behaviour_clone(const MarkovGame& g, const std::vector<double>& mu_E, const std::vector<double>& nu_E, std::int64_t samples,
                     std::uint64_t key, std::uint64_t index, std::vector<double>& mu, std::vector<double>& nu) {
  Stream rng(key, "mail_bc", index);
  std::vector<double> Na, Nb;
  bc_counts(g, mu_E, nu_E, samples, rng, Na, Nb, [](std::int64_t) {});
  mu = normalise_counts(Na, g.S, g.A);
  nu = normalise_counts(Nb, g.S, g.B);
}

std::vector<double> run_learner(Algorithm algo, const MarkovGame& g, const std::vector<double>& mu_E,
                                const std::vector<double>& nu_E, const LearnerOptions& opt, std::uint64_t key,
                                std::uint64_t index) {
  if (g.s_begin != 0 || g.s_end != g.S) throw std::logic_error("mail learners need the whole game in one process");
  switch (algo) {
    case Algorithm::BC: {
      Stream rng(key, "mail_bc", index);
      std::vector<double> gaps, Na, Nb;
      std::size_t j = 0;
      bc_counts(g, mu_E, nu_E, opt.budgets.back(), rng, Na, Nb, [&](std::int64_t n) {
        while (j < opt.budgets.size() && opt.budgets[j] == n) {
          gaps.push_back(gap_of(g, normalise_counts(Na, g.S, g.A), normalise_counts(Nb, g.S, g.B), opt.eval_tol));
          ++j;
        }
      });
      return gaps;
    }
    case Algorithm::MailBro: {
      Stream rng(key, "mail_mail_bro", index);
      return mail_bro(g, mu_E, nu_E, opt, rng);
    }
    case Algorithm::Murmail: {
      Stream rng(key, "mail_murmail", index);
      return murmail(g, mu_E, nu_E, opt, false, rng);
    }
    case Algorithm::MurmailExactPlanning: {
      Stream rng(key, "mail_murmail_exact", index);
      return murmail(g, mu_E, nu_E, opt, true, rng);
    }
  }
  return {};
}

}  // namespace saddle::apps::mail
