#include "settings/task_settings.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <limits>
#include <set>
#include <type_traits>
#include <utility>

namespace ferry {
namespace {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
constexpr int64_t kMaxCodePoint = 0x10FFFF;

// ---- enum names -------------------------------------------------------------------------------

template <typename E>
struct EnumName {
  E value;
  const char* name;
};

constexpr std::array<EnumName<TargetTablePrepMode>, 3> kPrepModes{{
    {TargetTablePrepMode::kDoNothing, "DO_NOTHING"},
    {TargetTablePrepMode::kDropAndCreate, "DROP_AND_CREATE"},
    {TargetTablePrepMode::kTruncateBeforeLoad, "TRUNCATE_BEFORE_LOAD"},
}};

constexpr std::array<EnumName<ErrorPolicy>, 6> kErrorPolicies{{
    {ErrorPolicy::kIgnoreRecord, "IGNORE_RECORD"},
    {ErrorPolicy::kLogError, "LOG_ERROR"},
    {ErrorPolicy::kSuspendTable, "SUSPEND_TABLE"},
    {ErrorPolicy::kStopTask, "STOP_TASK"},
    {ErrorPolicy::kInsertRecord, "INSERT_RECORD"},
    {ErrorPolicy::kUpdateRecord, "UPDATE_RECORD"},
}};

constexpr std::array<EnumName<EventErrorPolicy>, 2> kEventErrorPolicies{{
    {EventErrorPolicy::kIgnore, "IGNORE"},
    {EventErrorPolicy::kStopTask, "STOP_TASK"},
}};

constexpr std::array<EnumName<TtEncryptionMode>, 2> kEncryptionModes{{
    {TtEncryptionMode::kSseS3, "SSE_S3"},
    {TtEncryptionMode::kSseKms, "SSE_KMS"},
}};

constexpr std::array<EnumName<LoggerSeverity>, 6> kSeverities{{
    {LoggerSeverity::kError, "LOGGER_SEVERITY_ERROR"},
    {LoggerSeverity::kWarning, "LOGGER_SEVERITY_WARNING"},
    {LoggerSeverity::kInfo, "LOGGER_SEVERITY_INFO"},
    {LoggerSeverity::kDefault, "LOGGER_SEVERITY_DEFAULT"},
    {LoggerSeverity::kDebug, "LOGGER_SEVERITY_DEBUG"},
    {LoggerSeverity::kDetailedDebug, "LOGGER_SEVERITY_DETAILED_DEBUG"},
}};

constexpr std::array<EnumName<LogComponentId>, kLogComponentCount> kComponents{{
    {LogComponentId::kTransformation, "TRANSFORMATION"},
    {LogComponentId::kSourceUnload, "SOURCE_UNLOAD"},
    {LogComponentId::kIo, "IO"},
    {LogComponentId::kTargetLoad, "TARGET_LOAD"},
    {LogComponentId::kPerformance, "PERFORMANCE"},
    {LogComponentId::kSourceCapture, "SOURCE_CAPTURE"},
    {LogComponentId::kSorter, "SORTER"},
    {LogComponentId::kRestServer, "REST_SERVER"},
    {LogComponentId::kValidatorExt, "VALIDATOR_EXT"},
    {LogComponentId::kTargetApply, "TARGET_APPLY"},
    {LogComponentId::kTaskManager, "TASK_MANAGER"},
    {LogComponentId::kTablesManager, "TABLES_MANAGER"},
    {LogComponentId::kMetadataManager, "METADATA_MANAGER"},
    {LogComponentId::kFileFactory, "FILE_FACTORY"},
    {LogComponentId::kCommon, "COMMON"},
    {LogComponentId::kAddons, "ADDONS"},
    {LogComponentId::kDataStructure, "DATA_STRUCTURE"},
    {LogComponentId::kCommunication, "COMMUNICATION"},
    {LogComponentId::kFileTransfer, "FILE_TRANSFER"},
}};

constexpr std::array<EnumName<ValidationMode>, 1> kValidationModes{{
    {ValidationMode::kRowLevel, "ROW_LEVEL"},
}};

constexpr std::array<EnumName<BeforeImageColumnFilter>, 3> kColumnFilters{{
    {BeforeImageColumnFilter::kPkOnly, "pk-only"},
    {BeforeImageColumnFilter::kNonLob, "non-lob"},
    {BeforeImageColumnFilter::kAll, "all"},
}};

template <typename E, size_t N>
const char* NameOf(const std::array<EnumName<E>, N>& table, E v) {
  for (const auto& e : table) {
    if (e.value == v) return e.name;
  }
  return "?";
}

// The values each ErrorBehavior policy accepts (user guide, "Error handling task settings").
constexpr std::array<ErrorPolicy, 4> kBasicPolicies{ErrorPolicy::kIgnoreRecord,
                                                    ErrorPolicy::kLogError,
                                                    ErrorPolicy::kSuspendTable,
                                                    ErrorPolicy::kStopTask};
constexpr std::array<ErrorPolicy, 3> kEscalationPolicies{
    ErrorPolicy::kLogError, ErrorPolicy::kSuspendTable, ErrorPolicy::kStopTask};
constexpr std::array<ErrorPolicy, 2> kTablePolicies{ErrorPolicy::kSuspendTable,
                                                    ErrorPolicy::kStopTask};
constexpr std::array<ErrorPolicy, 1> kTableEscalationPolicies{ErrorPolicy::kStopTask};
constexpr std::array<ErrorPolicy, 5> kInsertPolicies{
    ErrorPolicy::kIgnoreRecord, ErrorPolicy::kLogError, ErrorPolicy::kSuspendTable,
    ErrorPolicy::kStopTask, ErrorPolicy::kInsertRecord};
constexpr std::array<ErrorPolicy, 5> kUpdatePolicies{
    ErrorPolicy::kIgnoreRecord, ErrorPolicy::kLogError, ErrorPolicy::kSuspendTable,
    ErrorPolicy::kStopTask, ErrorPolicy::kUpdateRecord};

template <typename E, size_t N>
std::vector<EnumName<E>> AllOf(const std::array<EnumName<E>, N>& table) {
  return {table.begin(), table.end()};
}

template <size_t N>
std::vector<EnumName<ErrorPolicy>> Policies(const std::array<ErrorPolicy, N>& allowed) {
  std::vector<EnumName<ErrorPolicy>> out;
  for (ErrorPolicy p : allowed) out.push_back({p, NameOf(kErrorPolicies, p)});
  return out;
}

// ---- messages ---------------------------------------------------------------------------------

// A short description of a JSON value for "found ..." (type and, for scalars, the value).
std::string Describe(const Json& v) {
  auto dump = [](const Json& j) {
    std::string s = j.dump(-1, ' ', false, Json::error_handler_t::replace);
    if (s.size() > 60) s = s.substr(0, 57) + "...";
    return s;
  };
  switch (v.type()) {
    case Json::value_t::null: return "null";
    case Json::value_t::boolean: return "boolean " + dump(v);
    case Json::value_t::string: return "string " + dump(v);
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned: return "integer " + dump(v);
    case Json::value_t::number_float: return "number " + dump(v);
    case Json::value_t::object: return "an object";
    case Json::value_t::array: return "an array";
    default: return "a value of another type";
  }
}

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// ---- reading ----------------------------------------------------------------------------------

// Reads one JSON object. Visit functions call one method per key, in the normalised order;
// Finish() then reports keys no method asked for. Failures throw ferry::Error.
class Reader {
 public:
  Reader(const Json& obj, std::string path, std::string_view source)
      : obj_(obj), path_(std::move(path)), source_(source) {}

