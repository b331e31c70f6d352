#include "engine/lob_policy.h"

#include <fmt/format.h>

#include <algorithm>

namespace ferry {

bool IsLobKind(DmsKind kind) {
  return kind == DmsKind::kBlob || kind == DmsKind::kClob || kind == DmsKind::kNclob;
}

LobLimit TableLobLimit(const TargetMetadata& task, const std::optional<LobSettings>& table) {
  if (table && table->mode == LobMode::kLimited) {
    const int64_t kb = table->bulk_max_size_kb.value_or(task.lob_max_size);
    return LobLimit{false, kb * 1024, fmt::format("table lob-settings limited, bulk-max-size {} KB", kb)};
  }
  if (table && table->mode == LobMode::kUnlimited) {
    return LobLimit{false, 0, "table lob-settings unlimited"};
  }
  if (!task.support_lobs) return LobLimit{true, 0, "SupportLobs false"};
  if (task.full_lob_mode) return LobLimit{false, 0, "FullLobMode"};
  if (task.limited_size_lob_mode) {
    return LobLimit{false, task.lob_max_size * 1024,
                    fmt::format("LimitedSizeLobMode, LobMaxSize {} KB", task.lob_max_size)};
  }
  return LobLimit{false, 0, "no LOB mode set: LOBs whole"};
}

std::vector<std::string> DropLobColumns(TablePlan* plan, std::vector<std::string>* dropped) {
  std::vector<std::string> kept;
  auto in_key = [&](const std::string& name) {
    const TableDef& t = plan->target;
    if (std::find(t.primary_key.begin(), t.primary_key.end(), name) != t.primary_key.end()) {
      return true;
    }
    return std::any_of(t.unique_indexes.begin(), t.unique_indexes.end(), [&](const IndexDef& i) {
      return std::find(i.columns.begin(), i.columns.end(), name) != i.columns.end();
    });
  };
  // plan.source.columns[i] feeds plan.target.columns[i] (same order, same count).
  for (size_t i = plan->target.columns.size(); i-- > 0;) {
    if (i >= plan->source.columns.size()) continue;
    if (!IsLobKind(plan->source.columns[i].type.kind)) continue;
    const std::string name = plan->target.columns[i].name;
    if (in_key(name)) {
      kept.push_back(name);
      continue;
    }
    plan->source.columns.erase(plan->source.columns.begin() + static_cast<long>(i));
    plan->target.columns.erase(plan->target.columns.begin() + static_cast<long>(i));
    if (dropped) dropped->insert(dropped->begin(), name);
  }
  return kept;
}

}  // namespace ferry
