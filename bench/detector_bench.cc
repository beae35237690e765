// Detection cycle benchmark of the sidecar (bench/README.md, "Detector cycle").
//
// A fleet of --pipelines pipelines with --days days of history (one run per
// --period seconds, realistic durations with noise, queue times, tests,
// failures) is served to cicd::detector::Service through its QueryFunc and
// SeriesFunc seams the way Prometheus answers the detector's HistoryQuery:
// one point per run, 1 s after it finished (tests/detector/fake_prometheus.h, made to scale:
// runs are computed from (pipeline, index), so the fleet itself takes no
// memory and the RSS figures are the detector's).
//
// --mode direct: the QueryFunc returns the PromQueryResult.
// --mode json:   the QueryFunc serialises it to Prometheus's JSON body and
//                parses it back with ParseQueryResponse, as the HTTP client
//                does (the HTTP transfer itself is not included).
//
// Measured in one process: Train() (wall, CPU), the first Detect() after it
// (catch-up), then --cycles steady Detect() passes 30 s apart, each with
// --new-runs new finished runs per pipeline. CPU is getrusage(RUSAGE_SELF)
// user + sys minus the thread CPU time spent inside the fake Prometheus
// (building the result, and serialising it in json mode: Prometheus's work,
// reported apart). Peak RSS is VmHWM: once for the whole run (training
// included), and once for the detect cycles alone (the peak is reset with
// /proc/self/clear_refs after training).
//
// Output: one markdown table row on stdout (--header prints the header).

#include <malloc.h>
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "support/batch_matcher.h"
#include "cicd/core/log.h"
#include "cicd/core/time.h"
#include "cicd/detector/config.h"
#include "cicd/detector/history.h"
#include "cicd/detector/prometheus_client.h"
#include "cicd/detector/service.h"

namespace {

using namespace cicd;
using namespace cicd::detector;

std::uint64_t Mix(std::uint64_t x) {  // splitmix64
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}
double Uniform(std::uint64_t seed) { return (Mix(seed) >> 11) * 0x1.0p-53; }  // [0, 1)
double Gauss(std::uint64_t seed) {
  const double u1 = std::max(Uniform(seed), 1e-300), u2 = Uniform(seed ^ 0x5555);
  return std::sqrt(-2 * std::log(u1)) * std::cos(2 * M_PI * u2);
}

struct Params {
  int pipelines = 1000;
  int days = 30;
  double period = 3600;  // seconds between runs of a pipeline
  int cycles = 5;
  int new_runs = 3;      // per pipeline per steady cycle
  double active_share = 0.1;
  std::string mode = "direct";
  bool forest = true;
};

struct Pipeline {
  std::string source, name;
  double base_duration, base_queue, phase;
  std::int64_t tests;
};

struct Run {
  double finished, duration, queue;
  std::int64_t number, passed, failed;
  const char* result;
};

const char* const kResults[] = {"success", "failure", "error", "timeout", "cancellation", "skip"};

// The fleet: history runs k < hist every `period` up to `train_at`, then
// burst runs every 10 s after it (the steady cycles' new runs).
class Fleet {
 public:
  Fleet(const Params& p, double train_at) : p_(p), train_at_(train_at) {
    hist_ = static_cast<int>(p.days * 86400.0 / p.period);
    for (int i = 0; i < p.pipelines; ++i) {
      const std::uint64_t s = Mix(static_cast<std::uint64_t>(i) * 7919 + 1);
      Pipeline pl;
      pl.source = i % 4 == 0 ? "jenkins" : "github";
      pl.name = "org" + std::to_string(i / 50) + "/repo" + std::to_string(i) + "/.github/workflows/ci.yml";
      pl.base_duration = 60 * std::exp(Uniform(s) * std::log(60.0));  // 1 min .. 1 h, log-uniform
      pl.base_queue = 2 + 60 * Uniform(s ^ 1);
      pl.phase = Uniform(s ^ 2) * p.period;
      pl.tests = Uniform(s ^ 3) < 0.2 ? 0 : 100 + static_cast<std::int64_t>(5000 * Uniform(s ^ 4));
      pls_.push_back(std::move(pl));
    }
  }
  int pipelines() const { return static_cast<int>(pls_.size()); }
  const Pipeline& pipeline(int i) const { return pls_[i]; }
  int history_runs() const { return hist_; }
  int total_runs() const { return hist_ + 1'000'000; }

