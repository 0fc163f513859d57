// Input files that once crashed, hung or were misread (a fuzzing probe's findings) are refused by
// every workload that reads them, at 1, 2 and 3 ranks: exit code 2 and one message, printed once,
// naming the file and what is wrong (engine/input_file.hpp); and the reader's own API on a good
// file. The files are crafted here with engine/h5 and the HDF5 C API.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <cmath>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "engine/error.hpp"
#include "engine/h5.hpp"
#include "engine/input_file.hpp"
#include "mpi/driver_test_support.hpp"

using namespace saddle::engine;
using namespace saddle::testing;

namespace {

const Scratch scratch("input_files");

std::string path_of(const std::string& name) { return dir() + "/" + name; }

// Rank 0 writes <dir()>/<name> with `fill` (given the open file's root group); every rank
// returns the path once it exists.
std::string craft(const std::string& name, const std::function<void(const h5::Group&)>& fill) {
  if (world().is_root()) {
    fs::create_directories(dir());
    h5::File f = h5::File::create(path_of(name));
    fill(f.root());
    f.close();
  }
  world().barrier();
  return path_of(name);
}

// A dataset of `type` and shape `dims` (chunked when `chunk` is given), left unwritten.
void declare(const h5::Group& g, const char* name, hid_t type, std::vector<hsize_t> dims, std::vector<hsize_t> chunk = {}) {
  h5::SpaceId space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr));
  h5::PlistId dcpl(H5Pcreate(H5P_DATASET_CREATE));
  if (!chunk.empty()) H5Pset_chunk(dcpl.get(), static_cast<int>(chunk.size()), chunk.data());
  h5::DatasetId d(H5Dcreate2(g.id(), name, type, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT));
  ASSERT_TRUE(d.valid()) << name;
}

void mail_game(const h5::Group& g) {
  g.write("P", std::vector<double>(16, 0.5), {2, 2, 2, 2});
  g.write("R", std::vector<double>(8, 0.0), {2, 2, 2});
  g.write("rho", std::vector<double>{0.5, 0.5});
  g.write_attr("gamma", 0.9);
}

// Rank 0 rewrites bytes of a file: the first `what` is replaced by `with`, or the file is cut
// after `keep` bytes.
void damage(const std::string& path, const std::string& what, const std::string& with, std::size_t keep = 0) {
  if (world().is_root()) {
    std::ifstream in(path, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    in.close();
    if (keep > 0) bytes.resize(keep);
    else bytes.replace(bytes.find(what), with.size(), with);
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  }
  world().barrier();
}

// `workload` run on the file `path` given as `key` must exit 2 and print one error, on rank 0,
// naming the file and containing `fragment`.
void expect_refused(const std::string& workload, const std::string& key, const std::string& path, const std::string& fragment) {
  static const std::map<std::string, std::string> tables = {
      {"hb", "[hb]\ngame = \"bilinear\"\nsteps = 10\n"},
      {"qoda", "steps = 10\n"},
      {"ksvd", "[ksvd]\nrank = 1\n[ksvd.data]\nsource = \"hdf5\"\n"},
      {"wgan", "steps = 2\n[wgan.data]\ntype = \"hdf5\"\n"},
      {"mail", "[mail]\nalgorithms = []\nseeds = 0\n[mail.game]\nsource = \"hdf5\"\n"}};
  const std::string deck = run_deck(workload, workload, tables.at(workload));
  ::testing::internal::CaptureStderr();
  const int code = run({"run", deck, key + "=\"" + path + "\"", "--quiet"});
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(code, kExitBadInput) << workload << " on " << path << ": " << err;
  std::size_t lines = 0;
  for (auto at = err.find("saddle: error"); at != std::string::npos; at = err.find("saddle: error", at + 1)) ++lines;
  EXPECT_EQ(lines, world().is_root() ? 1u : 0u) << err;
  if (!world().is_root()) return;
  EXPECT_NE(err.find("'" + path + "'"), std::string::npos) << err;
  EXPECT_NE(err.find(fragment), std::string::npos) << "'" << fragment << "' not in: " << err;
}

}  // namespace

