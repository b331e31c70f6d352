// The task log, split into the DMS log components (TARGET_LOAD, SOURCE_UNLOAD, TASK_MANAGER...).
// Each component is its own spdlog logger writing to the one stderr sink, with the component in
// every line as DMS prints it ("[TARGET_LOAD     ]"), so a DMS user's Logging.LogComponents
// severities mean what they mean in DMS:
//
//   LOGGER_SEVERITY_ERROR          errors only
//   LOGGER_SEVERITY_WARNING        + warnings
//   LOGGER_SEVERITY_INFO           + information
//   LOGGER_SEVERITY_DEFAULT        same as INFO (the DMS default)
//   LOGGER_SEVERITY_DEBUG          + debug
//   LOGGER_SEVERITY_DETAILED_DEBUG + everything (spdlog trace)
//
// Thread-safe after Init(). Code that has no component logs through spdlog's default logger,
// which is TASK_MANAGER.
#pragma once

#include <spdlog/spdlog.h>

#include "settings/task_settings.h"

namespace ferry::logging {

// Creates the component loggers on one stderr sink and makes TASK_MANAGER the default logger.
// `verbose` sets every component to debug. Idempotent.
void Init(bool verbose);

// Applies the severities of a task's Logging settings (components not listed keep DEFAULT).
// `verbose` (the -v flag) still lifts every component to at least debug.
void Configure(const Logging& settings, bool verbose);

// The logger of `component`. Init() must have run; before that the default logger is returned.
spdlog::logger& For(LogComponentId component);

// The spdlog level a DMS severity maps to.
spdlog::level::level_enum LevelOf(LoggerSeverity severity);

}  // namespace ferry::logging
