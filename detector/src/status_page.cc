// The status page: one self-contained HTML document (inline CSS and SVG, no
// scripts or external assets).

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "cicd/detector/api.h"

namespace cicd::detector {
namespace {

std::string Html(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string Fmt(double v, const char* f = "%.0f") {
  char buf[48];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

// Run durations (dots, anomalous ones red) over the expected duration band.
std::string Chart(const PipelineSnapshot& p) {
  if (p.recent.empty()) return "<p class=muted>no runs yet</p>";
  constexpr double kW = 560, kH = 140, kPad = 28;
  double hi = 1;
  for (const auto& r : p.recent) hi = std::max(hi, r.duration);
  const auto band = p.expected.find("duration");
  if (band != p.expected.end()) hi = std::max(hi, band->second.upper);
  hi *= 1.1;
  const std::size_t n = p.recent.size();
  auto x = [&](std::size_t i) { return kPad + (kW - 2 * kPad) * (n == 1 ? 0.5 : double(i) / double(n - 1)); };
  auto y = [&](double v) { return kH - kPad / 2 - (kH - kPad) * (v / hi); };
  std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + Fmt(kW) + "\" height=\"" + Fmt(kH) +
                    "\" role=img aria-label=\"run durations\">";
  svg += "<rect x=0 y=0 width=\"" + Fmt(kW) + "\" height=\"" + Fmt(kH) + "\" fill=\"#fafafa\"/>";
  if (band != p.expected.end()) {
    const Band& b = band->second;
    svg += "<rect class=band x=\"" + Fmt(kPad) + "\" y=\"" + Fmt(y(b.upper), "%.1f") + "\" width=\"" +
           Fmt(kW - 2 * kPad) + "\" height=\"" + Fmt(std::max(1.0, y(b.lower) - y(b.upper)), "%.1f") +
           "\" fill=\"#cfe8cf\"><title>expected " + Fmt(b.lower) + "-" + Fmt(b.upper) + " s</title></rect>";
    svg += "<line x1=\"" + Fmt(kPad) + "\" x2=\"" + Fmt(kW - kPad) + "\" y1=\"" + Fmt(y(b.median), "%.1f") +
           "\" y2=\"" + Fmt(y(b.median), "%.1f") + "\" stroke=\"#5a5\" stroke-dasharray=\"4 3\"/>";
  }
  std::string line;
  for (std::size_t i = 0; i < n; ++i) {
    line += (i ? " " : "") + Fmt(x(i), "%.1f") + "," + Fmt(y(p.recent[i].duration), "%.1f");
  }
  svg += "<polyline points=\"" + line + "\" fill=none stroke=\"#888\"/>";
  for (std::size_t i = 0; i < n; ++i) {
    const auto& r = p.recent[i];
    svg += "<circle cx=\"" + Fmt(x(i), "%.1f") + "\" cy=\"" + Fmt(y(r.duration), "%.1f") + "\" r=\"" +
           (r.anomalous ? "5" : "2.5") + "\" fill=\"" + (r.anomalous ? "#d33" : "#36c") + "\"" +
           (r.anomalous ? " class=anomalous" : "") + "><title>" + FormatRfc3339(r.finished) + ": " +
           Fmt(r.duration) + " s" + (r.anomalous ? " (anomalous)" : "") + "</title></circle>";
  }
  svg += "<text x=2 y=12 font-size=10>" + Fmt(hi) + " s</text><text x=2 y=\"" + Fmt(kH - 2) +
         "\" font-size=10>0</text></svg>";
  return svg;
}

}  // namespace

std::string RenderStatusPage(const ServiceSnapshot& s, TimePoint now) {
  std::string h =
      "<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>cicd-detector</title>"
      "<style>body{font-family:sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse}"
      "td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}"
      ".bad{color:#b00}.ok{color:#070}.muted{color:#888}section{margin-bottom:1.5em}</style></head><body>";
  h += "<h1>cicd-detector</h1><p>version " CICD_VERSION " &middot; " + FormatRfc3339(now) + " &middot; Prometheus ";
  h += s.prometheus_up ? "<span class=ok>up</span>" : "<span class=bad>down</span>";
  if (!s.last_error.empty()) h += " <span class=muted>(" + Html(s.last_error) + ")</span>";
  h += s.training ? " &middot; training..." : "";
  h += " &middot; shard " + std::to_string(s.shard.index) + "/" + std::to_string(s.shard.count) + "</p>";

  h += "<h2>Pipelines</h2><table><tr><th>source</th><th>pipeline</th><th>model</th><th>trained</th>"
       "<th>last score</th><th>expected duration</th></tr>";
  for (const auto& p : s.pipelines) {
    const bool ready = p.runs_seen >= p.min_runs;
    h += "<tr><td>" + Html(p.source) + "</td><td>" + Html(p.pipeline) + "</td><td>";
    h += ready ? "ready (" + std::to_string(p.runs_seen) + " runs)"
               : "<span class=muted>cold start: " + std::to_string(p.runs_seen) + " of " +
                     std::to_string(p.min_runs) + " runs</span>";
    h += "</td><td>" + (p.trained_at ? FormatRfc3339(*p.trained_at) : std::string("never")) + "</td><td>";
    if (p.last && p.last->scored) {
      h += std::string("<span class=") + (p.last->score >= 1 ? "bad" : "ok") + ">" + Fmt(p.last->score, "%.2f") +
           "</span>";
    }
    h += "</td><td>";
    if (auto b = p.expected.find("duration"); b != p.expected.end()) {
      h += Fmt(b->second.lower) + "-" + Fmt(b->second.upper) + " s (median " + Fmt(b->second.median) + " s)";
    }
    h += "</td></tr>";
  }
  h += "</table>";

  h += "<h2>Recent anomalies</h2>";
  if (s.anomalies.empty()) h += "<p class=muted>none</p>";
  else h += "<table><tr><th>when</th><th>pipeline</th><th>run</th><th>kind</th><th>severity</th><th>why</th></tr>";
  std::size_t shown = 0;
  for (auto it = s.anomalies.rbegin(); it != s.anomalies.rend() && shown < 50; ++it, ++shown) {
    h += "<tr><td>" + FormatRfc3339(it->at) + "</td><td>" + Html(it->source + " " + it->pipeline) + "</td><td>" +
         Html(it->run_id) + "</td><td>" + Html(it->kind) + "</td><td>" + Html(it->severity) + " (" +
         Fmt(it->score, "%.2f") + ")</td><td>";
    for (const auto& r : it->reasons) h += Html(r) + "<br>";
    h += "</td></tr>";
  }
  if (!s.anomalies.empty()) h += "</table>";

  h += "<h2>Run durations</h2>";
  for (const auto& p : s.pipelines) {
    h += "<section><h3>" + Html(p.source + " / " + p.pipeline) + "</h3>" + Chart(p) + "</section>";
  }
  h += "</body></html>\n";
  return h;
}

}  // namespace cicd::detector