  [[noreturn]] void Fail(std::string_view key, const std::string& what) const {
    throw Error(ErrorKind::kInvalidArgument,
                std::string(source_) + ": " + PathOf(key) + ": " + what);
  }
  [[noreturn]] void Expected(std::string_view key, const std::string& expected,
                             const Json& found) const {
    Fail(key, "expected " + expected + ", found " + Describe(found));
  }

  std::string PathOf(std::string_view key) const {
    if (key.empty()) return path_.empty() ? "(top level)" : path_;
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  }

  // The value of `key`, or nullptr when it is absent. Marks the key as known.
  const Json* Get(std::string_view key) {
    known_.emplace_back(key);
    auto it = obj_.find(std::string(key));
    return it == obj_.end() ? nullptr : &*it;
  }

  void Bool(std::string_view key, bool& out) {
    const Json* v = Get(key);
    if (v == nullptr) return;
    if (!v->is_boolean()) Expected(key, "a boolean (true or false)", *v);
    out = v->get<bool>();
  }

  void Int(std::string_view key, int64_t& out, int64_t lo, int64_t hi) {
    const Json* v = Get(key);
    if (v != nullptr) out = ReadInt(key, *v, lo, hi);
  }

  void String(std::string_view key, std::string& out) {
    const Json* v = Get(key);
    if (v == nullptr) return;
    if (!v->is_string()) Expected(key, "a string", *v);
    out = v->get<std::string>();
  }

  // A string the service may also write as null (absent value).
  void OptionalString(std::string_view key, std::optional<std::string>& out) {
    const Json* v = Get(key);
    if (v == nullptr) return;
    if (v->is_null()) {
      out.reset();
      return;
    }
    if (!v->is_string()) Expected(key, "a string or null", *v);
    out = v->get<std::string>();
  }

  template <typename E>
  void Enum(std::string_view key, E& out, const std::vector<EnumName<E>>& allowed) {
    const Json* v = Get(key);
    if (v != nullptr) out = ReadEnum(key, *v, allowed);
  }

  // A key Ferry accepts only as null.
  void NullOnly(std::string_view key, const char* why) {
    const Json* v = Get(key);
    if (v != nullptr && !v->is_null()) Expected(key, std::string("null (") + why + ")", *v);
  }