  double Finished(int i, int k) const {
    const Pipeline& pl = pls_[i];
    if (k < hist_) return train_at_ - 60 - pl.phase - (hist_ - 1 - k) * p_.period;
    return train_at_ + (k - hist_ + 1) * 10.0 - pl.phase / p_.period * 9;
  }
  Run At(int i, int k) const {
    const Pipeline& pl = pls_[i];
    const std::uint64_t s = Mix((static_cast<std::uint64_t>(i) << 32) ^ static_cast<std::uint64_t>(k));
    Run r;
    r.finished = std::floor(Finished(i, k));
    r.number = k + 1;
    const double u = Uniform(s);
    r.result = u < 0.04 ? "failure" : u < 0.045 ? "cancellation" : u < 0.05 ? "error" : "success";
    double d = pl.base_duration * std::exp(0.08 * Gauss(s ^ 11));
    if (Uniform(s ^ 12) < 0.005) d *= 2.5;                       // a rare slow run
    if (std::strcmp(r.result, "success") != 0) d *= 0.3 + 0.7 * Uniform(s ^ 13);  // fails early
    r.duration = std::round(d);
    r.queue = std::round(pl.base_queue * -std::log(std::max(Uniform(s ^ 14), 1e-9)));
    r.failed = std::strcmp(r.result, "failure") == 0 && pl.tests > 0 ? 1 + static_cast<std::int64_t>(5 * Uniform(s ^ 15)) : 0;
    r.passed = pl.tests == 0 ? 0 : pl.tests + static_cast<std::int64_t>(std::llround(3 * Gauss(s ^ 16))) - r.failed;
    return r;
  }

 private:
  Params p_;
  double train_at_;
  int hist_ = 0;
  std::vector<Pipeline> pls_;
};

double ThreadCpu() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}
double ProcessCpu() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_utime.tv_usec * 1e-6 + u.ru_stime.tv_sec + u.ru_stime.tv_usec * 1e-6;
}
double Wall() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
double ProcStatusMb(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) == 0) return std::stod(line.substr(std::strlen(key) + 1)) / 1024.0;
  }
  return -1;
}
bool ResetPeakRss() {
  std::ofstream out("/proc/self/clear_refs");
  out << "5";
  out.flush();
  return static_cast<bool>(out);
}

// Prometheus's JSON for a query result: times with 3 decimals, values in
// shortest round-trip form as strings.
void AppendEscaped(std::string& out, const std::string& s) {
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
}
std::string ToJson(const PromQueryResult& r) {
  std::string out;
  out.reserve(64 + r.series.size() * 160);
  out += R"({"status":"success","data":{"resultType":")";
  out += r.result_type;
  out += R"(","result":[)";
  char buf[64];
  const bool vector = r.result_type == "vector";
  for (std::size_t i = 0; i < r.series.size(); ++i) {
    const PromSeries& s = r.series[i];
    if (i) out += ',';
    out += R"({"metric":{)";
    bool first = true;
    for (const auto& [k, v] : s.labels) {
      if (!first) out += ',';
      first = false;
      out += '"';
      AppendEscaped(out, k);
      out += R"(":")";
      AppendEscaped(out, v);
      out += '"';
    }
    out += vector ? R"(},"value":)" : R"(},"values":[)";
    for (std::size_t j = 0; j < s.samples.size(); ++j) {
      if (j) out += ',';
      int n = std::snprintf(buf, sizeof buf, "[%.3f,\"", s.samples[j].t);
      out.append(buf, n);
      auto res = std::to_chars(buf, buf + sizeof buf, s.samples[j].v);
      out.append(buf, res.ptr);
      out += "\"]";
    }
    out += vector ? "}" : "]}";
  }
  out += "]}}";
  return out;
}

