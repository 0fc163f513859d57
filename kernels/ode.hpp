#pragma once
// Classical fourth-order Runge-Kutta for autonomous systems z' = F(z) on small host vectors.
#include <cstddef>
#include <vector>

namespace saddle::kernels {

// One RK4 step of size dt; `f(z, dz)` writes F(z) into dz (same length as z).
template <class F>
void rk4_step(const F& f, std::vector<double>& z, double dt) {
  const std::size_t n = z.size();
  std::vector<double> k1(n), k2(n), k3(n), k4(n), t(n);
  f(z, k1);
  for (std::size_t i = 0; i < n; ++i) t[i] = z[i] + 0.5 * dt * k1[i];
  f(t, k2);
  for (std::size_t i = 0; i < n; ++i) t[i] = z[i] + 0.5 * dt * k2[i];
  f(t, k3);
  for (std::size_t i = 0; i < n; ++i) t[i] = z[i] + dt * k3[i];
  f(t, k4);
  for (std::size_t i = 0; i < n; ++i) z[i] += dt / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]);
}

// Integrates from time 0 to `t_end` in `steps` equal RK4 steps.
template <class F>
void rk4(const F& f, std::vector<double>& z, double t_end, std::int64_t steps) {
  const double dt = t_end / static_cast<double>(steps);
  for (std::int64_t s = 0; s < steps; ++s) rk4_step(f, z, dt);
}

}  // namespace saddle::kernels
