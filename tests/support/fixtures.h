#pragma once
// Access to test payloads. Project fixtures live in tests/fixtures/ (copied
// from shared/fixtures with a NOTICE); they exist in every clone.

#include <string>

namespace cicd::testing {

// Contents of tests/fixtures/<relative>; fails the test (ADD_FAILURE) and
// returns "" when missing.
std::string ReadFixture(const std::string& relative);
std::string FixturePath(const std::string& relative);
// A fresh empty directory under the build tree's Testing/tmp, removed by the
// caller or left for inspection.
std::string MakeTempDir(const std::string& name);

}  // namespace cicd::testing
