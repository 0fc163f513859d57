#include "engine/h5.hpp"

#include <H5FDmpio.h>

#include <algorithm>

namespace saddle::engine::h5 {
namespace {

TypeId string_type() {
  TypeId t(check(H5Tcopy(H5T_C_S1), "H5Tcopy"));
  check(H5Tset_size(t.get(), H5T_VARIABLE), "H5Tset_size");
  check(H5Tset_cset(t.get(), H5T_CSET_UTF8), "H5Tset_cset");
  return t;
}

}  // namespace

herr_t Group::check_all(herr_t status, const std::string& what) const {
  return check_agreed(comm(), status, what + " in '" + (file_ ? file_->path : std::string()) + "'");
}
hid_t Group::check_all(hid_t id, const std::string& what) const {
  return check_agreed(comm(), id, what + " in '" + (file_ ? file_->path : std::string()) + "'");
}

std::string Group::where(const std::string& name) const {
  return (path_ == "/" ? "" : path_) + "/" + name;
}

bool Group::exists(const std::string& name) const {
  std::string prefix;
  std::size_t start = 0;
  while (start <= name.size()) {
    const auto slash = name.find('/', start);
    prefix = name.substr(0, slash);
    if (check(H5Lexists(id(), prefix.c_str(), H5P_DEFAULT), "H5Lexists " + where(prefix)) <= 0) return false;
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return true;
}

Group Group::open_group(const std::string& name) const {
  GroupId g(check(H5Gopen2(id(), name.c_str(), H5P_DEFAULT), "cannot open group " + where(name)));
  return Group(std::move(g), where(name), file_);
}

Group Group::create_group(const std::string& name) const {
  PlistId lcpl(check(H5Pcreate(H5P_LINK_CREATE), "H5Pcreate"));
  check(H5Pset_create_intermediate_group(lcpl.get(), 1), "H5Pset_create_intermediate_group");
  GroupId g(check(H5Gcreate2(id(), name.c_str(), lcpl.get(), H5P_DEFAULT, H5P_DEFAULT), "cannot create group " + where(name)));
  return Group(std::move(g), where(name), file_);
}

Group Group::require_group(const std::string& name) const {
  return exists(name) ? open_group(name) : create_group(name);
}

void Group::remove(const std::string& name) const {
  check(H5Ldelete(id(), name.c_str(), H5P_DEFAULT), "cannot remove " + where(name));
}

bool Group::has_attr(const std::string& name) const {
  return check(H5Aexists(id(), name.c_str()), "H5Aexists " + where("@" + name)) > 0;
}

void Group::write_attr(const std::string& name, const std::string& value) const {
  if (has_attr(name)) check(H5Adelete(id(), name.c_str()), "H5Adelete " + where("@" + name));
  TypeId t = string_type();
  SpaceId s(check(H5Screate(H5S_SCALAR), "H5Screate"));
  AttrId a(check(H5Acreate2(id(), name.c_str(), t.get(), s.get(), H5P_DEFAULT, H5P_DEFAULT),
                 "cannot create attribute " + where("@" + name)));
  const char* p = value.c_str();
  check(H5Awrite(a.get(), t.get(), &p), "cannot write attribute " + where("@" + name));
  a.close("H5Aclose " + where("@" + name));
}

std::string Group::read_attr_string(const std::string& name) const {
  AttrId a(check(H5Aopen(id(), name.c_str(), H5P_DEFAULT), "missing attribute " + where("@" + name)));
  TypeId ftype(check(H5Aget_type(a.get()), "H5Aget_type"));
  if (H5Tget_class(ftype.get()) != H5T_STRING) throw Error("attribute " + where("@" + name) + " is not a string");
  if (H5Tis_variable_str(ftype.get()) > 0) {
    TypeId t = string_type();
    char* p = nullptr;
    check(H5Aread(a.get(), t.get(), &p), "cannot read attribute " + where("@" + name));
    std::string out = p ? p : "";
    SpaceId s(check(H5Aget_space(a.get()), "H5Aget_space"));
    H5Dvlen_reclaim(t.get(), s.get(), H5P_DEFAULT, &p);
    return out;
  }
  const std::size_t size = H5Tget_size(ftype.get());
  std::string out(size, '\0');
  check(H5Aread(a.get(), ftype.get(), out.data()), "cannot read attribute " + where("@" + name));
  out.resize(out.find('\0') == std::string::npos ? size : out.find('\0'));
  return out;
}

namespace {
void attr_write(hid_t obj, const std::string& where, const std::string& name, hid_t type, const void* data, std::size_t n) {
  if (check(H5Aexists(obj, name.c_str()), "H5Aexists " + where) > 0) check(H5Adelete(obj, name.c_str()), "H5Adelete " + where);
  const hsize_t dims[1] = {n};
  SpaceId s(check(n == 1 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, dims, nullptr), "H5Screate"));
  AttrId a(check(H5Acreate2(obj, name.c_str(), type, s.get(), H5P_DEFAULT, H5P_DEFAULT), "cannot create attribute " + where));
  check(H5Awrite(a.get(), type, data), "cannot write attribute " + where);
  a.close("H5Aclose " + where);
}
}  // namespace

void Group::write_attr_raw(const std::string& name, hid_t type, const void* data, std::size_t n) const {
  attr_write(id(), where("@" + name), name, type, data, n);
}

void Group::write_object_attr_raw(const std::string& object, const std::string& name, hid_t type, const void* data) const {
  Handle<H5Oclose> o(check(H5Oopen(id(), object.c_str(), H5P_DEFAULT), "cannot open " + where(object)));
  attr_write(o.get(), where(object + "@" + name), name, type, data, 1);
}

void Group::read_attr_raw(const std::string& name, hid_t type, void* data, std::size_t n) const {
  AttrId a(check(H5Aopen(id(), name.c_str(), H5P_DEFAULT), "missing attribute " + where("@" + name)));
  SpaceId s(check(H5Aget_space(a.get()), "H5Aget_space"));
  const auto count = check(H5Sget_simple_extent_npoints(s.get()), "H5Sget_simple_extent_npoints");
  if (static_cast<std::size_t>(count) != n)
    throw Error("attribute " + where("@" + name) + " has " + std::to_string(count) + " elements, expected " + std::to_string(n));
  check(H5Aread(a.get(), type, data), "cannot read attribute " + where("@" + name));
}

std::vector<hsize_t> Group::shape(const std::string& name) const {
  DatasetId d(check(H5Dopen2(id(), name.c_str(), H5P_DEFAULT), "missing dataset " + where(name)));
  SpaceId s(check(H5Dget_space(d.get()), "H5Dget_space " + where(name)));
  const int rank = check(H5Sget_simple_extent_ndims(s.get()), "H5Sget_simple_extent_ndims " + where(name));
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
  check(H5Sget_simple_extent_dims(s.get(), dims.data(), nullptr), "H5Sget_simple_extent_dims " + where(name));
  return dims;
}

// Chunks of at most about 1 MiB, the trailing dimensions whole as far as that allows, and rows
// shared evenly among the chunks (an edge chunk is stored whole: 1.1 MiB must not take 2 MiB).
std::vector<hsize_t> chunk_dims(const std::vector<hsize_t>& dims, std::size_t element_size) {
  constexpr std::size_t kChunkBytes = std::size_t{1} << 20;
  std::vector<hsize_t> chunk(dims.size());
  hsize_t budget = std::max<hsize_t>(1, kChunkBytes / std::max<std::size_t>(1, element_size));
  for (std::size_t i = dims.size(); i-- > 0;) {
    chunk[i] = std::max<hsize_t>(1, std::min(dims[i], budget));
    budget = std::max<hsize_t>(1, budget / chunk[i]);
  }
  if (!dims.empty()) {
    const hsize_t chunks = (dims[0] + chunk[0] - 1) / chunk[0];
    chunk[0] = (dims[0] + chunks - 1) / chunks;
  }
  return chunk;
}

// `no_fill`: parallel HDF5 allocates datasets at creation and would first write fill values over
// the whole array: twice the I/O for arrays that every rank then overwrites completely.
PlistId Group::creation_plist(const std::vector<hsize_t>& dims, hid_t type, bool no_fill) const {
  PlistId dcpl(check(H5Pcreate(H5P_DATASET_CREATE), "H5Pcreate"));
  if (no_fill) check(H5Pset_fill_time(dcpl.get(), H5D_FILL_TIME_NEVER), "H5Pset_fill_time");
  hsize_t total = 1;
  for (auto d : dims) total *= d;
  if (file_ && file_->checksums == Checksums::On && total > 0) {
    const auto chunk = chunk_dims(dims, H5Tget_size(type));
    check(H5Pset_chunk(dcpl.get(), static_cast<int>(chunk.size()), chunk.data()), "H5Pset_chunk");
    check(H5Pset_fletcher32(dcpl.get()), "H5Pset_fletcher32");
  }
  return dcpl;
}

PlistId Group::transfer_plist() const {
  PlistId x(check(H5Pcreate(H5P_DATASET_XFER), "H5Pcreate"));
  if (comm()) check(H5Pset_dxpl_mpio(x.get(), H5FD_MPIO_COLLECTIVE), "H5Pset_dxpl_mpio");
  return x;
}

void Group::write_raw(const std::string& name, hid_t type, const void* data, std::size_t n, std::vector<hsize_t> dims) const {
  if (dims.empty()) dims = {n};
  hsize_t total = 1;
  for (auto d : dims) total *= d;
  if (total != n) throw std::logic_error("h5 write " + where(name) + ": dims do not match the data size");
  if (exists(name)) remove(name);
  SpaceId fs(check(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), "H5Screate_simple"));
  DatasetId d(check_all(H5Dcreate2(id(), name.c_str(), type, fs.get(), H5P_DEFAULT, creation_plist(dims, type, false).get(),
                                   H5P_DEFAULT),
                        "cannot create dataset " + where(name)));
  // Collective files: every rank takes part, rank 0 alone contributes the data.
  const bool writer = !comm() || comm()->rank() == 0;
  SpaceId ms(check(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), "H5Screate_simple"));
  if (!writer) {
    check(H5Sselect_none(ms.get()), "H5Sselect_none");
    check(H5Sselect_none(fs.get()), "H5Sselect_none");
  }
  PlistId x = transfer_plist();
  if (n > 0) check_all(H5Dwrite(d.get(), type, ms.get(), fs.get(), x.get(), data), "cannot write dataset " + where(name));
  check_all(H5Dclose(d.release()), "cannot close dataset " + where(name));
}

