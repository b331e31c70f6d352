#include "logging/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>

#include <array>
#include <memory>
#include <mutex>
#include <string>

namespace ferry::logging {
namespace {

std::mutex g_mu;
std::array<std::shared_ptr<spdlog::logger>, kLogComponentCount> g_loggers;  // GUARDED_BY(g_mu)

// DMS pads the component name inside the brackets; the longest is METADATA_MANAGER (16).
std::string Pattern(LogComponentId id) {
  std::string name = LogComponentIdName(id);
  name.resize(16, ' ');
  return "%Y-%m-%dT%H:%M:%S.%e [" + name + "] %^%-5l%$ %v";
}

}  // namespace

spdlog::level::level_enum LevelOf(LoggerSeverity severity) {
  switch (severity) {
    case LoggerSeverity::kError: return spdlog::level::err;
    case LoggerSeverity::kWarning: return spdlog::level::warn;
    case LoggerSeverity::kInfo: return spdlog::level::info;
    case LoggerSeverity::kDefault: return spdlog::level::info;
    case LoggerSeverity::kDebug: return spdlog::level::debug;
    case LoggerSeverity::kDetailedDebug: return spdlog::level::trace;
  }
  return spdlog::level::info;
}

void Init(bool verbose) {
  std::lock_guard lock(g_mu);
  if (g_loggers[0]) return;
  for (int i = 0; i < kLogComponentCount; ++i) {
    const auto id = static_cast<LogComponentId>(i);
    // One sink per logger: a logger's pattern is its sinks' formatter, so a shared sink would
    // print every line with the last component's name. Console sinks share one stderr mutex.
    auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    auto logger = std::make_shared<spdlog::logger>(LogComponentIdName(id), sink);
    logger->set_pattern(Pattern(id));
    logger->set_level(verbose ? spdlog::level::debug : spdlog::level::info);
    g_loggers[i] = logger;
  }
  spdlog::set_default_logger(g_loggers[static_cast<int>(LogComponentId::kTaskManager)]);
}

void Configure(const Logging& settings, bool verbose) {
  Init(verbose);
  std::lock_guard lock(g_mu);
  for (int i = 0; i < kLogComponentCount; ++i) {
    spdlog::level::level_enum level = LevelOf(settings.SeverityOf(static_cast<LogComponentId>(i)));
    if (verbose && level > spdlog::level::debug) level = spdlog::level::debug;
    g_loggers[i]->set_level(level);
  }
}

spdlog::logger& For(LogComponentId component) {
  std::lock_guard lock(g_mu);
  const auto& logger = g_loggers[static_cast<int>(component)];
  return logger ? *logger : *spdlog::default_logger_raw();
}

}  // namespace ferry::logging
