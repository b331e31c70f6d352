#include "engine/full_load_task.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <thread>

#include "change/change_capture.h"
#include "common/error.h"
#include "engine/task_records.h"
#include "logging/log.h"

namespace ferry {

namespace {

spdlog::logger& Log() { return logging::For(LogComponentId::kTaskManager); }

constexpr const char* kMigrationType = "full-load";

// "0:250000,2:250000" (TableRecord::segments_done) -> segment -> rows.
std::map<size_t, int64_t> ParseSegmentsDone(const std::string& text) {
  std::map<size_t, int64_t> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find(',', pos);
    if (end == std::string::npos) end = text.size();
    const std::string item = text.substr(pos, end - pos);
    const size_t colon = item.find(':');
    try {
      if (colon == std::string::npos) throw std::invalid_argument(item);
      out[std::stoul(item.substr(0, colon))] = std::stoll(item.substr(colon + 1));
    } catch (const std::exception&) {
      throw Error(ErrorKind::kInvalidArgument,
                  fmt::format("the task store's committed segments '{}' are not Ferry's", text));
    }
    pos = end + 1;
  }
  return out;
}

}  // namespace

FullLoadTask::FullLoadTask(SqlConnector& source, Connector& target, std::vector<TablePlan> plans,
                           FullLoadTaskOptions options)
    : source_(source),
      target_(target),
      plans_(std::move(plans)),
      options_(std::move(options)),
      resume_(plans_.size()) {}

FullLoadTask::~FullLoadTask() = default;

void FullLoadTask::Stop() {
  MutexLock lock(mu_);
  stop_requested_ = true;
  if (load_) load_->Cancel();
}

