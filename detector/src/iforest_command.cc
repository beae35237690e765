// cicd-detector iforest: fits the isolation forest on every row of a numeric
// CSV and scores every row (the protocol of Liu, Ting & Zhou), for benchmarks
// against published and scikit-learn results. Prints one JSON object:
//   {"rows":…,"features":…,"fit_seconds":…,"score_seconds":…,"auc":…}
// ("auc" only with --label-column). Exit codes: 0 ok, 1 bad input or I/O
// failure, 2 usage error (unknown flag, bad flag value).

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "cicd/core/cli.h"
#include "cicd/core/result.h"
#include "cicd/detector/commands.h"
#include "cicd/detector/csv.h"
#include "cicd/detector/iforest.h"

namespace cicd::detector {
namespace {

constexpr std::string_view kCommand = "cicd-detector iforest";

struct IforestFlags {
  std::string csv;
  std::string label_column;  // empty: no labels
  IsolationForestOptions forest;
  std::uint64_t seed = 0;
  int threads = 0;
  std::string scores_out;
  std::string model_out;
};

template <typename Int>
Result<Int> ParseInteger(const FlagSet& flags, std::string_view name, Int min, Int max) {
  const std::string& text = flags.Get(name);
  Int v{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v < min || v > max) {
    return InvalidArgument("--" + std::string(name) + " takes an integer in [" +
                           std::to_string(min) + ", " + std::to_string(max) + "], not \"" + text +
                           "\"");
  }
  return v;
}

Result<IforestFlags> ReadFlags(const FlagSet& flags) {
  IforestFlags out;
  out.csv = flags.Get("csv");
  if (out.csv.empty()) return InvalidArgument("--csv FILE is required");
  out.label_column = flags.Get("label-column");
  out.scores_out = flags.Get("scores-out");
  out.model_out = flags.Get("model-out");
  const Result<int> trees = ParseInteger(flags, "trees", 1, IsolationForest::kMaxTrees);
  if (!trees.ok()) return trees.status();
  const Result<int> psi = ParseInteger(flags, "sample-size", 1, IsolationForest::kMaxSampleSize);
  if (!psi.ok()) return psi.status();
  const Result<std::uint64_t> seed =
      ParseInteger(flags, "seed", std::uint64_t{0}, std::numeric_limits<std::uint64_t>::max());
  if (!seed.ok()) return seed.status();
  const Result<int> threads = ParseInteger(flags, "threads", 0, 1024);
  if (!threads.ok()) return threads.status();
  out.forest.num_trees = *trees;
  out.forest.sample_size = *psi;
  out.seed = *seed;
  out.threads = *threads;
  return out;
}

// The data split into features (row-major) and, optionally, 0/1 labels.
struct Dataset {
  std::vector<double> features;
  std::size_t rows = 0;
  std::size_t cols = 0;
  std::optional<std::vector<std::uint8_t>> labels;
};

Result<Dataset> SplitColumns(const NumericTable& table, const std::string& label_column) {
  Dataset data;
  std::optional<std::size_t> label;
  if (!label_column.empty()) {
    const Result<std::size_t> index = table.ColumnIndex(label_column);
    if (!index.ok()) return InvalidArgument("--label-column: " + index.status().message());
    label = *index;
  }
  const std::size_t width = table.columns.size();
  data.rows = table.rows();
  data.cols = width - (label ? 1 : 0);
  if (data.cols == 0) return InvalidArgument("no feature columns (only the label)");
  if (data.rows == 0) return InvalidArgument("no data rows after the header");
  data.features.reserve(data.rows * data.cols);
  if (label) data.labels.emplace().reserve(data.rows);
  for (std::size_t r = 0; r < data.rows; ++r) {
    for (std::size_t c = 0; c < width; ++c) {
      const double v = table.values[r * width + c];
      const auto where = [&] {
        return "line " + std::to_string(table.lines[r]) + ", column " + std::to_string(c + 1) +
               " (\"" + table.columns[c] + "\")";
      };
      if (label && c == *label) {
        if (v != 0 && v != 1) return InvalidArgument(where() + ": a label must be 0 or 1");
        data.labels->push_back(v == 1 ? 1 : 0);
        continue;
      }
      // Checked here, not only in Fit, to name the line and column.
      if (!std::isfinite(v)) {
        return InvalidArgument(where() + ": " + (std::isnan(v) ? "NaN" : "infinite") +
                               "; the isolation forest needs finite numbers");
      }
      data.features.push_back(v);
    }
  }
  return data;
}

// Plain writes rather than WriteFileAtomically: the target may be a pipe or
// /dev/stdout, and a partial benchmark output is worthless anyway.
Status WriteFile(const std::string& path, std::string_view contents) {
  const std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "wb"),
                                                          &std::fclose);
  if (!f) return Status::Error(ErrorCode::kIo, "cannot open " + path + " for writing");
  if (std::fwrite(contents.data(), 1, contents.size(), f.get()) != contents.size() ||
      std::fflush(f.get()) != 0) {
    return Status::Error(ErrorCode::kIo, "cannot write " + path);
  }
  return Status::Ok();
}

