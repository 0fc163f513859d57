#pragma once
// SIGTERM and SIGUSR1 (what SLURM sends before a time limit with --signal) ask the run to write a
// checkpoint at the next step boundary and exit with code 3. The handler only sets a flag.
namespace saddle::engine {

// Installs the handlers and forgets any earlier signal.
void install_stop_handlers();
void restore_default_handlers();
// The signal number received since the handlers were installed, or 0.
int stop_signal_received();
// For tests: forget a received signal.
void clear_stop_signal();

}  // namespace saddle::engine
