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

std::vector<std::string> ApplyLobLimit(TablePlan* plan, const LobLimit& limit,
                                       std::vector<std::string>* dropped) {
  std::vector<std::string> kept;
  const TableDef& t = plan->target;
  auto in_key = [&](const std::string& name) {
    if (std::find(t.primary_key.begin(), t.primary_key.end(), name) != t.primary_key.end()) {
      return true;
    }
    return std::any_of(t.unique_indexes.begin(), t.unique_indexes.end(), [&](const IndexDef& i) {
      return std::find(i.columns.begin(), i.columns.end(), name) != i.columns.end();
    });
  };
  if (limit.drop_lob_columns) {
    for (size_t i = plan->target.columns.size(); i-- > 0;) {
      // Without a transform, source column i feeds target column i; with one, only plain
      // copies of a source LOB column go (an add-column's value is the user's own).
      int source_index = static_cast<int>(i);
      if (plan->transform) source_index = plan->transform->columns[i].source_index;
      if (source_index < 0 || source_index >= static_cast<int>(plan->source.columns.size()) ||
          !IsLobKind(plan->source.columns[source_index].type.kind)) {
        continue;
      }
      const std::string name = plan->target.columns[i].name;
      if (in_key(name)) {
        kept.push_back(name);
        continue;
      }
      plan->target.columns.erase(plan->target.columns.begin() + static_cast<long>(i));
      if (plan->transform) {
        plan->transform->columns.erase(plan->transform->columns.begin() + static_cast<long>(i));
      } else {
        plan->source.columns.erase(plan->source.columns.begin() + static_cast<long>(i));
      }
      if (dropped) dropped->insert(dropped->begin(), name);
    }
    return kept;
  }
  if (limit.max_bytes <= 0) return kept;
  const bool has_lob = std::any_of(t.columns.begin(), t.columns.end(),
                                   [](const ColumnDef& c) { return IsLobKind(c.type.kind); });
  if (!has_lob) return kept;
  if (!plan->transform) {
    TransformSpec spec;
    spec.source = plan->source;
    for (size_t i = 0; i < plan->source.columns.size(); ++i) {
      spec.columns.push_back(TransformColumn{static_cast<int>(i), "", "",
                                             plan->source.columns[i].type,
                                             plan->target.columns[i].name});
    }
    plan->transform = std::move(spec);
  }
  plan->transform->lob_max_bytes = limit.max_bytes;
  return kept;
}

}  // namespace ferry