TEST(InputFiles, UnreadableFilesAreRefused) {
  std::vector<double> x(8000);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::sin(static_cast<double>(i));
  const std::string good = craft("wgan_good.h5", [&](const h5::Group& g) { g.write("X", x, {4000, 2}); });
  const std::string truncated = craft("truncated.h5", [&](const h5::Group& g) { g.write("X", x, {4000, 2}); });
  damage(truncated, "", "", 40000);
  if (world().is_root()) {
    std::ofstream(path_of("text.h5")) << "not an HDF5 file\n";
    std::ofstream(path_of("empty.h5")).close();
    fs::create_directories(path_of("dir.h5"));
  }
  world().barrier();
  expect_refused("wgan", "wgan.data.path", path_of("missing.h5"), "no such file");
  expect_refused("wgan", "wgan.data.path", path_of("empty.h5"), "is empty, not an HDF5 file");
  expect_refused("wgan", "wgan.data.path", path_of("text.h5"), "is not an HDF5 file");
  expect_refused("wgan", "wgan.data.path", truncated, "cannot be opened as HDF5 (truncated or damaged?)");
  expect_refused("wgan", "wgan.data.path", path_of("dir.h5"), "is a directory, not an HDF5 file");
  expect_refused("hb", "hb.path", path_of("dir.h5"), "is a directory, not an HDF5 file");
  EXPECT_EQ(run({"run", run_deck("wgan_good", "wgan", "steps = 2\n[wgan.data]\ntype = \"hdf5\"\npath = \"" + good + "\"\n"), "--quiet"}),
            kExitDone);
}

TEST(InputFiles, GroupsLinksAndNonNumbersWhereNumbersBelongAreRefused) {
  const std::string group = craft("hb_group.h5", [](const h5::Group& g) { g.create_group("A"); });
  const std::string dangling = craft("hb_dangling.h5", [](const h5::Group& g) {
    ASSERT_GE(H5Lcreate_soft("/nowhere", g.id(), "A", H5P_DEFAULT, H5P_DEFAULT), 0);
  });
  const std::string strings = craft("hb_strings.h5", [](const h5::Group& g) {
    h5::TypeId t(H5Tcopy(H5T_C_S1));
    H5Tset_size(t.get(), 4);
    declare(g, "A", t.get(), {2, 2});
  });
  const std::string compound = craft("qoda_compound.h5", [](const h5::Group& g) {
    g.write("A", std::vector<double>{1, 0, 0, 1}, {2, 2});
    g.write("c", std::vector<double>{0, 0});
    h5::TypeId t(H5Tcreate(H5T_COMPOUND, 2 * sizeof(double)));
    H5Tinsert(t.get(), "x", 0, H5T_NATIVE_DOUBLE);
    H5Tinsert(t.get(), "y", sizeof(double), H5T_NATIVE_DOUBLE);
    declare(g, "b", t.get(), {2});
  });
  const std::string enums = craft("ksvd_enum.h5", [](const h5::Group& g) {
    h5::TypeId t(H5Tenum_create(H5T_NATIVE_INT8));
    for (signed char v : {0, 1}) H5Tenum_insert(t.get(), v ? "b" : "a", &v);
    declare(g, "X", t.get(), {10, 2});
  });
  const std::string gamma = craft("mail_gamma_string.h5", [](const h5::Group& g) {
    mail_game(g);
    g.write_attr("gamma", std::string("high"));
  });
  expect_refused("hb", "hb.path", group, ":/A is a group, not a dataset");
  expect_refused("hb", "hb.path", dangling, ":/A is a dangling link");
  expect_refused("hb", "hb.path", strings, ":/A holds strings, not numbers");
  expect_refused("qoda", "qoda.problem.path", compound, ":/b holds compound records, not numbers");
  expect_refused("ksvd", "ksvd.data.path", enums, ":/X holds enum values, not numbers");
  expect_refused("mail", "mail.game.path", gamma, ":/@gamma holds strings, not numbers");
}

