#pragma once
// Element-wise host loops split over the host execution space's threads (docs/usage.md, "Threads
// and ranks"): fn(lo, hi) is called on contiguous chunks of [0, n), each a plain loop the compiler
// vectorises. With one host thread (Kokkos Serial, or OpenMP on one thread), inside a parallel
// region, or below kHostChunksMin elements, it is one call fn(0, n): the fork and join of the
// threads costs a few microseconds, more than a short loop. For element-wise work the bits do not
// depend on the split.
#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cstdint>

#if defined(KOKKOS_ENABLE_OPENMP)
#include <omp.h>
#endif

#include "kernels/spaces.hpp"

namespace saddle::kernels {

inline constexpr std::int64_t kHostChunksMin = 16384;

// Threads a host loop may use here: 1 inside a parallel region.
inline int host_loop_threads() {
#if defined(KOKKOS_ENABLE_OPENMP)
  if (omp_in_parallel()) return 1;
#endif
  return HostExec().concurrency();
}

template <class F>
void host_chunks(std::int64_t n, const F& fn, std::int64_t min_parallel = kHostChunksMin) {
  const std::int64_t parts = std::min<std::int64_t>(host_loop_threads(), std::max<std::int64_t>(n / 8, 1));
  if (parts <= 1 || n < min_parallel) {
    if (n > 0) fn(std::int64_t{0}, n);
    return;
  }
  Kokkos::parallel_for(
      "host_chunks", Kokkos::RangePolicy<HostExec, Kokkos::Schedule<Kokkos::Static>>(0, parts), [&](std::int64_t p) {
        // Chunk boundaries on multiples of 8 elements (whole cache lines of doubles).
        const std::int64_t blocks = (n + 7) / 8;
        const std::int64_t lo = std::min(n, blocks * p / parts * 8), hi = std::min(n, blocks * (p + 1) / parts * 8);
        if (hi > lo) fn(lo, hi);
      });
  Kokkos::fence();
}

// Kokkos::parallel_for over [0, n) on the host execution space, or, with one host thread or less
// than kHostChunksMin elements of work in all, the plain loop f(0), ..., f(n - 1): the same calls,
// without waking the threads for a few microseconds of work.
template <class F>
void host_for(const char* name, std::int64_t n, std::int64_t work, const F& f) {
  if (host_loop_threads() <= 1 || work < kHostChunksMin) {
    for (std::int64_t i = 0; i < n; ++i) f(i);
    return;
  }
  Kokkos::parallel_for(name, host_range(n), f);
}

// f(0), ..., f(n - 1) on Space: host_for on a host space (one thread below kHostChunksMin values of
// work), Kokkos::parallel_for on Space's default instance otherwise (asynchronous there: a later
// kernel or deep_copy on the instance is ordered after it).
template <class Space, class F>
void space_for(const char* name, std::int64_t n, std::int64_t work, const F& f) {
  if constexpr (kHostSpace<Space>) host_for(name, n, work, f);
  else Kokkos::parallel_for(name, Kokkos::RangePolicy<Space>(0, n), f);
}

// f(lo, hi) over [0, n) on Space, f a functor with a KOKKOS_INLINE_FUNCTION operator()(lo, hi)
// that loops over [lo, hi): host_chunks's chunks on a host space (plain loops that vectorise),
// one index per device thread (f(i, i + 1)) otherwise.
template <class F>
struct PerIndex {
  F f;
  KOKKOS_INLINE_FUNCTION void operator()(const std::int64_t i) const { f(i, i + 1); }
};
template <class Space, class F>
void space_chunks(const char* name, std::int64_t n, const F& f) {
  if constexpr (kHostSpace<Space>) host_chunks(n, f);
  else Kokkos::parallel_for(name, Kokkos::RangePolicy<Space>(0, n), PerIndex<F>{f});
}

// dst[0, n) = src[0, n).
template <class T>
void host_copy(const T* src, std::int64_t n, T* dst) {
  host_chunks(n, [=](std::int64_t lo, std::int64_t hi) { std::copy(src + lo, src + hi, dst + lo); });
}

}  // namespace saddle::kernels
