#pragma once
// Reading YAML config into typed structs with errors that name the key and the
// line. Config errors are start-up misconfiguration: they throw ConfigError,
// which main turns into a message and exit code 1.

#include <yaml-cpp/yaml.h>

#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "cicd/core/time.h"

namespace cicd {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Parses a YAML document; throws ConfigError with the line on syntax errors.
YAML::Node LoadYaml(const std::string& text, const std::string& file_name);

// Expands ${VAR} references from the environment. An unset variable throws
// ConfigError naming the variable and `where`. "$$" is a literal '$'.
std::string ExpandEnv(const std::string& value, const std::string& where);

// Records, while alive, the dotted path of every key a YamlMap on this
// thread asks for, present or not ("sources[0].jobs.include"). Lets a test
// compare the keys a parser reads with the keys a documented example holds.
class YamlKeyRecorder {
 public:
  YamlKeyRecorder();
  ~YamlKeyRecorder();
  YamlKeyRecorder(const YamlKeyRecorder&) = delete;
  YamlKeyRecorder& operator=(const YamlKeyRecorder&) = delete;
  const std::set<std::string>& keys() const { return keys_; }

 private:
  friend class YamlMap;
  std::set<std::string> keys_;
  YamlKeyRecorder* previous_;
};

// A mapping whose keys are read one by one; Finish() rejects the keys nobody
// read (typos fail loudly instead of being ignored).
class YamlMap {
 public:
  // `path` is the dotted location for messages, e.g. "sources[0]". A null
  // node is treated as an empty mapping.
  YamlMap(const YAML::Node& node, std::string path);

  bool Has(const std::string& key) const;
  YAML::Node Child(const std::string& key);  // marks as read; may be null

  std::string String(const std::string& key, const std::string& def);
  std::string RequiredString(const std::string& key);
  // Like String but ${VAR} expanded; for credentials and URLs.
  std::string ExpandedString(const std::string& key, const std::string& def);
  Millis Duration(const std::string& key, Millis def);
  std::int64_t Int(const std::string& key, std::int64_t def, std::int64_t min,
                   std::int64_t max);
  double Double(const std::string& key, double def, double min, double max);
  bool Bool(const std::string& key, bool def);
  std::vector<std::string> StringList(const std::string& key);
  std::vector<double> DoubleList(const std::string& key, std::vector<double> def);

  // "sources[0].token (line 12)"
  std::string Where(const std::string& key) const;
  const std::string& path() const { return path_; }
  int line() const { return line_; }
  [[noreturn]] void Fail(const std::string& key, const std::string& problem) const;

  // Throws for any key not read.
  void Finish() const;

 private:
  YAML::Node Get(const std::string& key);
  YAML::Node node_;
  std::string path_;
  int line_ = 0;
  std::set<std::string> read_;
};

}  // namespace cicd
