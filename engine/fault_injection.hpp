#pragma once
// A test hook for node failures at chosen moments (docs/reliability.md): with
// SADDLE_FAULT_KILL=<site>:<n>[:<rank>] the process sends itself SIGKILL the n-th time it reaches
// fault_point(<site>) (only on world rank <rank> when given). Sites: "setup" (after the
// workload's setup, before any output), "step" (after a step), "stage" (before each op of a pipeline stage), "checkpoint" (inside a checkpoint
// write: the state written, the end marker not yet), "flush" (inside a refresh of the run file's
// /metrics, rank 0), "result" (inside the collective /result write). Without the variable a
// fault point costs one branch.
namespace saddle::engine {

void fault_point(const char* site);

}  // namespace saddle::engine