void Group::read_raw(const std::string& name, hid_t type, void* data, std::size_t) const {
  DatasetId d(check(H5Dopen2(id(), name.c_str(), H5P_DEFAULT), "missing dataset " + where(name)));
  check_all(H5Dread(d.get(), type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), "cannot read dataset " + where(name));
}

void Group::write_rows_raw(const std::string& name, hid_t type, const void* local, std::int64_t local_rows,
                           std::int64_t cols, int rank) const {
  const Comm* comm = this->comm();
  if (!comm) throw std::logic_error("h5 write_rows " + where(name) + " needs a collective file");
  const std::int64_t max_cols = comm->allreduce(cols, Op::Max), min_cols = comm->allreduce(cols, Op::Min);
  if (max_cols != min_cols) throw std::logic_error("h5 write_rows " + where(name) + ": ranks disagree on the column count");
  const std::int64_t global_rows = comm->allreduce(local_rows, Op::Sum);
  const std::int64_t offset = comm->exscan_sum(local_rows);
  if (exists(name)) remove(name);
  const hsize_t gdims[2] = {static_cast<hsize_t>(global_rows), static_cast<hsize_t>(cols)};
  SpaceId fs(check(H5Screate_simple(rank, gdims, nullptr), "H5Screate_simple"));
  const std::vector<hsize_t> extent(gdims, gdims + rank);
  DatasetId d(check_all(H5Dcreate2(id(), name.c_str(), type, fs.get(), H5P_DEFAULT, creation_plist(extent, type, true).get(),
                                   H5P_DEFAULT),
                        "cannot create dataset " + where(name)));
  const hsize_t start[2] = {static_cast<hsize_t>(offset), 0};
  const hsize_t count[2] = {static_cast<hsize_t>(local_rows), static_cast<hsize_t>(cols)};
  const hsize_t one[2] = {1, std::max<hsize_t>(1, static_cast<hsize_t>(cols))};
  SpaceId ms(check(H5Screate_simple(rank, local_rows > 0 ? count : one, nullptr), "H5Screate_simple"));
  if (local_rows > 0 && cols > 0) {
    check(H5Sselect_hyperslab(fs.get(), H5S_SELECT_SET, start, nullptr, count, nullptr), "H5Sselect_hyperslab");
  } else {
    check(H5Sselect_none(fs.get()), "H5Sselect_none");
    check(H5Sselect_none(ms.get()), "H5Sselect_none");
  }
  PlistId x = transfer_plist();
  if (global_rows > 0 && cols > 0)
    check_all(H5Dwrite(d.get(), type, ms.get(), fs.get(), x.get(), local), "cannot write dataset " + where(name));
  check_all(H5Dclose(d.release()), "cannot close dataset " + where(name));
}