  // `alias` is another spelling of the integer `key`, read before it; both must agree.
  void IntAlias(std::string_view alias, std::string_view key, int64_t& out, int64_t lo,
                int64_t hi) {
    const Json* v = Get(alias);
    if (v == nullptr) return;
    const int64_t value = ReadInt(alias, *v, lo, hi);
    if (obj_.contains(std::string(key)) && value != out) {
      Fail(alias, "expected the same value as " + PathOf(key) + " (" + std::to_string(out) +
                      "), found " + std::to_string(value));
    }
    out = value;
  }

  // A nested object: absent or null keeps the defaults.
  template <typename Fn>
  void Object(std::string_view key, Fn&& fn) {
    const Json* v = Get(key);
    if (v == nullptr || v->is_null()) return;
    if (!v->is_object()) Expected(key, "an object or null", *v);
    Reader sub(*v, PathOf(key), source_);
    fn(sub);
    sub.Finish();
  }

  // An array of objects: absent or null keeps the default (fn fills one T per element).
  template <typename T, typename Fn>
  void Array(std::string_view key, std::vector<T>& out, Fn&& fn) {
    const Json* v = Get(key);
    if (v == nullptr || v->is_null()) return;
    if (!v->is_array()) Expected(key, "an array or null", *v);
    out.clear();
    for (size_t i = 0; i < v->size(); ++i) {
      const Json& item = (*v)[i];
      const std::string item_path = PathOf(key) + "[" + std::to_string(i) + "]";
      if (!item.is_object()) {
        throw Error(ErrorKind::kInvalidArgument, std::string(source_) + ": " + item_path +
                                                     ": expected an object, found " +
                                                     Describe(item));
      }
      Reader sub(item, item_path, source_);
      T value{};
      fn(sub, value);
      sub.Finish();
      out.push_back(std::move(value));
    }
  }

  // Keys of this object nobody asked for are errors.
  void Finish() const {
    for (const auto& [key, value] : obj_.items()) {
      if (std::find(known_.begin(), known_.end(), key) != known_.end()) continue;
      std::string hint;
      for (const auto& k : known_) {
        if (EqualsIgnoringCase(k, key)) hint = "; did you mean " + k + "?";
      }
      std::string list;
      for (const auto& k : known_) list += (list.empty() ? "" : ", ") + k;
      Fail(key, "unknown key (expected one of: " + list + ")" + hint);
    }
  }

 private:
  int64_t ReadInt(std::string_view key, const Json& v, int64_t lo, int64_t hi) const {
    const std::string range = lo == std::numeric_limits<int64_t>::min() ? ""
                              : hi == kInt64Max ? " >= " + std::to_string(lo)
                                                : " in " + std::to_string(lo) + ".." +
                                                      std::to_string(hi);
    const std::string expected = "an integer" + range;
    int64_t value = 0;
    if (v.is_number_unsigned()) {
      const uint64_t u = v.get<uint64_t>();
      if (u > static_cast<uint64_t>(kInt64Max)) Expected(key, expected, v);
      value = static_cast<int64_t>(u);
    } else if (v.is_number_integer()) {
      value = v.get<int64_t>();
    } else {
      Expected(key, expected, v);
    }
    if (value < lo || value > hi) Expected(key, expected, v);
    return value;
  }

  template <typename E>
  E ReadEnum(std::string_view key, const Json& v, const std::vector<EnumName<E>>& allowed) const {
    std::string list;
    for (const auto& e : allowed) list += (list.empty() ? "" : ", ") + std::string(e.name);
    if (v.is_string()) {
      const std::string& s = v.get_ref<const std::string&>();
      for (const auto& e : allowed) {
        if (s == e.name) return e.value;
      }
    }
    Expected(key, "one of " + list, v);
  }

  const Json& obj_;
  std::string path_;
  std::string_view source_;
  std::vector<std::string> known_;
};

// ---- writing ----------------------------------------------------------------------------------

// The Reader's counterpart: the same Visit functions emit every key, in order.
class Writer {
 public:
  OrderedJson out = OrderedJson::object();

