#pragma once
// A local GitLab for component tests: plays the recorded payloads of
// tests/fixtures/gitlab/ on a TestServer (127.0.0.1 only) under the REST API
// paths of project test-group/test-project. Tests switch faults on by mode.

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "cicd/core/json.h"
#include "support/fixtures.h"
#include "support/test_server.h"

namespace cicd::testing {

class FakeGitlab {
 public:
  // Routes under `prefix` (a self-managed base path such as "/gitlab").
  explicit FakeGitlab(TestServer& server, std::string prefix = "") : server_(server), prefix_(prefix) {
    details_ = *json::Parse(ReadFixture("gitlab/edge_pipeline_details.json"));
  }

  static constexpr const char* kProject = "test-group/test-project";

  std::string ApiPath(const std::string& path) const { return prefix_ + "/api/v4" + path; }
  // The decoded path of a project's pipelines, as the server routes it.
  std::string PipelinesPath(const std::string& project = kProject) const {
    return ApiPath("/projects/" + project + "/pipelines");
  }

  // Page 1: the docs' listing (two pending pipelines); page 2: the edge
  // listing. `pagination` is "both" (X-Next-Page and Link, as GitLab sends),
  // "x-next-page", "link" or "none".
  void ServeListing(const std::string& pagination = "both", const std::string& project = kProject) {
    const std::string pages[] = {ReadFixture("gitlab/docs_list_pipelines.json"),
                                 ReadFixture("gitlab/edge_list_pipelines.json")};
    server_.server().Get(PipelinesPath(project), [this, pages, pagination](const httplib::Request& req,
                                                                           httplib::Response& res) {
      {
        std::lock_guard lock(mu_);
        listing_targets_.push_back(req.target);
      }
      const int page = req.has_param("page") ? std::stoi(req.get_param_value("page")) : 1;
      if (page < 1 || page > 2) {
        res.set_content("[]", "application/json");
        return;
      }
      if (page == 1) SetNextPage(req, res, 2, pagination);
      res.set_header("X-Page", std::to_string(page));
      res.set_header("X-Per-Page", "100");
      res.set_header("X-Total", "14");
      res.set_header("X-Total-Pages", "2");
      res.set_content(pages[page - 1], "application/json");
    });
  }

  // Details, jobs and test report summaries of every pipeline of the
  // listings; anything else is a 404.
  void ServePipelines(const std::string& project = kProject) {
    const std::string base = PipelinesPath(project);
    server_.server().Get(base + R"(/(\d+)/jobs)", [](const httplib::Request& req, httplib::Response& res) {
      const std::string id = req.matches[1];
      if (id == "291") return res.set_content(ReadFixture("gitlab/docs_list_pipeline_jobs.json"), "application/json");
      if (id == "292") return res.set_content(ReadFixture("gitlab/edge_jobs_timeout.json"), "application/json");
      res.set_content("[]", "application/json");
    });
    server_.server().Get(base + R"(/(\d+)/test_report_summary)", [](const httplib::Request& req,
                                                                    httplib::Response& res) {
      const std::string id = req.matches[1];
      if (id == "287") {
        return res.set_content(ReadFixture("gitlab/docs_pipeline_test_report_summary.json"), "application/json");
      }
      if (id == "296") return res.set_content(ReadFixture("gitlab/get_pipeline_testreport.json"), "application/json");
      res.set_content(R"({"total":{"time":0,"count":0,"success":0,"failed":0,"skipped":0,"error":0,)"
                      R"("suite_error":null},"test_suites":[]})",
                      "application/json");
    });
    server_.server().Get(base + R"(/(\d+))", [this](const httplib::Request& req, httplib::Response& res) {
      const std::string id = req.matches[1];
      if (id == "287") return res.set_content(ReadFixture("gitlab/docs_get_pipeline.json"), "application/json");
      if (const auto* d = json::Find(details_, id)) {
        return res.set_content(boost::json::serialize(*d), "application/json");
      }
      res.status = 404;
      res.set_content(R"({"message":"404 Not found"})", "application/json");
    });
  }

  std::vector<std::string> listing_targets() const {
    std::lock_guard lock(mu_);
    return listing_targets_;
  }

 private:
  void SetNextPage(const httplib::Request& req, httplib::Response& res, int next,
                   const std::string& pagination) const {
    // GitLab's Link carries the request's own query with page replaced.
    std::string query = "per_page=100&page=" + std::to_string(next);
    const std::string url = server_.base_url() + req.path + "?" + query;
    if (pagination == "both" || pagination == "x-next-page") {
      res.set_header("X-Next-Page", std::to_string(next));
    } else {
      res.set_header("X-Next-Page", "");
    }
    if (pagination == "both" || pagination == "link") {
      res.set_header("Link", "<" + url + ">; rel=\"next\", <" + url + ">; rel=\"last\"");
    }
  }

  TestServer& server_;
  const std::string prefix_;
  boost::json::value details_;
  mutable std::mutex mu_;
  std::vector<std::string> listing_targets_;  // GUARDED_BY(mu_)
};

}  // namespace cicd::testing
