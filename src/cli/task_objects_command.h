// The commands that remove what a CDC task left behind.
//
// `ferry delete-task`: the DMS delete-replication-task of a CDC task. Drops the replication
// slot and publication Ferry created for the task on the source (never the user's own, never
// another task's), so the source keeps no WAL for it, removes the task from the task store and
// its files from the data directory, and with --target also its checkpoint row in
// awsdms_txn_state. The target's data stays. Refused while the task runs. Works without the
// data directory too (deleted, or on another machine): the task's objects are then found on
// the source by the owner mark Ferry wrote on them.
//
// `ferry cleanup`: lists every slot and publication Ferry created on a source, whose task each
// belongs to and whether that task still exists; with --drop, drops those whose task is gone
// (never an active slot, never an object whose owner cannot be established).
#pragma once

#include <CLI/CLI.hpp>

#include <string>

namespace ferry {

struct DeleteTaskArgs {
  std::string task_name = "ferry";
  std::string task_id;   // when several tasks of that name left objects on the source
  std::string data_dir;  // "" = DefaultDataDir()
  std::string source;    // the source URI (the store keeps it without its password)
  std::string target;    // optional
  std::string source_password_file, target_password_file;
};
CLI::App* AddDeleteTaskCommand(CLI::App& app, DeleteTaskArgs* args);
int RunDeleteTask(const DeleteTaskArgs& args);

struct CleanupArgs {
  std::string source;
  std::string source_password_file;
  std::string data_dir;  // "" = DefaultDataDir()
  bool drop = false;
};
CLI::App* AddCleanupCommand(CLI::App& app, CleanupArgs* args);
int RunCleanup(const CleanupArgs& args);

}  // namespace ferry