  void Bool(std::string_view key, bool& v) { out[std::string(key)] = v; }
  void Int(std::string_view key, int64_t& v, int64_t, int64_t) { out[std::string(key)] = v; }
  void String(std::string_view key, std::string& v) { out[std::string(key)] = v; }
  void OptionalString(std::string_view key, std::optional<std::string>& v) {
    out[std::string(key)] = v ? OrderedJson(*v) : OrderedJson(nullptr);
  }
  template <typename E>
  void Enum(std::string_view key, E& v, const std::vector<EnumName<E>>& allowed) {
    const char* name = "?";
    for (const auto& e : allowed) {
      if (e.value == v) name = e.name;
    }
    out[std::string(key)] = name;
  }
  void NullOnly(std::string_view key, const char*) { out[std::string(key)] = nullptr; }
  void IntAlias(std::string_view, std::string_view, int64_t&, int64_t, int64_t) {}
  template <typename Fn>
  void Object(std::string_view key, Fn&& fn) {
    Writer sub;
    fn(sub);
    out[std::string(key)] = std::move(sub.out);
  }
  template <typename T, typename Fn>
  void Array(std::string_view key, std::vector<T>& items, Fn&& fn) {
    OrderedJson arr = OrderedJson::array();
    for (T& item : items) {
      Writer sub;
      fn(sub, item);
      arr.push_back(std::move(sub.out));
    }
    out[std::string(key)] = std::move(arr);
  }
};

// ---- the document -----------------------------------------------------------------------------

template <typename V>
void VisitTargetMetadata(V& v, TargetMetadata& s) {
  v.String("TargetSchema", s.target_schema);
  v.Bool("SupportLobs", s.support_lobs);
  v.Bool("FullLobMode", s.full_lob_mode);
  v.Int("LobChunkSize", s.lob_chunk_size, 0, kInt64Max);
  v.Bool("LimitedSizeLobMode", s.limited_size_lob_mode);
  v.Int("LobMaxSize", s.lob_max_size, 0, kInt64Max);
  v.Int("InlineLobMaxSize", s.inline_lob_max_size, 0, 102400);
  v.Int("LoadMaxFileSize", s.load_max_file_size, 0, 100000);
  v.Int("ParallelLoadThreads", s.parallel_load_threads, 0, 200);
  v.Int("ParallelLoadBufferSize", s.parallel_load_buffer_size, 0, 1000);
  v.Bool("BatchApplyEnabled", s.batch_apply_enabled);
  v.Bool("TaskRecoveryTableEnabled", s.task_recovery_table_enabled);
  v.Int("ParallelLoadQueuesPerThread", s.parallel_load_queues_per_thread, 0, kInt64Max);
  v.Int("ParallelApplyThreads", s.parallel_apply_threads, 0, kInt64Max);
  v.Int("ParallelApplyBufferSize", s.parallel_apply_buffer_size, 0, kInt64Max);
  v.Int("ParallelApplyQueuesPerThread", s.parallel_apply_queues_per_thread, 0, kInt64Max);
}

template <typename V>
void VisitFullLoad(V& v, FullLoadSettings& s) {
  v.Enum("TargetTablePrepMode", s.target_table_prep_mode, AllOf(kPrepModes));
  v.Bool("CreatePkAfterFullLoad", s.create_pk_after_full_load);
  v.Bool("StopTaskCachedChangesApplied", s.stop_task_cached_changes_applied);
  v.Bool("StopTaskCachedChangesNotApplied", s.stop_task_cached_changes_not_applied);
  v.Int("MaxFullLoadSubTasks", s.max_full_load_sub_tasks, 1, 49);
  v.Int("TransactionConsistencyTimeout", s.transaction_consistency_timeout, 0, kInt64Max);
  v.Int("CommitRate", s.commit_rate, 1, 50000);
}

template <typename V>
void VisitLogging(V& v, Logging& s) {
  v.Bool("EnableLogging", s.enable_logging);
  v.Bool("EnableLogContext", s.enable_log_context);
  v.Array("LogComponents", s.log_components, [](V& c, LogComponent& item) {
    c.Enum("Id", item.id, AllOf(kComponents));
    c.Enum("Severity", item.severity, AllOf(kSeverities));
  });
  v.OptionalString("CloudWatchLogGroup", s.cloud_watch_log_group);
  v.OptionalString("CloudWatchLogStream", s.cloud_watch_log_stream);
}

template <typename V>
void VisitControlTables(V& v, ControlTablesSettings& s) {
  v.String("ControlSchema", s.control_schema);
  v.Int("HistoryTimeslotInMinutes", s.history_timeslot_in_minutes, 1, kInt64Max);
  v.IntAlias("historyTimeslotInMinutes", "HistoryTimeslotInMinutes",
             s.history_timeslot_in_minutes, 1, kInt64Max);
  v.Bool("HistoryTableEnabled", s.history_table_enabled);
  v.Bool("SuspendedTablesTableEnabled", s.suspended_tables_table_enabled);
  v.Bool("StatusTableEnabled", s.status_table_enabled);
  v.Bool("FullLoadExceptionTableEnabled", s.full_load_exception_table_enabled);
}

template <typename V>
void VisitStreamBuffer(V& v, StreamBufferSettings& s) {
  v.Int("StreamBufferCount", s.stream_buffer_count, 1, kInt64Max);
  v.Int("StreamBufferSizeInMB", s.stream_buffer_size_in_mb, 1, kInt64Max);
  v.Int("CtrlStreamBufferSizeInMB", s.ctrl_stream_buffer_size_in_mb, 1, kInt64Max);
}

template <typename V>
void VisitDdlHandling(V& v, ChangeProcessingDdlHandlingPolicy& s) {
  v.Bool("HandleSourceTableDropped", s.handle_source_table_dropped);
  v.Bool("HandleSourceTableTruncated", s.handle_source_table_truncated);
  v.Bool("HandleSourceTableAltered", s.handle_source_table_altered);
}

template <typename V>
void VisitErrorBehavior(V& v, ErrorBehavior& s) {
  v.Enum("DataErrorPolicy", s.data_error_policy, Policies(kBasicPolicies));
  v.Enum("DataTruncationErrorPolicy", s.data_truncation_error_policy, Policies(kBasicPolicies));
  v.Enum("DataErrorEscalationPolicy", s.data_error_escalation_policy,
         Policies(kEscalationPolicies));
  v.Int("DataErrorEscalationCount", s.data_error_escalation_count, 0, kInt64Max);
  v.Enum("TableErrorPolicy", s.table_error_policy, Policies(kTablePolicies));
  v.Enum("TableErrorEscalationPolicy", s.table_error_escalation_policy,
         Policies(kTableEscalationPolicies));
  v.Int("TableErrorEscalationCount", s.table_error_escalation_count, 0, kInt64Max);
  v.Int("RecoverableErrorCount", s.recoverable_error_count, -1, kInt64Max);
  v.Int("RecoverableErrorInterval", s.recoverable_error_interval, 0, kInt64Max);
  v.Bool("RecoverableErrorThrottling", s.recoverable_error_throttling);
  v.Int("RecoverableErrorThrottlingMax", s.recoverable_error_throttling_max, 0, kInt64Max);
  v.Bool("RecoverableErrorStopRetryAfterThrottlingMax",
         s.recoverable_error_stop_retry_after_throttling_max);
  v.Enum("ApplyErrorDeletePolicy", s.apply_error_delete_policy, Policies(kBasicPolicies));
  v.Enum("ApplyErrorInsertPolicy", s.apply_error_insert_policy, Policies(kInsertPolicies));
  v.Enum("ApplyErrorUpdatePolicy", s.apply_error_update_policy, Policies(kUpdatePolicies));
  v.Enum("ApplyErrorEscalationPolicy", s.apply_error_escalation_policy,
         Policies(kEscalationPolicies));
  v.Int("ApplyErrorEscalationCount", s.apply_error_escalation_count, 0, kInt64Max);
  v.Bool("ApplyErrorFailOnTruncationDdl", s.apply_error_fail_on_truncation_ddl);
  v.Bool("FullLoadIgnoreConflicts", s.full_load_ignore_conflicts);
  v.Enum("EventErrorPolicy", s.event_error_policy, AllOf(kEventErrorPolicies));
  v.Bool("FailOnTransactionConsistencyBreached", s.fail_on_transaction_consistency_breached);
  v.Bool("FailOnNoTablesCaptured", s.fail_on_no_tables_captured);
}

template <typename V>
void VisitTuning(V& v, ChangeProcessingTuning& s) {
  v.Bool("BatchApplyPreserveTransaction", s.batch_apply_preserve_transaction);
  v.Int("BatchApplyTimeoutMin", s.batch_apply_timeout_min, 0, kInt64Max);
  v.Int("BatchApplyTimeoutMax", s.batch_apply_timeout_max, 0, kInt64Max);
  v.Int("BatchApplyMemoryLimit", s.batch_apply_memory_limit, 0, kInt64Max);
  v.Int("BatchSplitSize", s.batch_split_size, 0, kInt64Max);
  v.Int("MinTransactionSize", s.min_transaction_size, 0, kInt64Max);
  v.Int("CommitTimeout", s.commit_timeout, 0, kInt64Max);
  v.Int("MemoryLimitTotal", s.memory_limit_total, 0, kInt64Max);
  v.Int("MemoryKeepTime", s.memory_keep_time, 0, kInt64Max);
  v.Int("StatementCacheSize", s.statement_cache_size, 0, kInt64Max);
}

template <typename V>
void VisitValidation(V& v, ValidationSettings& s) {
  v.Bool("EnableValidation", s.enable_validation);
  v.Enum("ValidationMode", s.validation_mode, AllOf(kValidationModes));
  v.Int("ThreadCount", s.thread_count, 1, kInt64Max);
  v.Int("PartitionSize", s.partition_size, 1, kInt64Max);
  v.Int("FailureMaxCount", s.failure_max_count, 0, kInt64Max);
  v.Int("RecordFailureDelayInMinutes", s.record_failure_delay_in_minutes, 0, kInt64Max);
  v.Int("RecordSuspendDelayInMinutes", s.record_suspend_delay_in_minutes, 0, kInt64Max);
  v.Int("MaxKeyColumnSize", s.max_key_column_size, 1, kInt64Max);
  v.Int("TableFailureMaxCount", s.table_failure_max_count, 0, kInt64Max);
  v.Bool("ValidationOnly", s.validation_only);
  v.Bool("HandleCollationDiff", s.handle_collation_diff);
  v.Int("RecordFailureDelayLimitInMinutes", s.record_failure_delay_limit_in_minutes, 0,
        kInt64Max);
  v.Bool("SkipLobColumns", s.skip_lob_columns);
  v.Int("ValidationPartialLobSize", s.validation_partial_lob_size, 0, kInt64Max);
  v.Int("ValidationQueryCdcDelaySeconds", s.validation_query_cdc_delay_seconds, 0, kInt64Max);
}

template <typename V>
void VisitCharacterSet(V& v, CharacterSetSettings& s) {
  v.Array("CharacterReplacements", s.character_replacements,
          [](V& r, CharacterReplacement& item) {
            r.Int("SourceCharacterCodePoint", item.source_character_code_point, 0, kMaxCodePoint);
            r.Int("TargetCharacterCodePoint", item.target_character_code_point, 0, kMaxCodePoint);
          });
  v.Object("CharacterSetSupport", [&s](V& c) {
    c.String("CharacterSet", s.character_set);
    c.Int("ReplaceWithCharacterCodePoint", s.replace_with_character_code_point, 0,
          kMaxCodePoint);
  });
}

template <typename V>
void VisitLoopback(V& v, LoopbackPreventionSettings& s) {
  v.Bool("EnableLoopbackPrevention", s.enable_loopback_prevention);
  v.String("SourceSchema", s.source_schema);
  v.String("TargetSchema", s.target_schema);
}

template <typename V>
void VisitBeforeImage(V& v, BeforeImageSettings& s) {
  v.Bool("EnableBeforeImage", s.enable_before_image);
  v.String("FieldName", s.field_name);
  v.Enum("ColumnFilter", s.column_filter, AllOf(kColumnFilters));
}

template <typename V>
void VisitTimeTravel(V& v, TimeTravelSettings& s) {
  v.Bool("EnableTT", s.enable_tt);
  v.Object("TTS3Settings", [&s](V& o) {
    o.Enum("EncryptionMode", s.encryption_mode, AllOf(kEncryptionModes));
    o.String("ServerSideEncryptionKmsKeyId", s.server_side_encryption_kms_key_id);
    o.String("ServiceAccessRoleArn", s.service_access_role_arn);
    o.String("BucketName", s.bucket_name);
    o.String("BucketFolder", s.bucket_folder);
    o.Bool("EnableDeletingFromS3OnTaskDelete", s.enable_deleting_from_s3_on_task_delete);
  });
  v.Object("TTRecordSettings", [&s](V& o) {
    o.Bool("EnableRawData", s.enable_raw_data);
    o.String("OperationsToLog", s.operations_to_log);
    o.Int("MaxRecordSize", s.max_record_size, 0, kInt64Max);
  });
}

template <typename V>
void VisitDocument(V& v, TaskSettings& s) {
  v.Object("TargetMetadata", [&s](V& o) { VisitTargetMetadata(o, s.target_metadata); });
  v.Object("FullLoadSettings", [&s](V& o) { VisitFullLoad(o, s.full_load_settings); });
  v.Object("Logging", [&s](V& o) { VisitLogging(o, s.logging); });
  v.Object("ControlTablesSettings",
           [&s](V& o) { VisitControlTables(o, s.control_tables_settings); });
  v.Object("StreamBufferSettings",
           [&s](V& o) { VisitStreamBuffer(o, s.stream_buffer_settings); });
  v.Object("ChangeProcessingDdlHandlingPolicy",
           [&s](V& o) { VisitDdlHandling(o, s.change_processing_ddl_handling_policy); });
  v.Object("ErrorBehavior", [&s](V& o) { VisitErrorBehavior(o, s.error_behavior); });
  v.Object("ChangeProcessingTuning", [&s](V& o) { VisitTuning(o, s.change_processing_tuning); });
  v.Object("ValidationSettings", [&s](V& o) { VisitValidation(o, s.validation_settings); });
  v.NullOnly("PostProcessingRules", "Ferry does not implement PostProcessingRules");
  v.Object("CharacterSetSettings",
           [&s](V& o) { VisitCharacterSet(o, s.character_set_settings); });
  v.Object("LoopbackPreventionSettings",
           [&s](V& o) { VisitLoopback(o, s.loopback_prevention_settings); });
  v.Object("BeforeImageSettings", [&s](V& o) { VisitBeforeImage(o, s.before_image_settings); });
  v.Object("TTSettings", [&s](V& o) { VisitTimeTravel(o, s.tt_settings); });
  v.Bool("FailTaskWhenCleanTaskResourceFailed", s.fail_task_when_clean_task_resource_failed);
  // Ferry extension: written only when not all defaults (see NormalizeTaskSettings).
  if constexpr (std::is_same_v<V, Writer>) {
    if (s.ferry_settings == FerrySettings{}) return;
  }
  v.Object("FerrySettings", [&s](V& o) {
    o.Bool("CreateSecondaryIndexes", s.ferry_settings.create_secondary_indexes);
    o.Bool("CreateForeignKeys", s.ferry_settings.create_foreign_keys);
    o.Bool("CreateColumnDefaults", s.ferry_settings.create_column_defaults);
  });
}

// Every component once, in LogComponentId order; later entries for the same id win (callers
// that must reject duplicates check before).
std::vector<LogComponent> CanonicalComponents(const std::vector<LogComponent>& given) {
  std::vector<LogComponent> out = DefaultLogComponents();
  for (const LogComponent& c : given) {
    const auto i = static_cast<size_t>(c.id);
    if (i < out.size()) out[i].severity = c.severity;
  }
  return out;
}

// Checks that span keys or depend on the document as a whole.
void CheckDocument(const Json& doc, const TaskSettings& s, std::string_view source) {
  auto fail = [&](const std::string& path, const std::string& what) {
    throw Error(ErrorKind::kInvalidArgument, std::string(source) + ": " + path + ": " + what);
  };
  const auto& comps = s.logging.log_components;
  for (size_t i = 0; i < comps.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (comps[i].id == comps[j].id) {
        fail("Logging.LogComponents[" + std::to_string(i) + "].Id",
             "expected each component once, found " +
                 std::string(LogComponentIdName(comps[i].id)) + " again (first at [" +
                 std::to_string(j) + "])");
      }
    }
  }
  const BeforeImageSettings& b = s.before_image_settings;
  if (b.enable_before_image && b.field_name.empty()) {
    fail("BeforeImageSettings.FieldName",
         "expected a non-empty string when EnableBeforeImage is true, found " +
             (doc.contains("BeforeImageSettings") && doc["BeforeImageSettings"].is_object() &&
                      doc["BeforeImageSettings"].contains("FieldName")
                  ? std::string("string \"\"")
                  : std::string("no FieldName")));
  }
  const ChangeProcessingTuning& t = s.change_processing_tuning;
  if (t.batch_apply_timeout_min > t.batch_apply_timeout_max) {
    fail("ChangeProcessingTuning.BatchApplyTimeoutMin",
         "expected at most BatchApplyTimeoutMax (" + std::to_string(t.batch_apply_timeout_max) +
             "), found " + std::to_string(t.batch_apply_timeout_min));
  }
}

}  // namespace