// Found by the fuzz targets (tests/fuzz/regressions/<target>/ holds the files, which are whole
// HDF5 input files): HDF5 1.10 converts a number of any declared width through a buffer of that
// width, copies a compact dataset's values without checking that they fill its shape, and reads
// a chunk larger than its dataset, a checksummed chunk shorter than its checksum or an unfiltered
// chunk shorter than its shape past the end of its buffer.
TEST(InputFiles, CraftedWidthsShortCompactDatasetsAndOversizedChunksAreRefused) {
  const std::string wide = craft("hb_wide_float.h5", [](const h5::Group& g) {
    h5::TypeId t(H5Tcopy(H5T_NATIVE_DOUBLE));
    ASSERT_GE(H5Tset_size(t.get(), 32), 0);
    declare(g, "A", t.get(), {2, 2});
  });
  expect_refused("hb", "hb.path", wide, ":/A holds numbers of an unsupported format (64 bits in 32 bytes)");
  const std::string regressions = std::string(SADDLE_SOURCE_DIR) + "/tests/fuzz/regressions/";
  expect_refused("hb", "hb.path", regressions + "fuzz_hb_game/compact_layout_stores_nothing", "its stored values do not fill its shape");
  // A chunk larger than the dataset (HDF5 never writes one) and /A's rows + columns near 2^64.
  expect_refused("qoda", "qoda.problem.path", regressions + "fuzz_qoda_problem/chunk_larger_than_shape",
                 ":/A is damaged: its chunks (1704194 in dimension 2) do not fit its shape 3 x 2");
  expect_refused("qoda", "qoda.problem.path", regressions + "fuzz_qoda_problem/dimension_sum_overflows",
                 ":/A gives the problem dimension 15235521890557715570, outside [1, 20000]");
  // A chunk that went through Fletcher32 but is stored in fewer bytes than the checksum: HDF5
  // 1.10 reads far past it (SIGSEGV). HDF5 never writes one; a raw chunk write can.
  const std::string short_chunk = craft("hb_short_checksummed_chunk.h5", [](const h5::Group& g) {
    const hsize_t dims[2] = {2, 2}, offset[2] = {0, 0};
    h5::SpaceId space(H5Screate_simple(2, dims, nullptr));
    h5::PlistId dcpl(H5Pcreate(H5P_DATASET_CREATE));
    ASSERT_GE(H5Pset_chunk(dcpl.get(), 2, dims), 0);
    ASSERT_GE(H5Pset_fletcher32(dcpl.get()), 0);
    h5::DatasetId d(H5Dcreate2(g.id(), "A", H5T_NATIVE_DOUBLE, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT));
    const unsigned char byte = 7;
    ASSERT_GE(H5Dwrite_chunk(d.get(), H5P_DEFAULT, 0, offset, 1, &byte), 0);
  });
  expect_refused("hb", "hb.path", short_chunk, ":/A is damaged: chunk 0 is stored in 1 bytes, fewer than its Fletcher32 checksum");
  // An unfiltered chunk stored in fewer bytes than its shape takes: HDF5 copies it whole.
  const std::string short_plain = craft("hb_short_plain_chunk.h5", [](const h5::Group& g) {
    const hsize_t dims[2] = {2, 2}, offset[2] = {0, 0};
    h5::SpaceId space(H5Screate_simple(2, dims, nullptr));
    h5::PlistId dcpl(H5Pcreate(H5P_DATASET_CREATE));
    ASSERT_GE(H5Pset_chunk(dcpl.get(), 2, dims), 0);
    h5::DatasetId d(H5Dcreate2(g.id(), "A", H5T_NATIVE_DOUBLE, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT));
    const std::vector<unsigned char> bytes(30, 1);
    ASSERT_GE(H5Dwrite_chunk(d.get(), H5P_DEFAULT, 0, offset, bytes.size(), bytes.data()), 0);
  });
  expect_refused("hb", "hb.path", short_plain, ":/A is damaged: chunk 0 is stored in 30 bytes, not the 32 its shape and type take");
  expect_refused("mail", "mail.game.path", regressions + "fuzz_mail_game/unfiltered_chunk_shorter_than_shape",
                 ":/P is damaged: chunk 0 is stored in 282 bytes, not the 288 its shape and type take");
  expect_refused("ksvd", "ksvd.data.path", regressions + "fuzz_ksvd_data/fletcher32_chunk_shorter_than_checksum_csr",
                 ":/G/indices is damaged: chunk 0 is stored in 1 bytes, fewer than its Fletcher32 checksum");
}