void Group::read_rows_raw(const std::string& name, hid_t type, void* out, std::int64_t row_begin,
                          std::int64_t row_count) const {
  DatasetId d(check(H5Dopen2(id(), name.c_str(), H5P_DEFAULT), "missing dataset " + where(name)));
  SpaceId fs(check(H5Dget_space(d.get()), "H5Dget_space"));
  const int rank = check(H5Sget_simple_extent_ndims(fs.get()), "H5Sget_simple_extent_ndims");
  if (rank < 1 || rank > 2) throw Error(where(name) + ": expected a 1-D or 2-D dataset, found rank " + std::to_string(rank));
  hsize_t dims[2] = {0, 1};
  check(H5Sget_simple_extent_dims(fs.get(), dims, nullptr), "H5Sget_simple_extent_dims");
  if (row_begin < 0 || row_count < 0 || static_cast<hsize_t>(row_begin + row_count) > dims[0])
    throw Error(where(name) + ": rows [" + std::to_string(row_begin) + ", " + std::to_string(row_begin + row_count) +
                ") outside its " + std::to_string(dims[0]) + " rows");
  const hsize_t start[2] = {static_cast<hsize_t>(row_begin), 0};
  const hsize_t count[2] = {static_cast<hsize_t>(row_count), dims[1]};
  const hsize_t one[2] = {1, std::max<hsize_t>(1, dims[1])};
  SpaceId ms(check(H5Screate_simple(rank, row_count > 0 ? count : one, nullptr), "H5Screate_simple"));
  if (row_count > 0 && dims[1] > 0) {
    check(H5Sselect_hyperslab(fs.get(), H5S_SELECT_SET, start, nullptr, count, nullptr), "H5Sselect_hyperslab");
  } else {
    check(H5Sselect_none(fs.get()), "H5Sselect_none");
    check(H5Sselect_none(ms.get()), "H5Sselect_none");
  }
  PlistId x = transfer_plist();
  check_all(H5Dread(d.get(), type, ms.get(), fs.get(), x.get(), out), "cannot read dataset " + where(name));
}

