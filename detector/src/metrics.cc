#include "cicd/detector/metrics.h"

#include <charconv>
#include <cmath>
#include <initializer_list>
#include <utility>

namespace cicd::detector {
namespace {

using Labels = std::initializer_list<std::pair<const char*, const std::string&>>;

std::string Value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[32];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::string(buf, p) : "NaN";
}

std::string Escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

class Writer {
 public:
  void Family(const char* name, const char* type, const char* help) {
    name_ = name;
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }
  void Sample(Labels labels, double v) {
    out_ += name_;
    if (labels.size() > 0) {
      out_ += '{';
      bool first = true;
      for (const auto& [k, val] : labels) {
        if (!first) out_ += ',';
        first = false;
        out_ += k;
        out_ += "=\"";
        out_ += Escape(val);
        out_ += '"';
      }
      out_ += '}';
    }
    out_ += ' ';
    out_ += Value(v);
    out_ += '\n';
  }
  std::string Take() { return std::move(out_); }

 private:
  const char* name_ = "";
  std::string out_;
};

}  // namespace

std::string RenderMetrics(const ServiceSnapshot& s) {
  Writer w;
  static const std::string kRun = "run", kStuck = "stuck";
  w.Family("cicd_anomaly_score", "gauge",
           "Normalised anomaly score of the newest run (model=\"run\") and of the oldest running run "
           "(model=\"stuck\"); 1 is the alert threshold.");
  for (const auto& p : s.pipelines) {
    if (p.last && p.last->scored) w.Sample({{"source", p.source}, {"pipeline", p.pipeline}, {"model", kRun}}, p.last->score);
    if (p.runs_seen >= p.min_runs) {
      w.Sample({{"source", p.source}, {"pipeline", p.pipeline}, {"model", kStuck}},
               p.active ? p.active->score : 0.0);
    }
  }
  w.Family("cicd_anomaly_info", "gauge",
           "1 while the newest run (model=\"run\") or the oldest running run (model=\"stuck\") is judged "
           "anomalous; labels carry its kind, severity and the detector's reasons for alert annotations. "
           "At most one series per pipeline and model.");
  for (const auto& p : s.pipelines) {
    const auto info = [&](const std::optional<Verdict>& v, const std::string& model) {
      if (!v || !v->anomalous) return;
      std::string reason;
      for (const auto& r : v->reasons) {
        if (!reason.empty()) reason += "; ";
        reason += r;
      }
      w.Sample({{"source", p.source}, {"pipeline", p.pipeline}, {"model", model}, {"kind", v->kind},
                {"severity", v->severity}, {"reason", reason}},
               1);
    };
    info(p.last, kRun);
    info(p.active, kStuck);
  }
  w.Family("cicd_anomaly_feature_score", "gauge",
           "Robust deviation (scaled MAD units) of the newest run's feature from its pipeline's baseline.");
  for (const auto& p : s.pipelines) {
    for (const auto& [feature, v] : p.feature_scores) {
      w.Sample({{"source", p.source}, {"pipeline", p.pipeline}, {"feature", feature}}, v);
    }
  }
  w.Family("cicd_anomaly_expected", "gauge",
           "Expected band of a feature: p10 (lower), median and p90 (upper) of the pipeline's baseline "
           "(seconds for duration and queue, a count for tests).");
  static const std::string kLower = "lower", kMedian = "median", kUpper = "upper";
  for (const auto& p : s.pipelines) {
    for (const auto& [feature, b] : p.expected) {
      w.Sample({{"source", p.source}, {"pipeline", p.pipeline}, {"feature", feature}, {"bound", kLower}}, b.lower);
      w.Sample({{"source", p.source}, {"pipeline", p.pipeline}, {"feature", feature}, {"bound", kMedian}}, b.median);
      w.Sample({{"source", p.source}, {"pipeline", p.pipeline}, {"feature", feature}, {"bound", kUpper}}, b.upper);
    }
  }
  w.Family("cicd_anomalies_total", "counter", "Anomalies detected since the detector started.");
  for (const auto& [key, n] : s.anomaly_counts) {
    const auto& [source, pipeline, kind, severity] = key;
    w.Sample({{"source", source}, {"pipeline", pipeline}, {"kind", kind}, {"severity", severity}},
             static_cast<double>(n));
  }
  w.Family("cicd_detector_model_trained_timestamp_seconds", "gauge",
           "When the pipeline's model was last trained (Unix seconds).");
  for (const auto& p : s.pipelines) {
    if (p.trained_at) w.Sample({{"source", p.source}, {"pipeline", p.pipeline}}, ToUnixSeconds(*p.trained_at));
  }
  w.Family("cicd_detector_model_samples", "gauge", "Runs the pipeline's model has learnt from.");
  for (const auto& p : s.pipelines) {
    w.Sample({{"source", p.source}, {"pipeline", p.pipeline}}, static_cast<double>(p.runs_seen));
  }
  w.Family("cicd_detector_prometheus_up", "gauge",
           "1 when the last query to Prometheus succeeded, else 0.");
  w.Sample({}, s.prometheus_up ? 1 : 0);
  w.Family("cicd_detector_query_errors_total", "counter", "Failed queries to Prometheus.");
  w.Sample({}, static_cast<double>(s.query_errors));
  w.Family("cicd_detector_rejected_samples_total", "counter",
           "Samples (NaN, Inf) and runs (incomplete) read from Prometheus and rejected.");
  w.Sample({}, static_cast<double>(s.rejected_samples));
  w.Family("cicd_detector_training", "gauge", "1 while a training runs in the background.");
  w.Sample({}, s.training ? 1 : 0);
  static const std::string kVersion = CICD_VERSION;
  w.Family("cicd_detector_build_info", "gauge", "Always 1; the version of cicd-detector.");
  w.Sample({{"version", kVersion}}, 1);
  return w.Take();
}

}  // namespace cicd::detector
