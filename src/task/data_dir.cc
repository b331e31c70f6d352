#include "task/data_dir.h"

#include <fmt/format.h>
#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <system_error>

#include "common/error.h"

namespace ferry {

namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

bool IsAsciiLetter(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
bool IsAsciiDigit(char c) { return c >= '0' && c <= '9'; }

void CreateDir(const std::filesystem::path& dir, const char* what) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    throw Error(ErrorKind::kIo,
                fmt::format("cannot create {} '{}': {}", what, dir.string(), ec.message()));
  }
  if (!std::filesystem::is_directory(dir, ec)) {
    throw Error(ErrorKind::kIo,
                fmt::format("{} '{}' exists but is not a directory", what, dir.string()));
  }
}

}  // namespace

std::filesystem::path DefaultDataDir() {
  if (std::string dir = Env("FERRY_DATA_DIR"); !dir.empty()) return dir;
  if (std::string dir = Env("XDG_STATE_HOME"); !dir.empty()) {
    return std::filesystem::path(dir) / "ferry";
  }
  std::string home = Env("HOME");
  if (home.empty()) {
    if (const passwd* pw = getpwuid(getuid()); pw && pw->pw_dir) home = pw->pw_dir;
  }
  if (home.empty()) return std::filesystem::path("ferry-data");
  return std::filesystem::path(home) / ".local" / "state" / "ferry";
}

std::string CheckTaskName(const std::string& name) {
  constexpr const char* kRule =
      "a task name has 1 to 255 letters, digits or hyphens, starts with a letter, and has no "
      "trailing hyphen nor two consecutive hyphens (the AWS DMS ReplicationTaskIdentifier rule)";
  if (name.empty()) return fmt::format("the task name is empty: {}", kRule);
  if (name.size() > 255) {
    return fmt::format("task name '{}...' is {} characters long: {}", name.substr(0, 40),
                       name.size(), kRule);
  }
  if (!IsAsciiLetter(name[0])) {
    return fmt::format("task name '{}' does not start with a letter: {}", name, kRule);
  }
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    if (!IsAsciiLetter(c) && !IsAsciiDigit(c) && c != '-') {
      return fmt::format("task name '{}' has the character '{}' at position {}: {}", name,
                         c, i + 1, kRule);
    }
    if (c == '-' && i > 0 && name[i - 1] == '-') {
      return fmt::format("task name '{}' has two consecutive hyphens: {}", name, kRule);
    }
  }
  if (name.back() == '-') {
    return fmt::format("task name '{}' ends with a hyphen: {}", name, kRule);
  }
  return "";
}

TaskPaths PathsFor(const std::filesystem::path& data_dir, const std::string& task) {
  if (std::string bad = CheckTaskName(task); !bad.empty()) {
    throw Error(ErrorKind::kInvalidArgument, bad);
  }
  TaskPaths p;
  p.root = data_dir;
  p.store = data_dir / kStoreFileName;
  p.task_dir = data_dir / "tasks" / task;
  p.spill_dir = p.task_dir / "spill";
  p.cache_dir = p.task_dir / "cache";
  p.log_file = p.task_dir / "ferry.log";
  CreateDir(p.root, "data directory");
  CreateDir(p.spill_dir, fmt::format("spill directory of task '{}'", task).c_str());
  CreateDir(p.cache_dir, fmt::format("cache directory of task '{}'", task).c_str());
  return p;
}

}  // namespace ferry