Status WriteScores(const std::string& path, const std::vector<double>& scores) {
  std::string text;
  text.reserve(scores.size() * 20);
  char buf[32];
  for (const double s : scores) {
    const auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), s);
    text.append(buf, end);
    text.push_back('\n');
  }
  return WriteFile(path, text);
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

int Fail(const Status& status) {
  std::fprintf(stderr, "%.*s: %s\n", static_cast<int>(kCommand.size()), kCommand.data(),
               status.message().c_str());
  return 1;
}

int Run(const IforestFlags& flags) {
  const Result<NumericTable> table = ReadNumericCsv(flags.csv);
  if (!table.ok()) return Fail(table.status());
  Result<Dataset> data = SplitColumns(*table, flags.label_column);
  if (!data.ok()) return Fail(data.status().WithContext(flags.csv));
  const FeatureMatrix matrix{data->features, data->rows, data->cols};

  std::mt19937_64 rng(flags.seed);
  const auto fit_start = std::chrono::steady_clock::now();
  const Result<IsolationForest> forest = IsolationForest::Fit(matrix, flags.forest, rng);
  const double fit_seconds = SecondsSince(fit_start);
  if (!forest.ok()) return Fail(forest.status().WithContext("fit"));

  const auto score_start = std::chrono::steady_clock::now();
  const Result<std::vector<double>> scores = forest->Score(matrix, {.threads = flags.threads});
  const double score_seconds = SecondsSince(score_start);
  if (!scores.ok()) return Fail(scores.status().WithContext("score"));

  if (!flags.scores_out.empty()) {
    if (Status s = WriteScores(flags.scores_out, *scores); !s.ok()) return Fail(s);
  }
  if (!flags.model_out.empty()) {
    if (Status s = WriteFile(flags.model_out, forest->Serialize()); !s.ok()) return Fail(s);
  }
  std::optional<double> auc;
  if (data->labels) {
    const Result<double> a = RocAuc(*scores, *data->labels);
    if (!a.ok()) return Fail(a.status().WithContext(flags.csv));
    auc = *a;
  }
  std::printf("{\"rows\":%zu,\"features\":%zu,\"fit_seconds\":%.6f,\"score_seconds\":%.6f",
              data->rows, data->cols, fit_seconds, score_seconds);
  if (auc) std::printf(",\"auc\":%.6f", *auc);
  std::printf("}\n");
  return std::fflush(stdout) == 0 ? 0 : 1;
}

}  // namespace

int RunIforestCommand(int argc, const char* const* argv) {
  FlagSet flags(std::string(kCommand) + " --csv FILE [flags]");
  flags.Add("csv", "", "numeric CSV with a header, optionally gzip-compressed (required)");
  flags.Add("label-column", "", "column holding 0/1 labels (1 = anomaly); enables \"auc\"");
  flags.Add("trees", "100", "number of trees");
  flags.Add("sample-size", "256", "subsample size psi per tree (clipped to the row count)");
  flags.Add("seed", "0", "seed of the random generator");
  flags.Add("threads", "0", "scoring threads, 0 = one per core (scores do not depend on it)");
  flags.Add("scores-out", "", "write one score per row to this file (higher = more anomalous)");
  flags.Add("model-out", "", "write the serialised model to this file");
  flags.AddBool("help", "show this help");
  const Result<std::vector<std::string>> positional = flags.Parse(argc, argv);
  if (!positional.ok()) {
    std::fprintf(stderr, "%s: %s\n\n%s", std::string(kCommand).c_str(),
                 positional.status().message().c_str(), flags.Help().c_str());
    return 2;
  }
  if (flags.GetBool("help")) {
    std::fputs(flags.Help().c_str(), stdout);
    return 0;
  }
  if (!positional->empty()) {
    std::fprintf(stderr, "%s: unexpected argument \"%s\"\n", std::string(kCommand).c_str(),
                 positional->front().c_str());
    return 2;
  }
  const Result<IforestFlags> parsed = ReadFlags(flags);
  if (!parsed.ok()) {
    std::fprintf(stderr, "%s: %s\n", std::string(kCommand).c_str(),
                 parsed.status().message().c_str());
    return 2;
  }
  return Run(*parsed);
}

}  // namespace cicd::detector