const char* TargetTablePrepModeName(TargetTablePrepMode v) { return NameOf(kPrepModes, v); }
const char* ErrorPolicyName(ErrorPolicy v) { return NameOf(kErrorPolicies, v); }
const char* LoggerSeverityName(LoggerSeverity v) { return NameOf(kSeverities, v); }
const char* LogComponentIdName(LogComponentId v) { return NameOf(kComponents, v); }
const char* ValidationModeName(ValidationMode v) { return NameOf(kValidationModes, v); }
const char* BeforeImageColumnFilterName(BeforeImageColumnFilter v) {
  return NameOf(kColumnFilters, v);
}

std::vector<LogComponent> DefaultLogComponents() {
  std::vector<LogComponent> out;
  out.reserve(kComponents.size());
  for (const auto& c : kComponents) out.push_back({c.value, LoggerSeverity::kDefault});
  return out;
}

LoggerSeverity Logging::SeverityOf(LogComponentId id) const {
  for (const LogComponent& c : log_components) {
    if (c.id == id) return c.severity;
  }
  return LoggerSeverity::kDefault;
}

Result<TaskSettings> ParseTaskSettings(std::string_view json, std::string_view source_name) {
  Json doc;
  try {
    doc = Json::parse(json.begin(), json.end());
  } catch (const Json::exception& e) {
    // parse_error, and out_of_range for a number beyond double ("1E400").
    std::string what = e.what();
    // Drop nlohmann's "[json.exception.parse_error.101] " prefix.
    if (auto p = what.find("] "); what.rfind("[json.exception", 0) == 0 && p != std::string::npos) {
      what = what.substr(p + 2);
    }
    return Error(ErrorKind::kInvalidArgument,
                 std::string(source_name) + ": not valid JSON: " + what);
  }
  try {
    if (!doc.is_object()) {
      return Error(ErrorKind::kInvalidArgument, std::string(source_name) +
                                                    ": (top level): expected an object, found " +
                                                    Describe(doc));
    }
    TaskSettings settings;
    Reader reader(doc, "", source_name);
    VisitDocument(reader, settings);
    reader.Finish();
    CheckDocument(doc, settings, source_name);
    settings.logging.log_components = CanonicalComponents(settings.logging.log_components);
    return settings;
  } catch (const Error& e) {
    return e;
  } catch (const Json::exception& e) {
    return Error(ErrorKind::kInvalidArgument, std::string(source_name) + ": " + e.what());
  }
}

