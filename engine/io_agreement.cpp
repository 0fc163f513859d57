// Failure-consistent collective MPI-IO for parallel HDF5 (see io_agreement.hpp).
//
// HDF5 1.10 assumes a collective MPI-IO call fails on every rank or on none. A full disk breaks
// that: the rank whose aggregator's write() gets ENOSPC returns an error and leaves through
// HDF5's error path, while the others go on into the next collective call (MPI_File_set_view,
// the metadata cache's barrier) and the job hangs. The definitions below interpose the
// collective MPI-IO calls that HDF5 makes (the MPI profiling interface: our MPI_File_* call
// PMPI_File_*) and agree on their outcome over the file's communicator before returning, so
// every rank returns the same success or failure and HDF5 takes the same path everywhere.
#include "engine/io_agreement.hpp"

#include <mpi.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <string>

namespace saddle::engine {
namespace {

struct State {
  std::mutex mutex;
  std::map<MPI_File, MPI_Comm> comms;  // a private duplicate of each open file's communicator
  std::string failure;                 // the first failure's text, until taken
};

State& state() {
  static State s;
  return s;
}

MPI_Comm comm_of(MPI_File fh) {
  std::lock_guard<std::mutex> lock(state().mutex);
  const auto it = state().comms.find(fh);
  return it == state().comms.end() ? MPI_COMM_NULL : it->second;
}

std::string error_text(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  PMPI_Error_string(code, text, &len);
  return std::string(text, static_cast<std::size_t>(len));
}

// The cause of a failed call: Open MPI's ROMIO reduces every I/O error to MPI_ERR_IO
// ("input/output error"), so errno, left by the failed system call, says more when it is an
// I/O error (and not, say, EAGAIN from the network layer).
std::string cause(int rc, int err) {
  switch (err) {
    case ENOSPC: case EDQUOT: case EIO: case EROFS: case EACCES: case EPERM: case EFBIG: case ENOENT: case ESTALE:
      return std::strerror(err);
    default:
      return error_text(rc);
  }
}

// Every rank of `comm` learns whether any rank's call failed; the lowest failing rank's error
// text is kept on every rank. Ranks that succeeded return MPI_ERR_IO so that HDF5 fails there too.
int agree(MPI_Comm comm, int rc, int err, const char* call) {
  if (comm == MPI_COMM_NULL) return rc;
  int rank = 0, size = 1;
  PMPI_Comm_rank(comm, &rank);
  PMPI_Comm_size(comm, &size);
  int first = rc == MPI_SUCCESS ? size : rank;
  PMPI_Allreduce(MPI_IN_PLACE, &first, 1, MPI_INT, MPI_MIN, comm);
  if (first == size) return MPI_SUCCESS;
  std::string text = rank == first ? std::string(call) + ": " + cause(rc, err) : std::string();
  int len = static_cast<int>(text.size());
  PMPI_Bcast(&len, 1, MPI_INT, first, comm);
  text.resize(static_cast<std::size_t>(len));
  PMPI_Bcast(text.data(), len, MPI_CHAR, first, comm);
  {
    std::lock_guard<std::mutex> lock(state().mutex);
    if (state().failure.empty()) state().failure = text;
  }
  return rc == MPI_SUCCESS ? MPI_ERR_IO : rc;
}

// Runs one MPI-IO call and agrees on its outcome.
template <class Call>
int agreed(MPI_Comm comm, const char* name, Call&& call) {
  errno = 0;
  const int rc = call();
  const int err = errno;
  return agree(comm, rc, err, name);
}

}  // namespace

std::string take_io_failure() {
  std::lock_guard<std::mutex> lock(state().mutex);
  std::string out;
  out.swap(state().failure);
  return out;
}

}  // namespace saddle::engine

using saddle::engine::agreed;
using saddle::engine::comm_of;
using saddle::engine::state;

extern "C" {

int MPI_File_open(MPI_Comm comm, const char* filename, int amode, MPI_Info info, MPI_File* fh) {
  // ROMIO agrees on the outcome of an open already; agreeing again costs one allreduce and
  // guards the collective duplicate below.
  const int rc = agreed(comm, "MPI_File_open", [&] { return PMPI_File_open(comm, filename, amode, info, fh); });
  if (rc != MPI_SUCCESS) return rc;
  MPI_Comm dup = MPI_COMM_NULL;
  PMPI_Comm_dup(comm, &dup);
  std::lock_guard<std::mutex> lock(state().mutex);
  state().comms[*fh] = dup;
  return rc;
}

int MPI_File_close(MPI_File* fh) {
  const MPI_File key = *fh;
  MPI_Comm comm = comm_of(key);
  const int rc = agreed(comm, "MPI_File_close", [&] { return PMPI_File_close(fh); });
  if (comm != MPI_COMM_NULL) {
    PMPI_Comm_free(&comm);
    std::lock_guard<std::mutex> lock(state().mutex);
    state().comms.erase(key);
  }
  return rc;
}

int MPI_File_write_at_all(MPI_File fh, MPI_Offset offset, const void* buf, int count, MPI_Datatype type,
                          MPI_Status* status) {
  return agreed(comm_of(fh), "MPI_File_write_at_all", [&] { return PMPI_File_write_at_all(fh, offset, buf, count, type, status); });
}

int MPI_File_read_at_all(MPI_File fh, MPI_Offset offset, void* buf, int count, MPI_Datatype type, MPI_Status* status) {
  return agreed(comm_of(fh), "MPI_File_read_at_all", [&] { return PMPI_File_read_at_all(fh, offset, buf, count, type, status); });
}

int MPI_File_set_view(MPI_File fh, MPI_Offset disp, MPI_Datatype etype, MPI_Datatype filetype, const char* datarep,
                      MPI_Info info) {
  return agreed(comm_of(fh), "MPI_File_set_view", [&] { return PMPI_File_set_view(fh, disp, etype, filetype, datarep, info); });
}

int MPI_File_set_size(MPI_File fh, MPI_Offset size) {
  return agreed(comm_of(fh), "MPI_File_set_size", [&] { return PMPI_File_set_size(fh, size); });
}

int MPI_File_sync(MPI_File fh) { return agreed(comm_of(fh), "MPI_File_sync", [&] { return PMPI_File_sync(fh); }); }

}  // extern "C"
