#include "task/task_lock.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>

#include "common/error.h"
#include "common/host.h"

namespace ferry {

namespace {

constexpr const char* kLockFile = "task.lock";

std::string UtcNow() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

// The holder line written into the lock file.
std::string ReadHolder(int fd) {
  char buf[512];
  const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return "";
  std::string s(buf, static_cast<size_t>(n));
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

TaskLock::TaskLock(int fd, std::filesystem::path path) : fd_(fd), path_(std::move(path)) {
  struct stat st;
  if (::fstat(fd_, &st) == 0) {
    dev_ = st.st_dev;
    ino_ = st.st_ino;
  }
}

TaskLock::~TaskLock() {
  ::flock(fd_, LOCK_UN);
  ::close(fd_);
}

std::unique_ptr<TaskLock> TaskLock::Acquire(const std::filesystem::path& task_dir,
                                            const std::string& task) {
  const std::filesystem::path path = task_dir / kLockFile;
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    throw Error(ErrorKind::kIo, fmt::format("cannot open the lock file '{}' of task '{}': {}",
                                            path.string(), task, std::strerror(errno)));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    std::string holder = err == EWOULDBLOCK ? ReadHolder(fd) : "";
    ::close(fd);
    if (err == EWOULDBLOCK) {
      throw Error(ErrorKind::kInvalidArgument,
                  fmt::format("task '{}' is already running: {} holds its lock '{}'; stop that "
                              "process first (a task has one owner at a time)",
                              task, holder.empty() ? "another process" : holder,
                              path.string()));
    }
    throw Error(ErrorKind::kIo, fmt::format("cannot lock '{}' of task '{}': {}", path.string(),
                                            task, std::strerror(err)));
  }
  const std::string holder = fmt::format("process {} on host {}, started {}\n", ::getpid(),
                                         HostName("?"), UtcNow());
  if (::ftruncate(fd, 0) != 0 ||
      ::pwrite(fd, holder.data(), holder.size(), 0) != static_cast<ssize_t>(holder.size())) {
    const int err = errno;
    ::close(fd);
    throw Error(ErrorKind::kIo, fmt::format("cannot write the lock file '{}' of task '{}': {}",
                                            path.string(), task, std::strerror(err)));
  }
  return std::unique_ptr<TaskLock>(new TaskLock(fd, path));
}

void TaskLock::WatchStore(const std::filesystem::path& store) {
  struct stat st;
  if (::stat(store.c_str(), &st) == 0) {
    store_dev_ = st.st_dev;
    store_ino_ = st.st_ino;
  }
}

bool TaskLock::Intact(const std::filesystem::path& store) const {
  struct stat st;
  if (::stat(path_.c_str(), &st) != 0 || st.st_dev != dev_ || st.st_ino != ino_) return false;
  if (store_ino_ != 0) {
    if (::stat(store.c_str(), &st) != 0 || st.st_dev != store_dev_ || st.st_ino != store_ino_) {
      return false;
    }
  }
  return true;
}

std::string TaskLockHolder(const std::filesystem::path& task_dir) {
  const std::filesystem::path path = task_dir / kLockFile;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  std::string holder;
  if (::flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK) {
    holder = ReadHolder(fd);
    if (holder.empty()) holder = "another process";
  } else {
    ::flock(fd, LOCK_UN);
  }
  ::close(fd);
  return holder;
}

}  // namespace ferry
