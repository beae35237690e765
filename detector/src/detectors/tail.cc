#include "detectors/tail.h"

#include <algorithm>
#include <cmath>

namespace cicd::detector::detail {
namespace {

// Probabilists' 5-point Gauss-Hermite rule: E[f(Z)], Z ~ N(0, 1).
constexpr double kNodes[5] = {-2.8569700138728056, -1.3556261799742657, 0.0, 1.3556261799742657,
                              2.8569700138728056};
constexpr double kWeights[5] = {0.011257411327720691, 0.22207592200561266, 0.5333333333333333,
                                0.22207592200561266, 0.011257411327720691};
constexpr double kMinShape = -0.2;
constexpr double kMaxShape = 0.8;
constexpr std::size_t kMinTailValues = 40;

struct Gpd {
  double u = 0;      // threshold
  double share = 0;  // P(X > u)
  double shape[5] = {};
  double scale[5] = {};
  // P(X > u + y | X > u), averaged over the shape's uncertainty.
  double Sf(double y) const {
    double p = 0;
    for (int i = 0; i < 5; ++i) {
      const double xi = shape[i];
      const double z = y / scale[i];
      double s = 0;
      if (std::fabs(xi) < 1e-9) {
        s = std::exp(-z);
      } else {
        const double base = 1 + xi * z;
        s = base > 0 ? std::pow(base, -1 / xi) : 0.0;
      }
      p += kWeights[i] * s;
    }
    return p;
  }
};

// Fits the tail of n values read through at(i) (i = 0 the largest).
template <typename At>
bool Fit(At at, std::size_t n, double tail_share, Gpd& g) {
  if (n < kMinTailValues) return false;
  std::size_t k = std::max<std::size_t>(TailWindow::kMinExcesses,
                                        static_cast<std::size_t>(std::llround(tail_share * n)));
  k = std::min(k, n / 2);
  g.u = at(k);
  // Probability weighted moments of the excesses in ascending order.
  double a0 = 0, a1 = 0;
  for (std::size_t j = 0; j < k; ++j) {
    const double y = std::max(0.0, at(k - 1 - j) - g.u);
    a0 += y;
    a1 += y * (1 - (j + 0.65) / k);
  }
  a0 /= k;
  a1 /= k;
  const double d = a0 - 2 * a1;
  // Excesses that are all (nearly) zero are a flat series, not a heavy tail.
  double shape = a0 < TailWindow::kMinScale ? 0.0 : d > 1e-12 ? 2 - a0 / d : kMaxShape;
  shape = std::clamp(shape, kMinShape, kMaxShape);
  const double mean_excess = std::max(a0, TailWindow::kMinScale);
  const double se = (1 + std::max(shape, 0.0)) / std::sqrt(2.0 * k);
  for (int i = 0; i < 5; ++i) {
    g.shape[i] = std::clamp(shape + kNodes[i] * se, kMinShape, kMaxShape);
    // The GPD's mean excess is scale / (1 - shape).
    g.scale[i] = mean_excess * (1 - g.shape[i]);
  }
  g.share = (k + 0.5) / (n + 1.0);
  return true;
}

}  // namespace

double NormalQuantile(double p) {
  static constexpr double a[] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                                 1.383577518672690e+02,  -3.066479806614716e+01, 2.506628277459239e+00};
  static constexpr double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                                 6.680131188771972e+01,  -1.328068155288572e+01};
  static constexpr double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                                 -2.549732539343734e+00, 4.374664141464968e+00,  2.938163982698783e+00};
  static constexpr double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                                 3.754408661907416e+00};
  p = std::clamp(p, 1e-300, 1 - 1e-16);
  constexpr double kLow = 0.02425;
  if (p < kLow) {
    const double q = std::sqrt(-2 * std::log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
           ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  if (p > 1 - kLow) return -NormalQuantile(1 - p);
  const double q = p - 0.5;
  const double r = q * q;
  return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
         (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

TailWindow::TailWindow(std::size_t capacity, double tail_share)
    : capacity_(std::max<std::size_t>(capacity, 1)), tail_share_(tail_share) {}

void TailWindow::Add(double x) {
  order_.push_back(x);
  sorted_.insert(std::upper_bound(sorted_.begin(), sorted_.end(), x), x);
  if (order_.size() > capacity_) {
    const double old = order_.front();
    order_.pop_front();
    sorted_.erase(std::lower_bound(sorted_.begin(), sorted_.end(), old));
  }
}

void TailWindow::Clear() {
  order_.clear();
  sorted_.clear();
}

double TailWindow::Quantile(double q) const {
  const double pos = std::clamp(q, 0.0, 1.0) * static_cast<double>(sorted_.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(pos));
  const std::size_t hi = std::min(lo + 1, sorted_.size() - 1);
  return sorted_[lo] + (pos - static_cast<double>(lo)) * (sorted_[hi] - sorted_[lo]);
}

double TailWindow::UpperP(double x) const {
  const std::size_t n = sorted_.size();
  if (n < 2) return 1.0;
  Gpd g;
  if (Fit([&](std::size_t i) { return sorted_[n - 1 - i]; }, n, tail_share_, g) && x > g.u) {
    return std::max(1e-300, g.share * g.Sf(x - g.u));
  }
  const auto lo = std::lower_bound(sorted_.begin(), sorted_.end(), x);
  const auto hi = std::upper_bound(lo, sorted_.end(), x);
  const double above = static_cast<double>(sorted_.end() - hi);
  const double equal = static_cast<double>(hi - lo);
  return std::min(1.0, (above + 0.5 * equal + 0.5) / (n + 1.0));
}

double TailWindow::LowerP(double x) const {
  const std::size_t n = sorted_.size();
  if (n < 2) return 1.0;
  Gpd g;
  if (Fit([&](std::size_t i) { return -sorted_[i]; }, n, tail_share_, g) && -x > g.u) {
    return std::max(1e-300, g.share * g.Sf(-x - g.u));
  }
  const auto lo = std::lower_bound(sorted_.begin(), sorted_.end(), x);
  const auto hi = std::upper_bound(lo, sorted_.end(), x);
  const double below = static_cast<double>(lo - sorted_.begin());
  const double equal = static_cast<double>(hi - lo);
  return std::min(1.0, (below + 0.5 * equal + 0.5) / (n + 1.0));
}

double TailWindow::UpperValueAt(double p) const {
  const std::size_t n = sorted_.size();
  Gpd g;
  if (!Fit([&](std::size_t i) { return sorted_[n - 1 - i]; }, n, tail_share_, g) || p >= g.share) {
    return Quantile(1 - p);
  }
  const double target = p / g.share;
  double lo = 0, hi = std::max(g.scale[2], kMinScale);
  for (int i = 0; i < 200 && g.Sf(hi) > target; ++i) hi *= 2;
  for (int i = 0; i < 100; ++i) {
    const double mid = (lo + hi) / 2;
    (g.Sf(mid) > target ? lo : hi) = mid;
  }
  return g.u + hi;
}

}  // namespace cicd::detector::detail
