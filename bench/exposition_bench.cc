// The C++ side of the /metrics exposition benchmark (bench/README.md).
//
// Fills a RunStore through RunStore::ApplyPoll with a synthetic fleet
// (pipelines x 3 branches x 6 results, every family of the exporter
// populated), times scrapes in-process (--renders), and/or serves /metrics on
// 127.0.0.1 until killed (--serve). Both go through the exporter's own code
// path: ExporterMetrics::Stream with the 256 KiB pieces of Exporter::Handle,
// and over HTTP a cicd::WebServer whose handler answers the telemetry path
// exactly as Exporter::Handle does (a streamed, chunked body).
// --breakdown times the copy of the store that Stream takes under the lock
// apart from the whole Stream.
// The client loop and the RSS readings of a serving process are done from
// outside by bench/run_exposition_bench.sh, identically for the Python
// reference.
//
// Output: one JSON line on stdout (once listening, with --serve).
//
// The synthetic data must stay identical to bench/exposition_reference.py:
// the script compares both scrapes series by series.

#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "cicd/core/run_record.h"
#include "cicd/core/time.h"
#include "cicd/core/web_server.h"
#include "cicd/exporter/metrics.h"
#include "cicd/exporter/store.h"

namespace cicd::bench {
namespace {

using exporter::ExporterMetrics;
using exporter::PollResult;
using exporter::RunStore;
using exporter::StoreOptions;
using SteadyClock = std::chrono::steady_clock;

constexpr std::string_view kSource = "bench";
constexpr const char* kBranches[] = {"main", "master", "release/1"};
constexpr double kBaseUnixSeconds = 1'750'000'000;

struct Options {
  int pipelines = 1000;
  int runs_per_series = 2;
  int renders = 5;  // timed, after one untimed warm-up; 0 = no render phase
  bool serve = false;
  std::string dump_path;  // one scrape body, for the series comparison
  bool breakdown = false;  // time the store copy apart from the whole Stream
};

int ParseInt(std::string_view text, std::string_view flag) {
  int v = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size() || v < 0) {
    throw std::invalid_argument("bad value for " + std::string(flag) + ": " + std::string(text));
  }
  return v;
}

Options ParseOptions(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const auto eq = arg.find('=');
    const std::string_view flag = arg.substr(0, eq);
    const std::string_view value = eq == std::string_view::npos ? "" : arg.substr(eq + 1);
    if (flag == "--pipelines") {
      o.pipelines = ParseInt(value, flag);
    } else if (flag == "--runs-per-series") {
      o.runs_per_series = std::max(1, ParseInt(value, flag));
    } else if (flag == "--renders") {
      o.renders = ParseInt(value, flag);
    } else if (flag == "--serve") {
      o.serve = true;
    } else if (flag == "--dump") {
      o.dump_path = std::string(value);
    } else if (flag == "--breakdown") {
      o.breakdown = true;
    } else {
      throw std::invalid_argument(
          "usage: exposition_bench [--pipelines=N] [--runs-per-series=N] [--renders=N] "
          "[--breakdown] [--dump=FILE] [--serve]");
    }
  }
  return o;
}

// From /proc/self/status, in MB (VmHWM is the peak resident set).
double ProcStatusMb(std::string_view key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, key.size(), key) == 0 && line.size() > key.size() && line[key.size()] == ':') {
      return std::stod(line.substr(key.size() + 1)) / 1024.0;
    }
  }
  return 0;
}

TimePoint At(double unix_seconds) { return FromUnixSeconds(unix_seconds); }

// The synthetic fleet. Series s = (pipeline i, branch b, result r) gets
// `runs_per_series` runs k; the formulas are mirrored in
// exposition_reference.py.
std::string PipelineName(int i) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "acme/service-%04d/.github/workflows/ci.yml", i);
  return buf;
}

RunRecord FinishedRun(const std::string& pipeline, int i, int b, int r, int k, int seq) {
  const double duration = 15 + ((i * 7 + b * 13 + r * 17 + k * 29) % 500) * 8;
  const double queue = ((i * 3 + b * 5 + r * 7 + k * 11) % 250) * 8 + 0.5;
  const double finished = kBaseUnixSeconds + seq;
  RunRecord run;
  run.source = std::string(kSource);
  run.pipeline = pipeline;
  run.branch = kBranches[b];
  run.run_id = std::to_string(seq);
  run.number = seq + 1;
  run.status = RunStatus::kCompleted;
  run.result = std::string(kRunResults[r]);
  run.finished_at = At(finished);
  run.started_at = At(finished - duration);
  run.created_at = At(finished - duration - queue);
  run.duration_seconds = duration;
  run.queue_seconds = queue;
  run.tests_total = 200 + i % 50;
  run.tests_failed = r == 1 ? 1 + k : 0;
  run.tests_skipped = 3;
  return run;
}

