#include "engine/input_file.hpp"

#include <hdf5.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <type_traits>

namespace saddle::engine {
namespace {

std::string class_name(H5T_class_t c) {
  switch (c) {
    case H5T_STRING: return "strings";
    case H5T_COMPOUND: return "compound records";
    case H5T_ENUM: return "enum values";
    case H5T_BITFIELD: return "bit fields";
    case H5T_OPAQUE: return "opaque data";
    case H5T_REFERENCE: return "references";
    case H5T_VLEN: return "variable-length sequences";
    case H5T_ARRAY: return "array-typed elements";
    default: return "data of no numeric type";
  }
}

// Why values of HDF5 type `type` cannot be read as numbers ("" when they can). Integers are read
// as integers only: a floating-point index would be truncated silently.
std::string type_problem(hid_t type, bool integer) {
  const H5T_class_t c = H5Tget_class(type);
  if (c != H5T_INTEGER && c != H5T_FLOAT) return "holds " + class_name(c) + ", not numbers";
  // No number is wider than 16 bytes; HDF5 converts even a crafted 2 GiB-wide one, through a
  // buffer of that size per value.
  const std::size_t size = H5Tget_size(type), precision = H5Tget_precision(type);
  const int offset = H5Tget_offset(type);
  if (size == 0 || size > 16 || precision == 0 || offset < 0 || static_cast<std::size_t>(offset) + precision > 8 * size)
    return "holds numbers of an unsupported format (" + std::to_string(precision) + " bits in " + std::to_string(size) + " bytes)";
  if (c == H5T_FLOAT && integer) return "holds floating-point values where integers belong";
  return "";
}

std::string gib(long double bytes) {
  char b[48];
  std::snprintf(b, sizeof b, "%.3Lg GiB", bytes / (1024.0L * 1024.0L * 1024.0L));
  return b;
}

std::atomic<std::int64_t> memory_limit_set{0};  // 0: physical memory

}  // namespace

std::string shape_text(const Shape& shape) {
  std::string s;
  for (auto d : shape) s += (s.empty() ? "" : " x ") + std::to_string(d);
  return s.empty() ? "a scalar" : s;
}

InputFile::InputFile(const Config& config, const std::string& key)
    : path_(config.string(key)), key_(key), config_(&config) {
  open();
}

InputFile::InputFile(const std::string& path, const std::string& label) : path_(path), label_(label) { open(); }

void InputFile::open() {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status st = fs::status(path_, ec);
  if (!fs::exists(st)) throw error("no such file");
  if (fs::is_directory(st)) throw error("is a directory, not an HDF5 file");
  if (!fs::is_regular_file(st)) throw error("is not a regular file");
  if (fs::file_size(path_, ec) == 0) throw error("is empty, not an HDF5 file");
  try {
    file_ = h5::File::open(path_, h5::File::Mode::ReadOnly);
  } catch (const h5::Error&) {
    // HDF5 says only "unable to open file" for either case.
    if (H5Fis_hdf5(path_.c_str()) <= 0) throw error("is not an HDF5 file");
    throw error("cannot be opened as HDF5 (truncated or damaged?)");
  }
}

InputError InputFile::fail(const std::string& text) const {
  if (config_) return config_->error(key_, text);
  return InputError(label_.empty() ? text : label_ + ": " + text);
}

InputError InputFile::error(const std::string& name, const std::string& message) const {
  return fail("'" + path_ + "':/" + name + " " + message);
}

InputError InputFile::error(const std::string& message) const { return fail("'" + path_ + "': " + message); }

void InputFile::set_memory_limit_bytes(std::int64_t bytes) { memory_limit_set = bytes; }

std::int64_t InputFile::memory_limit_bytes() {
  if (const std::int64_t set = memory_limit_set; set > 0) return set;
  const long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
  if (pages <= 0 || size <= 0) return std::numeric_limits<std::int64_t>::max();
  return static_cast<std::int64_t>(pages) * static_cast<std::int64_t>(size);
}

InputFile::Object InputFile::object(const std::string& name) const {
  const hid_t root = file_.root().id();
  std::size_t start = 0;
  for (;;) {
    const auto slash = name.find('/', start);
    const std::string prefix = name.substr(0, slash);
    // Damaged link metadata makes these lookups fail rather than answer.
    const htri_t link = H5Lexists(root, prefix.c_str(), H5P_DEFAULT);
    if (link < 0) throw error(prefix, "cannot be looked up, the file's metadata is damaged (" + h5::last_error_message() + ")");
    if (link == 0) return Object::None;
    const htri_t target = H5Oexists_by_name(root, prefix.c_str(), H5P_DEFAULT);
    if (target < 0) throw error(prefix, "cannot be resolved, the file's metadata is damaged (" + h5::last_error_message() + ")");
    if (target == 0) throw error(prefix, "is a dangling link (its target does not exist)");
    h5::Handle<H5Oclose> o(H5Oopen(root, prefix.c_str(), H5P_DEFAULT));
    if (!o.valid()) throw error(prefix, "cannot be opened (" + h5::last_error_message() + ")");
    const H5I_type_t type = H5Iget_type(o.get());
    if (slash == std::string::npos) {
      if (type == H5I_DATASET) return Object::Dataset;
      if (type == H5I_GROUP) return Object::Group;
      throw error(name, "is neither a dataset nor a group");
    }
    if (type != H5I_GROUP) return Object::None;
    start = slash + 1;
  }
}

bool InputFile::has_dataset(const std::string& name) const {
  const Object o = object(name);
  if (o == Object::Group) throw error(name, "is a group, not a dataset");
  return o == Object::Dataset;
}

bool InputFile::has_group(const std::string& name) const {
  const Object o = object(name);
  if (o == Object::Dataset) throw error(name, "is a dataset, not a group");
  return o == Object::Group;
}

Shape InputFile::numeric_dataset(const std::string& name, bool integer) const {
  if (!has_dataset(name)) throw fail("'" + path_ + "' has no dataset /" + name);
  const hid_t root = file_.root().id();
  h5::DatasetId d(H5Dopen2(root, name.c_str(), H5P_DEFAULT));
  if (!d.valid()) throw error(name, "cannot be opened (" + h5::last_error_message() + ")");
  h5::TypeId type(H5Dget_type(d.get()));
  h5::SpaceId space(H5Dget_space(d.get()));
  if (!type.valid() || !space.valid()) throw error(name, "has unreadable metadata (" + h5::last_error_message() + ")");
  const std::string problem = type_problem(type.get(), integer);
  if (!problem.empty()) throw error(name, problem);
  const H5S_class_t sc = H5Sget_simple_extent_type(space.get());
  if (sc == H5S_NULL) throw error(name, "holds no data (a null dataspace)");
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if ((sc != H5S_SIMPLE && sc != H5S_SCALAR) || rank < 0) throw error(name, "has an unreadable dataspace");
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank)), max_dims(dims.size());
  if (H5Sget_simple_extent_dims(space.get(), dims.data(), max_dims.data()) < 0) throw error(name, "has an unreadable dataspace");
  Shape shape;
  for (auto v : dims) {
    if (v > static_cast<hsize_t>(std::numeric_limits<std::int64_t>::max())) throw error(name, "declares a dimension of " + std::to_string(v));
    shape.push_back(static_cast<std::int64_t>(v));
  }
  // HDF5 1.10 copies a compact dataset's values without checking that what is stored fills its
  // shape: on a crafted file it copies from a null pointer.
  h5::PlistId dcpl(H5Dget_create_plist(d.get()));
  if (!dcpl.valid()) throw error(name, "has unreadable metadata (" + h5::last_error_message() + ")");
  if (H5Pget_layout(dcpl.get()) == H5D_COMPACT) {
    long double bytes = static_cast<long double>(H5Tget_size(type.get()));
    for (auto v : dims) bytes *= static_cast<long double>(v);
    if (static_cast<long double>(H5Dget_storage_size(d.get())) != bytes) throw error(name, "is damaged: its stored values do not fill its shape");
  }
  // A chunk larger than a fixed dimension is one HDF5 itself never writes, and HDF5 1.10 reads
  // such a crafted chunk past the end of its buffer.
  if (H5Pget_layout(dcpl.get()) == H5D_CHUNKED && rank > 0) {
    std::vector<hsize_t> chunk(dims.size());
    if (H5Pget_chunk(dcpl.get(), rank, chunk.data()) != rank) throw error(name, "has unreadable metadata (" + h5::last_error_message() + ")");
    for (std::size_t i = 0; i < dims.size(); ++i)
      if (chunk[i] == 0 || (max_dims[i] != H5S_UNLIMITED && chunk[i] > max_dims[i]))
        throw error(name, "is damaged: its chunks (" + std::to_string(chunk[i]) + " in dimension " + std::to_string(i + 1) +
                              ") do not fit its shape " + shape_text(shape));
  }
  if (const std::string problem = h5::chunk_problem(d.get(), dcpl.get()); !problem.empty()) throw error(name, problem);
  return shape;
}

