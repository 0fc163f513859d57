#pragma once
// A test hook for node failures at chosen moments (docs/reliability.md): with
// SADDLE_FAULT_KILL=<site>:<n>[:<rank>] the process sends itself SIGKILL the n-th time it reaches
// fault_point(<site>) (only on world rank <rank> when given). Sites: "setup" (after the
// workload's setup, before any output), "step" (after a step), "stage" (before each op of a
// pipeline stage), "checkpoint" (inside a checkpoint write: the state written, the end marker not
// yet), "flush" (inside a refresh of the run file's /metrics, rank 0), "result" (inside the
// collective /result write). SADDLE_FAULT_THROW=<site>:<n>[:<rank>] throws a std::runtime_error
// there instead: an error one rank meets alone, with which the whole job must end, with its
// message. Without the variables a fault point costs two branches.
namespace saddle::engine {

void fault_point(const char* site);

}  // namespace saddle::engine
