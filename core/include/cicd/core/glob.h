#pragma once
// Shell-style patterns for include/exclude filters: '*' matches any run of
// characters including '/', '?' one character, [abc] a class.

#include <string>
#include <string_view>
#include <vector>

namespace cicd {

bool GlobMatch(std::string_view pattern, std::string_view text);

// Include/exclude lists: an empty include list admits everything; an exclude
// match always wins.
struct NameFilter {
  std::vector<std::string> include;
  std::vector<std::string> exclude;
  bool Allows(std::string_view name) const;
};

}  // namespace cicd