Shape InputFile::shape(const std::string& name) const { return numeric_dataset(name, false); }

void InputFile::check_size(const std::string& name, const Shape& shape, std::int64_t rows, std::size_t element) const {
  long double count = static_cast<long double>(rows);
  for (std::size_t i = 1; i < shape.size(); ++i) count *= static_cast<long double>(shape[i]);
  const long double bytes = count * static_cast<long double>(element), limit = static_cast<long double>(memory_limit_bytes());
  if (bytes <= limit) return;
  char values[32];
  std::snprintf(values, sizeof values, "%.3Lg", count);
  throw error(name, "is " + shape_text(shape) + ": reading " + values + " values needs " + gib(bytes) +
                        ", more than this machine's memory (" + gib(limit) + ")");
}

void InputFile::check_finite(const std::string& name, const std::vector<double>& v, std::int64_t first_row,
                             std::int64_t row_length) const {
  for (std::size_t k = 0; k < v.size(); ++k)
    if (!std::isfinite(v[k]))
      throw error(name, "holds a non-finite value (" + std::to_string(v[k]) + ") in row " +
                            std::to_string(first_row + static_cast<std::int64_t>(k) / std::max<std::int64_t>(row_length, 1)));
}

template <class T>
Array<T> InputFile::read(const std::string& name, Values values) const {
  Array<T> out;
  out.shape = numeric_dataset(name, std::is_integral_v<T>);
  check_size(name, out.shape, out.shape.empty() ? 1 : out.shape[0], sizeof(T));
  try {
    out.values = file_.root().read<T>(name);
  } catch (const h5::Error& e) {
    throw error(name, std::string("cannot be read (") + e.what() + ")");
  }
  if constexpr (std::is_floating_point_v<T>)
    if (values == Values::Finite)
      check_finite(name, out.values, 0, out.shape.size() > 1 ? static_cast<std::int64_t>(out.values.size()) / std::max<std::int64_t>(out.shape[0], 1) : 1);
  return out;
}