class FakePrometheus {
 public:
  FakePrometheus(const Fleet& fleet, const Params& p) : fleet_(fleet), p_(p) {}
  // Burst runs [hist, hist + visible_burst_) exist; the ones after do not yet.
  void SetBurstRuns(int n) { burst_ = n; }
  void SetActive(bool on) { active_ = on; }
  double fake_cpu() const { return fake_cpu_; }
  std::size_t samples() const { return samples_; }
  std::size_t bytes() const { return bytes_; }

  Result<PromQueryResult> Query(const std::string& promql, TimePoint at) {
    const double t0 = ThreadCpu();
    auto r = Build(promql, at);
    if (r && p_.mode == "json") {
      std::string body = ToJson(*r);
      *r = PromQueryResult{};  // freed before parsing, as in a real client
      bytes_ += body.size();
      const double t1 = ThreadCpu();
      fake_cpu_ += t1 - t0;
      return ParseQueryResponse(body, 200);  // the detector's work: counted
    }
    fake_cpu_ += ThreadCpu() - t0;
    return r;
  }

 private:
  Result<PromQueryResult> Build(const std::string& promql, TimePoint at) {
    PromQueryResult out;
    out.result_type = "matrix";
    const std::string name = promql.substr(0, promql.find_first_of("[{"));
    const double now = ToUnixSeconds(at);
    if (name == "cicd_pipeline_runs_active_oldest_timestamp_seconds") {
      out.result_type = "vector";
      if (!active_) return out;
      for (int i = 0; i < fleet_.pipelines(); ++i) {
        if (Uniform(static_cast<std::uint64_t>(i) * 31 + 7) >= p_.active_share) continue;
        const Pipeline& pl = fleet_.pipeline(i);
        const double started = now - pl.base_duration * Uniform(static_cast<std::uint64_t>(i) * 17 + 3);
        out.series.push_back({{{"source", pl.source}, {"pipeline", pl.name}, {"state", "running"}},
                              {{now, std::floor(started)}}});
        ++samples_;
      }
      return out;
    }
    if (promql.find(kFieldLabel) == std::string::npos) {
      return Status::Error(ErrorCode::kInvalidArgument, "bench prometheus cannot answer: " + promql);
    }
    // A HistoryQuery "...)[WINDOWms:STEPms]": one point per run.
    const double from = now - std::stod(promql.substr(promql.rfind('[') + 1)) / 1000.0;
    const std::set<std::string> only = cicd::testing::PipelinesOfBatchMatcher(promql);
    const int limit = fleet_.history_runs() + burst_;
    for (int i = 0; i < fleet_.pipelines(); ++i) {
      const Pipeline& pl = fleet_.pipeline(i);
      if (!only.empty() && only.count(pl.name) == 0) continue;
      const auto [first, last] = RunsBetween(i, limit, from, now);
      if (first >= last) continue;
      auto series = [&](const char* field, const char* k = nullptr, const char* v = nullptr) {
        std::map<std::string, std::string> labels{{"source", pl.source}, {"pipeline", pl.name}, {kFieldLabel, field}};
        if (k != nullptr) labels[k] = v;
        out.series.push_back({std::move(labels), {}});
        out.series.back().samples.reserve(last - first);
        return out.series.size() - 1;
      };
      const std::size_t fin = series("finished"), dur = series("duration"), que = series("queue"),
                        num = series("number");
      std::size_t passed = 0, failed = 0;
      if (pl.tests != 0) {  // a pipeline without tests reports none
        passed = series("tests", "outcome", "passed");
        failed = series("tests", "outcome", "failed");
      }
      std::size_t result[6];
      for (int s = 0; s < 6; ++s) result[s] = series("result", "result", kResults[s]);
      for (int k = first; k < last; ++k) {
        const Run r = fleet_.At(i, k);
        const double t = r.finished + 1;
        out.series[fin].samples.push_back({t, r.finished});
        out.series[dur].samples.push_back({t, r.duration});
        out.series[que].samples.push_back({t, r.queue});
        out.series[num].samples.push_back({t, static_cast<double>(r.number)});
        if (pl.tests != 0) {
          out.series[passed].samples.push_back({t, static_cast<double>(r.passed)});
          out.series[failed].samples.push_back({t, static_cast<double>(r.failed)});
        }
        // Prometheus returns only the result series that is 1 (`== 1`).
        for (int s = 0; s < 6; ++s) {
          if (std::strcmp(r.result, kResults[s]) == 0) out.series[result[s]].samples.push_back({t, 1.0});
        }
      }
    }
    std::erase_if(out.series, [](const PromSeries& s) { return s.samples.empty(); });
    for (const auto& s : out.series) samples_ += s.samples.size();
    return out;
  }

