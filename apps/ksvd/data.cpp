#include "apps/ksvd/data.hpp"

#include <cmath>

#include "engine/error.hpp"
#include "engine/input_file.hpp"
#include "kernels/counter_rng.hpp"

namespace saddle::apps::ksvd {

using engine::Config;
using engine::InputError;

namespace {

using Values = engine::InputFile::Values;

// A CSR group /<name> (ksvd.data.matrix, default G): datasets indptr (n + 1), indices and data
// (nnz each) and the attribute shape (n, m); this rank reads its rows' entries only.
void load_csr(const engine::InputFile& f, const std::string& name, const engine::Comm& comm, Data& data) {
  for (const char* part : {"indptr", "indices", "data"})
    if (!f.has_dataset(name + "/" + part)) throw f.error(name, "is a CSR group without the dataset '" + std::string(part) + "'");
  if (!f.has_attribute(name, "shape")) throw f.error(name, "is a CSR group without the attribute 'shape' (n, m)");
  const auto shape = f.read_attribute<std::int64_t>(name, "shape", 2);
  if (shape[0] < 1 || shape[1] < 1) throw f.error(name, "attribute 'shape' must be positive, got " + std::to_string(shape[0]) + " x " + std::to_string(shape[1]));
  data.kind = Data::Kind::Csr;
  data.n = shape[0];
  data.m = shape[1];
  const auto pdims = f.shape(name + "/indptr"), idims = f.shape(name + "/indices"), vdims = f.shape(name + "/data");
  if (pdims.size() != 1 || pdims[0] != data.n + 1)
    throw f.error(name + "/indptr", "must have n + 1 = " + std::to_string(data.n + 1) + " entries, found " + engine::shape_text(pdims));
  if (idims.size() != 1 || vdims != idims)
    throw f.error(name + "/indices", "and /" + name + "/data must be 1-D of equal length, found " + engine::shape_text(idims) + " and " + engine::shape_text(vdims));
  const std::int64_t nnz = idims[0];
  data.rows = engine::block_rows(data.n, comm.rank(), comm.size());
  auto ptr = f.read_rows<std::int64_t>(name + "/indptr", data.rows.begin, data.rows.count() + 1);
  if (data.rows.begin == 0 && ptr.front() != 0)
    throw f.error(name + "/indptr", "must start at 0 (CSR row pointers), found " + std::to_string(ptr.front()));
  for (std::size_t k = 0; k + 1 < ptr.size(); ++k)
    if (ptr[k] > ptr[k + 1] || ptr[k] < 0)
      throw f.error(name + "/indptr", "must be non-decreasing from 0 (entry " + std::to_string(data.rows.begin + static_cast<std::int64_t>(k)) + ")");
  if (ptr.back() > nnz) throw f.error(name + "/indptr", "points past the " + std::to_string(nnz) + " stored entries");
  if (data.rows.end == data.n && ptr.back() != nnz)
    throw f.error(name + "/indptr", "ends at " + std::to_string(ptr.back()) + " but /" + name + "/indices has " + std::to_string(nnz) + " entries");
  data.indices = f.read_rows<std::int64_t>(name + "/indices", ptr.front(), ptr.back() - ptr.front());
  data.values = f.read_rows<double>(name + "/data", ptr.front(), ptr.back() - ptr.front(), Values::Finite);
  for (auto j : data.indices)
    if (j < 0 || j >= data.m) throw f.error(name + "/indices", "holds column " + std::to_string(j) + ", outside [0, " + std::to_string(data.m) + ")");
  const std::int64_t base = ptr.front();
  data.indptr.resize(ptr.size());
  for (std::size_t k = 0; k < ptr.size(); ++k) data.indptr[k] = ptr[k] - base;
  data.describe = "CSR matrix /" + name + " " + std::to_string(data.n) + " x " + std::to_string(data.m) + ", " + std::to_string(nnz) + " entries, from " + f.path();
}

// The non-empty 2-D dataset `name` with rows distributed over ranks: sets data.n and data.rows,
// reads this rank's rows into `out` and returns the column count.
std::int64_t read_row_block(const engine::InputFile& f, const std::string& name, const std::string& what,
                            const engine::Comm& comm, Data& data, std::vector<double>& out) {
  const auto dims = f.shape(name);
  f.expect_matrix(name, dims, what);
  data.n = dims[0];
  data.rows = engine::block_rows(data.n, comm.rank(), comm.size());
  out = f.read_rows<double>(name, data.rows.begin, data.rows.count(), Values::Finite);
  return dims[1];
}

// Points /X (n x d, this rank's rows), /Z (m x d, all; absent: Z = X) and the optional /Xtest.
void load_points(const engine::InputFile& f, const engine::Comm& comm, Data& data) {
  data.kind = Data::Kind::Points;
  data.d = read_row_block(f, "X", "array (n x d)", comm, data, data.X);
  data.same_set = !f.has_dataset("Z");
  const std::string cols = data.same_set ? "X" : "Z";
  const auto zd = f.shape(cols);
  if (zd.size() != 2 || zd[0] == 0 || zd[1] != data.d)
    throw f.error(cols, "must be m x " + std::to_string(data.d) + " (the columns of /X), found " + engine::shape_text(zd));
  data.m = zd[0];
  data.Z = f.read<double>(cols, Values::Finite).values;
  if (f.has_dataset("Xtest")) {
    const auto td = f.shape("Xtest");
    if (td.size() != 2 || td[1] != data.d)
      throw f.error("Xtest", "must be n_test x " + std::to_string(data.d) + " (the columns of /X), found " + engine::shape_text(td));
    data.n_test = td[0];
    data.test_rows = engine::block_rows(data.n_test, comm.rank(), comm.size());
    data.Xtest = f.read_rows<double>("Xtest", data.test_rows.begin, data.test_rows.count(), Values::Finite);
  }
  data.describe = "points X " + std::to_string(data.n) + " x " + std::to_string(data.d) +
                  (data.same_set ? " (Z = X)" : ", Z " + std::to_string(data.m) + " x " + std::to_string(data.d)) +
                  (data.n_test ? ", Xtest " + std::to_string(data.n_test) : "") + " from " + f.path();
}

void load_hdf5(const Config& c, const engine::Comm& comm, Data& data) {
  const engine::InputFile f(c, "ksvd.data.path");
  using Object = engine::InputFile::Object;
  // ksvd.data.matrix set: that matrix and nothing else; default: /G, or points /X.
  const std::string name = c.string("ksvd.data.matrix");
  const bool named = c.is_set("ksvd.data.matrix");
  const Object g = f.object(name);
  if (named && g == Object::None) throw f.error(name, "is missing (ksvd.data.matrix): expected a dense n x m matrix or a CSR group");
  const bool has_g = g != Object::None, has_x = !named && f.has_dataset("X");
  if (has_g && has_x) throw f.error("holds both /G and /X; give either points (/X, /Z) or a matrix (/G)");
  if (!has_g && !has_x) throw f.error("has neither /X (points, n x d) nor /G (a dense n x m matrix or a CSR group)");
  if (has_x) return load_points(f, comm, data);
  if (f.has_dataset("Xtest")) throw f.error("Xtest", "needs points (/X): a given matrix /" + name + " has no kernel for new points");
  if (g == Object::Group) return load_csr(f, name, comm, data);
  data.kind = Data::Kind::Dense;
  data.m = read_row_block(f, name, "matrix (n x m)", comm, data, data.G);
  data.describe = "dense matrix /" + name + " " + std::to_string(data.n) + " x " + std::to_string(data.m) + " from " + f.path();
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
