// Opening, closing and verifying whole HDF5 files, serial or collective.
#include "engine/h5.hpp"

#include <H5FDmpio.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <functional>
#include <mutex>
#include <numeric>

namespace saddle::engine::h5 {
namespace {

// HDF5 prints its error stack to stderr by default; Saddle reports errors itself.
void silence_hdf5() {
  static std::once_flag once;
  std::call_once(once, [] { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); });
}

PlistId access_plist(const Comm* comm) {
  PlistId fapl(check(H5Pcreate(H5P_FILE_ACCESS), "H5Pcreate"));
  if (comm) {
    check(H5Pset_fapl_mpio(fapl.get(), comm->raw(), MPI_INFO_NULL), "H5Pset_fapl_mpio");
    check(H5Pset_all_coll_metadata_ops(fapl.get(), 1), "H5Pset_all_coll_metadata_ops");
    check(H5Pset_coll_metadata_write(fapl.get(), 1), "H5Pset_coll_metadata_write");
  }
  return fapl;
}

}  // namespace

File File::make(hid_t fid, const std::string& path, const Comm* comm, Checksums checksums) {
  File f;
  f.path_ = path;
  f.fid_ = FileId(fid);
  f.info_ = std::make_shared<const FileInfo>(FileInfo{path, comm ? std::make_shared<const Comm>(*comm) : nullptr, checksums});
  f.root_ = Group(GroupId(check(H5Gopen2(fid, "/", H5P_DEFAULT), "H5Gopen /")), "/", f.info_);
  return f;
}

File File::create(const std::string& path, const Comm* comm, Checksums checksums) {
  silence_hdf5();
  PlistId fapl = access_plist(comm);
  const hid_t fid = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get());
  return make(check_agreed(comm, fid, "cannot create HDF5 file '" + path + "'"), path, comm, checksums);
}

File File::open(const std::string& path, Mode mode, const Comm* comm) {
  silence_hdf5();
  PlistId fapl = access_plist(comm);
  const hid_t fid = H5Fopen(path.c_str(), mode == Mode::ReadOnly ? H5F_ACC_RDONLY : H5F_ACC_RDWR, fapl.get());
  return make(check_agreed(comm, fid, "cannot open HDF5 file '" + path + "'"), path, comm, Checksums::Off);
}

std::string chunk_problem(hid_t dataset, hid_t dcpl) {
  if (H5Pget_layout(dcpl) != H5D_CHUNKED) return "";
  // The filters, and whether each keeps the size (shuffle) or adds a 4-byte checksum (Fletcher32):
  // a chunk through those alone has a size known in advance.
  struct Filter {
    H5Z_filter_t id;
    unsigned bit;
  };
  std::vector<Filter> filters;
  for (int i = 0; i < H5Pget_nfilters(dcpl); ++i) {
    unsigned flags = 0;
    std::size_t n = 0;
    filters.push_back({H5Pget_filter2(dcpl, static_cast<unsigned>(i), &flags, &n, nullptr, 0, nullptr, nullptr), i < 32 ? 1u << i : 0u});
  }
  SpaceId space(H5Dget_space(dataset));
  TypeId type(H5Dget_type(dataset));
  const int rank = space.valid() ? H5Sget_simple_extent_ndims(space.get()) : -1;
  std::vector<hsize_t> chunk(static_cast<std::size_t>(std::max(rank, 1)), 1);
  if (rank < 1 || !type.valid() || H5Pget_chunk(dcpl, rank, chunk.data()) != rank) return "has unreadable chunk metadata (" + last_error_message() + ")";
  long double bytes = static_cast<long double>(H5Tget_size(type.get()));
  for (hsize_t c : chunk) bytes *= static_cast<long double>(c);
  // HDF5 1.10 wants the dataset's own dataspace here (H5S_ALL arrived later).
  hsize_t chunks = 0;
  if (H5Dget_num_chunks(dataset, space.get(), &chunks) < 0) return "has an unreadable chunk index (" + last_error_message() + ")";
  std::vector<hsize_t> offset(chunk.size());
  for (hsize_t i = 0; i < chunks; ++i) {
    unsigned mask = 0;
    haddr_t address = 0;
    hsize_t size = 0;
    if (H5Dget_chunk_info(dataset, space.get(), i, offset.data(), &mask, &address, &size) < 0)
      return "has an unreadable chunk index (" + last_error_message() + ")";
    bool checksum = false, known = true;
    for (const Filter& f : filters) {
      if (f.bit != 0 && (mask & f.bit) != 0) continue;  // skipped for this chunk
      if (f.id == H5Z_FILTER_FLETCHER32) checksum = true;
      else if (f.id != H5Z_FILTER_SHUFFLE) known = false;
    }
    const std::string which = "is damaged: chunk " + std::to_string(i) + " is stored in " + std::to_string(size) + " bytes, ";
    if (checksum && size < 4) return which + "fewer than its Fletcher32 checksum";
    if (known && static_cast<long double>(size) != bytes + (checksum ? 4 : 0))
      return which + "not the " + std::to_string(static_cast<unsigned long long>(bytes) + (checksum ? 4 : 0)) + " its shape and type take";
  }
  return "";
}

