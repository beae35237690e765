#pragma once
// One poller per source, on its own interval and thread: it asks the source
// for runs since the store's cursor and writes the result into the store. A
// failing poll is logged once per change of error, counted, and leaves the
// last good data in place (STYLE.md principle 5).

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "cicd/core/time.h"
#include "cicd/exporter/config.h"
#include "cicd/exporter/store.h"

namespace cicd::exporter {

// A process-wide stop signal with interruptible waits. Thread-safe.
class Stopper {
 public:
  // Waits up to `d`; returns false as soon as Stop() was called.
  bool Wait(Millis d);
  void Stop();
  bool stopped() const;

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopped_ = false;  // GUARDED_BY(mu_)
};

class Poller {
 public:
  // `store`, `clock` and `stopper` are not owned and outlive the poller.
  // `after_poll` runs after every poll on the poller's thread (persistence).
  Poller(const SourceConfig& config, std::unique_ptr<Source> source, RunStore* store,
         const Clock* clock, Stopper* stopper, std::function<void()> after_poll = {});
  ~Poller();

  // Polls once on the caller's thread. Returns the poll's status.
  Status PollOnce();
  void Start();  // background loop: poll, wait poll_interval (or a trigger)
  // Wakes the loop for an immediate poll (POST /api/v1/collect).
  void Trigger();
  void Join();
  const std::string& name() const { return config_.common.name; }

 private:
  void Loop();

  const SourceConfig& config_;
  std::unique_ptr<Source> source_;
  RunStore* store_;
  const Clock* clock_;
  Stopper* stopper_;
  std::function<void()> after_poll_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool triggered_ = false;  // GUARDED_BY(mu_)
  std::string last_error_;  // only touched by the polling thread
};

// Keeps runs whose branch passes the filter (runs with no branch pass).
void FilterBranches(const NameFilter& filter, PollResult& poll);

}  // namespace cicd::exporter
