#include "cli/task_objects_command.h"

#include <fmt/format.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <map>
#include <optional>

#include "change/change.h"
#include "change/change_applier.h"
#include "change/change_capture.h"
#include "cli/task_plan.h"
#include "common/host.h"
#include "connectors/connector.h"
#include "settings/task_settings.h"
#include "task/data_dir.h"
#include "task/task_lock.h"
#include "task/task_store.h"

namespace ferry {

namespace {

std::filesystem::path DataDirOf(const std::string& flag) {
  return flag.empty() ? DefaultDataDir() : std::filesystem::path(flag);
}

// The store of `dir`, or null when the directory has none (nothing is created).
std::unique_ptr<TaskStore> OpenExistingStore(const std::filesystem::path& dir) {
  std::error_code ec;
  if (!std::filesystem::exists(dir / kStoreFileName, ec)) return nullptr;
  return TaskStore::Open(dir);
}

// "replication slot X dropped" / "... was not there" for the summary line.
std::string Said(const char* what, const std::string& name, bool owned, bool found,
                 bool dropped) {
  if (!owned) return fmt::format("{} {} kept (not created by Ferry)", what, name);
  if (dropped) return fmt::format("{} {} dropped", what, name);
  if (found) return fmt::format("{} {} kept (not this task's)", what, name);
  return fmt::format("{} {} was not there", what, name);
}

cdc::CaptureOptions OptionsFor(const std::string& task, const std::string& task_id,
                               const std::string& slot, const std::string& publication,
                               bool owns_slot, bool owns_publication) {
  cdc::CaptureOptions o;
  o.task = task;
  o.task_id = task_id;
  o.slot = slot;
  o.publication = publication;
  o.owns_slot = owns_slot;
  o.owns_publication = owns_publication;
  return o;
}

// Whether the task with `owner`'s id still exists, as far as this machine can tell: its data
// directory (recorded in the owner mark) is here and holds it. nullopt = cannot tell (another
// host, or no owner recorded).
std::optional<bool> OwnerTaskExists(const std::optional<cdc::CaptureOwner>& owner) {
  if (!owner || owner->task_id.empty()) return std::nullopt;
  if (owner->host != HostName("")) return std::nullopt;
  std::unique_ptr<TaskStore> store;
  try {
    store = OpenExistingStore(owner->data_dir);
  } catch (const Error&) {
    return std::nullopt;  // a store we cannot read: do not judge
  }
  if (!store) return false;
  const std::optional<TaskRecord> rec = store->GetTask(owner->task);
  return rec && rec->task_id == owner->task_id;
}

}  // namespace

CLI::App* AddDeleteTaskCommand(CLI::App& app, DeleteTaskArgs* a) {
  CLI::App* cmd = app.add_subcommand(
      "delete-task", "Delete a CDC task: drop the replication slot and publication Ferry created "
                     "for it on the source, its state in the data directory (and its checkpoint "
                     "with --target); works without the data directory too");
  cmd->add_option("--task-name", a->task_name, "The task")->capture_default_str();
  cmd->add_option("--task-id", a->task_id, "The task's id, when several tasks of that name left objects on the source (ferry cleanup lists them)");
  cmd->add_option("--data-dir", a->data_dir, "The task's data directory (default as for migrate)");
  cmd->add_option("--source", a->source, "Source URI (with its password: the store keeps none)")
      ->required();
  cmd->add_option("--target", a->target, "Target URI: also delete the task's awsdms_txn_state row");
  cmd->add_option("--source-password-file", a->source_password_file, "File whose first line is the source password");
  cmd->add_option("--target-password-file", a->target_password_file, "File whose first line is the target password");
  return cmd;
}

int RunDeleteTask(const DeleteTaskArgs& args) {
  if (const std::string why = CheckTaskName(args.task_name); !why.empty()) {
    throw Error(ErrorKind::kInvalidArgument, "--task-name: " + why);
  }
  const std::filesystem::path dir = DataDirOf(args.data_dir);
  std::unique_ptr<TaskStore> store = OpenExistingStore(dir);
  std::optional<TaskRecord> rec = store ? store->GetTask(args.task_name) : std::nullopt;
  std::unique_ptr<TaskLock> lock;
  if (rec) {
    // Not while it runs: the running process would recreate what is deleted.
    lock = TaskLock::Acquire(PathsFor(dir, rec->name).task_dir, rec->name);
  }
  std::unique_ptr<SqlConnector> source =
      ConnectDatabase(args.source, "source", /*as_target=*/false, args.source_password_file);
  std::vector<cdc::CaptureOptions> targets;
  if (rec) {
    bool owns_publication = rec->publication_owned;
    if (rec->task_id.empty()) {
      owns_publication = rec->publication == cdc::CaptureObjectName(rec->name, "");
    }
    targets.push_back(OptionsFor(rec->name, rec->task_id, rec->slot, rec->publication,
                                 rec->slot_owned, owns_publication));
  } else {
    // No data directory (or not this task in it): the task's objects are found on the source
    // by the owner mark Ferry wrote on them.
    cdc::CaptureOptions probe = OptionsFor(args.task_name, "", "", "", false, false);
    std::map<std::string, cdc::CaptureOwner> owners;  // by task id
    for (const cdc::CaptureObject& o : source->OpenChangeCapture(probe)->ListObjects()) {
      if (o.owner && o.owner->task == args.task_name &&
          (args.task_id.empty() || o.owner->task_id == args.task_id)) {
        owners[o.owner->task_id] = *o.owner;
      }
    }
    if (owners.empty()) {
      throw Error(ErrorKind::kNotFound,
                  fmt::format("delete-task: there is no task '{}'{} in {} and no source object "
                              "of it on {} (ferry cleanup --source ... lists Ferry's objects)",
                              args.task_name,
                              args.task_id.empty() ? "" : " with id " + args.task_id,
                              dir.string(), source->uri().Describe()));
    }
    if (owners.size() > 1) {
      std::string list;
      for (const auto& [id, o] : owners) list += "\n- " + o.Describe();
      throw Error(ErrorKind::kInvalidArgument,
                  fmt::format("delete-task: several tasks named '{}' left objects on {}; say "
                              "which with --task-id:{}",
                              args.task_name, source->uri().Describe(), list));
    }
    const cdc::CaptureOwner& o = owners.begin()->second;
    if (OwnerTaskExists(o).value_or(false)) {
      throw Error(ErrorKind::kInvalidArgument,
                  fmt::format("delete-task: {} still exists in its data directory; give "
                              "--data-dir {} to delete it",
                              o.Describe(), o.data_dir));
    }
    targets.push_back(OptionsFor(o.task, o.task_id, o.slot, o.publication, true, true));
  }
  const cdc::CaptureOptions& o = targets.front();
  std::unique_ptr<cdc::ChangeCapture> capture = source->OpenChangeCapture(o);
  const bool source_objects = capture->KeepsSourceObjects();
  const cdc::DropResult dropped = capture->DropObjects();
  if (!args.target.empty()) {
    std::unique_ptr<Connector> target =
        Connect(args.target, "target", /*as_target=*/true, args.target_password_file);
    TaskSettings settings;
    if (rec && !rec->task_settings_json.empty()) {
      settings = ParseTaskSettings(rec->task_settings_json, "the task's stored settings")
                     .ValueOrThrow();
    }
    std::unique_ptr<cdc::ChangeApplier> applier = target->OpenChangeApplier();
    applier->Prepare(settings.control_tables_settings.control_schema);
    applier->ClearCheckpoint(args.task_name);  // a task from before checkpoint keys had ids
    if (!o.task_id.empty()) applier->ClearCheckpoint(cdc::CheckpointKey(args.task_name, o.task_id));
    // A full-load task's segment marks (a task stopped inside a table loaded in segments).
    std::unique_ptr<TableWriter> writer = target->OpenWriter();
    if (SegmentMarks* marks = writer->segment_marks()) {
      marks->Locate(settings.control_tables_settings.control_schema, /*create=*/false);
      marks->Clear(cdc::CheckpointKey(args.task_name, o.task_id), "", "");
    }
  }
  if (rec) {
    store->DeleteTask(rec->name);
    lock.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir / "tasks" / rec->name, ec);
  }
  if (!source_objects) {
    std::cout << fmt::format(
        "Task {} deleted: its change capture keeps no objects on the "
        "source, nothing to drop there\n",
        args.task_name);
    return 0;
  }
  std::cout << fmt::format(
      "Task {} deleted: {}, {}\n", args.task_name,
      Said("replication slot", o.slot, o.owns_slot, dropped.slot_found, dropped.slot_dropped),
      Said("publication", o.publication, o.owns_publication, dropped.publication_found,
           dropped.publication_dropped));
  return 0;
}

