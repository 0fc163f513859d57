#pragma once
// A small RAII layer over the HDF5 C API. Every call's return code is checked and turned into an
// h5::Error naming the file, the object and the HDF5 message. Files are opened either by this
// process alone (serial) or by every rank of a communicator through MPI-IO (collective); in
// collective mode every rank must make the same calls in the same order (docs/design.md: HDF5 layout).
#include <hdf5.h>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "engine/comm.hpp"

namespace saddle::engine::h5 {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The innermost message of the current HDF5 error stack ("" if none).
std::string last_error_message();
// Throws Error("<what>: <HDF5 message>") when status < 0; returns status otherwise.
template <class T>
T check(T status, const std::string& what) {
  if (status < 0) throw Error(what + ": " + last_error_message());
  return status;
}

// check() for a call that every rank of a collective file makes (`comm`; nullptr: serial). When
// it fails on some ranks only, the others must not go on into the next collective call: every
// rank learns the outcome and all throw the same Error (the lowest failing rank's message).
// MPI-IO failures inside HDF5 calls are agreed the same way (io_agreement.cpp), so that HDF5
// itself fails alike on every rank.
herr_t check_agreed(const Comm* comm, herr_t status, const std::string& what);
hid_t check_agreed(const Comm* comm, hid_t id, const std::string& what);

template <herr_t (*Close)(hid_t)>
class Handle {
 public:
  Handle() = default;
  explicit Handle(hid_t id) : id_(id) {}
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  Handle(Handle&& o) noexcept : id_(std::exchange(o.id_, H5I_INVALID_HID)) {}
  Handle& operator=(Handle&& o) noexcept {
    if (this != &o) {
      reset();
      id_ = std::exchange(o.id_, H5I_INVALID_HID);
    }
    return *this;
  }
  ~Handle() { reset(); }
  hid_t get() const { return id_; }
  // Gives up ownership without closing.
  hid_t release() { return std::exchange(id_, H5I_INVALID_HID); }
  bool valid() const { return id_ >= 0; }
  // Closes now and reports failure (destructors cannot).
  void close(const std::string& what) {
    if (id_ >= 0) check(Close(std::exchange(id_, H5I_INVALID_HID)), what);
  }
  void reset() {
    if (id_ >= 0) Close(std::exchange(id_, H5I_INVALID_HID));
  }

 private:
  hid_t id_ = H5I_INVALID_HID;
};

using FileId = Handle<H5Fclose>;
using GroupId = Handle<H5Gclose>;
using DatasetId = Handle<H5Dclose>;
using SpaceId = Handle<H5Sclose>;
using TypeId = Handle<H5Tclose>;
using PlistId = Handle<H5Pclose>;
using AttrId = Handle<H5Aclose>;

template <class T>
hid_t native_type() {
  if constexpr (std::is_same_v<T, double>) return H5T_NATIVE_DOUBLE;
  else if constexpr (std::is_same_v<T, float>) return H5T_NATIVE_FLOAT;
  else if constexpr (std::is_same_v<T, std::int64_t>) return H5T_NATIVE_INT64;
  else if constexpr (std::is_same_v<T, std::int32_t>) return H5T_NATIVE_INT32;
  else if constexpr (std::is_same_v<T, std::uint64_t>) return H5T_NATIVE_UINT64;
  else if constexpr (std::is_same_v<T, std::uint32_t>) return H5T_NATIVE_UINT32;
  else if constexpr (std::is_same_v<T, std::uint8_t>) return H5T_NATIVE_UINT8;
  else static_assert(sizeof(T) == 0, "no HDF5 native type for this type");
}

// Whether the datasets a file's groups create carry Fletcher32 checksums (chunked storage), so
// that silent corruption is detected when they are read (checkpoints).
enum class Checksums { Off, On };

// What the groups of one open file share.
struct FileInfo {
  std::string path;                  // for messages
  std::shared_ptr<const Comm> comm;  // collective files only
  Checksums checksums = Checksums::Off;
};

class Group {
 public:
  Group() = default;
  Group(GroupId id, std::string path, std::shared_ptr<const FileInfo> file)
      : id_(std::move(id)), path_(std::move(path)), file_(std::move(file)) {}

