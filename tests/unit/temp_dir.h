// A fresh folder under the system temp dir, removed with everything in it when the test scope ends.
//
//   lowbit::test::TempDir dir("npy");
//   std::string path = dir.file("a.npy");   // <tmp>/lowbit_npy_test_<pid>_<random>/a.npy
#pragma once
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>

namespace lowbit::test {

class TempDir {
 public:
  explicit TempDir(const std::string& tag = "unit") {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() /
            ("lowbit_" + tag + "_test_" + std::to_string(getpid()) + "_" + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  std::string path() const { return path_.string(); }
  // Writes `bytes` to file(name) and returns that path.
  std::string write(const std::string& name, const std::string& bytes) const {
    const std::string p = file(name);
    std::ofstream(p, std::ios::binary) << bytes;
    return p;
  }

 private:
  std::filesystem::path path_;
};

}  // namespace lowbit::test
