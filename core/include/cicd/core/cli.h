#pragma once
// Command-line flags in the style of Prometheus exporters: --name=value or
// --name value, boolean flags alone, --help and --version. An unknown flag is
// a usage error (exit code 2).

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "cicd/core/result.h"

namespace cicd {

class FlagSet {
 public:
  // `usage` is the first line of --help, e.g. "cicd-exporter [flags] [command]".
  explicit FlagSet(std::string usage) : usage_(std::move(usage)) {}

  void Add(std::string name, std::string default_value, std::string help);
  void AddBool(std::string name, std::string help);

  // Parses argv[1..]; returns the positional arguments in order. Flags may
  // appear anywhere. REQUIRES: flags registered before.
  Result<std::vector<std::string>> Parse(int argc, const char* const* argv);

  const std::string& Get(std::string_view name) const;
  bool GetBool(std::string_view name) const;
  // True when given on the command line (not just defaulted).
  bool IsSet(std::string_view name) const;
  std::string Help() const;

 private:
  struct Flag {
    std::string value;
    std::string default_value;
    std::string help;
    bool is_bool = false;
    bool set = false;
  };
  std::string usage_;
  std::map<std::string, Flag, std::less<>> flags_;
  std::vector<std::string> order_;
};

}  // namespace cicd
