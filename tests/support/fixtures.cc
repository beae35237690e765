#include "support/fixtures.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

namespace cicd::testing {

std::string FixturePath(const std::string& relative) {
  return std::string(CICD_TEST_FIXTURES_DIR) + "/" + relative;
}

std::string ReadFixture(const std::string& relative) {
  std::ifstream in(FixturePath(relative), std::ios::binary);
  if (!in) {
    ADD_FAILURE() << "missing fixture " << FixturePath(relative);
    return "";
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string MakeTempDir(const std::string& name) {
  std::random_device rd;
  const auto dir = std::filesystem::path(CICD_BINARY_DIR) / "Testing" / "tmp" /
                   (name + "-" + std::to_string(rd()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

}  // namespace cicd::testing
