#include "apps/ksvd/data.hpp"

#include <hdf5.h>

#include <cmath>

#include "engine/error.hpp"
#include "engine/h5.hpp"
#include "kernels/counter_rng.hpp"

namespace saddle::apps::ksvd {

using engine::Config;
using engine::InputError;
namespace h5 = engine::h5;

namespace {

std::string dims_text(const std::vector<hsize_t>& dims) {
  std::string s;
  for (auto d : dims) s += (s.empty() ? "" : " x ") + std::to_string(d);
  return s.empty() ? "a scalar" : s;
}

void require_finite(const Config& c, const std::string& what, const std::vector<double>& v, std::int64_t first_row,
                    std::int64_t cols) {
  for (std::size_t k = 0; k < v.size(); ++k)
    if (!std::isfinite(v[k]))
      throw c.error("ksvd.data.path", what + " holds a non-finite value (" + std::to_string(v[k]) + ") in row " +
                                          std::to_string(first_row + static_cast<std::int64_t>(k) / std::max<std::int64_t>(cols, 1)));
}

std::vector<std::int64_t> read_shape_attr(const Config& c, const std::string& path, const h5::Group& g) {
  if (!g.has_attr("shape")) throw c.error("ksvd.data.path", "'" + path + "':/G is a CSR group without the attribute 'shape' (n, m)");
  h5::AttrId a(H5Aopen(g.id(), "shape", H5P_DEFAULT));
  h5::SpaceId s(H5Aget_space(a.get()));
  if (!a.valid() || !s.valid() || H5Sget_simple_extent_npoints(s.get()) != 2)
    throw c.error("ksvd.data.path", "'" + path + "':/G attribute 'shape' must hold two integers (n, m)");
  std::vector<std::int64_t> shape(2);
  if (H5Aread(a.get(), H5T_NATIVE_INT64, shape.data()) < 0)
    throw c.error("ksvd.data.path", "'" + path + "':/G attribute 'shape' must hold two integers (n, m)");
  return shape;
}

bool is_group(const h5::Group& g, const char* name) {
  const hid_t id = H5Oopen(g.id(), name, H5P_DEFAULT);
  if (id < 0) return false;
  const bool group = H5Iget_type(id) == H5I_GROUP;
  H5Oclose(id);
  return group;
}

void load_hdf5(const Config& c, const engine::Comm& comm, Data& data) {
  const std::string path = c.string("ksvd.data.path");
  auto err = [&](const std::string& m) { return c.error("ksvd.data.path", "'" + path + "': " + m); };
  h5::File f = [&] {
    try {
      return h5::File::open(path, h5::File::Mode::ReadOnly);
    } catch (const h5::Error& e) {
      throw c.error("ksvd.data.path", e.what());
    }
  }();
  const h5::Group& root = f.root();
  const bool has_g = root.exists("G"), has_x = root.exists("X");
  if (has_g && has_x) throw err("holds both /G and /X; give either points (/X, /Z) or a matrix (/G)");
  if (!has_g && !has_x) throw err("has neither /X (points, n x d) nor /G (a dense n x m matrix or a CSR group)");
  try {
    if (has_g) {
      if (root.exists("Xtest")) throw err("/Xtest needs points (/X): a given matrix /G has no kernel for new points");
      if (is_group(root, "G")) {
        const h5::Group g = root.open_group("G");
        for (const char* name : {"indptr", "indices", "data"})
          if (!g.exists(name)) throw err("CSR group /G has no dataset '" + std::string(name) + "'");
        const auto shape = read_shape_attr(c, path, g);
        if (shape[0] < 1 || shape[1] < 1) throw err("/G attribute 'shape' must be positive, got " + std::to_string(shape[0]) + " x " + std::to_string(shape[1]));
        data.kind = Data::Kind::Csr;
        data.n = shape[0];
        data.m = shape[1];
        const auto pdims = g.shape("indptr"), idims = g.shape("indices"), vdims = g.shape("data");
        if (pdims.size() != 1 || static_cast<std::int64_t>(pdims[0]) != data.n + 1)
          throw err("/G/indptr must have n + 1 = " + std::to_string(data.n + 1) + " entries, found " + dims_text(pdims));
        if (idims.size() != 1 || vdims != idims)
          throw err("/G/indices and /G/data must be 1-D of equal length, found " + dims_text(idims) + " and " + dims_text(vdims));
        const auto nnz = static_cast<std::int64_t>(idims[0]);
        data.rows = engine::block_rows(data.n, comm.rank(), comm.size());
        auto ptr = g.read_rows<std::int64_t>("indptr", data.rows.begin, data.rows.count() + 1);
        for (std::size_t k = 0; k + 1 < ptr.size(); ++k)
          if (ptr[k] > ptr[k + 1] || ptr[k] < 0)
            throw err("/G/indptr must be non-decreasing from 0 (entry " + std::to_string(data.rows.begin + static_cast<std::int64_t>(k)) + ")");
        if (ptr.back() > nnz) throw err("/G/indptr points past the " + std::to_string(nnz) + " stored entries");
        if (data.rows.end == data.n && ptr.back() != nnz)
          throw err("/G/indptr ends at " + std::to_string(ptr.back()) + " but /G/indices has " + std::to_string(nnz) + " entries");
        data.indices = g.read_rows<std::int64_t>("indices", ptr.front(), ptr.back() - ptr.front());
        data.values = g.read_rows<double>("data", ptr.front(), ptr.back() - ptr.front());
        for (auto j : data.indices)
          if (j < 0 || j >= data.m) throw err("/G/indices holds column " + std::to_string(j) + ", outside [0, " + std::to_string(data.m) + ")");
        require_finite(c, "'" + path + "':/G/data", data.values, data.rows.begin, 1);
        const std::int64_t base = ptr.front();
        data.indptr.resize(ptr.size());
        for (std::size_t k = 0; k < ptr.size(); ++k) data.indptr[k] = ptr[k] - base;
        data.describe = "CSR matrix " + std::to_string(data.n) + " x " + std::to_string(data.m) + ", " + std::to_string(nnz) + " entries, from " + path;
      } else {
        const auto dims = root.shape("G");
        if (dims.size() != 2 || dims[0] == 0 || dims[1] == 0) throw err("/G must be a non-empty 2-D matrix (n x m), found " + dims_text(dims));
        data.kind = Data::Kind::Dense;
        data.n = static_cast<std::int64_t>(dims[0]);
        data.m = static_cast<std::int64_t>(dims[1]);
        data.rows = engine::block_rows(data.n, comm.rank(), comm.size());
        data.G = root.read_rows<double>("G", data.rows.begin, data.rows.count());
        require_finite(c, "'" + path + "':/G", data.G, data.rows.begin, data.m);
        data.describe = "dense matrix " + std::to_string(data.n) + " x " + std::to_string(data.m) + " from " + path;
      }
      return;
    }
    const auto xd = root.shape("X");
    if (xd.size() != 2 || xd[0] == 0 || xd[1] == 0) throw err("/X must be a non-empty 2-D array (n x d), found " + dims_text(xd));
    data.kind = Data::Kind::Points;
    data.n = static_cast<std::int64_t>(xd[0]);
    data.d = static_cast<std::int64_t>(xd[1]);
    data.rows = engine::block_rows(data.n, comm.rank(), comm.size());
    data.X = root.read_rows<double>("X", data.rows.begin, data.rows.count());
    require_finite(c, "'" + path + "':/X", data.X, data.rows.begin, data.d);
    if (root.exists("Z")) {
      const auto zd = root.shape("Z");
      if (zd.size() != 2 || zd[0] == 0 || zd[1] != xd[1])
        throw err("/Z must be m x " + std::to_string(data.d) + " (the columns of /X), found " + dims_text(zd));
      data.m = static_cast<std::int64_t>(zd[0]);
      data.Z = root.read<double>("Z");
      require_finite(c, "'" + path + "':/Z", data.Z, 0, data.d);
    } else {
      data.same_set = true;
      data.m = data.n;
      data.Z = root.read<double>("X");
      require_finite(c, "'" + path + "':/X", data.Z, 0, data.d);
    }
    if (root.exists("Xtest")) {
      const auto td = root.shape("Xtest");
      if (td.size() != 2 || td[1] != xd[1])
        throw err("/Xtest must be n_test x " + std::to_string(data.d) + " (the columns of /X), found " + dims_text(td));
      data.n_test = static_cast<std::int64_t>(td[0]);
      data.test_rows = engine::block_rows(data.n_test, comm.rank(), comm.size());
      data.Xtest = root.read_rows<double>("Xtest", data.test_rows.begin, data.test_rows.count());
      require_finite(c, "'" + path + "':/Xtest", data.Xtest, data.test_rows.begin, data.d);
    }
    data.describe = "points X " + std::to_string(data.n) + " x " + std::to_string(data.d) + (data.same_set ? " (Z = X)" : ", Z " + std::to_string(data.m) + " x " + std::to_string(data.d)) +
                    (data.n_test ? ", Xtest " + std::to_string(data.n_test) : "") + " from " + path;
  } catch (const h5::Error& e) {
    throw err(e.what());
  }
}

// Gaussian blobs: cluster centres N(0, spread² I), points centre + std N(0, I); columns (Z) are
// drawn separately (their own stream) and shifted by `shift` in every coordinate.
void make_blobs(const Config& c, std::uint64_t seed, const engine::Comm& comm, Data& data) {
  data.kind = Data::Kind::Points;
  data.n = c.integer("ksvd.data.n");
  data.d = c.integer("ksvd.data.d");
  data.same_set = !c.has("ksvd.data.m");
  data.m = data.same_set ? data.n : c.integer("ksvd.data.m");
  const std::int64_t k = c.integer("ksvd.data.clusters");
  const double sd = c.real("ksvd.data.cluster_std"), spread = c.real("ksvd.data.spread"), shift = c.real("ksvd.data.shift");
  std::vector<double> centers(static_cast<std::size_t>(k * data.d));
  const kernels::CounterRng crng(seed, "ksvd_blob_centers");
  for (std::int64_t a = 0; a < k; ++a)
    for (std::int64_t t = 0; t < data.d; ++t) centers[a * data.d + t] = spread * crng.normal(static_cast<std::uint64_t>(a), static_cast<std::uint32_t>(t));
  auto draw = [&](const char* purpose, std::int64_t first, std::int64_t count, double offset, std::vector<double>& out,
                  std::vector<std::int64_t>& labels) {
    const kernels::CounterRng rng(seed, purpose);
    out.resize(static_cast<std::size_t>(count * data.d));
    labels.resize(static_cast<std::size_t>(count));
    for (std::int64_t i = 0; i < count; ++i) {
      const auto g = static_cast<std::uint64_t>(first + i);
      const auto label = std::min<std::int64_t>(k - 1, static_cast<std::int64_t>(rng.uniform(g, 0) * static_cast<double>(k)));
      labels[i] = label;
      for (std::int64_t t = 0; t < data.d; ++t)
        out[i * data.d + t] = centers[label * data.d + t] + sd * rng.normal(g, static_cast<std::uint32_t>(t + 1)) + offset;
    }
  };
  data.rows = engine::block_rows(data.n, comm.rank(), comm.size());
  draw("ksvd_blob_rows", data.rows.begin, data.rows.count(), 0.0, data.X, data.row_labels);
  if (data.same_set) draw("ksvd_blob_rows", 0, data.n, 0.0, data.Z, data.col_labels);
  else draw("ksvd_blob_cols", 0, data.m, shift, data.Z, data.col_labels);
  data.n_test = c.integer("ksvd.data.test_points");
  data.test_rows = engine::block_rows(data.n_test, comm.rank(), comm.size());
  std::vector<std::int64_t> test_labels;
  draw("ksvd_blob_test", data.test_rows.begin, data.test_rows.count(), 0.0, data.Xtest, test_labels);
  data.describe = "blobs: X " + std::to_string(data.n) + " x " + std::to_string(data.d) + (data.same_set ? " (Z = X)" : ", Z " + std::to_string(data.m) + " x " + std::to_string(data.d)) +
                  ", " + std::to_string(k) + " clusters" + (data.n_test ? ", " + std::to_string(data.n_test) + " test points" : "");
}

// Directed stochastic block model on N nodes in B contiguous blocks: an edge i -> j (i != j) with
// probability p_in inside a block, p_out from block b to block b + 1 (mod B), p_noise otherwise.
void make_sbm(const Config& c, std::uint64_t seed, const engine::Comm& comm, Data& data) {
  data.kind = Data::Kind::Csr;
  const std::int64_t N = c.integer("ksvd.data.nodes"), B = c.integer("ksvd.data.blocks");
  const double p_in = c.real("ksvd.data.p_in"), p_out = c.real("ksvd.data.p_out"), p_noise = c.real("ksvd.data.p_noise");
  data.n = data.m = N;
  data.rows = engine::block_rows(N, comm.rank(), comm.size());
  auto block = [&](std::int64_t i) { return i * B / N; };
  const kernels::CounterRng rng(seed, "ksvd_sbm");
  data.indptr.assign(1, 0);
  for (std::int64_t i = data.rows.begin; i < data.rows.end; ++i) {
    const std::int64_t bi = block(i);
    for (std::int64_t j = 0; j < N; ++j) {
      if (j == i) continue;
      const std::int64_t bj = block(j);
      const double p = bj == bi ? p_in : bj == (bi + 1) % B ? p_out : p_noise;
      if (rng.uniform(static_cast<std::uint64_t>(i), static_cast<std::uint32_t>(j)) < p) {
        data.indices.push_back(j);
        data.values.push_back(1.0);
      }
    }
    data.indptr.push_back(static_cast<std::int64_t>(data.indices.size()));
    data.row_labels.push_back(bi);
  }
  for (std::int64_t j = 0; j < N; ++j) data.col_labels.push_back(block(j));
  data.describe = "directed SBM: " + std::to_string(N) + " nodes, " + std::to_string(B) + " blocks";
}

}  // namespace

Data load_data(const Config& c, std::uint64_t seed, const engine::Comm& comm) {
  Data data;
  if (c.string("ksvd.data.source") == "hdf5") {
    load_hdf5(c, comm, data);
  } else if (c.string("ksvd.data.generator") == "blobs") {
    make_blobs(c, seed, comm, data);
  } else {
    make_sbm(c, seed, comm, data);
  }
  return data;
}

}  // namespace saddle::apps::ksvd
