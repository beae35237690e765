#pragma once
// The sidecar's HTTP surface: REST API (JSON), /metrics, /health and the
// status page. Handlers are plain functions of the request so tests call
// them without a socket; RegisterRoutes binds them on a WebServer, which adds
// the JSON 404/405/413 answers.
//
// Auth: when config().api_token is set, POST endpoints need
// "Authorization: Bearer <token>" (401 otherwise); GET stays open.

#include <string>

#include "cicd/core/web_server.h"
#include "cicd/detector/service.h"

namespace cicd::detector {

// Answers one request (any path; unknown paths get a JSON 404).
// Thread-safe: `service` is.
WebResponse HandleApiRequest(Service& service, const WebRequest& request);

// Registers every route of HandleApiRequest on `server`.
void RegisterRoutes(WebServer& server, Service& service);

// The self-contained HTML status page (no external assets).
std::string RenderStatusPage(const ServiceSnapshot& snapshot, TimePoint now);

}  // namespace cicd::detector