TEST(InputFiles, DamagedMetadataIsRefused) {
  const std::string good = craft("mail_good.h5", mail_game);
  const std::string damaged = craft("mail_damaged.h5", mail_game);
  damage(damaged, "SNOD", "XXXX");  // the root group's symbol-table node: no link can be looked up
  expect_refused("mail", "mail.game.path", damaged, "the file's metadata is damaged");
  EXPECT_EQ(run({"run", run_deck("mail_good", "mail", "[mail]\nalgorithms = []\nseeds = 0\n[mail.game]\nsource = \"hdf5\"\npath = \"" + good + "\"\n"),
                 "--quiet"}),
            kExitDone);
}

TEST(InputFiles, HugeDeclaredShapesAreRefusedBeforeAnythingIsAllocated) {
  // Chunked and never written: a few KiB on disk whatever the declared shape.
  const std::string qoda = craft("qoda_huge.h5", [](const h5::Group& g) { declare(g, "A", H5T_NATIVE_DOUBLE, {20001, 20001}, {64, 64}); });
  const std::string ksvd = craft("ksvd_huge.h5", [](const h5::Group& g) { declare(g, "X", H5T_NATIVE_DOUBLE, {1000000000000, 2}, {1024, 2}); });
  expect_refused("qoda", "qoda.problem.path", qoda, ":/A gives the problem dimension 40002, outside [1, 20000]");
  expect_refused("ksvd", "ksvd.data.path", ksvd, "more than this machine's memory");
}

TEST(InputFiles, EmptyMatricesAreRefused) {
  const std::string a00 = craft("hb_0x0.h5", [](const h5::Group& g) { g.write("A", std::vector<double>{}, {0, 0}); });
  const std::string a20 = craft("hb_2x0.h5", [](const h5::Group& g) { g.write("A", std::vector<double>{}, {2, 0}); });
  const std::string a04 = craft("qoda_0x4.h5", [](const h5::Group& g) {
    g.write("A", std::vector<double>{}, {0, 4});
    g.write("b", std::vector<double>{});
    g.write("c", std::vector<double>(4, 0.0));
  });
  expect_refused("hb", "hb.path", a00, ":/A must be a non-empty 2-D matrix, found 0 x 0");
  expect_refused("hb", "hb.path", a20, ":/A must be a non-empty 2-D matrix, found 2 x 0");
  expect_refused("qoda", "qoda.problem.path", a04, ":/A must be a non-empty 2-D matrix, found 0 x 4");
}