nlohmann::ordered_json NormalizeTaskSettings(const TaskSettings& settings) {
  TaskSettings copy = settings;
  copy.logging.log_components = CanonicalComponents(copy.logging.log_components);
  Writer writer;
  VisitDocument(writer, copy);
  return std::move(writer.out);
}

namespace {

// A third visitor: every key's path ("ErrorBehavior.DataErrorPolicy"), in document order.
class KeyLister {
 public:
  std::vector<std::string> keys;

  void Bool(std::string_view key, bool&) { Add(key); }
  void Int(std::string_view key, int64_t&, int64_t, int64_t) { Add(key); }
  void String(std::string_view key, std::string&) { Add(key); }
  void OptionalString(std::string_view key, std::optional<std::string>&) { Add(key); }
  template <typename E>
  void Enum(std::string_view key, E&, const std::vector<EnumName<E>>&) {
    Add(key);
  }
  void NullOnly(std::string_view key, const char*) { Add(key); }
  void IntAlias(std::string_view, std::string_view, int64_t&, int64_t, int64_t) {}
  template <typename Fn>
  void Object(std::string_view key, Fn&& fn) {
    KeyLister sub;
    sub.prefix_ = prefix_ + std::string(key) + ".";
    fn(sub);
    keys.insert(keys.end(), sub.keys.begin(), sub.keys.end());
  }
  template <typename T, typename Fn>
  void Array(std::string_view key, std::vector<T>&, Fn&&) {
    Add(key);
  }

