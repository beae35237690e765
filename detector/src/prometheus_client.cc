#include "cicd/detector/prometheus_client.h"

#include <cmath>
#include <cstdio>
#include <thread>

#include "cicd/core/json.h"
#include "cicd/core/log.h"

namespace cicd::detector {
namespace {

Result<PromSample> ParsePoint(const boost::json::value& p, std::size_t* non_finite, bool* ok) {
  *ok = false;
  const auto* arr = p.if_array();
  if (arr == nullptr || arr->size() != 2 || !(*arr)[0].is_number() || !(*arr)[1].is_string()) {
    return ParseError("a sample is not [time, \"value\"]");
  }
  PromSample s;
  s.t = (*arr)[0].to_number<double>();
  const std::string text((*arr)[1].get_string());
  char* end = nullptr;
  s.v = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || *end != '\0') return ParseError("sample value \"" + text + "\" is not a number");
  if (!std::isfinite(s.v)) {
    ++*non_finite;
    return s;
  }
  *ok = true;
  return s;
}

// The API's envelope: the parsed document of a "success" answer, else the
// error it reports ({"status":"error","errorType":..,"error":..}) as a
// Status; `what` names the call in the message ("query", "series lookup").
Result<boost::json::value> ParseEnvelope(std::string_view body, int http_status, const char* what) {
  auto doc = json::Parse(body);
  if (!doc) {
    return doc.status().WithContext("Prometheus answered HTTP " + std::to_string(http_status) +
                                    " with a body that is not JSON");
  }
  const auto status = json::GetString(*doc, "status");
  if (!status) return ParseError("Prometheus response has no \"status\"");
  if (*status != "success") {
    const std::string type = json::GetString(*doc, "errorType").value_or("unknown");
    const std::string error = json::GetString(*doc, "error").value_or("no message");
    const ErrorCode code = http_status >= 500 || type == "timeout" || type == "unavailable"
                               ? ErrorCode::kUnavailable
                               : ErrorCode::kInvalidArgument;
    return Status::Error(code, std::string("Prometheus ") + what + " failed (" + type + "): " + error);
  }
  return doc;
}

}  // namespace

Result<PromQueryResult> ParseQueryResponse(std::string_view body, int http_status) {
  auto doc = ParseEnvelope(body, http_status, "query");
  if (!doc) return doc.status();
  PromQueryResult out;
  if (const auto* w = json::FindArray(*doc, "warnings")) {
    for (const auto& x : *w) {
      if (x.is_string()) out.warnings.emplace_back(x.get_string());
    }
  }
  const auto* data = json::FindObject(*doc, "data");
  if (data == nullptr) return ParseError("Prometheus response has no \"data\"");
  const boost::json::value data_v(*data);
  out.result_type = json::GetString(data_v, "resultType").value_or("");
  const auto* result = json::Find(data_v, "result");
  if (result == nullptr) return ParseError("Prometheus response has no \"data.result\"");
  if (out.result_type == "scalar" || out.result_type == "string") {
    PromSeries s;
    bool ok = false;
    auto p = ParsePoint(*result, &out.non_finite, &ok);
    if (!p) return p.status();
    if (ok) s.samples.push_back(*p);
    out.series.push_back(std::move(s));
    return out;
  }
  if (out.result_type != "vector" && out.result_type != "matrix") {
    return ParseError("unknown resultType \"" + out.result_type + "\"");
  }
  const auto* items = result->if_array();
  if (items == nullptr) return ParseError("data.result is not a list");
  for (const auto& item : *items) {
    PromSeries s;
    if (const auto* metric = json::FindObject(item, "metric")) {
      for (const auto& [k, v] : *metric) {
        if (v.is_string()) s.labels.emplace(std::string(k), std::string(v.get_string()));
      }
    }
    if (const auto* value = json::Find(item, "value")) {
      bool ok = false;
      auto p = ParsePoint(*value, &out.non_finite, &ok);
      if (!p) return p.status();
      if (ok) s.samples.push_back(*p);
    } else if (const auto* values = json::FindArray(item, "values")) {
      s.samples.reserve(values->size());
      for (const auto& v : *values) {
        bool ok = false;
        auto p = ParsePoint(v, &out.non_finite, &ok);
        if (!p) return p.status();
        if (ok) s.samples.push_back(*p);
      }
    } else {
      return ParseError("a series has neither \"value\" nor \"values\"");
    }
    out.series.push_back(std::move(s));
  }
  return out;
}