  hid_t id() const { return id_.get(); }
  const std::string& path() const { return path_; }
  bool collective() const { return comm() != nullptr; }
  // The communicator of a collective file (nullptr when serial).
  const Comm* comm() const { return file_ ? file_->comm.get() : nullptr; }

  // Whether a link `name` ("a" or "a/b/c") exists below this group.
  bool exists(const std::string& name) const;
  Group open_group(const std::string& name) const;
  // Creates `name` and any missing intermediate groups.
  Group create_group(const std::string& name) const;
  Group require_group(const std::string& name) const;
  void remove(const std::string& name) const;

  // Attributes (in collective mode every rank passes the same value).
  bool has_attr(const std::string& name) const;
  void write_attr(const std::string& name, const std::string& value) const;
  void write_attr(const std::string& name, const char* value) const { write_attr(name, std::string(value)); }
  template <class T, class = std::enable_if_t<std::is_arithmetic_v<T>>>
  void write_attr(const std::string& name, T value) const {
    write_attr_raw(name, native_type<T>(), &value, 1);
  }
  template <class T>
  void write_attr(const std::string& name, const std::vector<T>& values) const {
    write_attr_raw(name, native_type<T>(), values.data(), values.size());
  }
  // An attribute on the object `object` (a dataset or group below this group).
  template <class T, class = std::enable_if_t<std::is_arithmetic_v<T>>>
  void write_attr_on(const std::string& object, const std::string& name, T value) const {
    write_object_attr_raw(object, name, native_type<T>(), &value);
  }
  std::string read_attr_string(const std::string& name) const;
  template <class T>
  T read_attr(const std::string& name) const {
    T value{};
    read_attr_raw(name, native_type<T>(), &value, 1);
    return value;
  }

  // A whole (small) dataset of any rank given by `dims` (default: 1-D). Collective mode: every
  // rank calls with the same data; rank 0 writes it.
  template <class T>
  void write(const std::string& name, const std::vector<T>& data, std::vector<hsize_t> dims = {}) const {
    write_raw(name, native_type<T>(), data.data(), data.size(), std::move(dims));
  }
  template <class T>
  void write_scalar(const std::string& name, T value) const {
    write_raw(name, native_type<T>(), &value, 1, {1});
  }
  template <class T>
  std::vector<T> read(const std::string& name, std::vector<hsize_t>* dims = nullptr) const {
    const std::vector<hsize_t> extent = shape(name);
    hsize_t n = 1;
    for (auto d : extent) n *= d;
    std::vector<T> out(n);
    read_raw(name, native_type<T>(), out.data(), n);
    if (dims) *dims = extent;
    return out;
  }
  template <class T>
  T read_scalar(const std::string& name) const {
    auto v = read<T>(name);
    if (v.size() != 1) throw Error(path_ + "/" + name + ": expected one element, found " + std::to_string(v.size()));
    return v[0];
  }
  std::vector<hsize_t> shape(const std::string& name) const;

  // Row-distributed 2-D arrays (collective mode only). Each rank holds `local_rows` x `cols`
  // row-major; ranks' blocks are stacked in rank order, so the dataset is in global row order.
  template <class T>
  void write_rows(const std::string& name, const T* local, std::int64_t local_rows, std::int64_t cols) const {
    write_rows_raw(name, native_type<T>(), local, local_rows, cols, 2);
  }
  // Same for a 1-D distributed vector.
  template <class T>
  void write_distributed(const std::string& name, const T* local, std::int64_t local_count) const {
    write_rows_raw(name, native_type<T>(), local, local_count, 1, 1);
  }
  // Rows [row_begin, row_begin + row_count) of a 1-D or 2-D dataset, whatever rank count wrote it
  // (collective mode: every rank calls, each with its own range).
  template <class T>
  std::vector<T> read_rows(const std::string& name, std::int64_t row_begin, std::int64_t row_count) const {
    const auto dims = shape(name);
    const hsize_t cols = dims.size() > 1 ? dims[1] : 1;
    std::vector<T> out(static_cast<std::size_t>(row_count) * cols);
    read_rows_raw(name, native_type<T>(), out.data(), row_begin, row_count);
    return out;
  }

