// The data directory of `ferry migrate --data-dir DIR` and `ferry status`: where a task keeps
// its state between runs. Layout:
//
//   DIR/ferry.db                 the task store (task_store.h), shared by every task
//   DIR/tasks/<name>/            one folder per task
//   DIR/tasks/<name>/spill/      transactions larger than the memory limit, streamed back at commit
//   DIR/tasks/<name>/cache/      cached changes of tables not yet loaded
//   DIR/tasks/<name>/ferry.log   the task's log file
#pragma once

#include <filesystem>
#include <string>

namespace ferry {

// The data directory used when --data-dir is not given: $FERRY_DATA_DIR, else
// $XDG_STATE_HOME/ferry, else $HOME/.local/state/ferry (HOME from the password database when
// unset), else ./ferry-data as a last resort. Empty variables count as unset. Creates nothing.
std::filesystem::path DefaultDataDir();

// Where one task's files live inside a data directory (see the layout above).
struct TaskPaths {
  std::filesystem::path root;       // the data directory itself
  std::filesystem::path store;      // root/ferry.db
  std::filesystem::path task_dir;   // root/tasks/<name>
  std::filesystem::path spill_dir;  // task_dir/spill
  std::filesystem::path cache_dir;  // task_dir/cache
  std::filesystem::path log_file;   // task_dir/ferry.log (not created)
};

// The name of the store file inside a data directory.
inline constexpr const char* kStoreFileName = "ferry.db";

// Returns the paths of `task` in `data_dir` and creates the directories (root, task_dir,
// spill_dir, cache_dir) when missing. Throws Error(kInvalidArgument) when CheckTaskName rejects
// `task` (so a name can never escape the data directory), Error(kIo) naming the directory and
// the system's reason when one cannot be created.
TaskPaths PathsFor(const std::filesystem::path& data_dir, const std::string& task);

// Checks a task name against the AWS DMS ReplicationTaskIdentifier rules: 1 to 255 ASCII
// letters, digits or hyphens; first character a letter; no trailing hyphen and no two
// consecutive hyphens. Returns "" when valid, else a message quoting the name and the rule it
// breaks.
std::string CheckTaskName(const std::string& name);

}  // namespace ferry
