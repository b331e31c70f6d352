// One owner per task: while a process runs task T, it holds an exclusive lock on
// DIR/tasks/T/task.lock (flock), which also says who holds it. A second process that tries to
// run, resume or delete T is refused at once with the holder's pid, host and start time. The
// lock goes with the process (exit, crash, kill -9), so a stale file never blocks anyone.
//
// The lock also notices when the data directory is deleted or replaced under a running task
// (the lock file is no longer the one locked): see Intact().
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <string>

namespace ferry {

class TaskLock {
 public:
  // Takes the lock of `task` in `task_dir` (DIR/tasks/<task>, which must exist). Throws
  // Error(kInvalidArgument) naming the holder when another process has it ("task 'T' is
  // running in process 4242 on host db1, started 2026-12-06 14:50:01 UTC (lock DIR/...)"),
  // Error(kIo) when the file cannot be opened or locked for another reason.
  static std::unique_ptr<TaskLock> Acquire(const std::filesystem::path& task_dir,
                                           const std::string& task);
  ~TaskLock();  // releases the lock; the file stays
  TaskLock(const TaskLock&) = delete;
  TaskLock& operator=(const TaskLock&) = delete;

  // True while the lock file and the task store `store` (DIR/ferry.db) are still the files
  // that were there when the lock was taken: false once either was deleted or replaced.
  bool Intact(const std::filesystem::path& store) const;
  // Remembers the identity of the task store file, for Intact (after the store is opened).
  void WatchStore(const std::filesystem::path& store);

  const std::filesystem::path& path() const { return path_; }

 private:
  TaskLock(int fd, std::filesystem::path path);
  int fd_;
  std::filesystem::path path_;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  dev_t store_dev_ = 0;
  ino_t store_ino_ = 0;
};

// Who holds the lock of the task in `task_dir`, as the lock file says ("process 4242 on host
// db1, started ..."), or "" when nobody holds it. For messages (delete-task, status).
std::string TaskLockHolder(const std::filesystem::path& task_dir);

}  // namespace ferry
