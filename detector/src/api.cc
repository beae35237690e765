#include "cicd/detector/api.h"

#include <boost/json.hpp>
#include <cmath>
#include <map>
#include <optional>
#include <vector>

#include "cicd/core/json.h"
#include "cicd/detector/metrics.h"

namespace cicd::detector {
namespace {

struct Route {
  const char* method;
  const char* path;
};
constexpr Route kRoutes[] = {
    {"GET", "/"},
    {"GET", "/health"},
    {"GET", "/-/healthy"},
    {"GET", "/metrics"},
    {"GET", "/api/v1/status"},
    {"GET", "/api/v1/anomalies"},
    {"POST", "/api/v1/collect"},
    {"POST", "/api/v1/train"},
    {"POST", "/api/v1/detect"},
    {"POST", "/api/v1/pipeline"},
};

// A numeric field a request body may carry: its valid range.
struct NumberField {
  const char* name;
  double min, max;
};

// Parses an optional JSON object body whose fields are all numbers. Errors
// name the field. An empty body is an empty object.
Result<std::map<std::string, double>> ParseNumberBody(const std::string& body,
                                                       std::initializer_list<NumberField> fields) {
  std::map<std::string, double> out;
  if (body.find_first_not_of(" \t\r\n") == std::string::npos) return out;
  auto parsed = json::Parse(body);
  if (!parsed) return InvalidArgument("malformed JSON body: " + parsed.status().message());
  const auto* obj = parsed->if_object();
  if (!obj) return InvalidArgument("the request body must be a JSON object");
  for (const auto& [key, value] : *obj) {
    const NumberField* f = nullptr;
    for (const auto& c : fields) {
      if (key == c.name) f = &c;
    }
    if (!f) return InvalidArgument("unknown field \"" + std::string(key) + "\"");
    if (!value.is_number()) return InvalidArgument("field \"" + std::string(key) + "\" must be a number");
    const double v = value.to_number<double>();
    if (!std::isfinite(v) || v < f->min || v > f->max) {
      return InvalidArgument("field \"" + std::string(key) + "\" must be between " + json::Serialize(f->min) +
                             " and " + json::Serialize(f->max));
    }
    out[std::string(key)] = v;
  }
  return out;
}

WebResponse Json(int status, const boost::json::value& v) {
  WebResponse r;
  r.status = status;
  r.body = json::Serialize(v);
  return r;
}

int HttpStatusFor(const Status& s) {
  switch (s.code()) {
    case ErrorCode::kInvalidArgument:
      return 400;
    case ErrorCode::kTimeout:
      return 504;
    default:
      return 503;
  }
}

boost::json::value Time(const std::optional<TimePoint>& t) {
  if (!t) return nullptr;
  return boost::json::value(FormatRfc3339(*t));
}

boost::json::array Reasons(const std::vector<std::string>& v) {
  boost::json::array a;
  for (const auto& s : v) a.emplace_back(s);
  return a;
}

boost::json::object VerdictJson(const Verdict& v) {
  boost::json::object o = v.ToJson();
  o["finished_at"] = Time(v.finished_at);
  return o;
}

WebResponse StatusJson(const ServiceSnapshot& s) {
  boost::json::array pipelines;
  for (const auto& p : s.pipelines) {
    const bool ready = p.runs_seen >= p.min_runs;
    boost::json::object o{{"source", p.source},
                          {"pipeline", p.pipeline},
                          {"runs_seen", p.runs_seen},
                          {"runs_needed", p.min_runs},
                          {"state", ready ? "ready" : "cold_start"},
                          {"model_trained_at", Time(p.trained_at)},
                          {"samples", p.samples},
                          {"forest", p.has_forest}};
    if (!ready) {
      o["message"] = "cold start: " + std::to_string(p.runs_seen) + " of " + std::to_string(p.min_runs) +
                     " runs needed";
    }
    if (p.last) o["last_verdict"] = VerdictJson(*p.last);
    if (p.active) o["active"] = VerdictJson(*p.active);
    pipelines.emplace_back(std::move(o));
  }
  boost::json::object o{{"status", "ok"},
                        {"prometheus_up", s.prometheus_up},
                        {"query_errors", s.query_errors},
                        {"rejected_samples", s.rejected_samples},
                        {"training", s.training},
                        {"last_detect", Time(s.last_detect)},
                        {"last_train", Time(s.last_train)},
                        {"shard", std::to_string(s.shard.index) + "/" + std::to_string(s.shard.count)},
                        {"pipelines", std::move(pipelines)}};
  if (!s.last_error.empty()) o["last_error"] = s.last_error;
  return Json(200, o);
}

boost::json::object AnomalyJson(const AnomalyRecord& a) {
  boost::json::object o{{"source", a.source},     {"pipeline", a.pipeline},
                        {"run_id", a.run_id},     {"kind", a.kind},
                        {"severity", a.severity}, {"score", std::round(a.score * 1000) / 1000},
                        {"reasons", Reasons(a.reasons)}, {"at", FormatRfc3339(a.at)}};
  if (a.duration) o["duration_seconds"] = *a.duration;
  return o;
}

WebResponse Anomalies(const Service& service, const WebRequest& req) {
  double hours = 24;
  std::string text;
  if (req.QueryParam("hours", &text)) {
    char* end = nullptr;
    hours = std::strtod(text.c_str(), &end);
    if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(hours) || hours <= 0 ||
        hours > 24 * 400) {
      return WebResponse::JsonError(400, "parameter \"hours\" must be a number of hours in (0, 9600], got \"" +
                                             text + "\"");
    }
  }
  std::string pipeline;
  const bool filtered = req.QueryParam("pipeline", &pipeline);
  const ServiceSnapshot s = service.Snapshot();
  const TimePoint cutoff =
      service.clock().Now() - std::chrono::duration_cast<TimePoint::duration>(Seconds(hours * 3600));
  boost::json::array out;
  for (auto it = s.anomalies.rbegin(); it != s.anomalies.rend(); ++it) {
    if (it->at < cutoff || (filtered && it->pipeline != pipeline)) continue;
    out.emplace_back(AnomalyJson(*it));
  }
  return Json(200, boost::json::object{{"status", "ok"}, {"hours", hours}, {"anomalies", std::move(out)}});
}

WebResponse Collect(Service& service) {
  auto r = service.Collect();
  if (!r) {
    return WebResponse::JsonError(r.status().code() == ErrorCode::kInvalidArgument ? 409 : 502,
                                  r.status().message());
  }
  boost::json::value exporter = nullptr;
  if (auto parsed = json::Parse(*r)) exporter = std::move(*parsed);
  return Json(202, boost::json::object{{"status", "accepted"}, {"exporter", std::move(exporter)}});
}

Millis Days(double d) { return std::chrono::duration_cast<Millis>(Seconds(d * 86400)); }

WebResponse Train(Service& service, const WebRequest& req) {
  auto body = ParseNumberBody(req.body, {{"days", 0.01, 400}, {"contamination", 0.0001, 0.5}});
  if (!body) return WebResponse::JsonError(400, body.status().message());
  const Millis history = body->count("days") ? Days(body->at("days")) : service.config().schedule.history;
  std::optional<double> contamination;
  if (body->count("contamination")) contamination = body->at("contamination");
  if (!service.StartTraining(history, contamination)) {
    return WebResponse::JsonError(409, "a training is already running");
  }
  boost::json::object o{{"status", "accepted"}, {"history", FormatDuration(history)}};
  if (contamination) o["contamination"] = *contamination;
  return Json(202, o);
}

WebResponse Detect(Service& service, const WebRequest& req) {
  auto body = ParseNumberBody(req.body, {{"threshold", 0, 1e6}});
  if (!body) return WebResponse::JsonError(400, body.status().message());
  const double threshold = body->count("threshold") ? body->at("threshold") : 1.0;
  auto r = service.Detect(threshold);
  if (!r) return WebResponse::JsonError(HttpStatusFor(r.status()), r.status().message());
  boost::json::array verdicts;
  for (const auto& v : r->verdicts) verdicts.emplace_back(VerdictJson(v));
  return Json(200, boost::json::object{{"status", "ok"},
                                       {"threshold", threshold},
                                       {"runs", r->runs},
                                       {"verdicts", std::move(verdicts)}});
}

WebResponse Pipeline(Service& service, const WebRequest& req) {
  auto body = ParseNumberBody(req.body, {{"days", 0.01, 400}, {"threshold", 0, 1e6}});
  if (!body) return WebResponse::JsonError(400, body.status().message());
  boost::json::object o{{"status", "ok"}};
  auto collected = service.Collect();
  o["collect"] = collected ? boost::json::value("requested") : boost::json::value(collected.status().message());
  const Millis history = body->count("days") ? Days(body->at("days")) : service.config().schedule.history;
  auto trained = service.Train(history);
  if (!trained) return WebResponse::JsonError(HttpStatusFor(trained.status()), "train: " + trained.status().message());
  o["train"] = boost::json::object{{"pipelines", trained->pipelines}, {"runs", trained->runs}};
  const double threshold = body->count("threshold") ? body->at("threshold") : 1.0;
  auto detected = service.Detect(threshold);
  if (!detected) {
    return WebResponse::JsonError(HttpStatusFor(detected.status()), "detect: " + detected.status().message());
  }
  boost::json::array verdicts;
  for (const auto& v : detected->verdicts) verdicts.emplace_back(VerdictJson(v));
  o["detect"] = boost::json::object{{"runs", detected->runs}, {"verdicts", std::move(verdicts)}};
  return Json(200, o);
}

bool Authorized(const Service& service, const WebRequest& req) {
  const std::string& token = service.config().api_token;
  if (token.empty()) return true;
  const std::string want = "Bearer " + token;
  const std::string got = req.Header("Authorization");
  // Constant-time compare: the token must not leak through timing.
  if (got.size() != want.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < got.size(); ++i) diff |= static_cast<unsigned char>(got[i] ^ want[i]);
  return diff == 0;
}

}  // namespace

