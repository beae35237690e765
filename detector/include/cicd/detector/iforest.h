#pragma once
// Isolation forest (Liu, Ting & Zhou, ICDM 2008): anomalies are the points
// that random axis-parallel splits isolate in few steps.
//
// Pure model code: no I/O, no clock, no global state. Randomness comes from a
// caller-seeded generator, so a fit is reproducible from (data, options, seed).
//
// Thread-safety: a fitted IsolationForest is immutable; every const method may
// be called from any number of threads at once.

#include <cstddef>
#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cicd/core/result.h"

namespace cicd::detector {

// A read-only, row-major matrix of features: row r is
// values[r * cols, (r + 1) * cols). Does not own the values.
struct FeatureMatrix {
  std::span<const double> values;
  std::size_t rows = 0;
  std::size_t cols = 0;
};

struct IsolationForestOptions {
  // Number of trees t. More trees lower the variance of the scores; the cost
  // of fitting and scoring grows linearly. Default 100 (the paper's choice).
  // Must be in [1, IsolationForest::kMaxTrees].
  int num_trees = 100;
  // Subsample size psi drawn without replacement for each tree, clipped to the
  // number of rows. Small subsamples isolate anomalies better (less swamping
  // and masking); the height limit is ceil(log2 psi). Default 256.
  // Must be in [1, IsolationForest::kMaxSampleSize].
  int sample_size = 256;
};

struct ScoreOptions {
  // Worker threads for batch scoring; 0 means one per hardware thread. The
  // scores do not depend on the thread count.
  int threads = 1;
};

namespace detail {

// One node of an isolation tree as fitted and serialised. Internal: points
// with x[feature] < split go to `child`, the others to `child + 1` (indices
// local to the tree). External (feature == kLeaf): `child` holds the number of
// training points that reached it.
struct IsolationTreeNode {
  static constexpr std::uint16_t kLeaf = 0xFFFF;
  float split;
  std::uint16_t feature;
  std::uint16_t child;
};

}  // namespace detail

// t isolation trees, each grown on psi rows drawn without replacement: a
// node picks a feature at random among those that vary in it (a node where
// every feature is constant becomes external) and a split uniformly between
// the feature's min and max there, down to the height limit ceil(log2 psi).
// Splits are stored as floats, so values that no float separates count as
// equal. The score of x is 2^(-E(h(x)) / c(psi)), h being the depth of the
// external node x reaches plus c(points there).
//
// Copyable and movable; scoring is batched, multi-threaded on request and
// deterministic (see Score).
class IsolationForest {
 public:
  // Scoring unrolls every tree to a complete tree of height ceil(log2 psi),
  // about 12 bytes per leaf: 48 KiB per tree at psi = 4096, 3 KiB at 256.
  static constexpr int kMaxSampleSize = 4096;
  static constexpr int kMaxTrees = 10000;
  // Features are indexed with 16 bits (one value is reserved for leaves).
  static constexpr std::size_t kMaxFeatures = 65535;

  // Fits a forest on `data` (rows = points). Draws everything from `rng`.
  // Errors (kInvalidArgument): no rows or no features, too many features,
  // options out of range, a NaN or infinite value (the message names the row
  // and feature, both 0-based).
  static Result<IsolationForest> Fit(const FeatureMatrix& data,
                                     const IsolationForestOptions& options, std::mt19937_64& rng);

  // Anomaly scores s(x) = 2^(-E(h(x)) / c(psi)) in (0, 1], one per row of
  // `data`: close to 1 is anomalous, well below 0.5 is normal. Errors
  // (kInvalidArgument): a column count different from the fitted one, a
  // non-finite value. Deterministic for any ScoreOptions::threads.
  Result<std::vector<double>> Score(const FeatureMatrix& data,
                                    const ScoreOptions& options = {}) const;
  // Score of one point; `row` holds num_features() values.
  Result<double> ScoreRow(std::span<const double> row) const;
  // E(h(x)): the path length of one point averaged over the trees, with the
  // c(size) adjustment at external nodes. Same errors as ScoreRow.
  Result<double> ExpectedPathLength(std::span<const double> row) const;

  std::size_t num_features() const { return num_features_; }
  int num_trees() const { return static_cast<int>(tree_begin_.size()) - 1; }
  // psi actually used: min(options.sample_size, rows).
  int sample_size() const { return sample_size_; }
  // Nodes over all trees as fitted (the serialised model is 8 bytes a node
  // plus a header of 32 + 4 * num_trees() bytes).
  std::size_t num_nodes() const { return nodes_.size(); }

  // Frees the unrolled scoring tables (about 3 KiB a tree at psi = 256, 300
  // KiB for 100 trees) and keeps only the fitted nodes (8 bytes a node):
  // scoring then walks the nodes, with the same scores at a fraction of the
  // batch speed. For models kept by the thousand that score a row at a time.
  // Not thread-safe against concurrent scoring (it is not const).
  void Compact();
  bool compacted() const { return split_.empty(); }

  // A self-contained binary encoding: magic, format version, the trees and a
  // checksum. Deserialize(Serialize()) scores exactly like the original.
  std::string Serialize() const;
  // Errors (kParse): wrong magic, unsupported version, checksum mismatch,
  // truncation, or a structurally invalid tree. Never trusts the input.
  static Result<IsolationForest> Deserialize(std::string_view bytes);

 private:
  using Node = detail::IsolationTreeNode;

  IsolationForest() = default;

  // Checks the trees in nodes_ and builds the scoring form from them.
  // Errors (kParse) when a tree is not well formed.
  Status Prepare();
  void ScoreRange(const FeatureMatrix& data, std::size_t begin, std::size_t end, double* out) const;
  double PathLengthSum(std::span<const double> row) const;

  std::size_t num_features_ = 0;
  int sample_size_ = 0;
  // Node array of all trees, tree t at [tree_begin_[t], tree_begin_[t + 1]);
  // nodes_ is what is fitted and serialised. Child indices are tree-local.
  std::vector<std::uint32_t> tree_begin_;
  std::vector<Node> nodes_;

  // Scoring form: each tree unrolled to a complete binary tree of height_
  // levels, internal slot i with children 2i + 1 and 2i + 2, so a traversal
  // is height_ branch-free steps with no child pointers to load. A leaf
  // above the last level continues as a chain of slots whose split is +inf
  // (always left). Tree t owns slots [t * (2^h - 1), (t + 1) * (2^h - 1)) of
  // split_ and feature_, and [t * 2^h, (t + 1) * 2^h) of path_length_.
  // split_ holds order-preserving integer keys of the splits, feature_ the
  // feature index times kLanes (see ScoreRange).
  static constexpr std::size_t kLanes = 12;
  int height_ = 0;
  std::vector<std::uint32_t> split_;
  std::vector<std::uint32_t> feature_;
  // depth + c(size) of the leaf that ends at each last-level slot.
  std::vector<float> path_length_;
};

// c(n): the average path length of an unsuccessful search in a binary search
// tree of n points, 2 H(n-1) - 2 (n-1) / n with H(i) ~ ln(i) + 0.5772156649.
// c(2) = 1, c(1) = c(0) = 0.
double AveragePathLength(double n);

// Area under the ROC curve of `scores` (higher = more anomalous) against
// `labels` (non-zero = anomaly): the probability that a random anomaly scores
// above a random normal point, ties counting one half (average ranks).
// Errors (kInvalidArgument): sizes differ, a NaN score, or one class is empty.
Result<double> RocAuc(std::span<const double> scores, std::span<const std::uint8_t> labels);

}  // namespace cicd::detector