PollResult SyntheticPoll(const Options& o, double now) {
  PollResult poll;
  poll.finished.reserve(static_cast<std::size_t>(o.pipelines) * 18 * o.runs_per_series);
  int seq = 0;
  for (int i = 0; i < o.pipelines; ++i) {
    const std::string pipeline = PipelineName(i);
    for (int b = 0; b < 3; ++b) {
      for (int r = 0; r < 6; ++r) {
        for (int k = 0; k < o.runs_per_series; ++k) {
          poll.finished.push_back(FinishedRun(pipeline, i, b, r, k, seq++));
        }
      }
    }
    RunRecord queued;
    queued.source = std::string(kSource);
    queued.pipeline = pipeline;
    queued.run_id = "q" + std::to_string(i);
    queued.status = RunStatus::kQueued;
    queued.created_at = At(now - 30 - i % 60);
    poll.active.push_back(queued);
    RunRecord running = queued;
    running.run_id = "r" + std::to_string(i);
    running.status = RunStatus::kRunning;
    running.started_at = At(now - 600 - i % 600);
    poll.active.push_back(std::move(running));
  }
  return poll;
}

double Ms(SteadyClock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

std::string JsonList(const std::vector<double>& v) {
  std::ostringstream out;
  out << '[';
  for (std::size_t i = 0; i < v.size(); ++i) out << (i ? "," : "") << v[i];
  out << ']';
  return out.str();
}

// Bytes and samples (lines not starting with '#') of a body seen in pieces.
class BodyCounter {
 public:
  void Add(std::string_view chunk) {
    for (char c : chunk) {
      if (at_line_start_ && c != '#') ++samples_;
      at_line_start_ = c == '\n';
    }
    bytes_ += chunk.size();
  }
  std::size_t bytes() const { return bytes_; }
  std::size_t samples() const { return samples_; }

 private:
  bool at_line_start_ = true;
  std::size_t bytes_ = 0, samples_ = 0;
};

// As Exporter::Handle serves the telemetry path.
constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";
constexpr std::size_t kChunkBytes = 256 * 1024;

StoreOptions MakeStoreOptions() {
  StoreOptions o;
  o.duration_buckets = {30, 60, 120, 300, 600, 900, 1200, 1800, 2700, 3600, 7200};
  o.queue_buckets = {1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600};
  o.branches.keep = {"main", "master", "release/1"};
  return o;
}

// Fills the store through ApplyPoll, as a poller would.
bool Fill(const Options& o, RunStore& store) {
  const double now = kBaseUnixSeconds + static_cast<double>(o.pipelines) * 18 * o.runs_per_series + 60;
  store.SetKnownSources({std::string(kSource)});
  store.PollSince(std::string(kSource), At(now), Millis(30LL * 24 * 3'600'000));
  const PollResult poll = SyntheticPoll(o, now);
  const std::size_t counted = store.ApplyPoll(std::string(kSource), poll, At(now), 1.5);
  if (counted != poll.finished.size()) {
    std::cerr << "only " << counted << " of " << poll.finished.size() << " runs counted\n";
    return false;
  }
  return true;
}

// One untimed scrape (counted, optionally dumped), then timed ones; appends
// their JSON fields to `json`. Each scrape is ExporterMetrics::Stream in the
// pieces the server sends; the pieces are dropped, as after a write.
void RenderPhase(const Options& o, const ExporterMetrics& metrics, std::ostream& json) {
  BodyCounter counter;
  std::ofstream dump;
  if (!o.dump_path.empty()) dump.open(o.dump_path, std::ios::binary);
  metrics.Stream(kChunkBytes, [&](std::string_view chunk) {
    counter.Add(chunk);
    if (dump) dump.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
  });
  if (dump && !dump.flush()) throw std::runtime_error("cannot write " + o.dump_path);
  std::vector<double> render_ms;
  for (int rep = 0; rep < o.renders; ++rep) {
    std::size_t bytes = 0;
    const auto t0 = SteadyClock::now();
    metrics.Stream(kChunkBytes, [&bytes](std::string_view chunk) { bytes += chunk.size(); });
    render_ms.push_back(Ms(SteadyClock::now() - t0));
    if (bytes != counter.bytes()) throw std::runtime_error("scrapes of different sizes");
  }
  json << ",\"render_ms\":" << JsonList(render_ms) << ",\"render_hwm_mb\":" << ProcStatusMb("VmHWM")
       << ",\"bytes\":" << counter.bytes() << ",\"samples\":" << counter.samples();
}

// Where a scrape's time goes: the copy of the store Stream takes under the
// lock (done here the same way) against the whole Stream.
void Breakdown(const Options& o, const RunStore& store, const ExporterMetrics& metrics,
               std::ostream& json) {
  std::vector<double> copy_ms, stream_ms;
  for (int rep = 0; rep < std::max(1, o.renders); ++rep) {
    {
      std::map<std::string, exporter::PipelineState> pipelines;
      std::map<std::string, exporter::SourceHealth> sources;
      const auto t0 = SteadyClock::now();
      store.Read([&](const std::map<std::string, exporter::PipelineState>& p,
                     const std::map<std::string, exporter::SourceHealth>& s) {
        pipelines = p;
        sources = s;
      });
      copy_ms.push_back(Ms(SteadyClock::now() - t0));
    }
    const auto t0 = SteadyClock::now();
    metrics.Stream(kChunkBytes, [](std::string_view) {});
    stream_ms.push_back(Ms(SteadyClock::now() - t0));
  }
  json << ",\"copy_ms\":" << JsonList(copy_ms) << ",\"stream_ms\":" << JsonList(stream_ms);
}

// Serves /metrics on 127.0.0.1 (free port) with the options of
// Exporter::Start, the handler answering as Exporter::Handle does for the
// telemetry path.
std::unique_ptr<WebServer> Serve(const ExporterMetrics& metrics) {
  WebServerOptions options;
  options.listen_address = "127.0.0.1:0";
  auto started = WebServer::Start(options);
  if (!started) throw std::runtime_error(started.status().ToString());
  std::unique_ptr<WebServer> web = std::move(*started);
  web->Handle("GET", "/metrics", [&metrics](const WebRequest&) {
    WebResponse r;
    r.content_type = kContentType;
    r.stream = [&metrics](const WebResponse::Writer& write) { metrics.Stream(kChunkBytes, write); };
    return r;
  });
  return web;
}

int Run(const Options& o) {
  // As cicd-exporter's Serve(): two malloc arenas, so civetweb workers do
  // not each keep a scrape's worth of freed memory.
  mallopt(M_ARENA_MAX, 2);
  const auto fill_start = SteadyClock::now();
  RunStore store(MakeStoreOptions());
  if (!Fill(o, store)) return 1;
  ExporterMetrics metrics(&store, "bench");
  metrics.OnApiRequest(std::string(kSource), "200");
  metrics.OnRateLimitRemaining(std::string(kSource), 4000);

  std::ostringstream json;
  json << "{\"side\":\"cpp\",\"pipelines\":" << o.pipelines
       << ",\"fill_ms\":" << Ms(SteadyClock::now() - fill_start)
       << ",\"rss_after_fill_mb\":" << ProcStatusMb("VmRSS")
       << ",\"hwm_after_fill_mb\":" << ProcStatusMb("VmHWM");
  if (o.renders > 0 || !o.dump_path.empty()) RenderPhase(o, metrics, json);
  if (o.breakdown) Breakdown(o, store, metrics, json);
  std::unique_ptr<WebServer> server;
  if (o.serve) {
    server = Serve(metrics);
    json << ",\"port\":" << server->port();
  }
  std::cout << json.str() << "}" << std::endl;
  if (!server) return 0;
  for (;;) pause();  // until the script's SIGTERM
}

}  // namespace
}  // namespace cicd::bench

int main(int argc, char** argv) {
  try {
    return cicd::bench::Run(cicd::bench::ParseOptions(argc, argv));
  } catch (const std::exception& e) {
    std::cerr << "exposition_bench: " << e.what() << "\n";
    return 2;
  }
}
