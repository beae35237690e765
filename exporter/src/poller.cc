#include "cicd/exporter/poller.h"

#include <algorithm>
#include <chrono>

#include "cicd/core/log.h"

namespace cicd::exporter {
namespace {
constexpr Millis kMinTriggerGap{5'000};
}  // namespace

bool Stopper::Wait(Millis d) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, d, [this] { return stopped_; });
  return !stopped_;
}

void Stopper::Stop() {
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
  }
  cv_.notify_all();
}

bool Stopper::stopped() const {
  std::lock_guard lock(mu_);
  return stopped_;
}

void FilterBranches(const NameFilter& filter, PollResult& poll) {
  auto drop = [&](const RunRecord& r) { return !r.branch.empty() && !filter.Allows(r.branch); };
  std::erase_if(poll.finished, drop);
  std::erase_if(poll.active, drop);
}

Poller::Poller(const SourceConfig& config, std::unique_ptr<Source> source, RunStore* store,
               const Clock* clock, Stopper* stopper, std::function<void()> after_poll)
    : config_(config),
      source_(std::move(source)),
      store_(store),
      clock_(clock),
      stopper_(stopper),
      after_poll_(std::move(after_poll)) {}

Poller::~Poller() { Join(); }

Status Poller::PollOnce() {
  const auto t0 = std::chrono::steady_clock::now();
  const TimePoint since = store_->PollSince(name(), clock_->Now(), config_.common.initial_lookback);
  auto result = source_->Poll(since);
  const double seconds = Seconds(std::chrono::steady_clock::now() - t0).count();
  Status status;
  if (!result) {
    status = result.status();
    store_->RecordFailure(name(), status, seconds);
    const std::string err = status.ToString();
    if (err != last_error_) {
      LogError("poll failed; serving the last good data", {{"source", name()}, {"err", status}});
    }
    last_error_ = err;
  } else {
    FilterBranches(config_.branch_filter, *result);
    const std::size_t counted = store_->ApplyPoll(name(), *result, clock_->Now(), seconds);
    for (const auto& e : result->partial_errors) {
      LogWarn("part of the poll failed", {{"source", name()}, {"err", e}});
    }
    if (!result->partial_errors.empty()) {
      status = Status::Error(ErrorCode::kUnavailable, result->partial_errors.front());
    } else if (!last_error_.empty()) {
      LogInfo("source recovered", {{"source", name()}});
    }
    last_error_ = result->partial_errors.empty() ? "" : result->partial_errors.front();
    LogDebug("poll done", {{"source", name()},
                           {"new_runs", counted},
                           {"finished_seen", result->finished.size()},
                           {"active", result->active.size()},
                           {"seconds", seconds}});
  }
  if (after_poll_) after_poll_();
  return status;
}

void Poller::Start() { thread_ = std::thread([this] { Loop(); }); }

void Poller::Trigger() {
  {
    std::lock_guard lock(mu_);
    triggered_ = true;
  }
  cv_.notify_all();
}

void Poller::Join() {
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Poller::Loop() {
  while (!stopper_->stopped()) {
    const auto last_start = std::chrono::steady_clock::now();
    (void)PollOnce();
    // Wait for the interval, a trigger, or stop; check stop in small steps
    // so shutdown is prompt.
    const auto deadline = std::chrono::steady_clock::now() + config_.common.poll_interval;
    std::unique_lock lock(mu_);
    while (!triggered_ && !stopper_->stopped() && std::chrono::steady_clock::now() < deadline) {
      cv_.wait_for(lock, std::min<std::chrono::steady_clock::duration>(
                             Millis(200), deadline - std::chrono::steady_clock::now()));
    }
    if (triggered_) {
      // Triggers (POST /api/v1/collect) cannot make the poller spin: at most
      // one poll per kMinTriggerGap, or per poll_interval if shorter.
      const auto gap = std::min<std::chrono::steady_clock::duration>(kMinTriggerGap, config_.common.poll_interval);
      const auto earliest = last_start + gap;
      while (!stopper_->stopped() && std::chrono::steady_clock::now() < earliest) {
        cv_.wait_for(lock, std::min<std::chrono::steady_clock::duration>(Millis(200), earliest - std::chrono::steady_clock::now()));
      }
    }
    triggered_ = false;
  }
}

}  // namespace cicd::exporter