// A CSR /G (indptr, indices, data, attribute shape): misread silently before, now refused.
TEST(InputFiles, MalformedCsrIsRefused) {
  auto csr = [](std::vector<double> indptr, bool float_indices, bool float_shape) {
    return [=](const h5::Group& root) {
      const h5::Group g = root.create_group("G");
      g.write("indptr", std::vector<std::int64_t>(indptr.begin(), indptr.end()));
      if (float_indices) g.write("indices", std::vector<double>{0, 1.5, 1});
      else g.write("indices", std::vector<std::int64_t>{0, 1, 1});
      g.write("data", std::vector<double>{1, 2, 3});
      if (float_shape) g.write_attr("shape", std::vector<double>{2.5, 2});
      else g.write_attr("shape", std::vector<std::int64_t>{2, 2});
    };
  };
  const std::string shifted = craft("ksvd_indptr1.h5", csr({1, 2, 3}, false, false));
  const std::string findex = craft("ksvd_float_indices.h5", csr({0, 2, 3}, true, false));
  const std::string fshape = craft("ksvd_float_shape.h5", csr({0, 2, 3}, false, true));
  const std::string good = craft("ksvd_csr_good.h5", csr({0, 2, 3}, false, false));
  const std::string given = "[ksvd]\nrank = 1\nmethod = \"exact\"\n[ksvd.kernel]\ntype = \"given\"\n[ksvd.data]\nsource = \"hdf5\"\npath = \"";
  expect_refused("ksvd", "ksvd.data.path", shifted, ":/G/indptr must start at 0");
  expect_refused("ksvd", "ksvd.data.path", findex, ":/G/indices holds floating-point values where integers belong");
  expect_refused("ksvd", "ksvd.data.path", fshape, ":/G@shape holds floating-point values where integers belong");
  EXPECT_EQ(run({"run", run_deck("ksvd_csr_good", "ksvd", given + good + "\"\n"), "--quiet"}), kExitDone);
}

TEST(InputFile, ReadsShapesRowsAndAttributesAndNamesWhatItRefuses) {
  const std::string path = craft("api.h5", [](const h5::Group& g) {
    g.write("M", std::vector<double>{1, 2, 3, 4, 5, 6}, {3, 2});
    g.write("I", std::vector<std::int64_t>{7, 8, 9});
    g.write("F", std::vector<double>{1.0, NAN});
    g.write_attr("pair", std::vector<std::int64_t>{2, 3});
    g.create_group("G").write("v", std::vector<double>{1.5});
  });
  const InputFile f(path, "test.key");
  EXPECT_EQ(f.shape("M"), (Shape{3, 2}));
  const auto m = f.read<double>("M", InputFile::Values::Finite);
  EXPECT_EQ(m.values, (std::vector<double>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(f.read_rows<double>("M", 1, 2), (std::vector<double>{3, 4, 5, 6}));
  EXPECT_EQ(f.read<std::int64_t>("I").values, (std::vector<std::int64_t>{7, 8, 9}));
  EXPECT_EQ(f.read<double>("I").values, (std::vector<double>{7, 8, 9}));
  EXPECT_EQ(f.read_attribute<std::int64_t>("", "pair", 2), (std::vector<std::int64_t>{2, 3}));
  EXPECT_EQ(f.read<double>("G/v").values, (std::vector<double>{1.5}));
  EXPECT_TRUE(f.has_group("G"));
  EXPECT_FALSE(f.has_dataset("nothing"));
  EXPECT_FALSE(f.has_dataset("G/nothing"));
  EXPECT_EQ(f.object("M"), InputFile::Object::Dataset);
  auto refuses = [&](const std::function<void()>& call, const std::string& fragment) {
    try {
      call();
      ADD_FAILURE() << "no InputError for '" << fragment << "'";
    } catch (const InputError& e) {
      const std::string what = e.what();
      EXPECT_EQ(what.rfind("test.key: '" + path + "'", 0), 0u) << what;
      EXPECT_NE(what.find(fragment), std::string::npos) << what;
    }
  };
  refuses([&] { f.read<double>("F", InputFile::Values::Finite); }, ":/F holds a non-finite value (nan) in row 1");
  refuses([&] { f.read<std::int64_t>("M"); }, ":/M holds floating-point values where integers belong");
  refuses([&] { f.read_rows<double>("M", 2, 2); }, ":/M has 3 rows; rows [2, 4) were asked for");
  refuses([&] { f.read_attribute<std::int64_t>("", "pair", 1); }, ":/@pair must hold 1 value, found 2");
  refuses([&] { f.has_dataset("G"); }, ":/G is a group, not a dataset");
  refuses([&] { f.has_group("M"); }, ":/M is a dataset, not a group");
  refuses([&] { f.shape("nothing"); }, "has no dataset /nothing");
  refuses([&] { f.expect_shape("M", f.shape("M"), {2, 3}, " to match"); }, ":/M must be 2 x 3 to match, found 3 x 2");
}