template <class T>
std::vector<T> InputFile::read_rows(const std::string& name, std::int64_t begin, std::int64_t count, Values values) const {
  const Shape shape = numeric_dataset(name, std::is_integral_v<T>);
  if (shape.empty() || shape.size() > 2) throw error(name, "must be 1-D or 2-D, found " + shape_text(shape));
  if (begin < 0 || count < 0 || begin + count > shape[0])
    throw error(name, "has " + std::to_string(shape[0]) + " rows; rows [" + std::to_string(begin) + ", " +
                          std::to_string(begin + count) + ") were asked for");
  check_size(name, shape, count, sizeof(T));
  std::vector<T> out;
  try {
    out = file_.root().read_rows<T>(name, begin, count);
  } catch (const h5::Error& e) {
    throw error(name, std::string("cannot be read (") + e.what() + ")");
  }
  if constexpr (std::is_floating_point_v<T>)
    if (values == Values::Finite) check_finite(name, out, begin, shape.size() > 1 ? shape[1] : 1);
  return out;
}

bool InputFile::has_attribute(const std::string& object, const std::string& name) const {
  const htri_t e = H5Aexists_by_name(file_.root().id(), object.empty() ? "." : object.c_str(), name.c_str(), H5P_DEFAULT);
  if (e < 0) throw error(object + "@" + name, "cannot be looked up (" + h5::last_error_message() + ")");
  return e > 0;
}

template <class T>
std::vector<T> InputFile::read_attribute(const std::string& object, const std::string& name, std::int64_t count) const {
  const std::string where = object + "@" + name;
  h5::AttrId a(H5Aopen_by_name(file_.root().id(), object.empty() ? "." : object.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT));
  if (!a.valid()) throw error(where, "is missing or unreadable (" + h5::last_error_message() + ")");
  h5::TypeId type(H5Aget_type(a.get()));
  h5::SpaceId space(H5Aget_space(a.get()));
  if (!type.valid() || !space.valid()) throw error(where, "has unreadable metadata (" + h5::last_error_message() + ")");
  const std::string problem = type_problem(type.get(), std::is_integral_v<T>);
  if (!problem.empty()) throw error(where, problem);
  const auto n = H5Sget_simple_extent_npoints(space.get());
  if (n != count) throw error(where, "must hold " + std::to_string(count) + " value" + (count == 1 ? "" : "s") + ", found " + std::to_string(n));
  std::vector<T> out(static_cast<std::size_t>(count));
  if (H5Aread(a.get(), h5::native_type<T>(), out.data()) < 0) throw error(where, "cannot be read (" + h5::last_error_message() + ")");
  return out;
}

void InputFile::expect_shape(const std::string& name, const Shape& found, const Shape& want, const std::string& why) const {
  if (found != want) throw error(name, "must be " + shape_text(want) + why + ", found " + shape_text(found));
}

void InputFile::expect_matrix(const std::string& name, const Shape& found, const std::string& what) const {
  if (found.size() != 2 || found[0] == 0 || found[1] == 0)
    throw error(name, "must be a non-empty 2-D " + what + ", found " + shape_text(found));
}

template Array<double> InputFile::read(const std::string&, Values) const;
template Array<std::int64_t> InputFile::read(const std::string&, Values) const;
template std::vector<double> InputFile::read_rows(const std::string&, std::int64_t, std::int64_t, Values) const;
template std::vector<std::int64_t> InputFile::read_rows(const std::string&, std::int64_t, std::int64_t, Values) const;
template std::vector<double> InputFile::read_attribute(const std::string&, const std::string&, std::int64_t) const;
template std::vector<std::int64_t> InputFile::read_attribute(const std::string&, const std::string&, std::int64_t) const;

}  // namespace saddle::engine
