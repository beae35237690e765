#include "cicd/core/glob.h"

#include <fnmatch.h>

namespace cicd {

bool GlobMatch(std::string_view pattern, std::string_view text) {
  return fnmatch(std::string(pattern).c_str(), std::string(text).c_str(), 0) == 0;
}

bool NameFilter::Allows(std::string_view name) const {
  for (const auto& p : exclude) {
    if (GlobMatch(p, name)) return false;
  }
  if (include.empty()) return true;
  for (const auto& p : include) {
    if (GlobMatch(p, name)) return true;
  }
  return false;
}

}  // namespace cicd
