// How HDF5 failures become h5::Error: the message with its cause (errno, a checksum, an agreed
// MPI-IO failure), and in collective files the same error on every rank.
#include "engine/h5.hpp"

#include <string>

#include "engine/error.hpp"
#include "engine/io_agreement.hpp"

namespace saddle::engine::h5 {
namespace {

struct StackText {
  std::string top;    // the failed API call's description ("can't write data")
  std::string cause;  // what a deeper entry says went wrong, if it says
};

herr_t describe(unsigned n, const H5E_error2_t* err, void* out) {
  auto& text = *static_cast<StackText*>(out);
  const std::string desc = err->desc ? err->desc : "";
  if (n == 0) text.top = desc;
  if (!text.cause.empty()) return 0;
  // The sec2 driver's "... errno = 28, error message = 'No space left on device', ..."
  static const std::string errno_text = "error message = '";
  if (const auto at = desc.find(errno_text); at != std::string::npos) {
    const auto begin = at + errno_text.size();
    text.cause = desc.substr(begin, desc.find('\'', begin) - begin);
  } else if (desc.find("checksum") != std::string::npos) {
    text.cause = desc;
  }
  return 0;
}

}  // namespace

std::string last_error_message() {
  StackText text;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, describe, &text);
  // A collective MPI-IO failure (agreed on every rank) names its cause best.
  std::string cause = take_io_failure();
  if (cause.empty()) cause = text.cause;
  const std::string top = text.top.empty() ? "HDF5 call failed" : text.top;
  return cause.empty() ? top : top + " (" + cause + ")";
}

namespace {

template <class T>
T agreed(const Comm* comm, T status, const std::string& what) {
  if (!comm) return check(status, what);
  try {
    comm->agree([&] { check(status, what); });
  } catch (const CollectiveError& e) {
    throw Error(e.what());
  }
  return status;
}

}  // namespace

herr_t check_agreed(const Comm* comm, herr_t status, const std::string& what) { return agreed(comm, status, what); }
hid_t check_agreed(const Comm* comm, hid_t id, const std::string& what) { return agreed(comm, id, what); }

}  // namespace saddle::engine::h5
