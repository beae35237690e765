#include "cicd/exporter/config.h"

#include <gtest/gtest.h>

namespace cicd::exporter {
namespace {

TEST(BranchFolding, KeepsConfiguredBranches) {
  BranchFolding f;
  f.keep = {"main", "release/*"};
  EXPECT_EQ(f.Fold("main"), "main");
  EXPECT_EQ(f.Fold("release/1.2"), "release/1.2");
  EXPECT_EQ(f.Fold("feature/x"), "other");
  EXPECT_EQ(f.Fold(""), "");
}

}  // namespace
}  // namespace cicd::exporter
