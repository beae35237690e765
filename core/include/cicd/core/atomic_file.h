#pragma once
// Files that survive a crash at any moment: write a temporary file, fsync it,
// rename it over the target, fsync the directory.

#include <string>
#include <string_view>

#include "cicd/core/result.h"

namespace cicd {

Status WriteFileAtomically(const std::string& path, std::string_view contents);
// kNotFound when the file does not exist.
Result<std::string> ReadFileToString(const std::string& path);

}  // namespace cicd