void FullLoadTask::Setup() {
  paths_ = PathsFor(options_.data_dir, options_.task);
  lock_ = TaskLock::Acquire(paths_.task_dir, options_.task);
  store_ = TaskStore::Open(options_.data_dir);
  lock_->WatchStore(paths_.store);
  std::optional<TaskRecord> existing = store_->GetTask(options_.task);
  const std::string source_identity = source_.Identity();
  const std::string target_identity = target_.Identity();

  FullLoadOptions fo = options_.full_load;
  std::vector<TableRecord> kept;  // completed by an earlier run (resume)
  std::optional<TaskRecord> resumed;
  if (options_.resume) {
    resumed = TaskToContinue(*store_, options_.task, kMigrationType);
    options_.resume = resumed.has_value();
  }
  if (options_.resume) {
    record_ = *resumed;
    CheckIdentity(record_, "source", record_.source_identity, record_.source_endpoint,
                  source_identity, options_.source_uri);
    CheckIdentity(record_, "target", record_.target_identity, record_.target_endpoint,
                  target_identity, options_.target_uri);
    const std::vector<TableRecord> stored = store_->GetTables(options_.task);
    CheckResumedTables(options_.task, stored, plans_);
    // Tables `ferry reload-tables` asked for load after the others, emptied first
    // (ReloadRequested), whatever state they are in.
    std::vector<bool> requested(plans_.size(), false);
    for (const ReloadRequest& r : store_->GetReloadRequests(options_.task)) {
      if (!r.validate_only && static_cast<size_t>(r.table_index) < plans_.size()) {
        requested[static_cast<size_t>(r.table_index)] = true;
      }
    }
    std::vector<size_t> to_load;
    fo.interrupted.assign(plans_.size(), InterruptedLoad{});
    for (size_t i = 0; i < plans_.size(); ++i) {
      const TableRecord& r = stored[i];
      if (r.state == kStateCompleted || requested[i]) {
        kept.push_back(r);
        continue;
      }
      to_load.push_back(i);
      MutexLock lock(mu_);  // no other thread yet; the analysis asks for it all the same
      TableResume& t = resume_[i];
      t = TableResume{r.load_began, r.load_started_empty, r.load_pk_after,
                      SegmentsFromJson(r.segments), ParseSegmentsDone(r.segments_done)};
      fo.interrupted[i] =
          InterruptedLoad{t.began, t.started_empty, t.pk_after, t.segments, t.segments_done};
    }
    if (fo.tables_to_load) {
      std::vector<size_t> both;
      for (size_t i : to_load) {
        if (std::find(fo.tables_to_load->begin(), fo.tables_to_load->end(), i) !=
            fo.tables_to_load->end()) {
          both.push_back(i);
        }
      }
      to_load = std::move(both);
    }
    fo.tables_to_load = to_load;
    std::vector<std::string> names;
    names.reserve(kept.size());
    for (const TableRecord& r : kept) names.push_back(r.source_schema + "." + r.source_table);
    Log().info("resuming task '{}': {} table(s) completed before are kept{}{}; {} to load",
               options_.task, kept.size(), kept.empty() ? "" : ": ",
               fmt::join(names, ", "), to_load.size());
  } else {
    if (existing && existing->migration_type != kMigrationType) {
      throw Error(ErrorKind::kInvalidArgument,
                  fmt::format("task '{}' in {} is a {} task{}: a full load of that name would "
                              "replace it. Give another --task-name, or delete that task first "
                              "(ferry delete-task --task-name {} --source URI)",
                              options_.task, store_->path().string(), existing->migration_type,
                              existing->slot.empty()
                                  ? ""
                                  : fmt::format(" with replication slot {} on its source",
                                                existing->slot),
                              options_.task));
    }
    record_ = TaskRecord{};
    record_.name = options_.task;
    record_.migration_type = kMigrationType;
    record_.task_id = existing && !existing->task_id.empty() ? existing->task_id
                                                             : cdc::NewTaskId();
    record_.created_at_us = NowMicros();
  }
  record_.source_identity = source_identity;
  record_.target_identity = target_identity;
  record_.source_endpoint = options_.source_uri;
  record_.target_endpoint = options_.target_uri;
  record_.table_mappings_json = options_.table_mappings_json;
  record_.task_settings_json = options_.task_settings_json;
  RecordStarting(*store_, record_);

  fo.on_load_begun = [this](size_t i, bool started_empty, bool pk_after) {
    {
      MutexLock lock(mu_);
      TableResume& t = resume_[i];
      t.began = true;
      t.started_empty = started_empty;
      t.pk_after = pk_after;
    }
    PutTableNow(i);  // before any row: a kill now still knows
  };
  // Segments are recorded when planned and as each commits: a resume keeps those.
  // The segment marks on the target say which segments committed, by their index in the plan
  // recorded here: a plan the store did not take must not load (the table fails instead).
  fo.segment_marks_task = cdc::CheckpointKey(options_.task, record_.task_id);
  fo.on_segments_planned = [this](size_t i, const std::vector<Segment>& segments) {
    {
      MutexLock lock(mu_);
      resume_[i].segments = segments;
      resume_[i].segments_done.clear();
    }
    store_->PutTable(options_.task, RecordOf(i));
  };
  // The caller's own on_segment_done runs first: it sees the segment committed on the target
  // before the task store records it (a test stands a crash in between with it).
  fo.on_segment_done = [this, chained = fo.on_segment_done](size_t i, size_t segment,
                                                            int64_t rows) {
    if (chained) chained(i, segment, rows);
    {
      MutexLock lock(mu_);
      resume_[i].segments_done[segment] = rows;
    }
    PutTableNow(i);
  };
  // A table's end is recorded at once: one completed a moment before a kill is kept.
  fo.on_table_done = [this, chained = fo.on_table_done](size_t i) {
    if (chained) chained(i);
    PutTableNow(i);
  };
  {
    MutexLock lock(mu_);
    load_ = std::make_unique<FullLoad>(source_, target_, plans_, fo);
    if (stop_requested_) load_->Cancel();
  }
  // The tables an earlier run completed keep their statistics (a table left for
  // ReloadRequested keeps its own until it loads).
  for (const TableRecord& r : kept) {
    TableStats& st = *load_->stats()[static_cast<size_t>(r.index)];
    st.full_load_rows = r.full_load_rows;
    MutexLock lock(st.mu);
    st.state = r.state;
    st.error = r.last_error;
    st.start_time = WallClock::time_point(std::chrono::microseconds(r.load_start_us));
    st.end_time = WallClock::time_point(std::chrono::microseconds(r.load_end_us));
  }
  std::vector<TableRecord> records;
  for (size_t i = 0; i < plans_.size(); ++i) records.push_back(RecordOf(i));
  store_->PutTables(options_.task, records);
  if (!options_.resume && !plans_.empty()) ClearSegmentMarks(fo);
  record_.status = "running";
  store_->PutTask(record_);
}

void FullLoadTask::ClearSegmentMarks(const FullLoadOptions& fo) {
  // A task started afresh owns none of the marks an earlier run of it left on the target
  // (after the fresh table records: a crash before this resumes nothing of that run). A table
  // deletes its own marks before it loads in segments anyway; this takes those of tables the
  // task no longer loads.
  try {
    std::unique_ptr<TableWriter> writer = target_.OpenWriter();
    if (SegmentMarks* marks = writer->segment_marks()) {
      marks->Locate(fo.control_schema, /*create=*/false);
      marks->Clear(fo.segment_marks_task, "", "");
    }
  } catch (const Error& e) {
    Log().warn("task '{}': the segment marks of its earlier runs stay on the target: {}",
               options_.task, e.what());
  }
}

