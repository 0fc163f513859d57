#include "apps/mail/glpk_game.hpp"

#include <glpk.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace saddle::apps::mail {

kernels::StageSolution solve_stage_game_glpk(const double* M, int m, int n, double* x, double* y, double tol) {
  // maximise v  s.t.  sum_i x_i M_ij - v >= 0 (j = 1..n),  sum_i x_i = 1,  x >= 0, v free.
  std::unique_ptr<glp_prob, void (*)(glp_prob*)> lp(glp_create_prob(), glp_delete_prob);
  glp_set_obj_dir(lp.get(), GLP_MAX);
  glp_add_rows(lp.get(), n + 1);
  glp_add_cols(lp.get(), m + 1);
  for (int i = 1; i <= m; ++i) glp_set_col_bnds(lp.get(), i, GLP_LO, 0.0, 0.0);
  glp_set_col_bnds(lp.get(), m + 1, GLP_FR, 0.0, 0.0);
  glp_set_obj_coef(lp.get(), m + 1, 1.0);
  std::vector<int> ia(1), ja(1);
  std::vector<double> ar(1);
  for (int j = 1; j <= n; ++j) {
    glp_set_row_bnds(lp.get(), j, GLP_LO, 0.0, 0.0);
    for (int i = 1; i <= m; ++i) {
      ia.push_back(j);
      ja.push_back(i);
      ar.push_back(M[(i - 1) * n + (j - 1)]);
    }
    ia.push_back(j);
    ja.push_back(m + 1);
    ar.push_back(-1.0);
  }
  glp_set_row_bnds(lp.get(), n + 1, GLP_FX, 1.0, 1.0);
  for (int i = 1; i <= m; ++i) {
    ia.push_back(n + 1);
    ja.push_back(i);
    ar.push_back(1.0);
  }
  glp_load_matrix(lp.get(), static_cast<int>(ia.size()) - 1, ia.data(), ja.data(), ar.data());
  glp_smcp parm;
  glp_init_smcp(&parm);
  parm.msg_lev = GLP_MSG_OFF;
  const int rc = glp_simplex(lp.get(), &parm);
  if (rc != 0 || glp_get_status(lp.get()) != GLP_OPT)
    throw std::runtime_error("GLPK failed on a " + std::to_string(m) + "x" + std::to_string(n) + " stage game (glp_simplex " +
                             std::to_string(rc) + ", status " + std::to_string(glp_get_status(lp.get())) + ")");
  double sx = 0, sy = 0;
  for (int i = 0; i < m; ++i) sx += (x[i] = std::max(0.0, glp_get_col_prim(lp.get(), i + 1)));
  // The duals of the >= rows of a maximisation are <= 0; their magnitudes are y.
  for (int j = 0; j < n; ++j) sy += (y[j] = std::max(0.0, -glp_get_row_dual(lp.get(), j + 1)));
  kernels::StageSolution out;
  if (!(sx > 0) || !(sy > 0)) return out;
  for (int i = 0; i < m; ++i) x[i] /= sx;
  for (int j = 0; j < n; ++j) y[j] /= sy;
  double lower = 0, upper = 0, scale = 0;
  for (int k = 0; k < m * n; ++k) scale = std::max(scale, std::abs(M[k]));
  for (int j = 0; j < n; ++j) {
    double s = 0;
    for (int i = 0; i < m; ++i) s += x[i] * M[i * n + j];
    lower = j == 0 ? s : std::min(lower, s);
  }
  for (int i = 0; i < m; ++i) {
    double s = 0;
    for (int j = 0; j < n; ++j) s += M[i * n + j] * y[j];
    upper = i == 0 ? s : std::max(upper, s);
  }
  out.gap = upper - lower;
  out.value = 0.5 * (lower + upper);
  out.ok = out.gap <= tol * std::max(scale, 1.0);
  out.pivots = glp_get_it_cnt(lp.get());
  return out;
}

}  // namespace saddle::apps::mail
