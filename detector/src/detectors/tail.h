#pragma once
// A calibrated distribution of one number (a log duration, a residual):
// the newest `capacity` values, an empirical body and, above a high
// quantile, a generalized Pareto tail (peaks over threshold, as in SPOT,
// Siffer et al., KDD 2017), so tail probabilities far below 1/n are
// extrapolated instead of read as 0. Pure; not thread-safe; one owner.
//
// The tail: the `tail_share` largest values (at least kMinExcesses, at most
// half the values; no tail below 40 values) are the excesses over the
// threshold u; the GPD shape is estimated by probability
// weighted moments (Hosking & Wallis 1987), kept in [-0.2, 0.8], and the
// probability is averaged over the shape's sampling uncertainty
// (standard error (1 + shape) / sqrt(k), 5-point Gauss-Hermite), which keeps
// the extrapolation from being over-confident with few excesses.

#include <cstddef>
#include <deque>
#include <vector>

namespace cicd::detector::detail {

// Inverse of the standard normal CDF, p in (0, 1) (Acklam's approximation,
// relative error below 1.2e-9).
double NormalQuantile(double p);

class TailWindow {
 public:
  static constexpr std::size_t kMinExcesses = 25;
  // Excesses smaller than this (in the window's units) are treated as this:
  // a flat series must not make a tiny wobble infinitely improbable.
  static constexpr double kMinScale = 0.02;

  explicit TailWindow(std::size_t capacity = 1000, double tail_share = 0.05);

  // REQUIRES: std::isfinite(x).
  void Add(double x);
  void Clear();
  std::size_t size() const { return order_.size(); }
  std::size_t capacity() const { return capacity_; }
  const std::deque<double>& values() const { return order_; }  // oldest first

  // P(X >= x) and P(X <= x) under the fitted distribution, in (0, 1].
  // 1 with fewer than 2 values.
  double UpperP(double x) const;
  double LowerP(double x) const;
  // Empirical quantile, q in [0, 1], linear interpolation. REQUIRES: size() > 0.
  double Quantile(double q) const;
  double Median() const { return Quantile(0.5); }
  // The x at which UpperP(x) == p (tail extrapolated), for limits.
  // REQUIRES: size() > 0, p in (0, 1).
  double UpperValueAt(double p) const;

 private:
  // The upper tail of the values read through `at(i)`, i = 0 the largest.
  template <typename At>
  double TailP(At at, double x) const;
  template <typename At>
  double TailValue(At at, double p) const;

  std::size_t capacity_;
  double tail_share_;
  std::deque<double> order_;   // insertion order
  std::vector<double> sorted_;  // the same values, ascending
};

}  // namespace cicd::detector::detail
