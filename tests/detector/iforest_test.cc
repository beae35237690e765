#include "cicd/detector/iforest.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "cicd/detector/commands.h"
#include "support/fixtures.h"

namespace cicd::detector {
namespace {

using ::testing::HasSubstr;

// A row-major matrix that owns its values.
struct Data {
  std::vector<double> values;
  std::size_t cols = 0;
  FeatureMatrix matrix() const { return {values, values.size() / cols, cols}; }
};

// `rows` points of a standard normal cloud in `cols` dimensions.
Data Gaussian(std::size_t rows, std::size_t cols, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  Data d{{}, cols};
  for (std::size_t i = 0; i < rows * cols; ++i) d.values.push_back(normal(rng));
  return d;
}

IsolationForest FitOrDie(const Data& d, IsolationForestOptions options = {},
                         std::uint64_t seed = 1) {
  std::mt19937_64 rng(seed);
  Result<IsolationForest> f = IsolationForest::Fit(d.matrix(), options, rng);
  EXPECT_TRUE(f.ok()) << f.status().ToString();
  return std::move(f).value();
}

std::vector<double> ScoresOrDie(const IsolationForest& f, const Data& d, int threads = 1) {
  Result<std::vector<double>> s = f.Score(d.matrix(), {.threads = threads});
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? *s : std::vector<double>{};
}

TEST(AveragePathLengthTest, MatchesHandValues) {
  EXPECT_EQ(AveragePathLength(0), 0);
  EXPECT_EQ(AveragePathLength(1), 0);
  EXPECT_EQ(AveragePathLength(2), 1);
  // 2 (ln 2 + 0.5772156649) - 4/3
  EXPECT_NEAR(AveragePathLength(3), 1.2073924, 1e-6);
  // 2 (ln 255 + 0.5772156649) - 2 * 255/256
  EXPECT_NEAR(AveragePathLength(256), 10.2448, 1e-4);
}

TEST(IsolationForestTest, ExpectedPathLengthOfTwoPointsIsOne) {
  // psi = 2: every root split separates the points into two leaves of one
  // point at depth 1, so h = 1 + c(1) = 1 and s = 2^(-1 / c(2)) = 0.5.
  const Data d{{0, 5, 1, 7}, 2};
  const IsolationForest f = FitOrDie(d, {.num_trees = 10, .sample_size = 2});
  EXPECT_EQ(f.sample_size(), 2);
  EXPECT_DOUBLE_EQ(*f.ExpectedPathLength(std::vector<double>{0, 5}), 1.0);
  EXPECT_DOUBLE_EQ(*f.ScoreRow(std::vector<double>{1, 7}), 0.5);
}

TEST(IsolationForestTest, ExpectedPathLengthAddsCOfTheLeafSize) {
  // Points 0, 0, 10 (psi = 3, height limit 2): any split in (0, 10] leaves
  // {0, 0} as a constant leaf of 2 at depth 1 (h = 1 + c(2) = 2) and {10}
  // alone at depth 1 (h = 1), whatever the random draws.
  const Data d{{0, 0, 10}, 1};
  const IsolationForest f = FitOrDie(d, {.num_trees = 25, .sample_size = 3});
  EXPECT_NEAR(*f.ExpectedPathLength(std::vector<double>{0}), 2.0, 1e-6);
  EXPECT_NEAR(*f.ExpectedPathLength(std::vector<double>{10}), 1.0, 1e-6);
  const double c3 = AveragePathLength(3);
  EXPECT_NEAR(*f.ScoreRow(std::vector<double>{10}), std::exp2(-1.0 / c3), 1e-6);
  EXPECT_NEAR(*f.ScoreRow(std::vector<double>{0}), std::exp2(-2.0 / c3), 1e-6);
}

TEST(IsolationForestTest, SampleSizeIsClippedToTheRows) {
  const IsolationForest f = FitOrDie(Gaussian(50, 2, 3));
  EXPECT_EQ(f.sample_size(), 50);
  EXPECT_EQ(f.num_trees(), 100);
  EXPECT_EQ(f.num_features(), 2u);
}

TEST(IsolationForestTest, ObviousOutlierScoresAboveEveryInlier) {
  Data d = Gaussian(500, 2, 7);
  d.values.insert(d.values.end(), {10, 10});
  const IsolationForest f = FitOrDie(d);
  const std::vector<double> s = ScoresOrDie(f, d);
  ASSERT_EQ(s.size(), 501u);
  const double max_inlier = *std::max_element(s.begin(), s.end() - 1);
  EXPECT_GT(s.back(), max_inlier);
  EXPECT_GT(s.back(), 0.6);
  for (const double v : s) {
    EXPECT_GT(v, 0);
    EXPECT_LE(v, 1);
  }
}

TEST(IsolationForestTest, SameSeedSameScoresDifferentSeedDifferentScores) {
  const Data d = Gaussian(300, 3, 11);
  const std::vector<double> a = ScoresOrDie(FitOrDie(d, {}, 42), d);
  const std::vector<double> b = ScoresOrDie(FitOrDie(d, {}, 42), d);
  const std::vector<double> c = ScoresOrDie(FitOrDie(d, {}, 43), d);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

TEST(IsolationForestTest, ScoresDoNotDependOnTheThreadCount) {
  // Enough rows that Score really starts several threads.
  const Data d = Gaussian(30000, 4, 5);
  const IsolationForest f = FitOrDie(d, {.num_trees = 20});
  const std::vector<double> one = ScoresOrDie(f, d, 1);
  EXPECT_EQ(ScoresOrDie(f, d, 2), one);
  EXPECT_EQ(ScoresOrDie(f, d, 3), one);
  EXPECT_EQ(ScoresOrDie(f, d, 0), one);
}

TEST(IsolationForestTest, ScoreRowMatchesBatchScoresExactly) {
  const Data d = Gaussian(100, 5, 13);
  const IsolationForest f = FitOrDie(d);
  const std::vector<double> batch = ScoresOrDie(f, d);
  for (std::size_t r = 0; r < 100; ++r) {
    const std::span<const double> row(d.values.data() + r * 5, 5);
    EXPECT_EQ(*f.ScoreRow(row), batch[r]) << "row " << r;
  }
}

TEST(IsolationForestTest, CompactedForestScoresExactlyTheSame) {
  const Data d = Gaussian(2000, 5, 21);
  const IsolationForest f = FitOrDie(d);
  IsolationForest compact = f;
  compact.Compact();
  EXPECT_TRUE(compact.compacted());
  EXPECT_FALSE(f.compacted());
  // Points outside the training range too, where paths end early.
  Data probe = Gaussian(500, 5, 22);
  for (double& v : probe.values) v *= 3;
  EXPECT_EQ(ScoresOrDie(compact, d), ScoresOrDie(f, d));
  EXPECT_EQ(ScoresOrDie(compact, probe), ScoresOrDie(f, probe));
  const std::span<const double> row(probe.values.data(), 5);
  EXPECT_EQ(*compact.ScoreRow(row), *f.ScoreRow(row));
  EXPECT_EQ(compact.Serialize(), f.Serialize());
}

TEST(IsolationForestTest, ConstantDataGivesEqualScores) {
  // Every feature constant: each tree is a single leaf of psi points, so
  // E(h) = c(psi) and the score is 2^-1 (up to the float the leaf stores).
  const Data d{std::vector<double>(40 * 3, 4.25), 3};
  const IsolationForest f = FitOrDie(d);
  const std::vector<double> s = ScoresOrDie(f, d);
  for (const double v : s) EXPECT_EQ(v, s[0]);
  EXPECT_NEAR(s[0], 0.5, 1e-7);
  EXPECT_EQ(*f.ScoreRow(std::vector<double>{100, -3, 0}), s[0]);
  EXPECT_EQ(f.num_nodes(), 100u);
}

TEST(IsolationForestTest, ConstantFeaturesAreSkippedNotFatal) {
  // Feature 0 and 2 constant, feature 1 holds an outlier: splits can only
  // use feature 1, and they isolate the outlier.
  Data d{{}, 3};
  for (int i = 0; i < 200; ++i) d.values.insert(d.values.end(), {1, i % 10 * 0.1, -0.0});
  d.values.insert(d.values.end(), {1, 50, 0.0});
  const IsolationForest f = FitOrDie(d);
  const std::vector<double> s = ScoresOrDie(f, d);
  EXPECT_GT(s.back(), *std::max_element(s.begin(), s.end() - 1));
}

TEST(IsolationForestTest, OnePointScoresHalf) {
  const Data d{{3, 4}, 2};
  const IsolationForest f = FitOrDie(d);
  EXPECT_EQ(f.sample_size(), 1);
  EXPECT_DOUBLE_EQ(ScoresOrDie(f, d)[0], 0.5);
}

TEST(IsolationForestTest, ValuesBeyondFloatRangeAndNearDuplicatesAreHandled) {
  // Splits are stored as floats: values no float separates must end in a
  // leaf, not in an endless or empty split.
  const Data d{{1e300, 1 + 1e-12, -1e300, 1 + 2e-12, 2e300, 1, 0, 1 + 3e-12}, 2};
  const IsolationForest f = FitOrDie(d);
  for (const double s : ScoresOrDie(f, d)) {
    EXPECT_TRUE(std::isfinite(s));
    EXPECT_GT(s, 0);
  }
}

TEST(IsolationForestTest, RejectsNanAndInfAtFitAndScore) {
  Data d = Gaussian(10, 2, 1);
  d.values[7] = std::numeric_limits<double>::quiet_NaN();
  std::mt19937_64 rng(1);
  Status s = IsolationForest::Fit(d.matrix(), {}, rng).status();
  EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("row 3, feature 1 is NaN"));
  d.values[7] = -std::numeric_limits<double>::infinity();
  EXPECT_THAT(IsolationForest::Fit(d.matrix(), {}, rng).status().message(),
              HasSubstr("row 3, feature 1 is infinite"));

  const IsolationForest f = FitOrDie(Gaussian(10, 2, 1));
  EXPECT_EQ(f.Score(d.matrix()).status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(f.ScoreRow(std::vector<double>{0, std::nan("")}).status().code(),
            ErrorCode::kInvalidArgument);
}

TEST(IsolationForestTest, RejectsBadOptionsAndShapes) {
  const Data d = Gaussian(10, 2, 1);
  std::mt19937_64 rng(1);
  EXPECT_FALSE(IsolationForest::Fit(d.matrix(), {.num_trees = 0}, rng).ok());
  EXPECT_FALSE(IsolationForest::Fit(d.matrix(), {.sample_size = 0}, rng).ok());
  EXPECT_FALSE(
      IsolationForest::Fit(d.matrix(), {.sample_size = IsolationForest::kMaxSampleSize + 1}, rng)
          .ok());
  EXPECT_FALSE(IsolationForest::Fit(FeatureMatrix{{}, 0, 2}, {}, rng).ok());
  EXPECT_FALSE(IsolationForest::Fit(FeatureMatrix{d.values, 3, 2}, {}, rng).ok());

  const IsolationForest f = FitOrDie(d);
  EXPECT_THAT(f.Score(Gaussian(4, 3, 1).matrix()).status().message(),
              HasSubstr("model has 2 features, data has 3"));
  EXPECT_FALSE(f.ScoreRow(std::vector<double>{1}).ok());
  EXPECT_FALSE(f.Score(d.matrix(), {.threads = -1}).ok());
}

// FNV-1a, as the model format uses, to forge well-formed checksums.
std::uint64_t Fnv1a(std::string_view bytes) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

std::string Reseal(std::string bytes) {
  const std::size_t body = bytes.size() - 8;
  const std::uint64_t h = Fnv1a(std::string_view(bytes).substr(0, body));
  for (int i = 0; i < 8; ++i) bytes[body + i] = static_cast<char>((h >> (8 * i)) & 0xFF);
  return bytes;
}

TEST(IsolationForestSerializationTest, RoundTripScoresIdentically) {
  const Data d = Gaussian(2000, 6, 17);
  const IsolationForest f = FitOrDie(d);
  const std::string bytes = f.Serialize();
  const Result<IsolationForest> g = IsolationForest::Deserialize(bytes);
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(g->num_trees(), f.num_trees());
  EXPECT_EQ(g->sample_size(), f.sample_size());
  EXPECT_EQ(g->num_nodes(), f.num_nodes());
  EXPECT_EQ(ScoresOrDie(*g, d), ScoresOrDie(f, d));
  EXPECT_EQ(g->Serialize(), bytes);
  // 8 bytes a node plus a small header.
  EXPECT_LT(bytes.size(), 8 * f.num_nodes() + 512);
}

TEST(IsolationForestSerializationTest, RejectsForeignTruncatedAndCorruptBytes) {
  const std::string bytes = FitOrDie(Gaussian(100, 2, 1), {.num_trees = 5}).Serialize();
  EXPECT_THAT(IsolationForest::Deserialize("").status().message(), HasSubstr("bad magic"));
  EXPECT_THAT(IsolationForest::Deserialize("hello world, not a model").status().message(),
              HasSubstr("bad magic"));
  EXPECT_EQ(IsolationForest::Deserialize(bytes.substr(0, bytes.size() - 1)).status().code(),
            ErrorCode::kParse);
  EXPECT_EQ(IsolationForest::Deserialize(bytes.substr(0, 20)).status().code(), ErrorCode::kParse);
  std::string flipped = bytes;
  flipped[40] ^= 0x01;
  EXPECT_THAT(IsolationForest::Deserialize(flipped).status().message(), HasSubstr("checksum"));
  std::string version = bytes;
  version[8] = 9;
  EXPECT_THAT(IsolationForest::Deserialize(Reseal(version)).status().message(),
              HasSubstr("version 9"));
}

TEST(IsolationForestSerializationTest, RejectsStructurallyInvalidTreesWithValidChecksum) {
  const std::string bytes = FitOrDie(Gaussian(100, 2, 1), {.num_trees = 1}).Serialize();
  // Header (24 bytes) + one node count (4), then the root: split, feature,
  // child. A root whose child points at itself would loop forever.
  constexpr std::size_t kRoot = 28;
  std::string loop = bytes;
  loop[kRoot + 6] = 0;
  loop[kRoot + 7] = 0;
  EXPECT_THAT(IsolationForest::Deserialize(Reseal(loop)).status().message(),
              HasSubstr("malformed"));
  std::string feature = bytes;
  feature[kRoot + 4] = 9;  // the model has 2 features
  EXPECT_THAT(IsolationForest::Deserialize(Reseal(feature)).status().message(),
              HasSubstr("malformed"));
}

TEST(RocAucTest, HandExamples) {
  const std::vector<std::uint8_t> labels{0, 1, 0, 1};
  EXPECT_DOUBLE_EQ(*RocAuc(std::vector<double>{0.1, 0.9, 0.2, 0.8}, labels), 1.0);
  EXPECT_DOUBLE_EQ(*RocAuc(std::vector<double>{0.9, 0.1, 0.8, 0.2}, labels), 0.0);
  EXPECT_DOUBLE_EQ(*RocAuc(std::vector<double>{0.5, 0.5, 0.5, 0.5}, labels), 0.5);
  // Pairs (anomaly, normal): (.4,.1)=1 (.4,.4)=1/2 (.8,.1)=1 (.8,.4)=1 -> 3.5/4.
  EXPECT_DOUBLE_EQ(*RocAuc(std::vector<double>{0.1, 0.4, 0.4, 0.8}, labels), 0.875);
  // Three normals tied with one anomaly, one anomaly above all:
  // (1 * 3 + 0.5 * 3) / 6 = 0.75.
  EXPECT_DOUBLE_EQ(
      *RocAuc(std::vector<double>{2, 2, 2, 2, 3}, std::vector<std::uint8_t>{0, 0, 1, 0, 1}), 0.75);
}

TEST(RocAucTest, RejectsOneClassAndSizeMismatch) {
  EXPECT_THAT(RocAuc(std::vector<double>{1, 2}, std::vector<std::uint8_t>{0, 0}).status().message(),
              HasSubstr("both classes"));
  EXPECT_FALSE(RocAuc(std::vector<double>{1, 2}, std::vector<std::uint8_t>{0}).ok());
  EXPECT_FALSE(RocAuc(std::vector<double>{1, std::nan("")}, std::vector<std::uint8_t>{0, 1}).ok());
}

// The command, driven through its entry point with real files.
class IforestCommandTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::MakeTempDir("iforest_command_test"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }

  // Runs `cicd-detector iforest args...`; returns the exit code and keeps
  // what it printed.
  int Run(std::vector<std::string> args) {
    args.insert(args.begin(), "iforest");
    std::vector<const char*> argv;
    for (const std::string& a : args) argv.push_back(a.c_str());
    ::testing::internal::CaptureStdout();
    ::testing::internal::CaptureStderr();
    const int code = RunIforestCommand(static_cast<int>(argv.size()), argv.data());
    out_ = ::testing::internal::GetCapturedStdout();
    err_ = ::testing::internal::GetCapturedStderr();
    return code;
  }

  std::string Labelled() {
    std::ostringstream csv;
    csv << "x,y,label\n";
    std::mt19937_64 rng(3);
    std::normal_distribution<double> normal;
    for (int i = 0; i < 300; ++i) csv << normal(rng) << "," << normal(rng) << ",0\n";
    csv << "9,9,1\n-8,9,1\n";
    return Write("labelled.csv", csv.str());
  }

  std::string dir_, out_, err_;
};

TEST_F(IforestCommandTest, PrintsOneJsonObjectWithAuc) {
  const std::string scores = dir_ + "/scores.txt";
  ASSERT_EQ(Run({"--csv", Labelled(), "--label-column", "label", "--trees", "50", "--seed", "4",
                 "--threads", "2", "--scores-out", scores}),
            0)
      << err_;
  EXPECT_THAT(out_, HasSubstr("{\"rows\":302,\"features\":2,\"fit_seconds\":"));
  EXPECT_THAT(out_, HasSubstr(",\"auc\":1.000000}\n"));
  std::ifstream in(scores);
  std::vector<double> values;
  for (double v; in >> v;) values.push_back(v);
  ASSERT_EQ(values.size(), 302u);
  EXPECT_GT(values[300], values[0]);
}

TEST_F(IforestCommandTest, WithoutLabelsThereIsNoAuc) {
  ASSERT_EQ(Run({"--csv", Labelled()}), 0) << err_;
  EXPECT_THAT(out_, HasSubstr("\"features\":3"));
  EXPECT_THAT(out_, ::testing::Not(HasSubstr("auc")));
}

TEST_F(IforestCommandTest, UsageErrorsExitTwo) {
  EXPECT_EQ(Run({"--csv", Labelled(), "--bogus"}), 2);
  EXPECT_THAT(err_, HasSubstr("unknown flag --bogus"));
  EXPECT_EQ(Run({"--csv", Labelled(), "--trees", "ten"}), 2);
  EXPECT_THAT(err_, HasSubstr("--trees"));
  EXPECT_EQ(Run({"--csv", Labelled(), "--sample-size", "0"}), 2);
  EXPECT_EQ(Run({"--csv", Labelled(), "--threads", "-1"}), 2);
  EXPECT_EQ(Run({}), 2);
  EXPECT_THAT(err_, HasSubstr("--csv"));
}

TEST_F(IforestCommandTest, BadInputExitsOneWithTheReason) {
  EXPECT_EQ(Run({"--csv", dir_ + "/missing.csv"}), 1);
  EXPECT_THAT(err_, HasSubstr("no such file"));
  EXPECT_EQ(Run({"--csv", Write("a.csv", "a,b\n1,2\n3,x\n")}), 1);
  EXPECT_THAT(err_, HasSubstr("line 3, column 2"));
  EXPECT_EQ(Run({"--csv", Write("b.csv", "a,b\n1,2\n3\n")}), 1);
  EXPECT_THAT(err_, HasSubstr("line 3: 1 cells"));
  EXPECT_EQ(Run({"--csv", Labelled(), "--label-column", "nope"}), 1);
  EXPECT_THAT(err_, HasSubstr("no column named \"nope\""));
  EXPECT_EQ(Run({"--csv", Write("c.csv", "a,label\n1,0\n2,2\n"), "--label-column", "label"}), 1);
  EXPECT_THAT(err_, HasSubstr("line 3, column 2 (\"label\"): a label must be 0 or 1"));
  EXPECT_EQ(Run({"--csv", Write("d.csv", "a,b\n1,nan\n")}), 1);
  EXPECT_THAT(err_, HasSubstr("line 2, column 2 (\"b\"): NaN"));
  EXPECT_EQ(Run({"--csv", Write("e.csv", "a,label\n1,0\n2,0\n"), "--label-column", "label"}), 1);
  EXPECT_THAT(err_, HasSubstr("both classes"));
  EXPECT_TRUE(out_.empty());
}

}  // namespace
}  // namespace cicd::detector
