#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>

#include "engine/comm.hpp"
#include "engine/h5.hpp"

using namespace saddle::engine;
namespace fs = std::filesystem;

namespace {

// One scratch file name per test and rank count, agreed by every rank.
std::string scratch(const Comm& c, const std::string& name) {
  const std::string dir = "h5_scratch_np" + std::to_string(c.size());
  if (c.is_root()) fs::create_directories(dir);
  c.barrier();
  return dir + "/" + name + ".h5";
}

double cell(std::int64_t row, std::int64_t col) { return static_cast<double>(row) * 100.0 + static_cast<double>(col); }

}  // namespace

TEST(H5, SerialAttributesDatasetsAndSeriesRoundTrip) {
  const Comm c;
  const std::string path = scratch(c, "serial_" + std::to_string(c.rank()));
  {
    h5::File f = h5::File::create(path);
    const h5::Group& root = f.root();
    root.write_attr("text", std::string("héllo, \"world\""));
    root.write_attr("count", std::int64_t{42});
    root.write_attr("ratio", 0.25);
    root.write_attr("dims", std::vector<std::int64_t>{3, 4});
    h5::Group g = root.create_group("a/b/c");
    g.write("m", std::vector<double>{1, 2, 3, 4, 5, 6}, {2, 3});
    g.write_scalar("one", std::int32_t{7});
    g.append("series", std::vector<double>{1.0, 2.0});
    g.write_attr_on("m", "unit", 3.5);
    f.close();
  }
  {
    h5::File f = h5::File::open(path, h5::File::Mode::ReadWrite);
    f.root().open_group("a/b/c").append("series", std::vector<double>{3.0});
    f.close();
  }
  h5::File f = h5::File::open(path, h5::File::Mode::ReadOnly);
  const h5::Group& root = f.root();
  EXPECT_EQ(root.read_attr_string("text"), "héllo, \"world\"");
  EXPECT_EQ(root.read_attr<std::int64_t>("count"), 42);
  EXPECT_EQ(root.read_attr<double>("ratio"), 0.25);
  EXPECT_TRUE(root.exists("a/b/c/m"));
  EXPECT_FALSE(root.exists("a/x/c"));
  const h5::Group g = root.open_group("a/b/c");
  std::vector<hsize_t> dims;
  EXPECT_EQ(g.read<double>("m", &dims), (std::vector<double>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(dims, (std::vector<hsize_t>{2, 3}));
  EXPECT_EQ(g.read_scalar<std::int32_t>("one"), 7);
  EXPECT_EQ(g.read<double>("series"), (std::vector<double>{1, 2, 3}));
}

TEST(H5, ErrorsNameTheFileAndObject) {
  const Comm c;
  try {
    h5::File::open("no/such/file.h5", h5::File::Mode::ReadOnly);
    ADD_FAILURE();
  } catch (const h5::Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot open HDF5 file 'no/such/file.h5'"), std::string::npos) << e.what();
  }
  const std::string path = scratch(c, "errors_" + std::to_string(c.rank()));
  h5::File f = h5::File::create(path);
  try {
    f.root().read<double>("missing");
    ADD_FAILURE();
  } catch (const h5::Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing dataset /missing"), std::string::npos) << e.what();
  }
  EXPECT_THROW(f.root().read_attr_string("nope"), h5::Error);
}

// Rows written by every rank land in global row order; reading back with another distribution
// (the reverse block order, and a subset of ranks) returns the same rows.
TEST(H5, CollectiveRowsRoundTripWhateverTheRankCount) {
  const Comm c;
  const std::string path = scratch(c, "rows");
  const std::int64_t n = 17, cols = 3;
  const RowRange mine = block_rows(n, c.rank(), c.size());
  std::vector<double> local;
  for (std::int64_t i = mine.begin; i < mine.end; ++i)
    for (std::int64_t j = 0; j < cols; ++j) local.push_back(cell(i, j));
  std::vector<std::int64_t> idx;
  for (std::int64_t i = mine.begin; i < mine.end; ++i) idx.push_back(i);
  {
    h5::File f = h5::File::create(path, &c);
    h5::Group g = f.root().create_group("result");
    g.write_rows("U", local.data(), mine.count(), cols);
    g.write_distributed("index", idx.data(), mine.count());
    g.write("small", std::vector<double>{9, 8, 7});
    g.write_attr("ranks", std::int64_t{c.size()});
    g = h5::Group();
    f.close();
  }
  // Serial check on rank 0 of the whole array.
  if (c.is_root()) {
    h5::File f = h5::File::open(path, h5::File::Mode::ReadOnly);
    std::vector<hsize_t> dims;
    const auto all = f.root().read<double>("result/U", &dims);
    ASSERT_EQ(dims, (std::vector<hsize_t>{17, 3}));
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t j = 0; j < cols; ++j) EXPECT_EQ(all[i * cols + j], cell(i, j));
    EXPECT_EQ(f.root().read<std::int64_t>("result/index").size(), 17u);
    EXPECT_EQ(f.root().read<double>("result/small"), (std::vector<double>{9, 8, 7}));
  }
  // Collective read with the reverse distribution.
  {
    h5::File f = h5::File::open(path, h5::File::Mode::ReadOnly, &c);
    const RowRange other = block_rows(n, c.size() - 1 - c.rank(), c.size());
    const auto rows = f.root().read_rows<double>("result/U", other.begin, other.count());
    ASSERT_EQ(rows.size(), static_cast<std::size_t>(other.count() * cols));
    for (std::int64_t i = 0; i < other.count(); ++i)
      for (std::int64_t j = 0; j < cols; ++j) EXPECT_EQ(rows[i * cols + j], cell(other.begin + i, j));
    const auto ids = f.root().read_rows<std::int64_t>("result/index", other.begin, other.count());
    for (std::int64_t i = 0; i < other.count(); ++i) EXPECT_EQ(ids[i], other.begin + i);
    EXPECT_THROW(f.root().read_rows<double>("result/U", 10, 8), h5::Error);  // past the end: an error on every rank
    f.close();
  }
  // A file written by fewer ranks (one rank holding no rows) reads back identically.
  const std::string path2 = scratch(c, "rows_subset");
  {
    const int writers = std::max(1, c.size() - 1);
    const Comm sub = c.split(c.rank() < writers ? 0 : 1, c.rank());
    if (c.rank() < writers) {
      const RowRange r = c.rank() == 0 && writers > 1 ? RowRange{0, 0} : block_rows(n, c.rank() - (writers > 1 ? 1 : 0), std::max(1, writers - 1));
      std::vector<double> part;
      for (std::int64_t i = r.begin; i < r.end; ++i)
        for (std::int64_t j = 0; j < cols; ++j) part.push_back(cell(i, j));
      h5::File f = h5::File::create(path2, &sub);
      f.root().write_rows("U", part.data(), r.count(), cols);
      f.close();
    }
    c.barrier();
  }
  {
    h5::File f = h5::File::open(path2, h5::File::Mode::ReadOnly, &c);
    const auto rows = f.root().read_rows<double>("U", mine.begin, mine.count());
    for (std::int64_t i = 0; i < mine.count(); ++i)
      for (std::int64_t j = 0; j < cols; ++j) EXPECT_EQ(rows[i * cols + j], cell(mine.begin + i, j));
    f.close();
  }
}

// Files created with checksums store every dataset chunked with Fletcher32; verify_checksums reads
// them all and names the one whose data changed on disk.
TEST(H5, ChecksumsDetectChangedData) {
  const Comm c;
  const std::string path = scratch(c, "checksums");
  const std::int64_t rows = 50000, cols = 3;  // 1.2 MB: two chunks
  const RowRange mine = block_rows(rows, c.rank(), c.size());
  std::vector<double> local;
  for (std::int64_t i = mine.begin; i < mine.end; ++i)
    for (std::int64_t j = 0; j < cols; ++j) local.push_back(cell(i, j));
  {
    h5::File f = h5::File::create(path, &c, h5::Checksums::On);
    f.root().create_group("state").write_rows("U", local.data(), mine.count(), cols);
    f.root().write("small", std::vector<std::int64_t>{1, 2, 3});
    f.close();
  }
  if (!c.is_root()) return;
  {
    h5::File f = h5::File::open(path, h5::File::Mode::ReadOnly);
    for (const char* name : {"state/U", "small"}) {
      const hid_t d = H5Dopen2(f.root().id(), name, H5P_DEFAULT);
      const hid_t dcpl = H5Dget_create_plist(d);
      EXPECT_EQ(H5Pget_layout(dcpl), H5D_CHUNKED) << name;
      EXPECT_GE(H5Pget_filter_by_id2(dcpl, H5Z_FILTER_FLETCHER32, nullptr, nullptr, nullptr, 0, nullptr, nullptr), 0) << name;
      H5Pclose(dcpl);
      H5Dclose(d);
    }
    h5::verify_checksums(f.root());
    EXPECT_EQ(f.root().read<double>("state/U").size(), static_cast<std::size_t>(rows * cols));
    f.close();
  }
  // One byte in the middle of the second chunk of /state/U.
  haddr_t address = 0;
  hsize_t chunk_bytes = 0;
  {
    h5::File f = h5::File::open(path, h5::File::Mode::ReadOnly);
    const hid_t d = H5Dopen2(f.root().id(), "state/U", H5P_DEFAULT);
    const hid_t space = H5Dget_space(d);
    hsize_t nchunks = 0, offset[2] = {0, 0};
    unsigned mask = 0;
    H5Dget_num_chunks(d, space, &nchunks);
    EXPECT_EQ(nchunks, 2u);
    ASSERT_GE(H5Dget_chunk_info(d, space, 1, offset, &mask, &address, &chunk_bytes), 0);
    H5Sclose(space);
    H5Dclose(d);
    f.close();
  }
  std::FILE* file = std::fopen(path.c_str(), "r+b");
  ASSERT_NE(file, nullptr);
  const long at = static_cast<long>(address + chunk_bytes / 2);
  std::fseek(file, at, SEEK_SET);
  const int byte = std::fgetc(file);
  std::fseek(file, at, SEEK_SET);
  std::fputc(byte ^ 0x5a, file);
  std::fclose(file);
  h5::File f = h5::File::open(path, h5::File::Mode::ReadOnly);
  try {
    h5::verify_checksums(f.root());
    ADD_FAILURE() << "corruption not detected";
  } catch (const h5::Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot read dataset /state/U"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("Fletcher32"), std::string::npos) << e.what();
  }
}
