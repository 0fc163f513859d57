#pragma once
// The slice of Kokkos that differs between Debian's 3.4 and a user's 4.x: math functions moved
// from Kokkos::Experimental to Kokkos in 3.7, and Kokkos::min/max appeared in 3.6.
#include <Kokkos_Core.hpp>

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

template <class T>
KOKKOS_INLINE_FUNCTION constexpr const T& min(const T& a, const T& b) { return b < a ? b : a; }
template <class T>
KOKKOS_INLINE_FUNCTION constexpr const T& max(const T& a, const T& b) { return a < b ? b : a; }

}  // namespace saddle::kernels::kc