CLI::App* AddCleanupCommand(CLI::App& app, CleanupArgs* a) {
  CLI::App* cmd = app.add_subcommand(
      "cleanup", "List the replication slots and publications Ferry created on a source and "
                 "whose task each belongs to; with --drop, drop those whose task is gone");
  cmd->add_option("--source", a->source, "Source URI")->required();
  cmd->add_option("--source-password-file", a->source_password_file, "File whose first line is the source password");
  cmd->add_option("--data-dir", a->data_dir, "A data directory whose tasks count as existing (default as for migrate)");
  cmd->add_flag("--drop", a->drop, "Drop the objects whose task no longer exists (never an active slot)");
  return cmd;
}

int RunCleanup(const CleanupArgs& args) {
  std::unique_ptr<SqlConnector> source =
      ConnectDatabase(args.source, "source", /*as_target=*/false, args.source_password_file);
  const std::filesystem::path dir = DataDirOf(args.data_dir);
  std::unique_ptr<TaskStore> store = OpenExistingStore(dir);
  std::vector<TaskRecord> tasks = store ? store->ListTasks() : std::vector<TaskRecord>{};
  cdc::CaptureOptions probe = OptionsFor("cleanup", "", "", "", false, false);
  const std::vector<cdc::CaptureObject> objects =
      source->OpenChangeCapture(probe)->ListObjects();
  if (objects.empty()) {
    std::cout << fmt::format("No Ferry replication slot or publication on {}\n",
                             source->uri().Describe());
    return 0;
  }
  int dropped = 0, orphans = 0;
  for (const cdc::CaptureObject& o : objects) {
    // Whose: a task of the given data directory that names the object, else the owner mark.
    const TaskRecord* mine = nullptr;
    for (const TaskRecord& t : tasks) {
      if ((o.kind == "slot" && t.slot == o.name) ||
          (o.kind == "publication" && t.publication == o.name)) {
        mine = &t;
      }
    }
    std::string state;
    bool orphan = false;
    if (mine) {
      state = fmt::format("task '{}' in {}", mine->name, dir.string());
    } else if (o.owner) {
      const std::optional<bool> exists = OwnerTaskExists(o.owner);
      if (!exists) {
        state = fmt::format("{}: cannot tell whether it still exists (another host, or its data "
                            "directory cannot be read); kept",
                            o.owner->Describe());
      } else if (*exists) {
        state = o.owner->Describe();
      } else {
        orphan = true;
        state = fmt::format("{}: the task no longer exists", o.owner->Describe());
      }
    } else {
      state = "no owner recorded (made by an older Ferry, or for the user's own publication); "
              "kept: delete-task --task-name removes it";
    }
    std::string extra;
    if (o.kind == "slot") {
      extra = fmt::format(", {}, confirmed {}, retains {} MB of WAL",
                          o.active ? "active" : "inactive", o.confirmed, o.retained_bytes >> 20);
    }
    std::string action;
    if (orphan) {
      ++orphans;
      if (o.kind == "slot" && o.active) {
        action = " -> kept: in use right now";
      } else if (args.drop) {
        const bool is_slot = o.kind == "slot";
        cdc::CaptureOptions opts =
            OptionsFor(o.owner->task, o.owner->task_id, is_slot ? o.name : "",
                       is_slot ? "" : o.name, is_slot, !is_slot);
        const cdc::DropResult r = source->OpenChangeCapture(opts)->DropObjects();
        const bool done = is_slot ? r.slot_dropped : r.publication_dropped;
        dropped += done;
        action = done ? " -> dropped" : " -> was already gone";
      } else {
        action = " -> orphaned (--drop removes it)";
      }
    }
    std::cout << fmt::format("{} {}{}: {}{}\n", o.kind, o.name, extra, state, action);
  }
  std::cout << fmt::format("{} object(s), {} orphaned, {} dropped\n", objects.size(), orphans,
                           dropped);
  return 0;
}

}  // namespace ferry