 private:
  void Add(std::string_view key) { keys.push_back(prefix_ + std::string(key)); }
  std::string prefix_;
};

// The keys Ferry acts on (the user guide's tables say how); a key path, or a section
// followed by ".", meaning every key in it.
constexpr const char* kHonoured[] = {
    "TargetMetadata.TargetSchema", "TargetMetadata.SupportLobs", "TargetMetadata.FullLobMode",
    "TargetMetadata.LimitedSizeLobMode", "TargetMetadata.LobMaxSize",
    "TargetMetadata.BatchApplyEnabled", "FullLoadSettings.TargetTablePrepMode",
    "FullLoadSettings.CreatePkAfterFullLoad", "FullLoadSettings.MaxFullLoadSubTasks",
    "FullLoadSettings.CommitRate", "FullLoadSettings.StopTaskCachedChangesApplied",
    "FullLoadSettings.StopTaskCachedChangesNotApplied",
    "Logging.LogComponents", "ControlTablesSettings.ControlSchema",
    "ControlTablesSettings.HistoryTimeslotInMinutes", "ControlTablesSettings.HistoryTableEnabled",
    "ControlTablesSettings.SuspendedTablesTableEnabled",
    "ControlTablesSettings.StatusTableEnabled", "ChangeProcessingDdlHandlingPolicy.",
    "ErrorBehavior.DataErrorPolicy", "ErrorBehavior.DataTruncationErrorPolicy",
    "ErrorBehavior.DataErrorEscalationPolicy", "ErrorBehavior.DataErrorEscalationCount",
    "ErrorBehavior.TableErrorPolicy", "ErrorBehavior.TableErrorEscalationPolicy",
    "ErrorBehavior.TableErrorEscalationCount", "ErrorBehavior.RecoverableErrorCount",
    "ErrorBehavior.RecoverableErrorInterval", "ErrorBehavior.RecoverableErrorThrottling",
    "ErrorBehavior.RecoverableErrorThrottlingMax",
    "ErrorBehavior.RecoverableErrorStopRetryAfterThrottlingMax",
    "ErrorBehavior.ApplyErrorDeletePolicy", "ErrorBehavior.ApplyErrorInsertPolicy",
    "ErrorBehavior.ApplyErrorUpdatePolicy", "ErrorBehavior.ApplyErrorEscalationPolicy",
    "ErrorBehavior.ApplyErrorEscalationCount", "ChangeProcessingTuning.BatchApplyTimeoutMin",
    "ChangeProcessingTuning.BatchApplyTimeoutMax", "ChangeProcessingTuning.BatchApplyMemoryLimit",
    "ChangeProcessingTuning.BatchSplitSize", "ChangeProcessingTuning.MinTransactionSize",
    "ChangeProcessingTuning.CommitTimeout", "ChangeProcessingTuning.MemoryLimitTotal",
    "ChangeProcessingTuning.MemoryKeepTime", "ValidationSettings.EnableValidation",
    "ValidationSettings.ThreadCount", "ValidationSettings.PartitionSize",
    "ValidationSettings.FailureMaxCount", "ValidationSettings.RecordFailureDelayInMinutes",
    "ValidationSettings.TableFailureMaxCount", "ValidationSettings.ValidationOnly",
    "ValidationSettings.SkipLobColumns", "ValidationSettings.ValidationPartialLobSize",
    "ValidationSettings.RecordFailureDelayLimitInMinutes",
    "ValidationSettings.ValidationQueryCdcDelaySeconds",
    "FerrySettings."};

bool Honoured(const std::string& path) {
  for (std::string_view h : kHonoured) {
    if (h.back() == '.' ? path.rfind(h, 0) == 0 : path == h) return true;
  }
  return false;
}

}  // namespace

SettingsKeys SettingsKeyReport() {
  TaskSettings defaults;
  defaults.ferry_settings.create_secondary_indexes = true;  // so FerrySettings is visited
  KeyLister lister;
  VisitDocument(lister, defaults);
  SettingsKeys out;
  for (const std::string& key : lister.keys) {
    (Honoured(key) ? out.honoured : out.not_acted_on).push_back(key);
  }
  return out;
}

std::vector<std::string> SettingsNotActedOn(const TaskSettings& settings) {
  std::vector<std::string> out;
  if (settings.tt_settings.enable_tt) {
    out.push_back("TTSettings.EnableTT: Time Travel logs to an S3 bucket in AWS; Ferry has no "
                  "Time Travel, so nothing is logged there (its own logs and control tables "
                  "record the task)");
  }
  if (settings.error_behavior.event_error_policy == EventErrorPolicy::kStopTask) {
    out.push_back("ErrorBehavior.EventErrorPolicy STOP_TASK: Ferry sends no task events, so no "
                  "event error can stop the task");
  }
  return out;
}

}  // namespace ferry
