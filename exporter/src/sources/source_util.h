#pragma once
// Private helpers the HTTP sources share (STYLE.md: "sources share a
// toolkit"): token reading, Link pagination and the same-origin guard. Not
// part of the exporter's public headers.

#include <string>

#include "cicd/core/yaml.h"

namespace cicd::exporter::detail {

// `s` without leading and trailing spaces, tabs and line breaks.
std::string TrimSpace(std::string s);

// `url` without its query (for messages: a query may carry cursors).
std::string WithoutQuery(const std::string& url);

// Reads a credential: ${VAR} expanded, surrounding whitespace trimmed (a
// token read from a file often ends in a newline), registered with
// Logging::AddSecret. Throws ConfigError naming `key` (never quoting the
// value) when it holds spaces or control characters. "" when absent.
std::string ReadToken(YamlMap& yaml, const std::string& key);

// The URL of the next page. Link URLs carry page=N; the next URL is built
// from `first` (which the source encoded) and that number rather than taken
// verbatim, because cpp-httplib percent-decodes header values: a link's
// "created=%3E%3D..." arrives as "created=>=..." and other escapes (%26, %2B)
// could not be restored. Without a page number the link is used as it came,
// resolved against `origin` when it is a path.
std::string NextPageUrl(const std::string& first, const std::string& next,
                        const std::string& origin);

// True when `url` parses and its scheme, host and port are `origin`'s. The
// token goes with every request: a pagination link elsewhere is never
// followed.
bool SameOrigin(const std::string& url, const std::string& origin);

}  // namespace cicd::exporter::detail
