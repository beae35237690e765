#include "source_util.h"

#include <algorithm>
#include <cstring>

#include "cicd/core/http_client.h"
#include "cicd/core/log.h"

namespace cicd::exporter::detail {

std::string TrimSpace(std::string s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return "";
  const auto last = s.find_last_not_of(" \t\r\n");
  return s.substr(first, last - first + 1);
}

std::string WithoutQuery(const std::string& url) { return url.substr(0, url.find('?')); }

std::string ReadToken(YamlMap& y, const std::string& key) {
  std::string token = TrimSpace(y.ExpandedString(key, ""));
  Logging::AddSecret(token);
  if (std::any_of(token.begin(), token.end(),
                  [](char c) { return static_cast<unsigned char>(c) <= ' ' || c == 0x7f; })) {
    y.Fail(key, "contains spaces or control characters; check the variable or file");
  }
  return token;
}

std::string NextPageUrl(const std::string& first, const std::string& next,
                        const std::string& origin) {
  for (const char* key : {"?page=", "&page="}) {
    const auto pos = next.find(key);
    if (pos == std::string::npos) continue;
    const auto begin = pos + std::strlen(key);
    const auto end = next.find_first_not_of("0123456789", begin);
    const std::string digits = next.substr(begin, end == std::string::npos ? end : end - begin);
    if (!digits.empty() && digits.size() < 9) {
      return first + (first.find('?') == std::string::npos ? "?" : "&") + "page=" + digits;
    }
  }
  return !next.empty() && next[0] == '/' ? origin + next : next;
}

bool SameOrigin(const std::string& url, const std::string& origin) {
  auto parsed = Url::Parse(url);
  return parsed && parsed->Origin() == origin;
}

}  // namespace cicd::exporter::detail
