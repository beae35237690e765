#pragma once
// Robust streaming baseline of one feature of one pipeline: median and MAD
// over a rolling window (with a floor, so flat or quantised series such as a
// constant test count do not explode), rolling mean/variance
// (Boost.Accumulators), EWMA mean/variance, and high quantiles.
// Pure: no I/O, no clock. Not thread-safe; one owner.

#include <boost/accumulators/accumulators.hpp>
#include <boost/accumulators/statistics/rolling_mean.hpp>
#include <boost/accumulators/statistics/rolling_variance.hpp>
#include <boost/accumulators/statistics/rolling_window.hpp>
#include <boost/accumulators/statistics/stats.hpp>
#include <cstddef>
#include <vector>

namespace cicd::detector {

struct BaselineOptions {
  std::size_t window = 100;  // runs kept for median, MAD and quantiles
  // The robust scale never drops below max(abs_floor, rel_floor * |median|):
  // a flat series (MAD 0) would otherwise turn a 1 s wobble into +inf MAD.
  double abs_floor = 1.0;
  double rel_floor = 0.05;
  double ewma_alpha = 0.1;   // weight of the newest value in the EWMA
};

class RobustBaseline {
 public:
  explicit RobustBaseline(BaselineOptions options = {});

  // REQUIRES: std::isfinite(x).
  void Add(double x);
  // Forgets everything (after a level shift the baseline restarts).
  void Reset();
  // Restores a saved state (persistence): the window values oldest first
  // (only the newest `window` are kept), the total count and the EWMA. The
  // rolling accumulators are rebuilt from the window, so they match the
  // saved ones within floating-point tolerance.
  void Restore(const std::vector<double>& values, std::size_t total, double ewma_mean,
               double ewma_var);

  std::size_t count() const { return window_.size(); }
  std::size_t total_seen() const { return total_; }
  double Median() const;
  // Median absolute deviation from the median (raw, not scaled).
  double Mad() const;
  // 1.4826 * MAD (the normal-consistent sigma), floored as described above.
  double Scale() const;
  // Robust deviation of x in scale units (positive = above the median).
  double Deviation(double x) const;
  // Exact quantile of the window, q in [0,1], linear interpolation.
  double Quantile(double q) const;
  double RollingMean() const;
  double RollingVariance() const;
  double EwmaMean() const { return ewma_mean_; }
  double EwmaVariance() const { return ewma_var_; }
  const std::vector<double>& values() const { return window_; }  // oldest first

 private:
  using Acc = boost::accumulators::accumulator_set<
      double, boost::accumulators::stats<boost::accumulators::tag::rolling_mean,
                                         boost::accumulators::tag::rolling_variance>>;
  BaselineOptions options_;
  std::vector<double> window_;  // oldest first, at most options_.window
  Acc acc_;
  std::size_t total_ = 0;
  double ewma_mean_ = 0;
  double ewma_var_ = 0;
};

}  // namespace cicd::detector