TableRecord FullLoadTask::RecordOf(size_t i) {
  TableRecord r = TableRecordOf(i, plans_[i], *load_->stats()[i]);
  MutexLock lock(mu_);
  const TableResume& t = resume_[i];
  r.load_began = t.began;
  r.load_started_empty = t.started_empty;
  r.load_pk_after = t.pk_after;
  r.segments = SegmentsToJson(t.segments);
  std::vector<std::string> done;
  for (const auto& [segment, rows] : t.segments_done) {
    done.push_back(fmt::format("{}:{}", segment, rows));
  }
  r.segments_done = fmt::format("{}", fmt::join(done, ","));
  return r;
}

void FullLoadTask::PutTableNow(size_t i) {
  try {
    store_->PutTable(options_.task, RecordOf(i));
  } catch (const Error& e) {
    Log().error("task store {}: {}", store_->path().string(), e.what());
  }
}

void FullLoadTask::SaveProgress(bool final) {
  std::vector<TableRecord> records;
  for (size_t i = 0; i < plans_.size(); ++i) records.push_back(RecordOf(i));
  TaskRecord task = record_;
  task.updated_at_us = 0;
  if (final) {
    const std::string policy_stop = load_->stop_reason();
    if (!policy_stop.empty()) {
      task.status = "failed";
      task.stop_reason = policy_stop;
      task.last_failure_message = policy_stop;
    } else {
      task.status = "stopped";
      task.stop_reason = load_->cancelled() ? "Stop Reason NORMAL"
                                            : "Stop Reason FULL_LOAD_ONLY_FINISHED";
    }
    task.stopped_at_us = NowMicros();
    record_ = task;
  }
  try {
    store_->SaveProgress(task, records);
    if (final) store_->PutTask(task);
  } catch (const Error& e) {
    Log().error("task store {}: {}", store_->path().string(), e.what());
  }
}

void FullLoadTask::Run(const std::function<void()>& on_running) {
  try {
    Setup();
  } catch (const std::exception& e) {
    RecordStartFailure(store_.get(), record_, e.what());
    throw;
  }
  if (on_running) on_running();
  std::mutex saver_mu;
  std::condition_variable saver_cv;
  bool done = false;
  std::thread saver([&] {
    std::unique_lock lock(saver_mu);
    while (!saver_cv.wait_for(lock, std::chrono::seconds(2), [&] { return done; })) {
      lock.unlock();
      if (!lock_->Intact(paths_.store)) {
        Log().error("the data directory {} of task '{}' was deleted or replaced while it ran: "
                    "stopping the load",
                    options_.data_dir.string(), options_.task);
        load_->StopTask(fmt::format("the data directory {} of task '{}' was deleted or "
                                    "replaced while it ran",
                                    options_.data_dir.string(), options_.task));
      } else {
        SaveProgress(false);
      }
      lock.lock();
    }
  });
  auto stop_saver = [&] {
    {
      std::lock_guard lock(saver_mu);
      done = true;
    }
    saver_cv.notify_all();
    saver.join();
  };
  try {
    load_->Run();
  } catch (const std::exception& e) {
    stop_saver();
    SaveProgress(true);
    record_.status = "failed";
    record_.stop_reason = "Stop Reason FATAL_ERROR";
    record_.last_failure_message = e.what();
    try {
      store_->PutTask(record_);
    } catch (const Error& store_error) {
      Log().error("task store {}: {}", store_->path().string(), store_error.what());
    }
    throw;
  }
  try {
    ReloadRequested();
  } catch (const Error& e) {
    Log().error("task '{}': reloading tables: {}", options_.task, e.what());
  }
  stop_saver();
  SaveProgress(true);
}

void FullLoadTask::ReloadRequested() {
  const TablePrepMode mode = options_.full_load.prep_mode == TablePrepMode::kDoNothing
                                 ? TablePrepMode::kTruncateBeforeLoad
                                 : options_.full_load.prep_mode;
  while (!load_->cancelled()) {
    std::vector<ReloadRequest> requests = store_->GetReloadRequests(options_.task);
    std::vector<std::pair<size_t, TablePlan>> tables;
    std::vector<std::string> names;
    for (const ReloadRequest& r : requests) {
      const auto i = static_cast<size_t>(r.table_index);
      if (r.validate_only || i >= plans_.size()) {
        // The task's validation (ValidationSettings) runs over every table once it ends.
        store_->ClearReloadRequest(options_.task, r);
        continue;
      }
      tables.emplace_back(i, plans_[i]);
      names.push_back(plans_[i].source.QualifiedName());
      MutexLock lock(mu_);
      resume_[i] = TableResume{};
    }
    if (tables.empty()) return;
    Log().info("task '{}': reloading {} (ferry reload-tables)", options_.task,
               fmt::join(names, ", "));
    load_->LoadAgain(tables, nullptr, mode);
    // A load cut off by a stop keeps its request: the task's resume loads the table again.
    if (load_->cancelled()) return;
    for (const ReloadRequest& r : requests) {
      if (!r.validate_only) store_->ClearReloadRequest(options_.task, r);
    }
  }
}

}  // namespace ferry