 public:
  // The pipelines with a run in [start, end] (Prometheus's /api/v1/series).
  Result<std::vector<std::map<std::string, std::string>>> Series(TimePoint start, TimePoint end) {
    const double t0 = ThreadCpu();
    std::vector<std::map<std::string, std::string>> out;
    const int limit = fleet_.history_runs() + burst_;
    for (int i = 0; i < fleet_.pipelines(); ++i) {
      const auto [first, last] = RunsBetween(i, limit, ToUnixSeconds(start), ToUnixSeconds(end));
      if (first >= last) continue;
      const Pipeline& pl = fleet_.pipeline(i);
      out.push_back({{"__name__", kLastFinished}, {"source", pl.source}, {"pipeline", pl.name}});
    }
    fake_cpu_ += ThreadCpu() - t0;
    return out;
  }

 private:
  // Runs [first, last) of pipeline i whose sample (finished + 1) lies in
  // [from, now]: finish times rise with the run index.
  std::pair<int, int> RunsBetween(int i, int limit, double from, double now) const {
    int lo = 0, hi = limit;
    while (lo < hi) {
      const int mid = (lo + hi) / 2;
      if (std::floor(fleet_.Finished(i, mid)) + 1 < from) lo = mid + 1; else hi = mid;
    }
    const int first = lo;
    hi = limit;
    while (lo < hi) {
      const int mid = (lo + hi) / 2;
      if (std::floor(fleet_.Finished(i, mid)) + 1 <= now) lo = mid + 1; else hi = mid;
    }
    return {first, lo};
  }

  const Fleet& fleet_;
  Params p_;
  int burst_ = 0;
  bool active_ = false;
  double fake_cpu_ = 0;
  std::size_t samples_ = 0, bytes_ = 0;
};

std::string Fixed(double v, int prec) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", prec, v);
  return buf;
}

