#include "cicd/core/yaml.h"

#include <cmath>
#include <cstdlib>

namespace cicd {
namespace {

int LineOf(const YAML::Node& n) {
  const YAML::Mark m = n.Mark();
  return m.line >= 0 ? m.line + 1 : 0;
}

std::string Join(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

thread_local YamlKeyRecorder* t_recorder = nullptr;

}  // namespace

YamlKeyRecorder::YamlKeyRecorder() : previous_(t_recorder) { t_recorder = this; }
YamlKeyRecorder::~YamlKeyRecorder() { t_recorder = previous_; }

YAML::Node LoadYaml(const std::string& text, const std::string& file_name) {
  try {
    return YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw ConfigError(file_name + ": YAML syntax error at line " +
                      std::to_string(e.mark.line + 1) + ", column " +
                      std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
}

std::string ExpandEnv(const std::string& value, const std::string& where) {
  std::string out;
  for (std::size_t i = 0; i < value.size(); ++i) {
    if (value[i] != '$' || i + 1 >= value.size()) {
      out += value[i];
      continue;
    }
    if (value[i + 1] == '$') {
      out += '$';
      ++i;
      continue;
    }
    if (value[i + 1] != '{') {
      out += value[i];
      continue;
    }
    const auto close = value.find('}', i + 2);
    if (close == std::string::npos) {
      throw ConfigError(where + ": unterminated ${ in value");
    }
    const std::string name = value.substr(i + 2, close - i - 2);
    const char* env = std::getenv(name.c_str());
    if (env == nullptr) {
      throw ConfigError(where + ": environment variable " + name + " is not set");
    }
    out += env;
    i = close;
  }
  return out;
}

YamlMap::YamlMap(const YAML::Node& node, std::string path)
    : node_(node), path_(std::move(path)), line_(LineOf(node)) {
  if (node_ && !node_.IsNull() && !node_.IsMap()) {
    throw ConfigError((path_.empty() ? std::string("config") : path_) + " (line " +
                      std::to_string(line_) + "): expected a mapping");
  }
}

bool YamlMap::Has(const std::string& key) const {
  return node_ && node_.IsMap() && node_[key] && !node_[key].IsNull();
}

YAML::Node YamlMap::Get(const std::string& key) {
  read_.insert(key);
  if (t_recorder != nullptr) t_recorder->keys_.insert(Join(path_, key));
  if (!node_ || !node_.IsMap()) return YAML::Node();
  return node_[key];
}

YAML::Node YamlMap::Child(const std::string& key) { return Get(key); }

std::string YamlMap::Where(const std::string& key) const {
  std::string out = Join(path_, key);
  if (node_ && node_.IsMap() && node_[key]) {
    out += " (line " + std::to_string(LineOf(node_[key])) + ")";
  } else if (line_ > 0) {
    out += " (in mapping at line " + std::to_string(line_) + ")";
  }
  return out;
}

void YamlMap::Fail(const std::string& key, const std::string& problem) const {
  throw ConfigError(Where(key) + ": " + problem);
}

std::string YamlMap::String(const std::string& key, const std::string& def) {
  const YAML::Node n = Get(key);
  if (!n || n.IsNull()) return def;
  if (!n.IsScalar()) Fail(key, "expected a string");
  return n.Scalar();
}

std::string YamlMap::RequiredString(const std::string& key) {
  const YAML::Node n = Get(key);
  if (!n || n.IsNull()) Fail(key, "required field is missing");
  if (!n.IsScalar() || n.Scalar().empty()) Fail(key, "expected a non-empty string");
  return n.Scalar();
}

std::string YamlMap::ExpandedString(const std::string& key, const std::string& def) {
  return ExpandEnv(String(key, def), Where(key));
}

Millis YamlMap::Duration(const std::string& key, Millis def) {
  const YAML::Node n = Get(key);
  if (!n || n.IsNull()) return def;
  if (!n.IsScalar()) Fail(key, "expected a duration such as 30s");
  auto d = ParseDuration(n.Scalar());
  if (!d) Fail(key, d.status().message());
  return *d;
}

std::int64_t YamlMap::Int(const std::string& key, std::int64_t def, std::int64_t min,
                          std::int64_t max) {
  const YAML::Node n = Get(key);
  if (!n || n.IsNull()) return def;
  std::int64_t v = 0;
  if (!n.IsScalar() || !YAML::convert<std::int64_t>::decode(n, v)) {
    Fail(key, "expected an integer, got \"" + (n.IsScalar() ? n.Scalar() : "a collection") + "\"");
  }
  if (v < min || v > max) {
    Fail(key, "must be between " + std::to_string(min) + " and " + std::to_string(max));
  }
  return v;
}

double YamlMap::Double(const std::string& key, double def, double min, double max) {
  const YAML::Node n = Get(key);
  if (!n || n.IsNull()) return def;
  double v = 0;
  if (!n.IsScalar() || !YAML::convert<double>::decode(n, v) || !std::isfinite(v)) {
    Fail(key, "expected a number, got \"" + (n.IsScalar() ? n.Scalar() : "a collection") + "\"");
  }
  if (v < min || v > max) {
    Fail(key, "must be between " + std::to_string(min) + " and " + std::to_string(max));
  }
  return v;
}

bool YamlMap::Bool(const std::string& key, bool def) {
  const YAML::Node n = Get(key);
  if (!n || n.IsNull()) return def;
  bool v = false;
  if (!n.IsScalar() || !YAML::convert<bool>::decode(n, v)) {
    Fail(key, "expected true or false");
  }
  return v;
}

std::vector<std::string> YamlMap::StringList(const std::string& key) {
  const YAML::Node n = Get(key);
  std::vector<std::string> out;
  if (!n || n.IsNull()) return out;
  if (n.IsScalar()) return {n.Scalar()};
  if (!n.IsSequence()) Fail(key, "expected a list of strings");
  for (const auto& item : n) {
    if (!item.IsScalar()) Fail(key, "expected a list of strings");
    out.push_back(item.Scalar());
  }
  return out;
}

std::vector<double> YamlMap::DoubleList(const std::string& key, std::vector<double> def) {
  const YAML::Node n = Get(key);
  if (!n || n.IsNull()) return def;
  if (!n.IsSequence()) Fail(key, "expected a list of numbers");
  std::vector<double> out;
  for (const auto& item : n) {
    double v = 0;
    if (!item.IsScalar() || !YAML::convert<double>::decode(item, v) || !std::isfinite(v)) {
      Fail(key, "expected a list of numbers");
    }
    out.push_back(v);
  }
  return out;
}

void YamlMap::Finish() const {
  if (!node_ || !node_.IsMap()) return;
  for (const auto& kv : node_) {
    const std::string key = kv.first.Scalar();
    if (read_.count(key) == 0) {
      throw ConfigError(Join(path_, key) + " (line " + std::to_string(LineOf(kv.first)) +
                        "): unknown key");
    }
  }
}

}  // namespace cicd