void Group::append_raw(const std::string& name, hid_t type, const void* data, std::size_t n) const {
  if (comm()) throw std::logic_error("h5 append " + where(name) + " is for serial files");
  if (!exists(name)) {
    const hsize_t zero[1] = {0}, unlimited[1] = {H5S_UNLIMITED}, chunk[1] = {256};
    SpaceId s(check(H5Screate_simple(1, zero, unlimited), "H5Screate_simple"));
    PlistId dcpl(check(H5Pcreate(H5P_DATASET_CREATE), "H5Pcreate"));
    check(H5Pset_chunk(dcpl.get(), 1, chunk), "H5Pset_chunk");
    DatasetId d(check(H5Dcreate2(id(), name.c_str(), type, s.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT),
                      "cannot create series " + where(name)));
  }
  if (n == 0) return;
  DatasetId d(check(H5Dopen2(id(), name.c_str(), H5P_DEFAULT), "cannot open series " + where(name)));
  SpaceId old(check(H5Dget_space(d.get()), "H5Dget_space"));
  hsize_t size[1] = {0};
  check(H5Sget_simple_extent_dims(old.get(), size, nullptr), "H5Sget_simple_extent_dims");
  const hsize_t grown[1] = {size[0] + n}, start[1] = {size[0]}, count[1] = {n};
  check(H5Dset_extent(d.get(), grown), "cannot extend series " + where(name));
  SpaceId fs(check(H5Dget_space(d.get()), "H5Dget_space"));
  check(H5Sselect_hyperslab(fs.get(), H5S_SELECT_SET, start, nullptr, count, nullptr), "H5Sselect_hyperslab");
  SpaceId ms(check(H5Screate_simple(1, count, nullptr), "H5Screate_simple"));
  check(H5Dwrite(d.get(), type, ms.get(), fs.get(), H5P_DEFAULT, data), "cannot append to series " + where(name));
  d.close("H5Dclose " + where(name));
}

}  // namespace saddle::engine::h5
