#pragma once
// Training data of the wgan workload: the ring of Gaussians (drawn afresh from counter-based
// streams), the sklearn digits (gzip CSV, 64 pixels 0-16 then the label; scaled to [-1, 1] as
// x / 8 - 1) or any HDF5 /X (rows are samples). A fixed split sets aside a held-out part for the
// metrics.
#include <cstdint>
#include <string>
#include <vector>

namespace saddle::apps::wgan {

struct Dataset {
  std::int64_t dim = 0;
  std::vector<double> train, heldout;  // row-major
  std::int64_t train_rows() const { return dim ? static_cast<std::int64_t>(train.size()) / dim : 0; }
  std::int64_t heldout_rows() const { return dim ? static_cast<std::int64_t>(heldout.size()) / dim : 0; }
};

// Rows of `all` (n x dim) split by a fixed stream: row i is held out when u_i < fraction.
// Throws InputError when either part would be empty.
Dataset split(std::vector<double> all, std::int64_t dim, double fraction, std::uint64_t seed, const std::string& what);
// The digits file (gzip CSV with 65 columns); InputError naming the file and line on bad input.
std::vector<double> read_digits_csv(const std::string& path, std::int64_t& rows);
// /X of an HDF5 file (2-D, finite).
std::vector<double> read_hdf5_x(const std::string& path, std::int64_t& rows, std::int64_t& cols);

}  // namespace saddle::apps::wgan
