#pragma once
// An input data file (HDF5) opened read-only by this process alone: the one place where the
// workloads read their input data. Every failure throws InputError (exit 2) naming the file, the
// dataset and, when the caller gives one, the deck key of the path: a missing, empty, truncated or
// non-HDF5 file or a directory; a missing dataset, or a group, a dangling link or another object
// where a dataset belongs; a non-numeric datatype (strings, compounds, enums ...); metadata HDF5
// cannot read; an array larger than this machine's memory; a shape or a value the caller refuses.
// Callers check shapes (shape()) before reading, so nothing is allocated for an array they refuse.
#include <cstdint>
#include <string>
#include <vector>

#include "engine/deck.hpp"
#include "engine/error.hpp"
#include "engine/h5.hpp"

namespace saddle::engine {

using Shape = std::vector<std::int64_t>;

// "3 x 4"; "a scalar" for no dimensions.
std::string shape_text(const Shape& shape);

// A whole dataset and its shape (row-major values).
template <class T>
struct Array {
  std::vector<T> values;
  Shape shape;
};

class InputFile {
 public:
  // Whether a read also requires every value to be finite.
  enum class Values { Any, Finite };

  // Opens the file named by deck key `key`; every message goes through Config::error(key).
  InputFile(const Config& config, const std::string& key);
  // Opens `path`; every message starts with "<label>: " when `label` is not empty.
  explicit InputFile(const std::string& path, const std::string& label = "");

  const std::string& path() const { return path_; }

  // What `name` ("a" or "g/a") is; an error for a dangling link or another kind of object.
  enum class Object { None, Dataset, Group };
  Object object(const std::string& name) const;
  // Whether dataset (group) `name` exists: false when nothing has that name, an error when
  // something else does.
  bool has_dataset(const std::string& name) const;
  bool has_group(const std::string& name) const;
  // The shape of numeric dataset `name`, which must exist.
  Shape shape(const std::string& name) const;

  // Dataset `name` whole, as double (any numeric type) or std::int64_t (integer types only).
  template <class T>
  Array<T> read(const std::string& name, Values values = Values::Any) const;
  // Rows [begin, begin + count) of a 1-D or 2-D dataset, whichever rank count wrote it.
  template <class T>
  std::vector<T> read_rows(const std::string& name, std::int64_t begin, std::int64_t count, Values values = Values::Any) const;

  // Numeric attribute `name` of `object` ("" for the root group) with exactly `count` values.
  bool has_attribute(const std::string& object, const std::string& name) const;
  template <class T>
  std::vector<T> read_attribute(const std::string& object, const std::string& name, std::int64_t count) const;

  // Throws unless `found` equals `want` ("must be <want><why>, found <found>").
  void expect_shape(const std::string& name, const Shape& found, const Shape& want, const std::string& why = "") const;
  // Throws unless `found` is 2-D with both dimensions > 0 ("must be a non-empty 2-D <what>").
  void expect_matrix(const std::string& name, const Shape& found, const std::string& what = "matrix") const;

  // "'<path>':/<name> <message>" (the dataset), or "'<path>': <message>" (the file), as an
  // InputError that names the deck key or label.
  InputError error(const std::string& name, const std::string& message) const;
  InputError error(const std::string& message) const;

  // The largest array a read may allocate: this machine's physical memory, or the limit set
  // (0: physical memory again). The fuzz targets set a small one: their tiny files may declare
  // huge datasets, which would read as gigabytes of fill values.
  static std::int64_t memory_limit_bytes();
  static void set_memory_limit_bytes(std::int64_t bytes);

 private:
  void open();
  // Opens numeric dataset `name` (integer types only when `integer`) and returns its shape.
  Shape numeric_dataset(const std::string& name, bool integer) const;
  void check_size(const std::string& name, const Shape& shape, std::int64_t rows, std::size_t element) const;
  void check_finite(const std::string& name, const std::vector<double>& v, std::int64_t first_row, std::int64_t row_length) const;
  InputError fail(const std::string& text) const;

  std::string path_, key_, label_;
  const Config* config_ = nullptr;
  h5::File file_;
};

}  // namespace saddle::engine