WebResponse HandleApiRequest(Service& service, const WebRequest& req) {
  bool known = false;
  bool allowed = false;
  for (const Route& r : kRoutes) {
    if (req.path != r.path) continue;
    known = true;
    allowed = allowed || req.method == r.method || (req.method == "HEAD" && r.method == std::string("GET"));
  }
  if (!known) return WebResponse::JsonError(404, "no such endpoint: " + req.path);
  // The method is checked before the token: a POST to a GET-only path is a
  // 405 whoever sends it.
  if (!allowed) return WebResponse::JsonError(405, "method " + req.method + " not allowed on " + req.path);
  if (req.method == "POST" && !Authorized(service, req)) {
    WebResponse r = WebResponse::JsonError(401, "missing or wrong bearer token (Authorization: Bearer ...)");
    r.headers.emplace_back("WWW-Authenticate", "Bearer");
    return r;
  }
  const std::string key = req.method + " " + req.path;
  if (key == "GET /") {
    return WebResponse::Text(200, RenderStatusPage(service.Snapshot(), service.clock().Now()),
                             "text/html; charset=utf-8");
  }
  if (key == "GET /health" || key == "GET /-/healthy") {
    const ServiceSnapshot s = service.Snapshot();
    return Json(200, boost::json::object{{"status", "ok"}, {"prometheus_up", s.prometheus_up}});
  }
  if (key == "GET /metrics") {
    return WebResponse::Text(200, RenderMetrics(service.Snapshot()), "text/plain; version=0.0.4; charset=utf-8");
  }
  if (key == "GET /api/v1/status") return StatusJson(service.Snapshot());
  if (key == "GET /api/v1/anomalies") return Anomalies(service, req);
  if (key == "POST /api/v1/collect") return Collect(service);
  if (key == "POST /api/v1/train") return Train(service, req);
  if (key == "POST /api/v1/detect") return Detect(service, req);
  if (key == "POST /api/v1/pipeline") return Pipeline(service, req);
  WebResponse r = WebResponse::JsonError(405, "method " + req.method + " not allowed on " + req.path);
  return r;
}

void RegisterRoutes(WebServer& server, Service& service) {
  for (const Route& r : kRoutes) {
    server.Handle(r.method, r.path, [&service](const WebRequest& req) { return HandleApiRequest(service, req); });
  }
}

}  // namespace cicd::detector
