#include "validation/validator.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <strings.h>

#include <algorithm>
#include <exception>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>

namespace ferry {

namespace {

// Pass 1: summarises every row into its partition.
class SummarySink : public BatchSink {
 public:
  SummarySink(const CompareSpec& spec, Side side, int64_t partitions,
              const std::atomic<bool>& stop)
      : spec_(spec), side_(side), partitions_(partitions), stop_(stop), summaries_(partitions) {}

  bool Push(Batch&& batch) override {
    if (stop_) return false;
    for (size_t r = 0; r < batch.rows(); ++r) {
      MakeRowImage(batch, r, spec_, side_, &image_);
      summaries_[PartitionOf(image_.key_hash, partitions_)].Add(image_.key_hash,
                                                                image_.row_hash);
      ++rows_;
    }
    return true;
  }
  void Warning(int, std::string_view) override {}

  const std::vector<PartitionSummary>& summaries() const { return summaries_; }
  int64_t rows() const { return rows_; }

 private:
  const CompareSpec& spec_;
  Side side_;
  int64_t partitions_;
  const std::atomic<bool>& stop_;
  std::vector<PartitionSummary> summaries_;
  RowImage image_;
  int64_t rows_ = 0;
};

// One unit of pass 2: the rows of partition `partition` whose sub-partition (of `ways`) is
// `part`.
struct Slice {
  uint64_t partition;
  uint64_t ways;
  uint64_t part;
  int64_t rows;  // source rows expected
};

// Feeds scanned rows to a KeyedComparer: the source's are held, the target's compared with
// them. Selected() picks the rows that take part (all by default).
class ComparerFeed : public BatchSink {
 public:
  ComparerFeed(KeyedComparer& comparer, Side side, const KeyedComparer::Report& report)
      : comparer_(comparer), side_(side), report_(report) {}
  bool Push(Batch&& batch) override {
    if (Stopped()) return false;
    for (size_t r = 0; r < batch.rows(); ++r) {
      if (!Selected(batch, r)) continue;
      if (side_ == Side::kSource) {
        comparer_.AddSource(batch, r);
      } else {
        comparer_.CompareTarget(batch, r, report_);
      }
    }
    return true;
  }
  void Warning(int, std::string_view) override {}

 protected:
  virtual bool Stopped() const { return false; }
  virtual bool Selected(const Batch& batch, size_t row) {
    (void)batch;
    (void)row;
    return true;
  }
  Side side() const { return side_; }

 private:
  KeyedComparer& comparer_;
  Side side_;
  const KeyedComparer::Report& report_;
};

// Pass 2: feeds the rows of one round's slices to a KeyedComparer.
class RoundSink : public ComparerFeed {
 public:
  RoundSink(const CompareSpec& spec, Side side, int64_t partitions,
            const std::unordered_map<uint64_t, std::vector<Slice>>& slices,
            KeyedComparer& comparer, const KeyedComparer::Report& report,
            const std::atomic<bool>& stop)
      : ComparerFeed(comparer, side, report),
        spec_(spec),
        partitions_(partitions),
        slices_(slices),
        stop_(stop) {}

 private:
  bool Stopped() const override { return stop_; }
  bool Selected(const Batch& batch, size_t row) override {
    MakeRowImage(batch, row, spec_, side(), &image_);
    auto it = slices_.find(PartitionOf(image_.key_hash, partitions_));
    if (it == slices_.end()) return false;
    for (const Slice& s : it->second) {
      if (SubPartitionOf(image_.key_hash, s.ways) == s.part) return true;
    }
    return false;
  }

