#include "detectors/tail.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace cicd::detector::detail {
namespace {

TEST(NormalQuantile, HandValues) {
  EXPECT_NEAR(NormalQuantile(0.5), 0, 1e-9);
  EXPECT_NEAR(NormalQuantile(0.975), 1.959964, 1e-5);
  EXPECT_NEAR(NormalQuantile(0.025), -1.959964, 1e-5);
  EXPECT_NEAR(NormalQuantile(1e-6), -4.753424, 1e-4);
}

TEST(TailWindow, EmpiricalBodyAndRolling) {
  TailWindow w(5);
  for (double x : {1.0, 2.0, 3.0, 4.0, 5.0, 6.0}) w.Add(x);  // 1 rolled out
  EXPECT_EQ(w.size(), 5u);
  EXPECT_DOUBLE_EQ(w.Quantile(0), 2);
  EXPECT_DOUBLE_EQ(w.Median(), 4);
  EXPECT_DOUBLE_EQ(w.UpperP(6), (0.5 + 0.5) / 6);  // mid-rank: half the tie, plus a half
  EXPECT_DOUBLE_EQ(w.LowerP(2), (0.5 + 0.5) / 6);
}

// The extrapolated tail is calibrated: on exponential data (a GPD with
// shape 0) the probability of exceeding the 1e-4 quantile is near 1e-4,
// far below the 1 / n an empirical window could say.
TEST(TailWindow, ExtrapolatesAnExponentialTail) {
  std::mt19937_64 rng(11);
  std::exponential_distribution<double> e(1.0);
  double sum_log_ratio = 0;
  const int reps = 20;
  for (int r = 0; r < reps; ++r) {
    TailWindow w(1000);
    for (int i = 0; i < 1000; ++i) w.Add(e(rng));
    const double x = -std::log(1e-4);  // true P(X >= x) = 1e-4
    const double p = w.UpperP(x);
    EXPECT_LT(p, 1e-3);
    EXPECT_GT(p, 1e-5);
    sum_log_ratio += std::log10(p / 1e-4);
    EXPECT_NEAR(w.UpperValueAt(p), x, 1e-6);  // the inverse
  }
  EXPECT_LT(std::fabs(sum_log_ratio / reps), 0.3);  // within 2x on average
}

TEST(TailWindow, FlatSeriesDoesNotExplode) {
  TailWindow w(200);
  for (int i = 0; i < 200; ++i) w.Add(std::log(600.0));
  // A 1% wobble is unremarkable; a doubling is not.
  EXPECT_GT(w.UpperP(std::log(606.0)), 1e-2);
  EXPECT_LT(w.UpperP(std::log(1200.0)), 1e-6);
}

}  // namespace
}  // namespace cicd::detector::detail
