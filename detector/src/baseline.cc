#include "cicd/detector/baseline.h"

#include <algorithm>
#include <cmath>

namespace cicd::detector {
namespace acc = boost::accumulators;

namespace {

double MedianOf(std::vector<double> v) {
  if (v.empty()) return 0;
  const std::size_t mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + mid, v.end());
  const double hi = v[mid];
  if (v.size() % 2 == 1) return hi;
  const double lo = *std::max_element(v.begin(), v.begin() + mid);
  return (lo + hi) / 2;
}

}  // namespace

RobustBaseline::RobustBaseline(BaselineOptions options)
    : options_(options), acc_(acc::tag::rolling_window::window_size = std::max<std::size_t>(options.window, 2)) {}

void RobustBaseline::Restore(const std::vector<double>& values, std::size_t total,
                             double ewma_mean, double ewma_var) {
  Reset();
  for (double x : values) Add(x);
  total_ = std::max(total, window_.size());
  ewma_mean_ = ewma_mean;
  ewma_var_ = ewma_var;
}

void RobustBaseline::Add(double x) {
  if (window_.size() == options_.window) window_.erase(window_.begin());
  window_.push_back(x);
  acc_(x);
  if (total_ == 0) {
    ewma_mean_ = x;
    ewma_var_ = 0;
  } else {
    const double a = options_.ewma_alpha;
    const double diff = x - ewma_mean_;
    const double incr = a * diff;
    ewma_mean_ += incr;
    ewma_var_ = (1 - a) * (ewma_var_ + diff * incr);
  }
  ++total_;
}

void RobustBaseline::Reset() { *this = RobustBaseline(options_); }

double RobustBaseline::Median() const { return MedianOf(window_); }

double RobustBaseline::Mad() const {
  const double m = Median();
  std::vector<double> dev;
  dev.reserve(window_.size());
  for (double v : window_) dev.push_back(std::fabs(v - m));
  return MedianOf(std::move(dev));
}

double RobustBaseline::Scale() const {
  const double floor = std::max(options_.abs_floor, options_.rel_floor * std::fabs(Median()));
  return std::max(1.4826 * Mad(), floor);
}

double RobustBaseline::Deviation(double x) const { return (x - Median()) / Scale(); }

double RobustBaseline::Quantile(double q) const {
  if (window_.empty()) return 0;
  std::vector<double> v = window_;
  std::sort(v.begin(), v.end());
  const double pos = std::clamp(q, 0.0, 1.0) * static_cast<double>(v.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(pos));
  const auto hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (pos - static_cast<double>(lo)) * (v[hi] - v[lo]);
}

double RobustBaseline::RollingMean() const { return acc::rolling_mean(acc_); }
double RobustBaseline::RollingVariance() const { return acc::rolling_variance(acc_); }

}  // namespace cicd::detector
