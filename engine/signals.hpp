#pragma once
// SIGTERM and SIGUSR1 (what SLURM sends before a time limit with --signal) ask the run to write a
// checkpoint at the next step boundary and exit with code 3. The handler only sets a flag.
namespace saddle::engine {

// Installs the handlers (idempotent). `saddle` installs them first thing in main, before MPI and
// Kokkos start: SLURM may signal a job the moment it starts, and the default action would kill it.
// A signal received before the first step is honoured at the first step boundary.
void install_stop_handlers();
// The signal number received since the handlers were installed, or 0.
int stop_signal_received();
// For tests: forget a received signal.
void clear_stop_signal();

}  // namespace saddle::engine
