#include "apps/wgan/data.hpp"

#include <zlib.h>

#include <cmath>
#include <sstream>

#include "engine/error.hpp"
#include "engine/input_file.hpp"
#include "kernels/counter_rng.hpp"

namespace saddle::apps::wgan {

using engine::InputError;

Dataset split(std::vector<double> all, std::int64_t dim, double fraction, std::uint64_t seed, const std::string& what) {
  Dataset d;
  d.dim = dim;
  const std::int64_t n = static_cast<std::int64_t>(all.size()) / dim;
  const kernels::CounterRng rng(seed, "split");
  for (std::int64_t i = 0; i < n; ++i) {
    auto& dst = rng.uniform(static_cast<std::uint64_t>(i), 0) < fraction ? d.heldout : d.train;
    dst.insert(dst.end(), all.begin() + i * dim, all.begin() + (i + 1) * dim);
  }
  if (d.train.empty() || d.heldout.empty())
    throw InputError(what + ": " + std::to_string(n) + " rows leave an empty " + (d.train.empty() ? "training" : "held-out") +
                     " part with wgan.data.holdout = " + std::to_string(fraction));
  return d;
}

std::vector<double> read_digits_csv(const std::string& path, std::int64_t& rows) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) throw InputError("wgan.data.path: cannot open the digits file '" + path + "' (install python3-sklearn, or give the path of digits.csv.gz)");
  std::string text;
  char buf[1 << 16];
  int got;
  while ((got = gzread(f, buf, sizeof buf)) > 0) text.append(buf, static_cast<std::size_t>(got));
  const bool bad = got < 0;
  gzclose(f);
  if (bad) throw InputError("wgan.data.path: '" + path + "' is not a readable gzip file");
  std::vector<double> x;
  std::istringstream in(text);
  std::string line;
  rows = 0;
  std::int64_t lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.empty()) continue;
    std::vector<double> vals;
    std::istringstream ls(line);
    std::string cell;
    while (std::getline(ls, cell, ',')) {
      char* end = nullptr;
      const double v = std::strtod(cell.c_str(), &end);
      if (end == cell.c_str() || !std::isfinite(v)) throw InputError("'" + path + "' line " + std::to_string(lineno) + ": '" + cell + "' is not a number");
      vals.push_back(v);
    }
    if (vals.size() != 65)
      throw InputError("'" + path + "' line " + std::to_string(lineno) + ": " + std::to_string(vals.size()) + " columns, expected 65 (64 pixels and the label)");
    for (int j = 0; j < 64; ++j) {
      if (vals[static_cast<std::size_t>(j)] < 0 || vals[static_cast<std::size_t>(j)] > 16)
        throw InputError("'" + path + "' line " + std::to_string(lineno) + ": pixel values must lie in [0, 16]");
      x.push_back(vals[static_cast<std::size_t>(j)] / 8.0 - 1.0);
    }
    ++rows;
  }
  if (rows == 0) throw InputError("'" + path + "' holds no rows");
  return x;
}

std::vector<double> read_hdf5_x(const std::string& path, std::int64_t& rows, std::int64_t& cols) {
  const engine::InputFile f(path, "wgan.data.path");
  const engine::Shape dims = f.shape("X");
  f.expect_matrix("X", dims, "array (rows are samples)");
  auto x = f.read<double>("X", engine::InputFile::Values::Finite).values;
  rows = dims[0];
  cols = dims[1];
  return x;
}

}  // namespace saddle::apps::wgan
