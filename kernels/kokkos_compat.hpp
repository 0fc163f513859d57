#pragma once
// The slice of Kokkos that differs between Debian's 3.4 and a user's 4.x: math functions moved
// from Kokkos::Experimental to Kokkos in 3.7, Kokkos::min/max appeared in 3.6, Kokkos::fma and
// Kokkos::bit_cast in 4.0. Before 4.0 fma and bit_cast fall back to the host's std::fma and
// std::memcpy: those Kokkos versions are supported for host backends only.
#include <Kokkos_Core.hpp>

#include <cmath>
#include <cstring>

namespace saddle::kernels::kc {

#if KOKKOS_VERSION >= 30700
using Kokkos::exp;
using Kokkos::fabs;
using Kokkos::log;
using Kokkos::sqrt;
using Kokkos::cos;
using Kokkos::sin;
using Kokkos::tanh;
#else
using Kokkos::Experimental::exp;
using Kokkos::Experimental::fabs;
using Kokkos::Experimental::log;
using Kokkos::Experimental::sqrt;
using Kokkos::Experimental::cos;
using Kokkos::Experimental::sin;
using Kokkos::Experimental::tanh;
#endif

#if KOKKOS_VERSION >= 40000
using Kokkos::bit_cast;
using Kokkos::fma;
#else
template <class To, class From>
inline To bit_cast(const From& from) {
  static_assert(sizeof(To) == sizeof(From), "bit_cast between types of different sizes");
  To to;
  std::memcpy(&to, &from, sizeof to);
  return to;
}
inline double fma(double a, double b, double c) { return std::fma(a, b, c); }
#endif

template <class T>
KOKKOS_INLINE_FUNCTION constexpr const T& min(const T& a, const T& b) { return b < a ? b : a; }
template <class T>
KOKKOS_INLINE_FUNCTION constexpr const T& max(const T& a, const T& b) { return a < b ? b : a; }

}  // namespace saddle::kernels::kc
