#include "validation/change_validator.h"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "logging/log.h"
#include "types/value_codec.h"
#include "validation/validator.h"

namespace ferry {

namespace {

spdlog::logger& Log() { return logging::For(LogComponentId::kValidatorExt); }

// Rows compared per query, per table and round.
constexpr size_t kRowsPerRound = 500;
// The least time a row must keep differing (with no change of it applied meanwhile) before it
// is a failure, whatever RecordFailureDelayInMinutes says.
constexpr std::chrono::seconds kMinFailureDelay{5};

// The key texts of KeyJson's text ({"key": ["42", "a"]}); empty when a part is NULL or the text
// is not such JSON.
std::vector<std::string> KeyTexts(const std::string& key_json) {
  std::vector<std::string> out;
  try {
    const nlohmann::json j = nlohmann::json::parse(key_json);
    for (const nlohmann::json& v : j.at("key")) {
      if (!v.is_string()) return {};
      out.push_back(v.get<std::string>());
    }
  } catch (const std::exception&) {
    return {};
  }
  return out;
}

}  // namespace

ChangeValidator::ChangeValidator(SqlConnector& source, SqlConnector& target,
                                 ValidationSettings settings,
                                 std::unique_ptr<ControlTables> control,
                                 std::vector<TableStats*> stats, std::function<int64_t()> latency_s)
    : source_(source),
      target_(target),
      settings_(settings),
      control_(std::move(control)),
      stats_(std::move(stats)),
      latency_s_(std::move(latency_s)),
      tables_(stats_.size()) {}

ChangeValidator::~ChangeValidator() { Stop(); }

void ChangeValidator::Start() {
  if (control_) control_->EnsureValidationFailures();
  for (size_t i = 0; i < stats_.size(); ++i) Publish(i);  // one table per statistics entry
  thread_ = std::thread([this] { Run(); });
}

void ChangeValidator::Stop() {
  {
    MutexLock lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ChangeValidator::SetPlan(Table& t, const TablePlan& plan) {
  t.plan = plan;
  t.key_columns.clear();
  for (const std::string& k : plan.target.RowKey()) {
    const int i = plan.target.ColumnIndex(k);
    if (i < 0) {
      t.key_columns.clear();
      return;
    }
    t.key_columns.push_back(i);
  }
}

void ChangeValidator::TableLive(size_t table, const TablePlan& plan) {
  {
    MutexLock lock(mu_);
    if (table >= tables_.size()) return;
    Table& t = tables_[table];
    t.live = true;
    SetPlan(t, plan);
    t.whole_pending = true;
  }
  wake_.notify_all();
}

void ChangeValidator::PlanChanged(size_t table, const TablePlan& plan) {
  MutexLock lock(mu_);
  if (table >= tables_.size()) return;
  SetPlan(tables_[table], plan);
}

void ChangeValidator::TableRewritten(size_t table, const TablePlan& plan) {
  {
    MutexLock lock(mu_);
    if (table >= tables_.size() || !tables_[table].live) return;
    SetPlan(tables_[table], plan);
    tables_[table].whole_pending = true;
  }
  wake_.notify_all();
}

void ChangeValidator::OnApplied(size_t table, const cdc::ChangeView& mapped) {
  if (mapped.rows == nullptr) return;  // TRUNCATE: the rows are gone on both sides
  const auto due = Clock::now() + std::chrono::seconds(settings_.validation_query_cdc_delay_seconds);
  MutexLock lock(mu_);
  if (table >= tables_.size()) return;
  Table& t = tables_[table];
  if (!t.live || t.unsupported || t.key_columns.empty()) return;
  for (const int row : {mapped.old_row, mapped.new_row}) {
    if (row < 0) continue;
    std::vector<std::string> key;
    std::vector<std::optional<std::string>> parts;
    for (const int c : t.key_columns) {
      if (c >= mapped.rows->columns() || mapped.rows->IsNull(static_cast<size_t>(row), c)) {
        key.clear();
        break;
      }
      std::string text;
      AppendCanonical(*mapped.rows, static_cast<size_t>(row), c,
                      t.plan.target.columns[static_cast<size_t>(c)].type, &text);
      parts.emplace_back(text);
      key.push_back(std::move(text));
    }
    if (key.empty()) continue;
    auto [it, added] = t.rows.try_emplace(KeyJson(parts));
    Row& r = it->second;
    if (added) r.key = std::move(key);
    // A newer change: whatever differed before may have been on its way.
    r.due = due;
    r.first_difference = {};
    r.differences = 0;
  }
}

int64_t ChangeValidator::pending() const {
  MutexLock lock(mu_);
  int64_t n = 0;
  for (const Table& t : tables_) n += static_cast<int64_t>(t.rows.size());
  return n;
}

int64_t ChangeValidator::failed() const {
  MutexLock lock(mu_);
  int64_t n = 0;
  for (const Table& t : tables_) n += t.failed;
  return n;
}

std::chrono::seconds ChangeValidator::FailureDelay() const {
  if (settings_.record_failure_delay_limit_in_minutes > 0) {
    return std::chrono::minutes(settings_.record_failure_delay_limit_in_minutes);
  }
  const int64_t latency = latency_s_ ? latency_s_() : 0;
  // Never under kMinFailureDelay: a change read on the source can take that long to be
  // committed on the target even when the task keeps up.
  return std::max({std::chrono::seconds(std::chrono::minutes(
                       settings_.record_failure_delay_in_minutes)),
                   std::chrono::seconds(latency), kMinFailureDelay});
}

void ChangeValidator::Run() {
  MutexLock lock(mu_);
  while (!stop_) {
    lock.WaitUntil(wake_, std::chrono::steady_clock::now() + std::chrono::seconds(1));
    if (stop_) break;
    for (size_t i = 0; i < tables_.size() && !stop_; ++i) {
      if (!tables_[i].whole_pending) continue;
      tables_[i].whole_pending = false;
      lock.Unlock();
      ValidateWhole(i);
      lock.Lock();
    }
    const Clock::time_point now = Clock::now();
    for (size_t i = 0; i < tables_.size() && !stop_; ++i) {
      const Table& t = tables_[i];
      const bool due = std::any_of(t.rows.begin(), t.rows.end(),
                                   [&](const auto& r) { return r.second.due <= now; });
      if (!due || t.unsupported) continue;
      lock.Unlock();
      CompareDue(i, now);
      lock.Lock();
    }
    const size_t tables = tables_.size();
    lock.Unlock();
    for (size_t i = 0; i < tables; ++i) Publish(i);
    lock.Lock();
  }
}

void ChangeValidator::ValidateWhole(size_t index) {
  TablePlan plan;
  {
    MutexLock lock(mu_);
    plan = tables_[index].plan;
  }
  if (control_) {
    // The table is validated anew: its failures recorded before (an earlier run) go.
    try {
      control_->ClearValidationFailures(plan.target.schema, plan.target.name);
    } catch (const Error& e) {
      Log().warn("validation of {}: clearing earlier failures: {}", plan.source.QualifiedName(),
                 e.what());
    }
  }
  Validator validator(source_, target_, settings_, nullptr);
  const TableValidation r = validator.ValidateTable(plan);
  const auto now = Clock::now();
  MutexLock lock(mu_);
  Table& t = tables_[index];
  t.whole_done = true;
  t.source_rows = r.source_rows;
  t.target_rows = r.target_rows;
  if (r.state == kValidationNoPrimaryKey || r.state == kValidationError) {
    t.state = r.state;
    t.message = r.message;
    t.unsupported = true;
    t.rows.clear();
    return;
  }
  // What differs now may be a row changing while it was read: compared again, by key.
  const auto retry = std::clamp<std::chrono::seconds>(FailureDelay() / 4, std::chrono::seconds(1),
                                                      std::chrono::seconds(30));
  for (const RowDifference& d : r.differences) {
    std::vector<std::string> key = KeyTexts(d.key_json);
    if (key.size() != t.key_columns.size()) continue;
    auto [it, added] = t.rows.try_emplace(d.key_json);
    if (!added) continue;
    it->second.key = std::move(key);
    it->second.due = now + retry;
    it->second.first_difference = now;
    it->second.differences = 1;
  }
  if (!r.differences.empty()) {
    Log().info("validation of {}: {} row(s) differ in the whole-table pass; compared again "
               "before they count as failures",
               plan.source.QualifiedName(), r.differences.size());
  }
}

void ChangeValidator::CompareDue(size_t index, Clock::time_point now) {
  TablePlan plan;
  std::vector<std::string> ids;
  std::vector<std::vector<std::string>> keys;
  {
    MutexLock lock(mu_);
    Table& t = tables_[index];
    plan = t.plan;
    for (const auto& [id, row] : t.rows) {
      if (row.due > now) continue;
      ids.push_back(id);
      keys.push_back(row.key);
      if (ids.size() >= kRowsPerRound) break;
    }
  }
  if (ids.empty()) return;
  const std::chrono::seconds delay = FailureDelay();
  const auto retry = std::clamp<std::chrono::seconds>(delay / 4, std::chrono::seconds(1),
                                                      std::chrono::seconds(30));
  std::vector<RowDifference> differences;
  try {
    Validator validator(source_, target_, settings_, nullptr);
    differences = validator.CompareKeys(plan, keys);
  } catch (const Error& e) {
    MutexLock lock(mu_);
    Table& t = tables_[index];
    if (e.kind() == ErrorKind::kUnsupported) {
      Log().warn("validation of {}: changed rows are not compared: {}",
                 plan.source.QualifiedName(), e.what());
      t.unsupported = true;
      t.message = e.what();
      t.rows.clear();
      return;
    }
    Log().warn("validation of {}: comparing changed rows failed, tried again later: {}",
               plan.source.QualifiedName(), e.what());
    for (const std::string& id : ids) {
      auto it = t.rows.find(id);
      if (it != t.rows.end()) it->second.due = now + retry;
    }
    return;
  }
  std::map<std::string, RowDifference*> by_key;
  for (RowDifference& d : differences) by_key[d.key_json] = &d;
  std::vector<RowDifference> failures;
  {
    MutexLock lock(mu_);
    Table& t = tables_[index];
    for (const std::string& id : ids) {
      auto it = t.rows.find(id);
      if (it == t.rows.end()) continue;
      Row& row = it->second;
      if (row.due > now) continue;  // changed again meanwhile: compared later
      auto d = by_key.find(id);
      if (d == by_key.end()) {
        t.rows.erase(it);  // the same on both sides
        continue;
      }
      if (row.differences == 0) row.first_difference = now;
      ++row.differences;
      if (row.differences >= 2 && now - row.first_difference >= delay) {
        ++t.failed;
        failures.push_back(std::move(*d->second));
        t.rows.erase(it);
      } else {
        row.due = now + retry;
      }
    }
  }
  for (const RowDifference& d : failures) {
    Log().warn("validation of {}: {} {} ({})", plan.source.QualifiedName(),
               FailureTypeName(d.type), d.key_json, d.details);
    if (!control_) continue;
    if (task_failures_.fetch_add(1) >= settings_.failure_max_count) continue;
    try {
      control_->RecordValidationFailure(FailureRow(plan.target, d));
    } catch (const Error& e) {
      Log().warn("validation of {}: recording a failure: {}", plan.source.QualifiedName(),
                 e.what());
    }
  }
}

void ChangeValidator::Publish(size_t index) {
  std::string state, message;
  int64_t pending = 0, failed = 0, source_rows = 0, target_rows = 0;
  {
    MutexLock lock(mu_);
    const Table& t = tables_[index];
    pending = static_cast<int64_t>(t.rows.size());
    failed = t.failed;
    source_rows = t.source_rows;
    target_rows = t.target_rows;
    message = t.message;
    if (!t.state.empty()) {
      state = t.state;
    } else if (failed > 0) {
      state = kValidationMismatched;
    } else if (!t.whole_done || pending > 0) {
      state = kValidationPending;
    } else {
      state = kValidationValidated;
    }
  }
  TableStats* st = stats_[index];
  if (st == nullptr) return;
  MutexLock lock(st->mu);
  st->validation_state = state;
  st->validation_pending_records = pending;
  st->validation_failed_records = failed;
  st->validation_source_rows = source_rows;
  st->validation_target_rows = target_rows;
  st->validation_message = message;
}

}  // namespace ferry
