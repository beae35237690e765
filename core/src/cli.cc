#include "cicd/core/cli.h"

#include <stdexcept>

namespace cicd {

void FlagSet::Add(std::string name, std::string default_value, std::string help) {
  order_.push_back(name);
  flags_[std::move(name)] = Flag{default_value, default_value, std::move(help), false, false};
}

void FlagSet::AddBool(std::string name, std::string help) {
  order_.push_back(name);
  flags_[std::move(name)] = Flag{"false", "false", std::move(help), true, false};
}

Result<std::vector<std::string>> FlagSet::Parse(int argc, const char* const* argv) {
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--") {
      for (++i; i < argc; ++i) positional.emplace_back(argv[i]);
      break;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      positional.emplace_back(arg);
      continue;
    }
    arg.remove_prefix(arg.size() > 2 && arg[1] == '-' ? 2 : 1);
    std::string name(arg.substr(0, arg.find('=')));
    const bool has_value = arg.find('=') != std::string_view::npos;
    bool negated = false;
    auto it = flags_.find(name);
    if (it == flags_.end() && name.rfind("no-", 0) == 0) {
      it = flags_.find(name.substr(3));
      negated = it != flags_.end() && it->second.is_bool;
      if (!negated) it = flags_.end();
    }
    if (it == flags_.end()) return InvalidArgument("unknown flag --" + name);
    Flag& f = it->second;
    f.set = true;
    if (f.is_bool) {
      std::string v = has_value ? std::string(arg.substr(arg.find('=') + 1)) : "true";
      if (v != "true" && v != "false") {
        return InvalidArgument("flag --" + name + " takes true or false, not \"" + v + "\"");
      }
      f.value = negated ? (v == "true" ? "false" : "true") : v;
    } else if (has_value) {
      f.value = std::string(arg.substr(arg.find('=') + 1));
    } else {
      if (i + 1 >= argc) return InvalidArgument("flag --" + name + " needs a value");
      f.value = argv[++i];
    }
  }
  return positional;
}

const std::string& FlagSet::Get(std::string_view name) const {
  auto it = flags_.find(name);
  if (it == flags_.end()) throw std::logic_error("flag not registered: " + std::string(name));
  return it->second.value;
}

bool FlagSet::GetBool(std::string_view name) const { return Get(name) == "true"; }

bool FlagSet::IsSet(std::string_view name) const {
  auto it = flags_.find(name);
  return it != flags_.end() && it->second.set;
}

std::string FlagSet::Help() const {
  std::string out = "usage: " + usage_ + "\n\nFlags:\n";
  for (const auto& name : order_) {
    const Flag& f = flags_.at(name);
    std::string left = "  --" + name + (f.is_bool ? "" : "=VALUE");
    if (left.size() < 34) left.resize(34, ' ');
    out += left + " " + f.help;
    if (!f.is_bool && !f.default_value.empty()) out += " (default: " + f.default_value + ")";
    out += "\n";
  }
  return out;
}

}  // namespace cicd
