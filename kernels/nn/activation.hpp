#pragma once
// Activations of the dense layers, each with s(a) and its first two derivatives written as
// functions of the OUTPUT h = s(a) (LeakyReLU: h > 0 iff a > 0 for a slope >= 0; tanh: s' = 1 - h^2;
// sigmoid: s' = h (1 - h)), so a layer stores only its outputs and the backward passes never
// re-evaluate tanh or exp. `curved` says whether s'' is nonzero somewhere: the WGAN-GP double
// backward skips the s'' terms of piecewise-linear activations.
#include <Kokkos_Core.hpp>

#include <stdexcept>
#include <string>

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

template <class T>
struct Identity {
  static constexpr bool curved = false;
  KOKKOS_INLINE_FUNCTION T f(T a) const { return a; }
  KOKKOS_INLINE_FUNCTION T d1(T) const { return T(1); }
  KOKKOS_INLINE_FUNCTION T d2(T) const { return T(0); }
};

// LeakyReLU (ReLU with alpha = 0).
template <class T>
struct Leaky {
  static constexpr bool curved = false;
  T alpha;
  KOKKOS_INLINE_FUNCTION T f(T a) const { return a > T(0) ? a : alpha * a; }
  KOKKOS_INLINE_FUNCTION T d1(T h) const { return h > T(0) ? T(1) : alpha; }
  KOKKOS_INLINE_FUNCTION T d2(T) const { return T(0); }
};

template <class T>
struct Tanh {
  static constexpr bool curved = true;
  KOKKOS_INLINE_FUNCTION T f(T a) const { return kc::tanh(a); }
  KOKKOS_INLINE_FUNCTION T d1(T h) const { return T(1) - h * h; }
  KOKKOS_INLINE_FUNCTION T d2(T h) const { return T(-2) * h * (T(1) - h * h); }
};

template <class T>
struct Sigmoid {
  static constexpr bool curved = true;
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
