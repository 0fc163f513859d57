#pragma once
// Activations of the dense layers, each with s(a) and its first two derivatives written as
// functions of the OUTPUT h = s(a) (LeakyReLU: h > 0 iff a > 0 for a slope >= 0; tanh: s' = 1 - h^2;
// sigmoid: s' = h (1 - h)), so a layer stores only its outputs and the backward passes never
// re-evaluate tanh or exp. `curved` says whether s'' is nonzero somewhere: the WGAN-GP double
// backward skips the s'' terms of piecewise-linear activations.
#include <Kokkos_Core.hpp>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "kernels/kokkos_compat.hpp"

namespace saddle::kernels::nn {

enum class Activation { identity, leaky_relu, relu, tanh, sigmoid };

inline Activation parse_activation(const std::string& s) {
  if (s == "identity" || s == "linear") return Activation::identity;
  if (s == "leaky_relu") return Activation::leaky_relu;
  if (s == "relu") return Activation::relu;
  if (s == "tanh") return Activation::tanh;
  if (s == "sigmoid") return Activation::sigmoid;
  throw std::invalid_argument("unknown activation '" + s + "'");
}

// One layer's activation as configured (LeakyReLU slope `alpha` for a < 0).
struct ActivationFn {
  Activation kind = Activation::identity;
  double alpha = 0.2;
  bool curved() const { return kind == Activation::tanh || kind == Activation::sigmoid; }
};

namespace act {

// tanh in float32 as the rational function of Eigen's fast tanh (odd degree-13 numerator, even
// degree-6 denominator, on [-7.9053, 7.9053]): no call, so the activation loops vectorise; its
// error against the exact tanh is at most 4e-7, absolute and relative, over [-20, 20] (libm's
// tanhf: 1e-7), well inside float32 training noise.
KOKKOS_INLINE_FUNCTION float fast_tanh(float a) {
  const float x = kc::max(-7.90531110763549805f, kc::min(7.90531110763549805f, a)), x2 = x * x;
  float p = -2.76076847742355e-16f;
  p = p * x2 + 2.00018790482477e-13f;
  p = p * x2 - 8.60467152213735e-11f;
  p = p * x2 + 5.12229709037114e-08f;
  p = p * x2 + 1.48572235717979e-05f;
  p = p * x2 + 6.37261928875436e-04f;
  p = p * x2 + 4.89352455891786e-03f;
  float q = 1.19825839466702e-06f;
  q = q * x2 + 1.18534705686654e-04f;
  q = q * x2 + 2.26843463243900e-03f;
  q = q * x2 + 4.89352518554385e-03f;
  return kc::fabs(a) < 0.0004f ? a : p * x / q;
}

// `cost`: what f costs against a plain multiply-add, for the host loops' threshold (host_for's
// work): libm's tanh and exp are calls of some 20-40 ns, where the leaky loop vectorises.
template <class T>
struct Identity {
  static constexpr bool curved = false;
  static constexpr std::int64_t cost = 1;
  KOKKOS_INLINE_FUNCTION T f(T a) const { return a; }
  KOKKOS_INLINE_FUNCTION T d1(T) const { return T(1); }
  KOKKOS_INLINE_FUNCTION T d2(T) const { return T(0); }
};

// LeakyReLU (ReLU with alpha = 0).
template <class T>
struct Leaky {
  static constexpr bool curved = false;
  static constexpr std::int64_t cost = 1;
  T alpha;
  KOKKOS_INLINE_FUNCTION T f(T a) const { return a > T(0) ? a : alpha * a; }
  KOKKOS_INLINE_FUNCTION T d1(T h) const { return h > T(0) ? T(1) : alpha; }
  KOKKOS_INLINE_FUNCTION T d2(T) const { return T(0); }
};

template <class T>
struct Tanh {
  static constexpr bool curved = true;
  static constexpr std::int64_t cost = std::is_same_v<T, float> ? 2 : 16;
  KOKKOS_INLINE_FUNCTION T f(T a) const {
    if constexpr (std::is_same_v<T, float>) return fast_tanh(a);
    else return kc::tanh(a);
  }
  KOKKOS_INLINE_FUNCTION T d1(T h) const { return T(1) - h * h; }
  KOKKOS_INLINE_FUNCTION T d2(T h) const { return T(-2) * h * (T(1) - h * h); }
};

template <class T>
struct Sigmoid {
  static constexpr bool curved = true;
  static constexpr std::int64_t cost = 16;
  KOKKOS_INLINE_FUNCTION T f(T a) const { return T(1) / (T(1) + kc::exp(-a)); }
  KOKKOS_INLINE_FUNCTION T d1(T h) const { return h * (T(1) - h); }
  KOKKOS_INLINE_FUNCTION T d2(T h) const { return h * (T(1) - h) * (T(1) - T(2) * h); }
};

}  // namespace act

// Calls fn(functor) with the functor type of `a`, so every element-wise loop is compiled once
// per activation (no switch inside the loop).
template <class T, class Fn>
void visit(const ActivationFn& a, Fn&& fn) {
  switch (a.kind) {
    case Activation::identity: fn(act::Identity<T>{}); return;
    case Activation::leaky_relu: fn(act::Leaky<T>{static_cast<T>(a.alpha)}); return;
    case Activation::relu: fn(act::Leaky<T>{T(0)}); return;
    case Activation::tanh: fn(act::Tanh<T>{}); return;
    case Activation::sigmoid: fn(act::Sigmoid<T>{}); return;
  }
}

}  // namespace saddle::kernels::nn