namespace {

herr_t collect_dataset(hid_t, const char* name, const H5O_info_t* info, void* out) {
  if (info->type == H5O_TYPE_DATASET) static_cast<std::vector<std::string>*>(out)->push_back(name);
  return 0;
}

void verify_checksums_of(const Group& group, const std::string& name) {
  const std::string where = (group.path() == "/" ? "" : group.path()) + "/" + name;
  DatasetId d(check(H5Dopen2(group.id(), name.c_str(), H5P_DEFAULT), "cannot open dataset " + where));
  PlistId dcpl(check(H5Dget_create_plist(d.get()), "H5Dget_create_plist " + where));
  if (H5Pget_filter_by_id2(dcpl.get(), H5Z_FILTER_FLETCHER32, nullptr, nullptr, nullptr, 0, nullptr, nullptr) < 0) return;
  if (const std::string problem = chunk_problem(d.get(), dcpl.get()); !problem.empty()) throw Error("dataset " + where + " " + problem);
  TypeId file_type(check(H5Dget_type(d.get()), "H5Dget_type " + where));
  if (H5Tdetect_class(file_type.get(), H5T_VLEN) > 0 || H5Tis_variable_str(file_type.get()) > 0) return;  // none in Saddle files
  TypeId type(check(H5Tget_native_type(file_type.get(), H5T_DIR_DEFAULT), "H5Tget_native_type " + where));
  SpaceId fs(check(H5Dget_space(d.get()), "H5Dget_space " + where));
  const int rank = check(H5Sget_simple_extent_ndims(fs.get()), "H5Sget_simple_extent_ndims " + where);
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
  check(H5Sget_simple_extent_dims(fs.get(), dims.data(), nullptr), "H5Sget_simple_extent_dims " + where);
  if (check(H5Sget_simple_extent_npoints(fs.get()), "H5Sget_simple_extent_npoints " + where) == 0) return;
  if (rank == 0) dims = {1};  // a scalar reads as one row
  const std::size_t row_bytes = H5Tget_size(type.get()) * static_cast<std::size_t>(
      std::accumulate(dims.begin() + 1, dims.end(), hsize_t{1}, std::multiplies<hsize_t>()));
  const hsize_t slab_rows = std::max<hsize_t>(1, (std::size_t{16} << 20) / row_bytes);
  std::vector<unsigned char> buffer(static_cast<std::size_t>(std::min(slab_rows, dims[0])) * row_bytes);
  for (hsize_t row = 0; row < dims[0]; row += slab_rows) {
    std::vector<hsize_t> start(dims.size(), 0), count = dims;
    start[0] = row;
    count[0] = std::min(slab_rows, dims[0] - row);
    if (rank > 0) check(H5Sselect_hyperslab(fs.get(), H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr), "H5Sselect_hyperslab");
    SpaceId ms(check(rank > 0 ? H5Screate_simple(rank, count.data(), nullptr) : H5Screate(H5S_SCALAR), "H5Screate"));
    check(H5Dread(d.get(), type.get(), ms.get(), fs.get(), H5P_DEFAULT, buffer.data()),
          "cannot read dataset " + where + " (rows " + std::to_string(row) + " to " + std::to_string(row + count[0]) + ")");
  }
}

}  // namespace

void verify_checksums(const Group& group) {
  std::vector<std::string> names;
  check(H5Ovisit2(group.id(), H5_INDEX_NAME, H5_ITER_NATIVE, collect_dataset, &names, H5O_INFO_BASIC),
        "cannot list the datasets below " + group.path());
  for (const auto& name : names) verify_checksums_of(group, name);
}

namespace {
std::atomic<bool> a_close_failed{false};

herr_t close_file(hid_t fid) {
  const herr_t status = H5Fclose(fid);
  if (status < 0) a_close_failed = true;
  return status;
}
}  // namespace

bool close_failed() { return a_close_failed; }

File::~File() {
  root_ = Group();
  if (!fid_.valid()) return;
  const hid_t fid = fid_.release();
  if (!comm() || std::uncaught_exceptions() == 0) close_file(fid);
}

void File::flush() const {
  check_agreed(comm(), H5Fflush(fid_.get(), H5F_SCOPE_GLOBAL), "cannot flush '" + path_ + "'");
}

void File::close() {
  root_ = Group();
  if (!fid_.valid()) return;
  check_agreed(comm(), close_file(fid_.release()), "cannot close HDF5 file '" + path_ + "'");
}

void close_after_failure(File& f) {
  try {
    f.close();
  } catch (const Error&) {
    // Already failing: the first error is the one reported.
  }
}

}  // namespace saddle::engine::h5