Result<std::vector<std::map<std::string, std::string>>> ParseSeriesResponse(std::string_view body,
                                                                             int http_status) {
  auto doc = ParseEnvelope(body, http_status, "series lookup");
  if (!doc) return doc.status();
  const auto* data = json::FindArray(*doc, "data");
  if (data == nullptr) return ParseError("Prometheus series response has no \"data\" list");
  std::vector<std::map<std::string, std::string>> out;
  out.reserve(data->size());
  for (const auto& item : *data) {
    const auto* obj = item.if_object();
    if (obj == nullptr) return ParseError("a series in \"data\" is not an object");
    std::map<std::string, std::string> labels;
    for (const auto& [k, v] : *obj) {
      if (v.is_string()) labels.emplace(std::string(k), std::string(v.get_string()));
    }
    out.push_back(std::move(labels));
  }
  return out;
}

PrometheusClient::PrometheusClient(PrometheusClientOptions options, HttpFetcher* fetcher,
                                   std::function<void(Millis)> sleep)
    : options_(std::move(options)), fetcher_(fetcher), sleep_(std::move(sleep)) {
  if (!options_.bearer_token.empty()) Logging::AddSecret(options_.bearer_token);
  if (!options_.basic_password.empty()) Logging::AddSecret(options_.basic_password);
}

Result<HttpResponse> PrometheusClient::Fetch(const std::string& path_and_query, const std::string& form) {
  HttpRequest req;
  req.url = JoinUrl(options_.url, path_and_query);
  req.timeout = options_.timeout;
  if (!form.empty()) {
    // Queries go in a POST body: a history query over 50 pipeline names is
    // tens of KB, more than proxies in front of Thanos or Mimir accept in a
    // URL (nginx: 8 KB). Prometheus's API takes both forms.
    req.method = "POST";
    req.body = form;
    req.content_type = "application/x-www-form-urlencoded";
  }
  if (!options_.bearer_token.empty()) {
    req.headers.emplace_back("Authorization", "Bearer " + options_.bearer_token);
  } else if (!options_.basic_user.empty()) {
    req.headers.emplace_back("Authorization", BasicAuthHeader(options_.basic_user, options_.basic_password));
  }
  Status last;
  Millis wait = options_.backoff;
  for (int attempt = 1; attempt <= options_.max_attempts; ++attempt) {
    auto r = fetcher_->Fetch(req);
    if (r) {
      if (r->status == 401 || r->status == 403) {
        return Status::Error(ErrorCode::kUnauthenticated,
                             "Prometheus refused the credentials (HTTP " + std::to_string(r->status) + ")");
      }
      if (r->status < 500 || attempt == options_.max_attempts) return r;
      last = Status::Error(ErrorCode::kUnavailable, "Prometheus answered HTTP " + std::to_string(r->status));
    } else {
      last = r.status();
    }
    if (attempt < options_.max_attempts) {
      if (sleep_) {
        sleep_(wait);
      } else {
        std::this_thread::sleep_for(wait);
      }
      wait *= 2;
    }
  }
  return last;
}

Result<PromQueryResult> PrometheusClient::Get(const std::string& path_and_query, const std::string& form) {
  auto r = Fetch(path_and_query, form);
  if (!r) return r.status();
  return ParseQueryResponse(r->body, r->status);
}

Result<std::vector<std::map<std::string, std::string>>> PrometheusClient::Series(std::string_view match,
                                                                                   TimePoint start,
                                                                                   TimePoint end) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "&start=%.3f&end=%.3f", ToUnixSeconds(start), ToUnixSeconds(end));
  auto r = Fetch("/api/v1/series", "match%5B%5D=" + UrlEncode(match) + buf);
  if (!r) return r.status();
  return ParseSeriesResponse(r->body, r->status);
}

Result<PromQueryResult> PrometheusClient::Query(std::string_view promql, std::optional<TimePoint> at) {
  std::string form = "query=" + UrlEncode(promql);
  if (at) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3f", ToUnixSeconds(*at));
    form += std::string("&time=") + buf;
  }
  return Get("/api/v1/query", form);
}

Result<PromQueryResult> PrometheusClient::QueryRange(std::string_view promql, TimePoint start,
                                                     TimePoint end, Millis step) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "&start=%.3f&end=%.3f&step=%.3f", ToUnixSeconds(start),
                ToUnixSeconds(end), step.count() / 1000.0);
  return Get("/api/v1/query_range?query=" + UrlEncode(promql) + buf);
}

Status PrometheusClient::Ping() {
  auto r = Query("vector(1)");
  return r ? Status::Ok() : r.status();
}

}  // namespace cicd::detector
