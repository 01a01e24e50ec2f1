// External data confinement and range checks: a model file must not be able to read outside its
// folder, or outside the data file.
#include "onnx/external_data.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <vector>

namespace lowbit {
namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/lowbit_external_XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string write(const std::string& name, const std::string& bytes) const {
    std::string p = path + "/" + name;
    std::ofstream(p, std::ios::binary) << bytes;
    return p;
  }
};

ExternalDataRef ref_of(std::string location, int64_t offset = 0, std::optional<int64_t> length = std::nullopt) {
  ExternalDataRef r;
  r.location = std::move(location);
  r.offset = offset;
  r.length = length;
  return r;
}

TEST(ExternalData, ParsesEntries) {
  auto r = parse_external_data_entries(
      {{"location", "w.bin"}, {"offset", "16"}, {"length", "8"}, {"checksum", "ab"}, {"basepath", "ignored"}}, "w");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->location, "w.bin");
  EXPECT_EQ(r->offset, 16);
  ASSERT_TRUE(r->length.has_value());
  EXPECT_EQ(*r->length, 8);

  auto no_len = parse_external_data_entries({{"location", "w.bin"}}, "w");
  ASSERT_TRUE(no_len.ok());
  EXPECT_FALSE(no_len->length.has_value());

  EXPECT_FALSE(parse_external_data_entries({{"offset", "0"}}, "w").ok());
  EXPECT_FALSE(parse_external_data_entries({{"location", "w.bin"}, {"offset", "-1"}}, "w").ok());
  EXPECT_FALSE(parse_external_data_entries({{"location", "w.bin"}, {"length", "12abc"}}, "w").ok());
  EXPECT_FALSE(parse_external_data_entries({{"location", "w.bin"}, {"offset", "99999999999999999999"}}, "w").ok());
}

TEST(ExternalData, ReadsRange) {
  TempDir dir;
  dir.write("w.bin", "0123456789");
  std::vector<char> buf(4);
  ASSERT_TRUE(read_external_data(dir.path, ref_of("w.bin", 3, 4), "w", 4, buf.data()).ok());
  EXPECT_EQ(std::string(buf.begin(), buf.end()), "3456");
  // No length: the rest of the file.
  ASSERT_TRUE(read_external_data(dir.path, ref_of("w.bin", 6), "w", 4, buf.data()).ok());
  EXPECT_EQ(std::string(buf.begin(), buf.end()), "6789");
  // Subfolders inside the model folder are fine.
  std::filesystem::create_directory(dir.path + "/data");
  dir.write("data/x.bin", "abcd");
  ASSERT_TRUE(read_external_data(dir.path, ref_of("data/x.bin"), "w", 4, buf.data()).ok());
  EXPECT_EQ(std::string(buf.begin(), buf.end()), "abcd");
  // A symlink that stays inside is fine too.
  std::filesystem::create_symlink(dir.path + "/w.bin", dir.path + "/alias.bin");
  EXPECT_TRUE(read_external_data(dir.path, ref_of("alias.bin", 0, 4), "w", 4, buf.data()).ok());
}

TEST(ExternalData, RejectsAbsoluteAndParentPaths) {
  TempDir dir;
  dir.write("w.bin", "0123");
  std::vector<char> buf(4);
  for (std::string bad :
       {dir.path + "/w.bin", std::string("/etc/passwd"), std::string("../w.bin"), std::string("sub/../w.bin"),
        std::string("..\\w.bin"), std::string(".."), std::string("C:\\w.bin")}) {
    Status s = read_external_data(dir.path, ref_of(bad), "w", 4, buf.data());
    ASSERT_FALSE(s.ok()) << bad;
    EXPECT_EQ(s.code(), StatusCode::kInvalidModel) << bad << ": " << s.message();
    EXPECT_NE(s.message().find("tensor 'w'"), std::string::npos) << s.message();
  }
}

TEST(ExternalData, RejectsSymlinkLeavingTheFolder) {
  TempDir outside, dir;
  outside.write("secret.bin", "0123");
  std::filesystem::create_symlink(outside.path + "/secret.bin", dir.path + "/w.bin");
  std::filesystem::create_directory_symlink(outside.path, dir.path + "/linkdir");
  std::vector<char> buf(4);
  for (std::string loc : {"w.bin", "linkdir/secret.bin"}) {
    Status s = read_external_data(dir.path, ref_of(loc), "w", 4, buf.data());
    ASSERT_FALSE(s.ok()) << loc;
    EXPECT_NE(s.message().find("outside the model's folder"), std::string::npos) << s.message();
  }
}

TEST(ExternalData, RejectsNonRegularAndMissingFiles) {
  TempDir dir;
  std::filesystem::create_directory(dir.path + "/sub");
  std::vector<char> buf(4);
  Status s = read_external_data(dir.path, ref_of("sub"), "w", 4, buf.data());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("not a regular file"), std::string::npos) << s.message();
  Status m = read_external_data(dir.path, ref_of("missing.bin"), "w", 4, buf.data());
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.code(), StatusCode::kNotFound);
  Status none = read_external_data("", ref_of("w.bin"), "w", 4, buf.data());
  EXPECT_FALSE(none.ok());
}

TEST(ExternalData, RangeChecks) {
  TempDir dir;
  dir.write("w.bin", "0123456789");
  std::vector<char> buf(16);
  // offset + length past the end.
  Status a = read_external_data(dir.path, ref_of("w.bin", 8, 4), "w", 4, buf.data());
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.message().find("past its end"), std::string::npos) << a.message();
  // offset past the end.
  EXPECT_FALSE(read_external_data(dir.path, ref_of("w.bin", 11), "w", 0, buf.data()).ok());
  // offset + length would overflow int64.
  Status o = read_external_data(dir.path, ref_of("w.bin", 5, INT64_MAX), "w", 4, buf.data());
  EXPECT_FALSE(o.ok());
  // Stored length differs from what the dims need.
  Status l = read_external_data(dir.path, ref_of("w.bin", 0, 8), "w", 4, buf.data());
  ASSERT_FALSE(l.ok());
  EXPECT_NE(l.message().find("need"), std::string::npos) << l.message();
  // No length and the rest of the file is not what the dims need.
  EXPECT_FALSE(read_external_data(dir.path, ref_of("w.bin", 2), "w", 4, buf.data()).ok());
}

}  // namespace
}  // namespace lowbit
