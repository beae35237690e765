#pragma once
// For fakes of Prometheus: the pipelines a BatchMatcher selected in a
// HistoryQuery (`pipeline=~"a|b"`, escaped for RE2 and PromQL), so a fake can
// answer only those. Empty when the query has no pipeline matcher (= all).

#include <set>
#include <string>

namespace cicd::testing {

inline std::set<std::string> PipelinesOfBatchMatcher(const std::string& promql) {
  std::set<std::string> out;
  const std::string key = "pipeline=~\"";
  auto b = promql.find(key);
  if (b == std::string::npos) return out;
  std::string cur;
  for (std::size_t i = b + key.size(); i < promql.size(); ++i) {
    char c = promql[i];
    if (c == '\\') {
      // "\\." is PromQL's escape of RE2's "\.": drop both backslashes.
      while (i < promql.size() && promql[i] == '\\') ++i;
      cur += promql[i];
      continue;
    }
    if (c == '"') break;
    if (c == '|') {
      out.insert(cur);
      cur.clear();
      continue;
    }
    cur += c;
  }
  out.insert(cur);
  return out;
}

}  // namespace cicd::testing
