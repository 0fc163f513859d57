#pragma once
// Input data of a ksvd run ([ksvd.data]): point sets X (rows, distributed over ranks) and Z
// (columns, every rank holds all of them), or a given matrix G (dense rows or CSR rows,
// distributed), read from HDF5 or generated (Gaussian blobs, a directed stochastic block model).
// Every check names the file, the dataset and what was expected (InputError, exit 2).
#include <cstdint>
#include <string>
#include <vector>

#include "engine/comm.hpp"
#include "engine/deck.hpp"

namespace saddle::apps::ksvd {

struct Data {
  enum class Kind { Points, Dense, Csr };
  Kind kind = Kind::Points;
  std::int64_t n = 0, m = 0, d = 0;  // G is n x m; points have d coordinates
  bool same_set = false;              // Z = X (no /Z, or synthetic blobs without m)
  engine::RowRange rows;              // this rank's rows of X, G, U
  std::vector<double> X;              // rows.count() x d
  std::vector<double> Z;              // m x d, every rank
  // Given matrix, this rank's rows: dense (rows.count() x m) or CSR with local indptr.
  std::vector<double> G;
  std::vector<std::int64_t> indptr, indices;
  std::vector<double> values;
  // Out-of-sample rows (/Xtest or synthetic test points), distributed like X.
  std::int64_t n_test = 0;
  engine::RowRange test_rows;
  std::vector<double> Xtest;
  // Cluster or block labels of generated data (empty otherwise): this rank's rows, all columns.
  std::vector<std::int64_t> row_labels, col_labels;
  std::string describe;  // one line for the log
};

// Reads or generates the data of `config` for this rank. Throws InputError (use inside
// Comm::agree); the HDF5 path is checked on every rank that reads it.
Data load_data(const engine::Config& config, std::uint64_t seed, const engine::Comm& comm);

}  // namespace saddle::apps::ksvd
