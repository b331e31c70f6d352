// Task settings: the AWS DMS ReplicationTaskSettings JSON document, parsed into typed structs.
//
// Every section of the document has a struct below whose members carry the DMS default. Where
// sources disagree on a default, the order of precedence is: the DMS API model / the service's
// real output (the "Saving task settings" example in the DMS user guide is a real document the
// service returned), then ../shared/docs/dms-reference.md, then the user guide's prose. Each
// such case is marked "Default:" in a comment on the member.
//
// Settings that belong to CDC are parsed, validated and stored now; the engine honours them when
// the CDC issues land.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/error.h"

namespace ferry {

enum class TargetTablePrepMode { kDoNothing, kDropAndCreate, kTruncateBeforeLoad };

// One enum for every ErrorBehavior policy; each setting accepts only the subset DMS allows
// (listed on the member and enforced by ParseTaskSettings).
enum class ErrorPolicy {
  kIgnoreRecord,  // IGNORE_RECORD
  kLogError,      // LOG_ERROR
  kSuspendTable,  // SUSPEND_TABLE
  kStopTask,      // STOP_TASK
  kInsertRecord,  // INSERT_RECORD: ApplyErrorInsertPolicy only (insert becomes an upsert)
  kUpdateRecord,  // UPDATE_RECORD: ApplyErrorUpdatePolicy only (insert the missing row)
};

// ErrorBehavior.EventErrorPolicy: what DMS does when sending a task event fails. Ferry sends no
// events, so it is accepted and not acted on (SettingsNotActedOn).
enum class EventErrorPolicy { kIgnore, kStopTask };

// Ordered from least to most verbose; a component logs messages at or below its severity.
enum class LoggerSeverity {
  kError,          // LOGGER_SEVERITY_ERROR
  kWarning,        // LOGGER_SEVERITY_WARNING
  kInfo,           // LOGGER_SEVERITY_INFO
  kDefault,        // LOGGER_SEVERITY_DEFAULT
  kDebug,          // LOGGER_SEVERITY_DEBUG
  kDetailedDebug,  // LOGGER_SEVERITY_DETAILED_DEBUG
};

// The component ids the DMS service lists in a saved task's Logging.LogComponents, in the
// service's order (that order is also the normalised order).
enum class LogComponentId {
  kTransformation,   // TRANSFORMATION
  kSourceUnload,     // SOURCE_UNLOAD
  kIo,               // IO
  kTargetLoad,       // TARGET_LOAD
  kPerformance,      // PERFORMANCE
  kSourceCapture,    // SOURCE_CAPTURE
  kSorter,           // SORTER
  kRestServer,       // REST_SERVER
  kValidatorExt,     // VALIDATOR_EXT
  kTargetApply,      // TARGET_APPLY
  kTaskManager,      // TASK_MANAGER
  kTablesManager,    // TABLES_MANAGER
  kMetadataManager,  // METADATA_MANAGER
  kFileFactory,      // FILE_FACTORY
  kCommon,           // COMMON
  kAddons,           // ADDONS
  kDataStructure,    // DATA_STRUCTURE
  kCommunication,    // COMMUNICATION
  kFileTransfer,     // FILE_TRANSFER
};
inline constexpr int kLogComponentCount = 19;

enum class ValidationMode { kRowLevel };  // ROW_LEVEL: "currently the default and only value"

enum class BeforeImageColumnFilter { kPkOnly, kNonLob, kAll };  // pk-only, non-lob, all

// The JSON spelling of each enum value ("DO_NOTHING", "LOG_ERROR", "LOGGER_SEVERITY_INFO",
// "TASK_MANAGER", "ROW_LEVEL", "pk-only"). Never null.
const char* TargetTablePrepModeName(TargetTablePrepMode v);
const char* ErrorPolicyName(ErrorPolicy v);
const char* LoggerSeverityName(LoggerSeverity v);
const char* LogComponentIdName(LogComponentId v);
const char* ValidationModeName(ValidationMode v);
const char* BeforeImageColumnFilterName(BeforeImageColumnFilter v);

// Sizes are in KB unless the name says otherwise, times in seconds unless it says minutes.
struct TargetMetadata {
  std::string target_schema;          // "" = the source table's schema
  bool support_lobs = true;
  bool full_lob_mode = false;
  int64_t lob_chunk_size = 64;        // Default: dms-reference (the service's saved output shows 0)
  bool limited_size_lob_mode = true;
  int64_t lob_max_size = 32;
  int64_t inline_lob_max_size = 0;    // 0..102400
  int64_t load_max_file_size = 0;     // 0..100000
  int64_t parallel_load_threads = 0;  // 0..200
  int64_t parallel_load_buffer_size = 0;  // 0..1000; Default: dms-reference (guide prose: 50)
  bool batch_apply_enabled = false;
  bool task_recovery_table_enabled = false;
  // Default 0 for the three below: the service's saved output (guide prose says 1, 100, 1).
  int64_t parallel_load_queues_per_thread = 0;
  int64_t parallel_apply_threads = 0;
  int64_t parallel_apply_buffer_size = 0;
  int64_t parallel_apply_queues_per_thread = 0;
  bool operator==(const TargetMetadata&) const = default;
};

struct FullLoadSettings {
  // Default: DO_NOTHING, the API default (the console proposes DROP_AND_CREATE).
  TargetTablePrepMode target_table_prep_mode = TargetTablePrepMode::kDoNothing;
  bool create_pk_after_full_load = false;
  bool stop_task_cached_changes_applied = false;
  bool stop_task_cached_changes_not_applied = false;
  int64_t max_full_load_sub_tasks = 8;  // 1..49 (dms-reference; older guide text says 50)
  int64_t transaction_consistency_timeout = 600;
  int64_t commit_rate = 10000;          // 1..50000
  bool operator==(const FullLoadSettings&) const = default;
};

struct LogComponent {
  LogComponentId id = LogComponentId::kTransformation;
  LoggerSeverity severity = LoggerSeverity::kDefault;
  bool operator==(const LogComponent&) const = default;
};

// Every component, in LogComponentId order, at LOGGER_SEVERITY_DEFAULT (what the service
// returns for a task created without LogComponents).
std::vector<LogComponent> DefaultLogComponents();

struct Logging {
  bool enable_logging = false;
  bool enable_log_context = false;
  // Always holds every component exactly once, in LogComponentId order: ParseTaskSettings
  // fills the components a document leaves out with LOGGER_SEVERITY_DEFAULT.
  std::vector<LogComponent> log_components = DefaultLogComponents();
  // Set by the service, never by users; kept so a document the service returned parses.
  std::optional<std::string> cloud_watch_log_group;
  std::optional<std::string> cloud_watch_log_stream;
  // The severity configured for `id`.
  LoggerSeverity SeverityOf(LogComponentId id) const;
  bool operator==(const Logging&) const = default;
};

struct ControlTablesSettings {
  std::string control_schema;  // "" = PostgreSQL public, MySQL awsdms_control
  int64_t history_timeslot_in_minutes = 5;  // >= 1
  bool history_table_enabled = false;
  bool suspended_tables_table_enabled = false;
  bool status_table_enabled = false;
  bool full_load_exception_table_enabled = false;
  bool operator==(const ControlTablesSettings&) const = default;
};

struct StreamBufferSettings {
  int64_t stream_buffer_count = 3;
  int64_t stream_buffer_size_in_mb = 8;
  int64_t ctrl_stream_buffer_size_in_mb = 5;
  bool operator==(const StreamBufferSettings&) const = default;
};

struct ChangeProcessingDdlHandlingPolicy {
  bool handle_source_table_dropped = true;
  bool handle_source_table_truncated = true;
  bool handle_source_table_altered = true;
  bool operator==(const ChangeProcessingDdlHandlingPolicy&) const = default;
};

struct ErrorBehavior {
  ErrorPolicy data_error_policy = ErrorPolicy::kLogError;             // the four basic policies
  ErrorPolicy data_truncation_error_policy = ErrorPolicy::kLogError;  // the four basic policies
  // LOG_ERROR | SUSPEND_TABLE | STOP_TASK (the current guide drops LOG_ERROR; older documents
  // use it, so it is still accepted).
  ErrorPolicy data_error_escalation_policy = ErrorPolicy::kSuspendTable;
  int64_t data_error_escalation_count = 0;                            // 0 = no escalation
  ErrorPolicy table_error_policy = ErrorPolicy::kSuspendTable;        // SUSPEND_TABLE | STOP_TASK
  ErrorPolicy table_error_escalation_policy = ErrorPolicy::kStopTask;  // STOP_TASK only
  int64_t table_error_escalation_count = 0;
  int64_t recoverable_error_count = -1;  // -1 = retry forever, 0 = never
  int64_t recoverable_error_interval = 5;
  bool recoverable_error_throttling = true;  // the interval doubles on each retry
  int64_t recoverable_error_throttling_max = 1800;
  bool recoverable_error_stop_retry_after_throttling_max = true;  // Default: service output
  ErrorPolicy apply_error_delete_policy = ErrorPolicy::kIgnoreRecord;  // the four basic ones
  ErrorPolicy apply_error_insert_policy = ErrorPolicy::kLogError;      // basic + INSERT_RECORD
  ErrorPolicy apply_error_update_policy = ErrorPolicy::kLogError;      // basic + UPDATE_RECORD
  ErrorPolicy apply_error_escalation_policy = ErrorPolicy::kLogError;  // LOG/SUSPEND/STOP
  int64_t apply_error_escalation_count = 0;
  bool apply_error_fail_on_truncation_ddl = false;
  bool full_load_ignore_conflicts = true;
  bool fail_on_transaction_consistency_breached = false;
  bool fail_on_no_tables_captured = true;  // Default: service output (guide prose: false)
  EventErrorPolicy event_error_policy = EventErrorPolicy::kIgnore;  // IGNORE | STOP_TASK
  bool operator==(const ErrorBehavior&) const = default;
};

struct ChangeProcessingTuning {
  bool batch_apply_preserve_transaction = true;
  int64_t batch_apply_timeout_min = 1;
  int64_t batch_apply_timeout_max = 30;
  int64_t batch_apply_memory_limit = 500;  // MB
  int64_t batch_split_size = 0;
  int64_t min_transaction_size = 1000;
  int64_t commit_timeout = 1;
  int64_t memory_limit_total = 1024;  // MB; transactions beyond it spill to disk
  int64_t memory_keep_time = 60;      // s; transactions older than this spill to disk
  int64_t statement_cache_size = 50;
  bool operator==(const ChangeProcessingTuning&) const = default;
};

struct ValidationSettings {
  bool enable_validation = false;
  ValidationMode validation_mode = ValidationMode::kRowLevel;
  int64_t thread_count = 5;
  int64_t partition_size = 10000;
  // Default: 10000 / 1000 per dms-reference and the guide's prose (its task settings example
  // shows the two swapped).
  int64_t failure_max_count = 10000;
  int64_t record_failure_delay_in_minutes = 5;
  int64_t record_suspend_delay_in_minutes = 30;
  int64_t max_key_column_size = 8096;
  int64_t table_failure_max_count = 1000;
  bool validation_only = false;
  bool handle_collation_diff = false;
  int64_t record_failure_delay_limit_in_minutes = 0;
  bool skip_lob_columns = false;
  int64_t validation_partial_lob_size = 0;  // KB; 0 = the whole LOB
  int64_t validation_query_cdc_delay_seconds = 0;
  bool operator==(const ValidationSettings&) const = default;
};

struct LoopbackPreventionSettings {
  bool enable_loopback_prevention = false;
  std::string source_schema;
  std::string target_schema;
  bool operator==(const LoopbackPreventionSettings&) const = default;
};

struct CharacterReplacement {
  int64_t source_character_code_point = 0;  // 0..0x10FFFF
  int64_t target_character_code_point = 0;  // 0..0x10FFFF
  bool operator==(const CharacterReplacement&) const = default;
};

struct CharacterSetSettings {
  std::vector<CharacterReplacement> character_replacements;
  // CharacterSetSupport: characters not valid in `character_set` become
  // `replace_with_character_code_point`. "" = no character set check.
  std::string character_set;
  int64_t replace_with_character_code_point = 0;  // 0..0x10FFFF
  bool operator==(const CharacterSetSettings&) const = default;
};

// TTSettings: DMS Time Travel, which logs a task's changes to an S3 bucket in AWS. Ferry has no
// Time Travel: the section is accepted and checked, not acted on (SettingsNotActedOn).
enum class TtEncryptionMode { kSseS3, kSseKms };

struct TimeTravelSettings {
  bool enable_tt = false;
  // TTS3Settings
  TtEncryptionMode encryption_mode = TtEncryptionMode::kSseS3;  // SSE_S3 | SSE_KMS
  std::string server_side_encryption_kms_key_id;
  std::string service_access_role_arn;
  std::string bucket_name;
  std::string bucket_folder;
  bool enable_deleting_from_s3_on_task_delete = false;
  // TTRecordSettings
  bool enable_raw_data = false;
  std::string operations_to_log = "ALL";  // INSERT, UPDATE, DELETE, COMMIT, ROLLBACK, ALL
  int64_t max_record_size = 64;           // KB
  bool operator==(const TimeTravelSettings&) const = default;
};

struct BeforeImageSettings {
  bool enable_before_image = false;
  std::string field_name;  // required (non-empty) when enable_before_image
  BeforeImageColumnFilter column_filter = BeforeImageColumnFilter::kPkOnly;
  bool operator==(const BeforeImageSettings&) const = default;
};

// Ferry extension, not part of AWS DMS (DMS creates only tables, primary keys and unique
// indexes): the top-level "FerrySettings" section. Everything is off by default, so a DMS
// document behaves as in DMS. See src/schema/schema_objects.h for what is created and when.
struct FerrySettings {
  bool create_secondary_indexes = false;  // CreateSecondaryIndexes
  bool create_foreign_keys = false;       // CreateForeignKeys
  bool create_column_defaults = false;    // CreateColumnDefaults
  bool operator==(const FerrySettings&) const = default;
};

struct TaskSettings {
  TargetMetadata target_metadata;
  FullLoadSettings full_load_settings;
  Logging logging;
  ControlTablesSettings control_tables_settings;
  StreamBufferSettings stream_buffer_settings;
  ChangeProcessingDdlHandlingPolicy change_processing_ddl_handling_policy;
  ErrorBehavior error_behavior;
  ChangeProcessingTuning change_processing_tuning;
  ValidationSettings validation_settings;
  CharacterSetSettings character_set_settings;
  LoopbackPreventionSettings loopback_prevention_settings;
  BeforeImageSettings before_image_settings;
  TimeTravelSettings tt_settings;                          // "TTSettings"
  bool fail_task_when_clean_task_resource_failed = false;  // a top-level key
  FerrySettings ferry_settings;  // Ferry extension ("FerrySettings")
  bool operator==(const TaskSettings&) const = default;
};

// Parses a ReplicationTaskSettings document. Missing sections and keys take their defaults; a
// section given as null (as the service writes CharacterSetSettings etc.) is the same as a
// missing one. Every key is type-checked (booleans must be JSON booleans, integers JSON
// integers, enums one of their listed names) and range-checked; an unknown key is an error.
// `PostProcessingRules` is accepted only as null (Ferry does not implement it), and
// ControlTablesSettings.historyTimeslotInMinutes (a lower-case spelling the service itself
// emits) is accepted as an alias that must agree with HistoryTimeslotInMinutes.
// On failure: ErrorKind::kInvalidArgument, message
//   "<source_name>: <JSON path>: expected <what>, found <what>"
// e.g. "task.json: FullLoadSettings.CommitRate: expected an integer in 1..50000, found 0".
Result<TaskSettings> ParseTaskSettings(std::string_view json, std::string_view source_name);

// The document with every section and key, defaults filled in, in a stable order so IaC tools
// can diff it. Sections and keys follow the order of the document the DMS service returns for a
// saved task (see the user guide's "Saving task settings"): TargetMetadata, FullLoadSettings,
// Logging, ControlTablesSettings, StreamBufferSettings, ChangeProcessingDdlHandlingPolicy,
// ErrorBehavior, ChangeProcessingTuning, then ValidationSettings, PostProcessingRules (null),
// CharacterSetSettings, LoopbackPreventionSettings, BeforeImageSettings and
// FailTaskWhenCleanTaskResourceFailed; keys the service does not show follow the user guide's
// example order. LogComponents lists every component in LogComponentId order.
// ParseTaskSettings(NormalizeTaskSettings(x).dump(), ...) == x for any x ParseTaskSettings made.
nlohmann::ordered_json NormalizeTaskSettings(const TaskSettings& settings);

// One line per setting of `settings` that asks for something Ferry accepts but does not do
// (TTSettings.EnableTT, ErrorBehavior.EventErrorPolicy STOP_TASK, ...), naming the key and
// why; empty when there is none. Callers log them as warnings.
std::vector<std::string> SettingsNotActedOn(const TaskSettings& settings);

// Every key of the document ("Section.Key", document order), split into those Ferry acts on
// and those it accepts and checks but does not act on. `ferry settings` prints both lists.
struct SettingsKeys {
  std::vector<std::string> honoured;
  std::vector<std::string> not_acted_on;
};
SettingsKeys SettingsKeyReport();

}  // namespace ferry