  const CompareSpec& spec_;
  int64_t partitions_;
  const std::unordered_map<uint64_t, std::vector<Slice>>& slices_;
  const std::atomic<bool>& stop_;
  RowImage image_;
};

int FindColumn(const TableDef& table, const std::string& name) {
  int i = table.ColumnIndex(name);
  if (i >= 0) return i;
  for (size_t c = 0; c < table.columns.size(); ++c) {
    if (strcasecmp(table.columns[c].name.c_str(), name.c_str()) == 0) return static_cast<int>(c);
  }
  return -1;
}

}  // namespace

Validator::Validator(SqlConnector& source, SqlConnector& target, ValidationSettings settings,
                     ControlTables* control, ValidatorOptions options)
    : source_(source),
      target_(target),
      settings_(settings),
      control_(control),
      options_(std::move(options)) {}

TableValidation Validator::ValidateTable(const TablePlan& plan) {
  try {
    return Validate(plan);
  } catch (const std::exception& e) {
    TableValidation out;
    out.source_name = plan.source.QualifiedName();
    out.target_schema = plan.target.schema;
    out.target_table = plan.target.name;
    out.state = kValidationError;
    out.message = e.what();
    spdlog::error("validation of {} -> {}: {}", out.source_name, plan.target.QualifiedName(),
                  out.message);
    return out;
  }
}

TableValidation Validator::Validate(const TablePlan& transformed_plan) {
  // Columns an add-column expression built or change-data-type converted have no source value
  // to compare with: only the columns copied as they are take part.
  const TablePlan plan = ComparablePlan(transformed_plan);
  TableValidation out;
  out.source_name = plan.source.QualifiedName();
  out.target_schema = plan.target.schema;
  out.target_table = plan.target.name;
  const std::string table_desc =
      fmt::format("{} -> {}", out.source_name, plan.target.QualifiedName());

  const std::vector<std::string> key = plan.target.RowKey();
  if (key.empty()) {
    out.state = kValidationNoPrimaryKey;
    out.message = "the table has no primary key or unique index on NOT NULL columns";
    return out;
  }
  for (const std::string& k : key) {
    int i = plan.target.ColumnIndex(k);
    if (i >= 0 && IsLob(plan.target.columns[i].type.kind)) {
      out.state = kValidationNoPrimaryKey;
      out.message = fmt::format("key column '{}' is a LOB ({}), which validation cannot use", k,
                                DescribeDmsType(plan.target.columns[i].type));
      return out;
    }
  }
  if (plan.source.columns.size() != plan.target.columns.size()) {
    throw Error(ErrorKind::kInternal,
                fmt::format("table {}: the plan has {} source and {} target columns", table_desc,
                            plan.source.columns.size(), plan.target.columns.size()));
  }

  const Prepared prepared = Prepare(plan, key);
  const CompareSpec& spec = prepared.spec;
  const TableDef& target_def = prepared.target_def;

  const int64_t estimate =
      std::max(plan.source.estimated_rows, prepared.target_def.estimated_rows);
  const int64_t partitions = PartitionCount(estimate, settings_.partition_size);
  out.partitions = partitions;

  ScanOptions source_scan;
  source_scan.batch_rows = options_.batch_rows;
  source_scan.where = plan.where;
  ScanOptions target_scan;
  target_scan.batch_rows = options_.batch_rows;

  // Pass 1: both sides at once.
  std::atomic<bool> stop{false};
  SummarySink source_sink(spec, Side::kSource, partitions, stop);
  SummarySink target_sink(spec, Side::kTarget, partitions, stop);
  std::exception_ptr target_error;
  std::unique_ptr<TableReader> target_reader = target_.OpenReader();
  std::unique_ptr<TableReader> source_reader = source_.OpenReader();
  std::thread target_thread([&] {
    try {
      target_reader->Scan(target_def, target_scan, target_sink);
    } catch (...) {
      target_error = std::current_exception();
      stop = true;
    }
  });
  try {
    source_reader->Scan(plan.source, source_scan, source_sink);
  } catch (...) {
    stop = true;
    target_thread.join();
    throw;
  }
  target_thread.join();
  if (target_error) std::rethrow_exception(target_error);
  if (cancelled_) throw Error(ErrorKind::kCancelled, "validation cancelled");
  out.source_rows = source_sink.rows();
  out.target_rows = target_sink.rows();

  std::vector<Slice> slices;
  for (int64_t p = 0; p < partitions; ++p) {
    const PartitionSummary& s = source_sink.summaries()[p];
    const PartitionSummary& t = target_sink.summaries()[p];
    if (s == t) continue;
    ++out.differing_partitions;
    const uint64_t budget = std::max<uint64_t>(1, options_.pass2_max_rows);
    const uint64_t ways = std::max<uint64_t>(1, (static_cast<uint64_t>(s.count) + budget - 1) /
                                                    budget);
    for (uint64_t j = 0; j < ways; ++j) {
      slices.push_back(Slice{static_cast<uint64_t>(p), ways, j,
                             static_cast<int64_t>(static_cast<uint64_t>(s.count) / ways + 1)});
    }
  }

  // Pass 2: rounds of slices, at most pass2_max_rows source rows held per round.
  const int64_t table_limit = settings_.table_failure_max_count;
  const int64_t task_limit = settings_.failure_max_count;
  bool limit_hit = false;
  std::string limit_reason;
  KeyedComparer::Report report = [&](RowDifference&& d) {
    ++out.failed;
    switch (d.type) {
      case FailureType::kRecordDiff: ++out.record_diff; break;
      case FailureType::kMissingSource: ++out.missing_source; break;
      case FailureType::kMissingTarget: ++out.missing_target; break;
    }
    if (static_cast<int64_t>(out.differences.size()) >= table_limit) {
      if (!limit_hit) limit_reason = fmt::format("TableFailureMaxCount ({})", table_limit);
      limit_hit = true;
      return;
    }
    if (task_failures_.fetch_add(1) >= task_limit) {
      if (!limit_hit) limit_reason = fmt::format("FailureMaxCount ({}) for the task", task_limit);
      limit_hit = true;
      return;
    }
    out.differences.push_back(std::move(d));
  };
  size_t next = 0;
  while (next < slices.size()) {
    if (limit_hit) break;
    if (cancelled_) throw Error(ErrorKind::kCancelled, "validation cancelled");
    std::unordered_map<uint64_t, std::vector<Slice>> round;
    int64_t held = 0;
    const int64_t budget = static_cast<int64_t>(options_.pass2_max_rows);
    while (next < slices.size() && (held == 0 || held + slices[next].rows <= budget)) {
      round[slices[next].partition].push_back(slices[next]);
      held += slices[next].rows;
      ++next;
    }
    KeyedComparer comparer(spec);
    RoundSink src(spec, Side::kSource, partitions, round, comparer, report, stop);
    source_reader->Scan(plan.source, source_scan, src);
    RoundSink tgt(spec, Side::kTarget, partitions, round, comparer, report, stop);
    target_reader->Scan(target_def, target_scan, tgt);
    comparer.Finish(report);
  }
  if (limit_hit) {
    std::map<uint64_t, int64_t> rest;
    for (size_t i = next; i < slices.size(); ++i) {
      rest[slices[i].partition] = source_sink.summaries()[slices[i].partition].count;
    }
    for (const auto& [_, n] : rest) out.pending += n;
    out.message = fmt::format(
        "stopped after {} failures ({} recorded): {} reached; {} rows not compared", out.failed,
        out.differences.size(), limit_reason, out.pending);
  }

  if (control_ != nullptr) {
    control_->ClearValidationFailures(plan.target.schema, plan.target.name);
    for (const RowDifference& d : out.differences) {
      control_->RecordValidationFailure(FailureRow(plan.target, d));
    }
  }

  if (out.failed > 0) {
    out.state = kValidationMismatched;
    if (out.message.empty()) {
      out.message = fmt::format("{} RECORD_DIFF, {} MISSING_TARGET, {} MISSING_SOURCE",
                                out.record_diff, out.missing_target, out.missing_source);
    }
  } else {
    out.state = kValidationValidated;
  }
  spdlog::info("validation of {}: {} ({} source rows, {} target rows, {} of {} partitions "
               "differ){}{}",
               table_desc, out.state, out.source_rows, out.target_rows, out.differing_partitions,
               out.partitions, out.message.empty() ? "" : ": ", out.message);
  return out;
}

Validator::Prepared Validator::Prepare(const TablePlan& plan, const std::vector<std::string>& key) {
  if (plan.source.columns.size() != plan.target.columns.size()) {
    throw Error(ErrorKind::kInternal,
                fmt::format("table {}: the plan has {} source and {} target columns",
                            plan.target.QualifiedName(), plan.source.columns.size(),
                            plan.target.columns.size()));
  }
  Prepared out;
  out.plan = plan;
  out.key = key;
  // The target as its own catalog sees it, columns in plan order.
  const TableDef actual = target_.OpenCatalog()->GetTable(plan.target.schema, plan.target.name);
  out.target_def = actual;
  out.target_def.columns.clear();
  std::vector<std::string> names;
  std::vector<DmsType> source_types, target_types;
  for (size_t c = 0; c < plan.target.columns.size(); ++c) {
    const std::string& name = plan.target.columns[c].name;
    int i = FindColumn(actual, name);
    if (i < 0) {
      throw Error(ErrorKind::kSchema,
                  fmt::format("table {}: target column '{}' does not exist on the target",
                              plan.target.QualifiedName(), name));
    }
    out.target_def.columns.push_back(actual.columns[i]);
    // Values copied as stored (DmsKind::kEngineValue) are read back so on the target too.
    if (plan.target.columns[c].type.kind == DmsKind::kEngineValue) {
      out.target_def.columns.back().type = plan.target.columns[c].type;
    }
    names.push_back(name);
    source_types.push_back(plan.source.columns[c].type);
    target_types.push_back(out.target_def.columns.back().type);
  }
  out.spec = MakeCompareSpec(names, source_types, target_types, key, settings_);
  return out;
}

namespace {

// `text` (a value's canonical text, value_codec.h) as a SQL literal of `dialect` for a column
// of `type`; nullopt for types that are not compared by literal here, and for text the engine's
// literals cannot hold (a NUL byte on PostgreSQL and SQLite).
std::optional<std::string> KeyLiteral(const Dialect& dialect, const DmsType& type,
                                      const std::string& text) {
  const DmsKind k = type.kind;
  if (IsIntegerKind(k) || k == DmsKind::kNumeric) {
    if (text.empty() || text.find_first_not_of("0123456789+-.eE") != std::string::npos) {
      return std::nullopt;
    }
    return text;
  }
  const bool quoted = k == DmsKind::kString || k == DmsKind::kWstring || k == DmsKind::kDate ||
                      k == DmsKind::kTime || k == DmsKind::kDatetime || k == DmsKind::kBoolean;
  if (!quoted) return std::nullopt;
  try {
    return dialect.QuoteLiteral(text);
  } catch (const Error&) {
    return std::nullopt;
  }
}

}  // namespace

std::vector<RowDifference> Validator::CompareKeys(
    const TablePlan& transformed_plan, const std::vector<std::vector<std::string>>& keys) {
  std::vector<RowDifference> out;
  if (keys.empty()) return out;
  const TablePlan plan = ComparablePlan(transformed_plan);
  const std::vector<std::string> key = plan.target.RowKey();
  const std::string table = plan.target.QualifiedName();
  if (key.empty()) {
    throw Error(ErrorKind::kUnsupported,
                fmt::format("table {}: no primary key or unique index on NOT NULL columns",
                            table));
  }
  // Each key column on both sides: its name and type.
  std::vector<int> at;
  for (const std::string& k : key) {
    const int i = plan.target.ColumnIndex(k);
    if (i < 0) {
      throw Error(ErrorKind::kUnsupported,
                  fmt::format("table {}: key column '{}' is not compared (built by a "
                              "transformation)",
                              table, k));
    }
    at.push_back(i);
  }
  const Prepared prepared = Prepare(plan, key);
  auto predicate = [&](const SqlConnector& side, const TableDef& def, bool source) {
    const Dialect& d = side.dialect();
    std::string columns;
    for (size_t j = 0; j < at.size(); ++j) {
      if (j > 0) columns += ", ";
      columns += d.QuoteIdentifier(def.columns[static_cast<size_t>(at[j])].name);
    }
    std::string list;
    for (const std::vector<std::string>& values : keys) {
      if (values.size() != at.size()) {
        throw Error(ErrorKind::kInternal,
                    fmt::format("table {}: a key of {} values for {} key columns", table,
                                values.size(), at.size()));
      }
      std::string tuple;
      for (size_t j = 0; j < at.size(); ++j) {
        const ColumnDef& col = def.columns[static_cast<size_t>(at[j])];
        std::optional<std::string> lit = col.type.kind == DmsKind::kEngineValue
                                             ? side.dialect().EngineValueLiteral(values[j])
                                             : KeyLiteral(d, col.type, values[j]);
        if (!lit) {
          throw Error(ErrorKind::kUnsupported,
                      fmt::format("table {}: key column '{}' ({}) cannot be read by value on "
                                  "the {}",
                                  table, col.name, DescribeDmsType(col.type),
                                  source ? "source" : "target"));
        }
        tuple += (j > 0 ? ", " : "") + *lit;
      }
      list += (list.empty() ? "" : ", ") + (at.size() > 1 ? "(" + tuple + ")" : tuple);
    }
    return at.size() > 1 ? fmt::format("({}) IN ({})", columns, list)
                         : fmt::format("{} IN ({})", columns, list);
  };
  ScanOptions source_scan;
  source_scan.batch_rows = options_.batch_rows;
  source_scan.where = predicate(source_, plan.source, true);
  if (!plan.where.empty()) source_scan.where = "(" + plan.where + ") AND " + source_scan.where;
  ScanOptions target_scan;
  target_scan.batch_rows = options_.batch_rows;
  target_scan.where = predicate(target_, prepared.target_def, false);

  // Every source row of these keys is held (at most keys.size()), then the target's compared.
  const KeyedComparer::Report report = [&](RowDifference&& d) { out.push_back(std::move(d)); };
  KeyedComparer comparer(prepared.spec);
  ComparerFeed source_feed(comparer, Side::kSource, report);
  source_.OpenReader()->Scan(plan.source, source_scan, source_feed);
  ComparerFeed target_feed(comparer, Side::kTarget, report);
  target_.OpenReader()->Scan(prepared.target_def, target_scan, target_feed);
  comparer.Finish(report);
  return out;
}

std::vector<TableValidation> Validator::Run(const std::vector<TablePlan>& plans,
                                            const std::vector<TableStats*>& stats) {
  std::vector<TableValidation> results(plans.size());
  if (plans.empty()) return results;
  if (control_ != nullptr) control_->EnsureValidationFailures();
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i = next++; i < plans.size(); i = next++) {
      TableStats* st = i < stats.size() ? stats[i] : nullptr;
      bool table_error = false;
      if (st != nullptr) {
        MutexLock lock(st->mu);
        table_error = st->state == kStateError;
        if (!table_error) st->validation_state = kValidationPending;
      }
      if (table_error) {
        TableValidation r;
        r.source_name = plans[i].source.QualifiedName();
        r.target_schema = plans[i].target.schema;
        r.target_table = plans[i].target.name;
        r.state = kValidationTableError;
        r.message = "the table's load failed; it was not validated";
        results[i] = std::move(r);
      } else {
        results[i] = ValidateTable(plans[i]);
      }
      if (st != nullptr) ApplyValidationToStats(results[i], st);
    }
  };
  const size_t threads = std::min<size_t>(
      plans.size(), static_cast<size_t>(std::max<int64_t>(1, settings_.thread_count)));
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (std::thread& t : pool) t.join();
  return results;
}

ValidationFailureRow FailureRow(const TableDef& target, const RowDifference& d) {
  ValidationFailureRow row;
  row.table_owner = target.schema;
  row.table_name = target.name;
  row.key = d.key_json;
  row.failure_type = FailureTypeName(d.type);
  row.details = d.details;
  return row;
}

void ApplyValidationToStats(const TableValidation& r, TableStats* st) {
  MutexLock lock(st->mu);
  st->validation_state = r.state;
  st->validation_pending_records = r.pending;
  st->validation_failed_records = r.failed;
  st->validation_suspended_records = r.suspended;
  st->validation_source_rows = r.source_rows;
  st->validation_target_rows = r.target_rows;
  st->validation_message = r.message;
}

}  // namespace ferry
