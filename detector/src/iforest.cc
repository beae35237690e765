#include "cicd/detector/iforest.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <optional>
#include <thread>
#include <utility>

namespace cicd::detector {
namespace {

using Node = detail::IsolationTreeNode;

constexpr double kEulerGamma = 0.5772156649;
constexpr char kMagic[8] = {'C', 'I', 'C', 'D', 'I', 'F', 'O', 'R'};
constexpr std::uint32_t kFormatVersion = 1;
constexpr std::size_t kHeaderBytes = sizeof(kMagic) + 4 * 4;
constexpr std::size_t kNodeBytes = 8;
constexpr std::size_t kChecksumBytes = 8;

// Own integer and real draws rather than std::uniform_*_distribution, whose
// algorithms differ between standard libraries: a seed must mean the same
// forest everywhere.
std::uint64_t UniformIndex(std::mt19937_64& rng, std::uint64_t n) {
  const std::uint64_t threshold = (0 - n) % n;  // 2^64 mod n: rejects the bias
  for (;;) {
    const std::uint64_t r = rng();
    if (r >= threshold) return r % n;
  }
}

double Uniform01(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

// ceil(log2 psi), the paper's height limit l.
int HeightLimit(int psi) { return psi <= 1 ? 0 : std::bit_width(static_cast<unsigned>(psi - 1)); }

// A float threshold t with lo < t <= hi, so both sides of `x < t` hold a
// point; nullopt when no float lies in (lo, hi]: then the feature cannot
// separate these points at the precision the model stores.
std::optional<float> FloatSplit(double lo, double hi, double u) {
  constexpr float kInf = std::numeric_limits<float>::infinity();
  float t = static_cast<float>(lo * (1 - u) + hi * u);
  if (!(t > lo)) {
    t = static_cast<float>(lo);
    if (!(t > lo)) t = std::nextafter(t, kInf);
  }
  if (!(t <= hi)) {
    t = static_cast<float>(hi);
    if (!(t <= hi)) t = std::nextafter(t, -kInf);
  }
  if (t > lo && t <= hi) return t;
  return std::nullopt;
}

// Scoring compares order-preserving integer keys of floats rather than
// floats: an integer compare sits on a shorter chain of dependent
// instructions than a float load and compare.
//
// OrderKey maps floats to unsigned integers in the same order (negative
// floats have their bits flipped, positive ones their sign bit set); -0 is
// folded into +0 first because the two compare equal as floats.
std::uint32_t OrderKey(float f) {
  const auto bits = std::bit_cast<std::uint32_t>(f + 0.0f);
  return (bits & 0x80000000u) ? ~bits : bits | 0x80000000u;
}

// The key of the largest float <= v. Comparing it with a split's key decides
// exactly as comparing v with the split would (v >= s iff RoundDown(v) >= s
// for every float s), so scoring agrees with the fit, which compares doubles.
std::uint32_t RowKey(double v) {
  float f = static_cast<float>(v);
  if (f > v) f = std::nextafter(f, -std::numeric_limits<float>::infinity());
  return OrderKey(f);
}

// Adds one tree's path lengths to `sums` for `groups` groups of
// IsolationForest::kLanes rows laid out as ScoreRange describes. A separate
// function so the tree's arrays arrive in registers: inlined, the compiler
// re-adds the tree offset on every step.
template <std::size_t kLanes>
[[gnu::noinline]] void TraverseBlock(const std::uint32_t* split, const std::uint32_t* feature,
                                     const float* path_length, int height, const std::uint32_t* x,
                                     std::size_t cols, std::size_t groups, double* sums) {
  const std::size_t stride = cols * kLanes;
  for (const std::uint32_t* group = x; group != x + groups * stride;
       group += stride, sums += kLanes) {
    std::array<std::size_t, kLanes> idx{};
    for (int s = 0; s < height; ++s) {
#pragma GCC unroll 16
      for (std::size_t l = 0; l < kLanes; ++l) {
        const std::size_t i = idx[l];
        idx[l] = 2 * i + 1 + (group[feature[i] + l] >= split[i] ? 1 : 0);
      }
    }
#pragma GCC unroll 16
    for (std::size_t l = 0; l < kLanes; ++l) sums[l] += path_length[idx[l]];
  }
}

double ScoreFromPathSum(double sum, int trees, double c_psi) {
  // psi = 1 leaves nothing to normalise by; 0.5 is "no information", as in
  // scikit-learn.
  if (c_psi <= 0) return 0.5;
  return std::exp2(-(sum / trees) / c_psi);
}

Status CheckFinite(const FeatureMatrix& data, std::string_view what) {
  const double* v = data.values.data();
  for (std::size_t i = 0; i < data.rows * data.cols; ++i) {
    if (std::isfinite(v[i])) continue;
    return InvalidArgument(std::string(what) + ": row " + std::to_string(i / data.cols) +
                           ", feature " + std::to_string(i % data.cols) + " is " +
                           (std::isnan(v[i]) ? "NaN" : "infinite") +
                           "; the isolation forest needs finite numbers");
  }
  return Status::Ok();
}

Status CheckRow(std::span<const double> row, std::size_t num_features) {
  if (row.size() != num_features) {
    return InvalidArgument("model has " + std::to_string(num_features) + " features, row has " +
                           std::to_string(row.size()));
  }
  return CheckFinite(FeatureMatrix{row, 1, row.size()}, "score");
}

Status CheckShape(const FeatureMatrix& data) {
  if (data.values.size() != data.rows * data.cols) {
    return InvalidArgument("feature matrix holds " + std::to_string(data.values.size()) +
                           " values, not rows x cols = " + std::to_string(data.rows) + " x " +
                           std::to_string(data.cols));
  }
  return Status::Ok();
}

// Grows one isolation tree on a subsample, in a contiguous node array with
// each pair of children side by side.
class TreeBuilder {
 public:
  TreeBuilder(std::size_t cols, int psi, std::mt19937_64& rng)
      : cols_(cols),
        psi_(static_cast<std::size_t>(psi)),
        height_limit_(HeightLimit(psi)),
        rng_(rng),
        columns_(cols * psi_),
        order_(psi_),
        features_(cols) {
    std::iota(features_.begin(), features_.end(), std::uint16_t{0});
  }

  // `sample` holds psi row indices of `data`; appends the tree to `out`.
  void Build(const FeatureMatrix& data, std::span<const std::uint32_t> sample,
             std::vector<Node>& out) {
    // Column-major copy: a node scans one feature of its points.
    for (std::size_t i = 0; i < psi_; ++i) {
      const double* row = data.values.data() + std::size_t{sample[i]} * cols_;
      for (std::size_t f = 0; f < cols_; ++f) columns_[f * psi_ + i] = row[f];
    }
    std::iota(order_.begin(), order_.end(), std::uint32_t{0});
    nodes_.assign(1, Node{});
    Grow(0, 0, static_cast<std::uint32_t>(psi_), 0);
    out.insert(out.end(), nodes_.begin(), nodes_.end());
  }

 private:
  void Grow(std::uint32_t node, std::uint32_t begin, std::uint32_t end, int depth) {
    const std::uint32_t n = end - begin;
    if (depth < height_limit_ && n > 1) {
      // Features are drawn without replacement until one varies among these
      // points. features_ is only ever permuted, so every draw is uniform
      // over the features still untried here.
      for (std::size_t remaining = cols_; remaining > 0; --remaining) {
        const std::size_t k = UniformIndex(rng_, remaining);
        const std::uint16_t f = features_[k];
        if (TrySplit(node, begin, end, depth, f)) return;
        std::swap(features_[k], features_[remaining - 1]);
      }
    }
    nodes_[node] = Node{0.0f, Node::kLeaf, static_cast<std::uint16_t>(n)};
  }

  bool TrySplit(std::uint32_t node, std::uint32_t begin, std::uint32_t end, int depth,
                std::uint16_t f) {
    const double* col = columns_.data() + f * psi_;
    double lo = col[order_[begin]];
    double hi = lo;
    for (std::uint32_t i = begin + 1; i < end; ++i) {
      lo = std::min(lo, col[order_[i]]);
      hi = std::max(hi, col[order_[i]]);
    }
    if (!(lo < hi)) return false;
    const std::optional<float> split = FloatSplit(lo, hi, Uniform01(rng_));
    if (!split) return false;
    const auto mid = static_cast<std::uint32_t>(
        std::partition(order_.begin() + begin, order_.begin() + end,
                       [&](std::uint32_t i) { return col[i] < *split; }) -
        order_.begin());
    const auto child = static_cast<std::uint32_t>(nodes_.size());
    nodes_.resize(nodes_.size() + 2);
    nodes_[node] = Node{*split, f, static_cast<std::uint16_t>(child)};
    Grow(child, begin, mid, depth + 1);
    Grow(child + 1, mid, end, depth + 1);
    return true;
  }

  const std::size_t cols_;
  const std::size_t psi_;
  const int height_limit_;
  std::mt19937_64& rng_;
  std::vector<double> columns_;       // columns_[f * psi + i]
  std::vector<std::uint32_t> order_;  // sample positions, partitioned per node
  std::vector<std::uint16_t> features_;
  std::vector<Node> nodes_;
};

// Little-endian encoding, independent of the host's byte order.
void PutU32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
void PutU16(std::string& out, std::uint16_t v) {
  out.push_back(static_cast<char>(v & 0xFF));
  out.push_back(static_cast<char>(v >> 8));
}
void PutU64(std::string& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
std::uint64_t GetLE(std::string_view bytes, std::size_t at, int width) {
  std::uint64_t v = 0;
  for (int i = width - 1; i >= 0; --i) {
    v = (v << 8) | static_cast<unsigned char>(bytes[at + static_cast<std::size_t>(i)]);
  }
  return v;
}

// FNV-1a: detects truncation and bit rot; not a defence against tampering.
std::uint64_t Checksum(std::string_view bytes) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

}  // namespace

double AveragePathLength(double n) {
  if (n <= 1) return 0;
  if (n <= 2) return 1;
  return 2 * (std::log(n - 1) + kEulerGamma) - 2 * (n - 1) / n;
}

Result<IsolationForest> IsolationForest::Fit(const FeatureMatrix& data,
                                             const IsolationForestOptions& options,
                                             std::mt19937_64& rng) {
  if (options.num_trees < 1 || options.num_trees > kMaxTrees) {
    return InvalidArgument("number of trees must be in [1, " + std::to_string(kMaxTrees) +
                           "], not " + std::to_string(options.num_trees));
  }
  if (options.sample_size < 1 || options.sample_size > kMaxSampleSize) {
    return InvalidArgument("sample size must be in [1, " + std::to_string(kMaxSampleSize) +
                           "], not " + std::to_string(options.sample_size));
  }
  if (data.rows == 0 || data.cols == 0) {
    return InvalidArgument("cannot fit an isolation forest on " + std::to_string(data.rows) +
                           " rows x " + std::to_string(data.cols) + " features");
  }
  if (data.cols > kMaxFeatures) {
    return InvalidArgument("at most " + std::to_string(kMaxFeatures) + " features, not " +
                           std::to_string(data.cols));
  }
  if (data.rows > std::numeric_limits<std::uint32_t>::max()) {
    return InvalidArgument("at most 2^32 - 1 rows");
  }
  if (Status s = CheckShape(data); !s.ok()) return s;
  if (Status s = CheckFinite(data, "fit"); !s.ok()) return s;

  IsolationForest forest;
  forest.num_features_ = data.cols;
  forest.sample_size_ = static_cast<int>(
      std::min<std::size_t>(static_cast<std::size_t>(options.sample_size), data.rows));
  const auto psi = static_cast<std::size_t>(forest.sample_size_);

  // A partial Fisher-Yates shuffle per tree draws psi distinct rows; reusing
  // the pool between trees keeps each draw uniform and costs O(psi), not O(n).
  std::vector<std::uint32_t> pool(data.rows);
  std::iota(pool.begin(), pool.end(), std::uint32_t{0});
  TreeBuilder builder(data.cols, forest.sample_size_, rng);
  forest.tree_begin_.reserve(static_cast<std::size_t>(options.num_trees) + 1);
  forest.tree_begin_.push_back(0);
  for (int t = 0; t < options.num_trees; ++t) {
    for (std::size_t i = 0; i < psi; ++i) {
      std::swap(pool[i], pool[i + UniformIndex(rng, data.rows - i)]);
    }
    builder.Build(data, std::span(pool).first(psi), forest.nodes_);
    forest.tree_begin_.push_back(static_cast<std::uint32_t>(forest.nodes_.size()));
  }
  if (Status s = forest.Prepare(); !s.ok()) {
    return Status::Error(ErrorCode::kInternal, "fitted forest is malformed: " + s.message());
  }
  return forest;
}

Status IsolationForest::Prepare() {
  height_ = HeightLimit(sample_size_);
  const std::size_t num_trees = tree_begin_.size() - 1;
  const std::size_t leaves = std::size_t{1} << height_;
  const std::size_t internal = leaves - 1;
  split_.assign(num_trees * internal, OrderKey(std::numeric_limits<float>::infinity()));
  feature_.assign(num_trees * internal, 0);
  path_length_.assign(num_trees * leaves, 0.0f);
  std::vector<int> depth;
  std::vector<std::uint32_t> slot;  // complete-tree slot of each node
  for (std::size_t t = 0; t < num_trees; ++t) {
    const std::string where = "tree " + std::to_string(t);
    const std::uint32_t begin = tree_begin_[t];
    if (tree_begin_[t + 1] <= begin || tree_begin_[t + 1] - begin > 0xFFFF) {
      return ParseError(where + ": bad node count");
    }
    const std::uint32_t count = tree_begin_[t + 1] - begin;
    std::uint32_t* split = split_.data() + t * internal;
    std::uint32_t* feature = feature_.data() + t * internal;
    float* path_length = path_length_.data() + t * leaves;
    // Children always follow their parent, so one forward pass sees every
    // parent before its children; -1 marks a node no parent reached yet.
    depth.assign(count, -1);
    slot.assign(count, 0);
    depth[0] = 0;
    std::size_t leaf_points = 0;
    for (std::uint32_t i = 0; i < count; ++i) {
      const Node& n = nodes_[begin + i];
      const int d = depth[i];
      if (d < 0) return ParseError(where + ": node " + std::to_string(i) + " is unreachable");
      if (n.feature == Node::kLeaf) {
        if (n.child < 1 || n.child > sample_size_) {
          return ParseError(where + ": leaf " + std::to_string(i) + " holds " +
                            std::to_string(n.child) + " points");
        }
        leaf_points += n.child;
        // The +inf splits already in place send the chain left to the last
        // level.
        const std::size_t last = ((std::size_t{slot[i]} + 1) << (height_ - d)) - 1;
        path_length[last - internal] = static_cast<float>(d + AveragePathLength(n.child));
        continue;
      }
      if (n.feature >= num_features_ || !std::isfinite(n.split) || n.child <= i ||
          std::uint32_t{n.child} + 1 >= count || depth[n.child] >= 0 || depth[n.child + 1] >= 0 ||
          d + 1 > height_) {
        return ParseError(where + ": node " + std::to_string(i) + " is malformed");
      }
      depth[n.child] = depth[n.child + 1] = d + 1;
      slot[n.child] = 2 * slot[i] + 1;
      slot[n.child + 1] = 2 * slot[i] + 2;
      split[slot[i]] = OrderKey(n.split);
      feature[slot[i]] = std::uint32_t{n.feature} * kLanes;
    }
    if (leaf_points != static_cast<std::size_t>(sample_size_)) {
      return ParseError(where + ": leaves hold " + std::to_string(leaf_points) +
                        " points, not the sample size " + std::to_string(sample_size_));
    }
  }
  return Status::Ok();
}

void IsolationForest::Compact() {
  // Swapping with empty vectors releases the memory (assigning {} keeps the
  // capacity).
  std::vector<std::uint32_t>().swap(split_);
  std::vector<std::uint32_t>().swap(feature_);
  std::vector<float>().swap(path_length_);
  nodes_.shrink_to_fit();
}

double IsolationForest::PathLengthSum(std::span<const double> row) const {
  std::vector<std::uint32_t> x(row.size());
  std::transform(row.begin(), row.end(), x.begin(), RowKey);
  if (compacted()) {
    // The same comparisons and float path lengths as the unrolled tables.
    double sum = 0;
    for (std::size_t t = 0; t + 1 < tree_begin_.size(); ++t) {
      const Node* tree = nodes_.data() + tree_begin_[t];
      std::uint32_t i = 0;
      int depth = 0;
      while (tree[i].feature != Node::kLeaf) {
        i = tree[i].child + (x[tree[i].feature] >= OrderKey(tree[i].split) ? 1 : 0);
        ++depth;
      }
      sum += static_cast<float>(depth + AveragePathLength(tree[i].child));
    }
    return sum;
  }
  const std::size_t leaves = std::size_t{1} << height_;
  const std::size_t internal = leaves - 1;
  double sum = 0;
  for (std::size_t t = 0; t < static_cast<std::size_t>(num_trees()); ++t) {
    const std::uint32_t* split = split_.data() + t * internal;
    const std::uint32_t* feature = feature_.data() + t * internal;
    std::size_t idx = 0;
    for (int s = 0; s < height_; ++s) {
      idx = 2 * idx + 1 + (x[feature[idx] / kLanes] >= split[idx] ? 1 : 0);
    }
    sum += path_length_[t * leaves + idx - internal];
  }
  return sum;
}

void IsolationForest::ScoreRange(const FeatureMatrix& data, std::size_t begin, std::size_t end,
                                 double* out) const {
  if (compacted()) {
    const double c_psi = AveragePathLength(sample_size_);
    for (std::size_t r = begin; r < end; ++r) {
      out[r] = ScoreFromPathSum(PathLengthSum(data.values.subspan(r * data.cols, data.cols)), num_trees(), c_psi);
    }
    return;
  }
  // Rows are scored in blocks against one tree at a time, so the tree stays
  // in L1 cache, and kLanes traversals advance in lock step so their chains
  // of dependent loads overlap. Within a block, the keys (RowKey) of each
  // group of kLanes rows are stored feature-major
  // (x[(group * cols + f) * kLanes + lane]) and feature_ holds f * kLanes: a
  // lane's value is then one load at a constant offset from the group, and
  // no register is spent on row pointers. Each row still sums its trees in
  // tree order, which keeps the result independent of blocks and threads.
  const std::size_t cols = data.cols;
  // A block of keys stays within 32 KiB (L1).
  const std::size_t groups = std::clamp<std::size_t>(8192 / cols / kLanes, 1, 32);
  const std::size_t block_rows = groups * kLanes;
  std::vector<std::uint32_t> x(block_rows * cols);
  std::vector<double> sums(block_rows);
  const std::size_t leaves = std::size_t{1} << height_;
  const std::size_t internal = leaves - 1;
  const std::size_t trees = static_cast<std::size_t>(num_trees());
  const double c_psi = AveragePathLength(sample_size_);
  for (std::size_t b = begin; b < end; b += block_rows) {
    const std::size_t m = std::min(block_rows, end - b);
    // Lanes past the block's end score zeros; their sums are never read.
    if (m < block_rows) std::fill(x.begin(), x.end(), 0u);
    for (std::size_t r = 0; r < m; ++r) {
      const double* row = data.values.data() + (b + r) * cols;
      std::uint32_t* group = x.data() + (r / kLanes) * cols * kLanes + r % kLanes;
      for (std::size_t f = 0; f < cols; ++f) group[f * kLanes] = RowKey(row[f]);
    }
    std::fill(sums.begin(), sums.end(), 0.0);
    const std::size_t used_groups = (m + kLanes - 1) / kLanes;
    for (std::size_t t = 0; t < trees; ++t) {
      TraverseBlock<kLanes>(split_.data() + t * internal, feature_.data() + t * internal,
                            path_length_.data() + t * leaves - internal, height_, x.data(), cols,
                            used_groups, sums.data());
    }
    for (std::size_t r = 0; r < m; ++r) {
      out[b + r] = ScoreFromPathSum(sums[r], num_trees(), c_psi);
    }
  }
}

Result<std::vector<double>> IsolationForest::Score(const FeatureMatrix& data,
                                                   const ScoreOptions& options) const {
  if (data.cols != num_features_) {
    return InvalidArgument("model has " + std::to_string(num_features_) + " features, data has " +
                           std::to_string(data.cols));
  }
  if (options.threads < 0) {
    return InvalidArgument("threads must be >= 0, not " + std::to_string(options.threads));
  }
  if (Status s = CheckShape(data); !s.ok()) return s;
  if (Status s = CheckFinite(data, "score"); !s.ok()) return s;

  std::vector<double> scores(data.rows);
  std::size_t threads = options.threads > 0 ? static_cast<std::size_t>(options.threads)
                                            : std::max(1u, std::thread::hardware_concurrency());
  // Below a few thousand rows a thread costs more than it saves.
  constexpr std::size_t kMinRowsPerThread = 4096;
  threads = std::clamp<std::size_t>(data.rows / kMinRowsPerThread, 1, threads);
  const std::size_t per_thread = (data.rows + threads - 1) / threads;
  std::vector<std::thread> workers;
  workers.reserve(threads - 1);
  for (std::size_t i = 1; i < threads; ++i) {
    const std::size_t begin = std::min(data.rows, i * per_thread);
    const std::size_t end = std::min(data.rows, begin + per_thread);
    workers.emplace_back(
        [this, &data, &scores, begin, end] { ScoreRange(data, begin, end, scores.data()); });
  }
  ScoreRange(data, 0, std::min(data.rows, per_thread), scores.data());
  for (std::thread& w : workers) w.join();
  return scores;
}

Result<double> IsolationForest::ExpectedPathLength(std::span<const double> row) const {
  if (Status s = CheckRow(row, num_features_); !s.ok()) return s;
  return PathLengthSum(row) / num_trees();
}

Result<double> IsolationForest::ScoreRow(std::span<const double> row) const {
  if (Status s = CheckRow(row, num_features_); !s.ok()) return s;
  // Same arithmetic as Score: the sum over trees, then the normalisation.
  return ScoreFromPathSum(PathLengthSum(row), num_trees(), AveragePathLength(sample_size_));
}

std::string IsolationForest::Serialize() const {
  std::string out;
  out.reserve(kHeaderBytes + 4 * tree_begin_.size() + kNodeBytes * nodes_.size() + kChecksumBytes);
  out.append(kMagic, sizeof(kMagic));
  PutU32(out, kFormatVersion);
  PutU32(out, static_cast<std::uint32_t>(num_features_));
  PutU32(out, static_cast<std::uint32_t>(sample_size_));
  PutU32(out, static_cast<std::uint32_t>(num_trees()));
  for (std::size_t t = 0; t + 1 < tree_begin_.size(); ++t) {
    PutU32(out, tree_begin_[t + 1] - tree_begin_[t]);
  }
  for (const Node& n : nodes_) {
    PutU32(out, std::bit_cast<std::uint32_t>(n.split));
    PutU16(out, n.feature);
    PutU16(out, n.child);
  }
  PutU64(out, Checksum(out));
  return out;
}

Result<IsolationForest> IsolationForest::Deserialize(std::string_view bytes) {
  if (bytes.size() < sizeof(kMagic) || std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) {
    return ParseError("not an isolation forest model (bad magic)");
  }
  if (bytes.size() < kHeaderBytes + kChecksumBytes) {
    return ParseError("isolation forest model truncated (" + std::to_string(bytes.size()) +
                      " bytes)");
  }
  const auto version = static_cast<std::uint32_t>(GetLE(bytes, 8, 4));
  if (version != kFormatVersion) {
    return ParseError("isolation forest model format version " + std::to_string(version) +
                      " is not supported (this build reads " + std::to_string(kFormatVersion) +
                      ")");
  }
  const std::size_t body = bytes.size() - kChecksumBytes;
  if (GetLE(bytes, body, 8) != Checksum(bytes.substr(0, body))) {
    return ParseError("isolation forest model is corrupt (checksum mismatch)");
  }
  const std::uint64_t features = GetLE(bytes, 12, 4);
  const std::uint64_t psi = GetLE(bytes, 16, 4);
  const std::uint64_t trees = GetLE(bytes, 20, 4);
  if (features == 0 || features > kMaxFeatures || psi == 0 ||
      psi > static_cast<std::uint64_t>(kMaxSampleSize) || trees == 0 ||
      trees > static_cast<std::uint64_t>(kMaxTrees)) {
    return ParseError("isolation forest model header is out of range");
  }
  if (body < kHeaderBytes + 4 * trees) return ParseError("isolation forest model truncated");
  IsolationForest forest;
  forest.num_features_ = features;
  forest.sample_size_ = static_cast<int>(psi);
  forest.tree_begin_.assign(1, 0);
  std::uint64_t total = 0;
  for (std::uint64_t t = 0; t < trees; ++t) {
    total += GetLE(bytes, kHeaderBytes + 4 * t, 4);
    forest.tree_begin_.push_back(static_cast<std::uint32_t>(std::min<std::uint64_t>(total, ~0u)));
  }
  const std::size_t nodes_at = kHeaderBytes + 4 * trees;
  if (total >= ~0u || body != nodes_at + kNodeBytes * total) {
    return ParseError("isolation forest model size does not match its node count");
  }
  forest.nodes_.resize(total);
  for (std::size_t i = 0; i < total; ++i) {
    const std::size_t at = nodes_at + kNodeBytes * i;
    forest.nodes_[i] = Node{std::bit_cast<float>(static_cast<std::uint32_t>(GetLE(bytes, at, 4))),
                            static_cast<std::uint16_t>(GetLE(bytes, at + 4, 2)),
                            static_cast<std::uint16_t>(GetLE(bytes, at + 6, 2))};
  }
  if (Status s = forest.Prepare(); !s.ok()) {
    return ParseError("isolation forest model is malformed: " + s.message());
  }
  return forest;
}

Result<double> RocAuc(std::span<const double> scores, std::span<const std::uint8_t> labels) {
  if (scores.size() != labels.size()) {
    return InvalidArgument(std::to_string(scores.size()) + " scores but " +
                           std::to_string(labels.size()) + " labels");
  }
  if (std::any_of(scores.begin(), scores.end(), [](double s) { return std::isnan(s); })) {
    return InvalidArgument("a score is NaN");
  }
  std::vector<std::size_t> order(scores.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b) { return scores[a] < scores[b]; });
  // Mann-Whitney U: sum the 1-based ranks of the anomalies, tied scores all
  // taking the average rank of their run.
  double positive_rank_sum = 0;
  std::size_t positives = 0;
  for (std::size_t i = 0; i < order.size();) {
    std::size_t j = i + 1;
    while (j < order.size() && scores[order[j]] == scores[order[i]]) ++j;
    const double rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2;
    for (std::size_t k = i; k < j; ++k) {
      if (labels[order[k]] != 0) {
        positive_rank_sum += rank;
        ++positives;
      }
    }
    i = j;
  }
  const std::size_t negatives = scores.size() - positives;
  if (positives == 0 || negatives == 0) {
    return InvalidArgument("ROC AUC needs both classes; got " + std::to_string(positives) +
                           " anomalies and " + std::to_string(negatives) + " normal points");
  }
  const double p = static_cast<double>(positives);
  return (positive_rank_sum - p * (p + 1) / 2) / (p * static_cast<double>(negatives));
}

}  // namespace cicd::detector
