#include "engine/progress.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace ferry {

std::string HumanCount(double n) {
  if (n >= 1e9) return fmt::format("{:.1f}G", n / 1e9);
  if (n >= 1e6) return fmt::format("{:.1f}M", n / 1e6);
  if (n >= 1e4) return fmt::format("{:.1f}k", n / 1e3);
  return fmt::format("{:.0f}", n);
}

std::string HumanDuration(double s) {
  if (s < 0) return "?";
  const auto total = static_cast<int64_t>(std::llround(s));
  if (total >= 3600) return fmt::format("{}h{:02}m", total / 3600, (total / 60) % 60);
  if (total >= 60) return fmt::format("{}m{:02}s", total / 60, total % 60);
  return fmt::format("{}s", total);
}

ProgressDisplay::ProgressDisplay(const std::vector<std::unique_ptr<TableStats>>& stats,
                                 bool interactive, std::chrono::milliseconds log_interval)
    : stats_(stats),
      interactive_(interactive),
      interval_(interactive ? std::chrono::milliseconds(500) : log_interval),
      last_rows_(stats.size(), 0),
      rate_(stats.size(), 0) {}

ProgressDisplay::~ProgressDisplay() { Stop(); }

void ProgressDisplay::Start() {
  started_ = std::chrono::steady_clock::now();
  thread_ = std::thread([this] { Loop(); });
}

void ProgressDisplay::Stop() {
  {
    MutexLock lock(mu_);
    if (stop_) return;
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (interactive_) Draw(true);
}

void ProgressDisplay::Loop() {
  for (;;) {
    {
      const auto next = std::chrono::steady_clock::now() + interval_;
      MutexLock lock(mu_);
      while (!stop_ && lock.WaitUntil(cv_, next)) {
      }
      if (stop_) return;
    }
    Draw(false);
  }
}

void ProgressDisplay::Draw(bool final) {
  const double dt = std::chrono::duration<double>(interval_).count();
  std::vector<std::string> lines;
  size_t done = 0, errors = 0;
  for (size_t i = 0; i < stats_.size(); ++i) {
    TableStats& st = *stats_[i];
    const int64_t rows = st.full_load_rows.load();
    const double instant = (rows - last_rows_[i]) / dt;
    // Smooth the rate so the ETA does not jump with every batch.
    rate_[i] = rate_[i] == 0 ? instant : 0.7 * rate_[i] + 0.3 * instant;
    last_rows_[i] = rows;
    std::string state;
    {
      MutexLock lock(st.mu);
      state = st.state;
    }
    if (state == kStateCompleted) ++done;
    if (state == kStateError) ++errors;
    if (state != kStateFullLoad) continue;
    std::string pct = "", eta = "";
    if (st.estimated_rows > 0) {
      double p = 100.0 * static_cast<double>(rows) / static_cast<double>(st.estimated_rows);
      pct = fmt::format(" {:5.1f}%", std::min(p, 100.0));
      if (rate_[i] > 0 && rows < st.estimated_rows) {
        eta = " ETA " + HumanDuration((st.estimated_rows - rows) / rate_[i]);
      }
    }
    lines.push_back(fmt::format("  {:<40} {:>8} rows {:>8} rows/s{}{}", st.SourceName(),
                                HumanCount(static_cast<double>(rows)), HumanCount(rate_[i]), pct,
                                eta));
  }
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  std::string header = fmt::format("Full load: {}/{} tables done{}, {} elapsed", done,
                                   stats_.size(), errors ? fmt::format(", {} failed", errors) : "",
                                   HumanDuration(elapsed));
  if (cdc_header_) {
    // CDC tasks: the change-processing line, then per table the DMS change counters
    // (captured Inserts/Updates/Deletes/Ddls, and what is applied).
    header += "\n" + cdc_header_();
    for (const auto& st_ptr : stats_) {
      const TableStats& st = *st_ptr;
      const int64_t captured = st.cdc_inserts + st.cdc_updates + st.cdc_deletes + st.cdc_ddls;
      if (captured == 0) continue;
      lines.push_back(fmt::format(
          "  {:<40} I {:>7} U {:>7} D {:>7} DDL {:>3} | applied I {:>7} U {:>7} D {:>7}{}",
          st.SourceName(), HumanCount(st.cdc_inserts.load()), HumanCount(st.cdc_updates.load()),
          HumanCount(st.cdc_deletes.load()), st.cdc_ddls.load(),
          HumanCount(st.applied_inserts.load()), HumanCount(st.applied_updates.load()),
          HumanCount(st.applied_deletes.load()),
          st.cdc_apply_errors ? fmt::format(" errors {}", st.cdc_apply_errors.load()) : ""));
    }
  }
  if (!interactive_) {
    spdlog::info("{}", header);
    for (const std::string& l : lines) spdlog::info("{}", l);
    return;
  }
  std::string out;
  // Move up over the previous frame and clear it.
  for (int i = 0; i < lines_drawn_; ++i) out += "\x1b[1A\x1b[2K";
  out += "\r\x1b[2K";
  lines_drawn_ = 0;
  if (!final) {
    out += header + "\n";
    lines_drawn_ += 1 + static_cast<int>(std::count(header.begin(), header.end(), '\n'));
    for (const std::string& l : lines) {
      out += l + "\n";
      ++lines_drawn_;
    }
  }
  std::fputs(out.c_str(), stderr);
  std::fflush(stderr);
}

}  // namespace ferry
