// What the three files of PgChangeApplier share (pg_applier.cc: transactions and the
// pipeline; pg_apply_sql.cc: statement shapes and their SQL, Statement(); pg_apply_net.cc: the
// set-based batch apply): the per-table statement cache and the queue of results to read.
// Private to them: include nowhere else.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "connectors/postgres/pg_applier.h"

namespace ferry::postgres {

namespace apply_internal {

// The indexes of `table`'s primary key columns, in key order. Throws Error(kSchema) when a key
// column is not among the columns.
std::vector<int> KeyIndexes(const TableDef& table);
// How each column of `table` is encoded (its DMS type as the source's, its native type).
std::vector<PgWriteColumn> WriteColumns(const TableDef& table);

}  // namespace apply_internal

struct PgChangeApplier::Prepared {
  enum class State : uint8_t { kNone, kSent, kReady };
  std::string name;
  std::string sql;
  int params = 0;
  State state = State::kNone;
};

struct PgChangeApplier::TableState {
  TableDef def;  // as first seen; a change of columns or key builds a new state
  std::string quoted;
  std::vector<PgWriteColumn> cols;
  std::vector<int> key;
  std::unordered_map<std::string, std::unique_ptr<Prepared>> statements;

  bool Matches(const TableDef& t) const {
    if (t.schema != def.schema || t.name != def.name || t.columns.size() != def.columns.size() ||
        t.primary_key != def.primary_key) {
      return false;
    }
    for (size_t i = 0; i < t.columns.size(); ++i) {
      const ColumnDef& a = t.columns[i];
      const ColumnDef& b = def.columns[i];
      if (a.name != b.name || a.native_type != b.native_type || !(a.type == b.type)) return false;
    }
    return true;
  }
};

struct PgChangeApplier::Pending {
  enum class What : uint8_t { kControl, kPrepare, kChange };
  What what = What::kControl;
  PgApplyKind kind = PgApplyKind::kInsert;
  cdc::ChangeOp op = cdc::ChangeOp::kInsert;
  uint64_t tag = 0;
  const char* control = nullptr;  // kControl: what it does, for messages
  Prepared* statement = nullptr;  // kPrepare, kChange (null for TRUNCATE)
  TableState* table = nullptr;    // kChange
};

}  // namespace ferry::postgres
