#include "cicd/exporter/app.h"

#include "cicd/core/atomic_file.h"
#include "cicd/core/json.h"
#include "cicd/core/log.h"

namespace cicd::exporter {
namespace {

StoreOptions MakeStoreOptions(const ExporterConfig& c) {
  StoreOptions o;
  o.duration_buckets = c.duration_buckets;
  o.queue_buckets = c.queue_buckets;
  o.branches = c.branches;
  return o;
}

std::string LandingPage(const ExporterConfig& config) {
  std::string sources;
  for (const auto& s : config.sources) {
    sources += "<li>" + s.common.name + " (" + s.common.type + ", every " +
               FormatDuration(s.common.poll_interval) + ")</li>";
  }
  return "<!doctype html><html><head><meta charset=\"utf-8\"><title>cicd-exporter</title></head>"
         "<body><h1>cicd-exporter</h1><p>Version " CICD_VERSION "</p><p><a href=\"" +
         config.web.telemetry_path + "\">Metrics</a></p><h2>Sources</h2><ul>" + sources +
         "</ul></body></html>";
}

}  // namespace

Exporter::Exporter(const ExporterConfig& config, const Clock* clock, HttpFetcher* fetcher)
    : config_(config), clock_(clock) {
  store_ = std::make_unique<RunStore>(MakeStoreOptions(config));
  metrics_ = std::make_unique<ExporterMetrics>(store_.get(), CICD_VERSION);
  std::vector<std::string> names;
  for (const auto& s : config.sources) names.push_back(s.common.name);
  store_->SetKnownSources(names);
  if (!config.state_file.empty()) {
    auto doc = ReadFileToString(config.state_file);
    if (doc) {
      if (auto s = store_->RestoreCursor(*doc); !s.ok()) {
        LogWarn("ignoring unreadable state file; counting from initial_lookback",
                {{"file", config.state_file}, {"err", s}});
      } else {
        LogInfo("restored cursor state", {{"file", config.state_file}});
      }
    } else if (doc.status().code() != ErrorCode::kNotFound) {
      LogWarn("cannot read state file", {{"file", config.state_file}, {"err", doc.status()}});
    }
  }
  SourceDeps deps;
  deps.fetcher = fetcher;
  deps.clock = clock;
  deps.observer = metrics_.get();
  deps.sleep = [this](Millis d) { return stopper_.Wait(d); };
  for (const auto& sc : config.sources) {
    pollers_.push_back(std::make_unique<Poller>(sc, sc.make(sc.common, deps), store_.get(), clock,
                                                &stopper_, [this] { Persist(); }));
  }
}

Exporter::~Exporter() { Stop(); }

void Exporter::Persist() {
  if (config_.state_file.empty() || !store_->dirty()) return;
  std::lock_guard lock(persist_mu_);
  std::uint64_t generation = 0;
  const std::string doc = store_->SerializeCursor(&generation);
  if (auto s = WriteFileAtomically(config_.state_file, doc); !s.ok()) {
    LogError("cannot write state file; will retry after the next poll",
             {{"file", config_.state_file}, {"err", s}});
    return;
  }
  store_->MarkPersisted(generation);
}

Status Exporter::Start() {
  WebServerOptions opts;
  opts.listen_address = config_.web.listen_address;
  auto web = WebServer::Start(opts);
  if (!web) return web.status();
  web_ = std::move(*web);
  for (const auto& [method, path] :
       std::vector<std::pair<std::string, std::string>>{{"GET", config_.web.telemetry_path},
                                                        {"GET", "/"},
                                                        {"GET", "/-/healthy"},
                                                        {"GET", "/-/ready"},
                                                        {"POST", "/api/v1/collect"}}) {
    web_->Handle(method, path, [this](const WebRequest& r) { return Handle(r); });
  }
  for (auto& p : pollers_) p->Start();
  LogInfo("listening", {{"address", config_.web.listen_address},
                        {"port", web_->port()},
                        {"telemetry_path", config_.web.telemetry_path}});
  return Status::Ok();
}

void Exporter::PollAllOnce() {
  for (auto& p : pollers_) (void)p->PollOnce();
}

void Exporter::Stop() {
  stopper_.Stop();
  for (auto& p : pollers_) p->Join();
  web_.reset();
  Persist();
}

WebResponse Exporter::Handle(const WebRequest& req) const {
  if (req.path == config_.web.telemetry_path) {
    WebResponse r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.stream = [this](const WebResponse::Writer& write) { metrics_->Stream(256 * 1024, write); };
    return r;
  }
  if (req.path == "/") return WebResponse::Text(200, LandingPage(config_), "text/html; charset=utf-8");
  if (req.path == "/-/healthy") return WebResponse::Text(200, "Healthy.\n");
  if (req.path == "/-/ready") {
    bool ready = true;
    store_->Read([&](const auto&, const std::map<std::string, SourceHealth>& sources) {
      for (const auto& [n, h] : sources) ready = ready && h.polled;
    });
    return ready ? WebResponse::Text(200, "Ready.\n") : WebResponse::Text(503, "Not ready: first polls running.\n");
  }
  if (req.path == "/api/v1/collect") {
    std::string only;
    const bool filtered = req.QueryParam("source", &only);
    std::string names;
    for (const auto& p : pollers_) {
      if (filtered && p->name() != only) continue;
      p->Trigger();
      names += std::string(names.empty() ? "" : ",") + json::Quote(p->name());
    }
    if (names.empty()) return WebResponse::JsonError(404, "no source named \"" + only + "\"");
    WebResponse r;
    r.status = 202;
    r.body = "{\"status\":\"accepted\",\"sources\":[" + names + "]}";
    return r;
  }
  return WebResponse::JsonError(404, "no such endpoint: " + req.path);
}

CollectedRuns CollectOnce(const ExporterConfig& config, Millis since, const Clock* clock,
                          HttpFetcher* fetcher) {
  CollectedRuns out;
  SourceDeps deps;
  deps.fetcher = fetcher;
  deps.clock = clock;
  for (const auto& sc : config.sources) {
    auto source = sc.make(sc.common, deps);
    auto polled = source->Poll(clock->Now() - since);
    if (!polled) {
      out.errors.push_back(sc.common.name + ": " + polled.status().ToString());
      continue;
    }
    FilterBranches(sc.branch_filter, *polled);
    for (const auto& e : polled->partial_errors) out.errors.push_back(sc.common.name + ": " + e);
    for (auto& r : polled->finished) out.runs.push_back(std::move(r));
  }
  return out;
}

}  // namespace cicd::exporter
