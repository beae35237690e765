#include "cicd/exporter/text_format.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string_view>
#include <type_traits>

namespace cicd::exporter {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

// TextSerializer writes values with "%.16g"; to_chars with the same precision
// gives the same text (checked on 2M random doubles), and integral values,
// the common case (counts, bounds, timestamps), skip the float formatter.
void AppendNumber(double v, std::string& out) {
  if (std::isnan(v)) {
    out += "Nan";
    return;
  }
  if (std::isinf(v)) {
    out += v < 0 ? "-Inf" : "+Inf";
    return;
  }
  char buf[32];
  char* end;
  if (v == std::trunc(v) && std::fabs(v) < 1e15 && !(v == 0 && std::signbit(v))) {
    end = std::to_chars(buf, buf + sizeof buf, static_cast<std::int64_t>(v)).ptr;
  } else {
    end = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general, 16).ptr;
  }
  out.append(buf, end);
}

template <typename Int>
void AppendInt(Int v, std::string& out) {
  char buf[24];
  out.append(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
}

// Label values: backslash, double quote and line feed escaped; clean runs are
// appended whole instead of one ostream insertion per character.
void AppendEscaped(std::string_view v, std::string& out) {
  for (;;) {
    const auto p = v.find_first_of("\\\"\n");
    if (p == std::string_view::npos) {
      out.append(v);
      return;
    }
    out.append(v.data(), p);
    out += '\\';
    out += v[p] == '\n' ? 'n' : v[p];
    v.remove_prefix(p + 1);
  }
}

// One series' label set, `{a="x",b="y"` without the closing brace, built once
// and reused for every line of the series (14 for a duration histogram).
class SeriesWriter {
 public:
  SeriesWriter(const MetricFamily& family, const ClientMetric& metric, std::string& out)
      : name_(family.name), metric_(metric), out_(out) {
    for (const auto& l : metric.label) {
      labels_ += labels_.empty() ? '{' : ',';
      labels_ += l.name;
      labels_ += "=\"";
      AppendEscaped(l.value, labels_);
      labels_ += '"';
    }
  }

  // name+suffix{labels} value
  void Line(std::string_view suffix, double value) {
    Head(suffix);
    if (!labels_.empty()) out_ += '}';
    out_ += ' ';
    AppendNumber(value, out_);
    Tail();
  }
  void Line(std::string_view suffix, std::uint64_t value) {
    Head(suffix);
    if (!labels_.empty()) out_ += '}';
    out_ += ' ';
    AppendInt(value, out_);
    Tail();
  }
  // name+suffix{labels,extra="bound"} value (histogram le, summary quantile)
  template <typename Value>
  void Line(std::string_view suffix, std::string_view extra, double bound, Value value) {
    Head(suffix);
    out_ += labels_.empty() ? '{' : ',';
    out_ += extra;
    out_ += "=\"";
    AppendNumber(bound, out_);
    out_ += "\"} ";
    if constexpr (std::is_same_v<Value, double>) {
      AppendNumber(value, out_);
    } else {
      AppendInt(value, out_);
    }
    Tail();
  }

 private:
  void Head(std::string_view suffix) {
    out_ += name_;
    out_ += suffix;
    out_ += labels_;
  }
  void Tail() {
    if (metric_.timestamp_ms != 0) {
      out_ += ' ';
      AppendInt(metric_.timestamp_ms, out_);
    }
    out_ += '\n';
  }

  std::string_view name_;
  const ClientMetric& metric_;
  std::string& out_;
  std::string labels_;
};

void AppendMetric(const MetricFamily& family, const ClientMetric& m, std::string& out) {
  SeriesWriter w(family, m, out);
  switch (family.type) {
    case MetricType::Counter:
      w.Line("", m.counter.value);
      break;
    case MetricType::Gauge:
      w.Line("", m.gauge.value);
      break;
    case MetricType::Untyped:
      w.Line("", m.untyped.value);
      break;
    case MetricType::Summary:
      w.Line("_count", m.summary.sample_count);
      w.Line("_sum", m.summary.sample_sum);
      for (const auto& q : m.summary.quantile) w.Line("", "quantile", q.quantile, q.value);
      break;
    case MetricType::Histogram: {
      w.Line("_count", m.histogram.sample_count);
      w.Line("_sum", m.histogram.sample_sum);
      double last = -std::numeric_limits<double>::infinity();
      for (const auto& b : m.histogram.bucket) {
        w.Line("_bucket", "le", b.upper_bound, b.cumulative_count);
        last = b.upper_bound;
      }
      if (last != std::numeric_limits<double>::infinity()) {
        w.Line("_bucket", "le", std::numeric_limits<double>::infinity(), m.histogram.sample_count);
      }
      break;
    }
  }
}

const char* TypeName(MetricType t) {
  switch (t) {
    case MetricType::Counter: return "counter";
    case MetricType::Gauge: return "gauge";
    case MetricType::Summary: return "summary";
    case MetricType::Untyped: return "untyped";
    case MetricType::Histogram: return "histogram";
  }
  return "untyped";
}

}  // namespace

void AppendFamilyHeader(const MetricFamily& family, std::string& out) {
  if (!family.help.empty()) {  // like TextSerializer 1.0.1: help is not escaped
    out += "# HELP ";
    out += family.name;
    out += ' ';
    out += family.help;
    out += '\n';
  }
  out += "# TYPE ";
  out += family.name;
  out += ' ';
  out += TypeName(family.type);
  out += '\n';
}

void AppendFamilyMetrics(const MetricFamily& family, std::string& out) {
  for (const auto& m : family.metric) AppendMetric(family, m, out);
}

std::string RenderText(const std::vector<MetricFamily>& families) {
  std::string out;
  for (const auto& f : families) {
    AppendFamilyHeader(f, out);
    AppendFamilyMetrics(f, out);
  }
  return out;
}

}  // namespace cicd::exporter