  // One-dimensional chunked, extendable series (serial files): created on first append.
  template <class T>
  void append(const std::string& name, const std::vector<T>& values) const {
    append_raw(name, native_type<T>(), values.data(), values.size());
  }

 protected:
  void write_attr_raw(const std::string& name, hid_t type, const void* data, std::size_t n) const;
  void read_attr_raw(const std::string& name, hid_t type, void* data, std::size_t n) const;
  void write_object_attr_raw(const std::string& object, const std::string& name, hid_t type, const void* data) const;
  void write_raw(const std::string& name, hid_t type, const void* data, std::size_t n, std::vector<hsize_t> dims) const;
  void read_raw(const std::string& name, hid_t type, void* data, std::size_t n) const;
  void write_rows_raw(const std::string& name, hid_t type, const void* local, std::int64_t local_rows,
                      std::int64_t cols, int rank) const;
  void read_rows_raw(const std::string& name, hid_t type, void* out, std::int64_t row_begin,
                     std::int64_t row_count) const;
  void append_raw(const std::string& name, hid_t type, const void* data, std::size_t n) const;
  std::string where(const std::string& name) const;
  PlistId transfer_plist() const;
  PlistId creation_plist(const std::vector<hsize_t>& dims, hid_t type, bool no_fill) const;
  // check_agreed() over this group's file, the file named in the message.
  herr_t check_all(herr_t status, const std::string& what) const;
  hid_t check_all(hid_t id, const std::string& what) const;

  GroupId id_;
  std::string path_;
  std::shared_ptr<const FileInfo> file_;
};

class File {
 public:
  enum class Mode { ReadOnly, ReadWrite };
  // Creates (truncating) `path`. With `comm`, every rank of it opens the file through MPI-IO.
  static File create(const std::string& path, const Comm* comm = nullptr, Checksums checksums = Checksums::Off);
  static File open(const std::string& path, Mode mode, const Comm* comm = nullptr);

  File() = default;
  File(File&&) = default;
  File& operator=(File&&) = default;
  // A collective file is not closed while an exception unwinds the stack: H5Fclose is collective,
  // and the other ranks may not be unwinding too. HDF5 closes it at MPI_Finalize (every rank), or
  // MPI_Abort ends the job. close() is the way to close it.
  ~File();

  Group& root() { return root_; }
  const Group& root() const { return root_; }
  const std::string& path() const { return path_; }
  void flush() const;
  // Closes and checks; every group and dataset obtained from this file must be closed first.
  void close();

 private:
  static File make(hid_t fid, const std::string& path, const Comm* comm, Checksums checksums);
  const Comm* comm() const { return info_ ? info_->comm.get() : nullptr; }

  FileId fid_;
  Group root_;
  std::string path_;
  std::shared_ptr<const FileInfo> info_;
};

// Whether some HDF5 file failed to close in this process (see Runtime's destructor).
bool close_failed();

// After an h5 Error that every rank of a collective file got alike (the collective writes agree
// on their outcome), closes `f` on every rank and ignores what the close reports.
void close_after_failure(File& f);

// Reads every dataset below `group` that carries checksums, in slabs of at most 16 MiB, so that
// they are verified; throws Error naming the first dataset that fails. Serial files.
void verify_checksums(const Group& group);

// Why chunked dataset `dataset` (created with `dcpl`) cannot be read safely ("" when it can; other
// layouts: ""): a chunk whose stored size cannot be right. HDF5 1.10 trusts it: a chunk that went
// through Fletcher32 but is stored in fewer bytes than the checksum is read far past its end (the
// 4 bytes are subtracted unchecked), and an unfiltered (or only shuffled) chunk stored in fewer
// bytes than its shape takes is copied whole from the short buffer. HDF5 never writes either; a
// damaged or crafted file holds them. Walks the chunk index once.
std::string chunk_problem(hid_t dataset, hid_t dcpl);

}  // namespace saddle::engine::h5