int Usage() {
  std::cerr << "usage: detector_bench [--header] [--mode direct|json] [--pipelines N] [--days N]\n"
               "                      [--period SECONDS] [--cycles N] [--new-runs N]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Params p;
  bool header = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--header") header = true;
    else if (a == "--mode") p.mode = next();
    else if (a == "--pipelines") p.pipelines = std::stoi(next());
    else if (a == "--days") p.days = std::stoi(next());
    else if (a == "--period") p.period = std::stod(next());
    else if (a == "--cycles") p.cycles = std::stoi(next());
    else if (a == "--new-runs") p.new_runs = std::stoi(next());
    else if (a == "--no-forest") p.forest = false;
    else return Usage();
  }
  if (header) {
    std::cout << "| QueryFunc | pipelines | runs trained | Train wall s | Train CPU s | first Detect CPU ms"
                 " | steady Detect CPU ms (median / max) | runs judged per cycle | peak RSS MB (all)"
                 " | peak RSS MB (detect cycles) | RSS after MB | fake Prometheus CPU s (excluded) |\n"
                 "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
    return 0;
  }
  if (p.mode != "direct" && p.mode != "json") return Usage();
  Logging::SetLevel(LogLevel::kWarn);

  const double train_at = 1'750'000'000;  // 2025-06-15
  Fleet fleet(p, train_at);
  FakePrometheus prom(fleet, p);
  FakeClock clock(FromUnixSeconds(train_at));
  DetectorConfig config;  // defaults: 30 d history, 30 s detect interval, no state_dir
  config.detection.forest = p.forest;
  ServiceDeps deps;
  deps.query = [&prom](const std::string& q, TimePoint at) { return prom.Query(q, at); };
  deps.series = [&prom](const std::string&, TimePoint start, TimePoint end) { return prom.Series(start, end); };
  deps.clock = &clock;
  Service service(config, deps);

  // Training.
  double w0 = Wall(), c0 = ProcessCpu(), f0 = prom.fake_cpu();
  auto trained = service.Train(config.schedule.history);
  const double train_wall = Wall() - w0 - (prom.fake_cpu() - f0);
  const double train_cpu = ProcessCpu() - c0 - (prom.fake_cpu() - f0);
  if (!trained) {
    std::cerr << "train failed: " << trained.status().ToString() << "\n";
    return 1;
  }
  const double peak_train = ProcStatusMb("VmHWM:");
  const bool reset = ResetPeakRss();

  // First pass after training (catch-up), with running runs.
  prom.SetActive(true);
  clock.Advance(std::chrono::seconds(30));
  c0 = ProcessCpu(), f0 = prom.fake_cpu();
  auto first = service.Detect();
  const double first_cpu = ProcessCpu() - c0 - (prom.fake_cpu() - f0);
  if (!first) {
    std::cerr << "detect failed: " << first.status().ToString() << "\n";
    return 1;
  }

  // Steady cycles: 30 s apart, new_runs new runs per pipeline each.
  std::vector<double> cycle_cpu;
  std::size_t judged = 0;
  int burst = 0;
  for (int c = 0; c < p.cycles; ++c) {
    clock.Advance(std::chrono::seconds(30));
    burst += p.new_runs;
    prom.SetBurstRuns(burst);
    // The burst runs finish every 10 s after training; make `burst` of them
    // visible by advancing the clock far enough.
    const double need = train_at + burst * 10.0 + 1;
    if (ToUnixSeconds(clock.Now()) < need) clock.Set(FromUnixSeconds(need));
    c0 = ProcessCpu(), f0 = prom.fake_cpu();
    auto d = service.Detect();
    cycle_cpu.push_back(ProcessCpu() - c0 - (prom.fake_cpu() - f0));
    if (!d) {
      std::cerr << "detect failed: " << d.status().ToString() << "\n";
      return 1;
    }
    judged += d->runs;
  }
  std::vector<double> sorted = cycle_cpu;
  std::sort(sorted.begin(), sorted.end());
  const double median = sorted.empty() ? 0 : sorted[sorted.size() / 2];
  const double max = sorted.empty() ? 0 : sorted.back();
  const double peak_detect = reset ? ProcStatusMb("VmHWM:") : -1;

  const auto snap = service.Snapshot();
  std::size_t with_forest = 0;
  for (const auto& ps : snap.pipelines) with_forest += ps.has_forest;
  std::cerr << "detector_bench " << p.mode << ": pipelines " << trained->pipelines << " (forest "
            << with_forest << "), runs " << trained->runs << ", first detect judged " << first->runs
            << ", samples served " << prom.samples() << ", json bytes " << prom.bytes()
            << ", rejected " << snap.rejected_samples << ", anomalies " << snap.anomalies.size()
            << ", cycles CPU ms";
  for (double c : cycle_cpu) std::cerr << " " << Fixed(c * 1000, 1);
  const double rss_after = ProcStatusMb("VmRSS:");
  malloc_trim(0);  // diagnostic only: how much of "RSS after" is freed heap glibc kept
  std::cerr << ", RSS after malloc_trim MB " << Fixed(ProcStatusMb("VmRSS:"), 1) << "\n";

  std::cout << "| " << p.mode << " | " << trained->pipelines << " | " << trained->runs << " | "
            << Fixed(train_wall, 2) << " | " << Fixed(train_cpu, 2) << " | " << Fixed(first_cpu * 1000, 1)
            << " | " << Fixed(median * 1000, 1) << " / " << Fixed(max * 1000, 1) << " | "
            << (p.cycles ? judged / p.cycles : 0) << " | "
            << Fixed(std::max(peak_train, reset ? peak_detect : ProcStatusMb("VmHWM:")), 1) << " | "
            << (reset ? Fixed(peak_detect, 1) : std::string("n/a")) << " | "
            << Fixed(rss_after, 1) << " | " << Fixed(prom.fake_cpu(), 2) << " |\n";
  return 0;
}
