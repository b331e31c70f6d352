// PgChangeApplier::ApplyNet, the set-based batch apply (BatchApplyEnabled): the net changes
// of a table go by COPY into temporary tables, then one DELETE ... USING and one INSERT ...
// SELECT, outside the pipeline of pg_applier.cc.
#include <fmt/format.h>

#include <algorithm>

#include "connectors/postgres/pg_applier.h"
#include "connectors/postgres/pg_applier_internal.h"
#include "connectors/postgres/pg_copy_binary.h"
#include "connectors/postgres/pg_types.h"

namespace ferry::postgres {

void PgChangeApplier::CopyInto(const std::string& table, const std::string& columns, bool binary,
                               const std::string& data, const std::string& what) {
  PGconn* c = conn_->get();
  const std::string sql =
      "COPY " + table + " (" + columns + ") FROM STDIN" + (binary ? " (FORMAT binary)" : "");
  PgResult r(PQexec(c, sql.c_str()));
  if (PQresultStatus(r.get()) != PGRES_COPY_IN) throw conn_->MakeError(what, r.get());
  constexpr size_t kChunk = 1u << 20;
  for (size_t off = 0; off < data.size(); off += kChunk) {
    const size_t n = std::min(kChunk, data.size() - off);
    if (PQputCopyData(c, data.data() + off, static_cast<int>(n)) != 1) {
      throw conn_->MakeError(what, nullptr);
    }
  }
  if (PQputCopyEnd(c, nullptr) != 1) throw conn_->MakeError(what, nullptr);
  PgResult done(PQgetResult(c));
  if (PQresultStatus(done.get()) != PGRES_COMMAND_OK) throw conn_->MakeError(what, done.get());
  while (PGresult* extra = PQgetResult(c)) PQclear(extra);
}

void PgChangeApplier::ApplyNet(const TableDef& target, const Batch& remove_keys,
                               const Batch& rows) {
  if (!in_txn_) {
    throw Error(ErrorKind::kInternal,
                "ApplyNet outside a transaction (call Begin) for table " + target.QualifiedName());
  }
  TableState& table = StateFor(target);
  const int n = static_cast<int>(table.cols.size());
  if ((table.key.empty() ? !remove_keys.empty()
                         : remove_keys.columns() != static_cast<int>(table.key.size())) ||
      (!rows.empty() && rows.columns() != n)) {
    throw Error(ErrorKind::kInternal,
                fmt::format("batch apply of table {}: key batch of {} columns, row batch of {} "
                            "columns, for a table of {} columns and a {}-column key",
                            target.QualifiedName(), remove_keys.columns(), rows.columns(), n,
                            table.key.size()));
  }
  if (remove_keys.empty() && rows.empty()) return;
  // Everything is encoded (and checked) before anything is sent.
  TableDef key_def = target;
  key_def.columns.clear();
  std::vector<PgWriteColumn> key_cols;
  std::string key_list, col_list, join;
  bool key_binary = true, rows_binary = true;
  for (size_t j = 0; j < table.key.size(); ++j) {
    const int k = table.key[j];
    key_def.columns.push_back(target.columns[k]);
    key_cols.push_back(table.cols[k]);
    key_binary &= table.cols[k].target.wire != PgWire::kOther;
    const std::string q = DoubleQuoteIdent(target.columns[k].name);
    if (j) {
      key_list += ", ";
      join += " AND ";
    }
    key_list += q;
    join.append("t.").append(q).append(" = k.").append(q);
  }
  for (int c = 0; c < n; ++c) {
    if (c) col_list += ", ";
    col_list += DoubleQuoteIdent(target.columns[c].name);
    rows_binary &= table.cols[c].target.wire != PgWire::kOther;
  }
  std::string key_data, row_data;
  if (key_binary) AppendCopyHeader(&key_data);
  for (size_t r = 0; r < remove_keys.rows(); ++r) {
    if (key_binary) {
      EncodeBinaryRow(remove_keys, r, key_cols, key_def, &key_data, &scratch_);
    } else {
      EncodeTextRow(remove_keys, r, key_cols, key_def, &key_data, &scratch_);
    }
  }
  if (key_binary) AppendCopyTrailer(&key_data);
  if (rows_binary) AppendCopyHeader(&row_data);
  for (size_t r = 0; r < rows.rows(); ++r) {
    if (rows_binary) {
      EncodeBinaryRow(rows, r, table.cols, target, &row_data, &scratch_);
    } else {
      EncodeTextRow(rows, r, table.cols, target, &row_data, &scratch_);
    }
  }
  if (rows_binary) AppendCopyTrailer(&row_data);

  SyncAndRead();  // the changes queued before: their issues stay for Flush
  LeavePipeline();
  const uint64_t id = ++statement_counter_;
  const std::string keys_tmp = fmt::format("ferry_net_keys_{}", id);
  const std::string rows_tmp = fmt::format("ferry_net_rows_{}", id);
  const std::string what = "batch apply to table " + target.QualifiedName();
  try {
    if (!remove_keys.empty()) {
      conn_->Exec(fmt::format("CREATE TEMP TABLE {} ON COMMIT DROP AS SELECT {} FROM {} WITH NO "
                              "DATA",
                              keys_tmp, key_list, table.quoted),
                  what + " (creating a temporary table for the keys)");
      CopyInto(keys_tmp, key_list, key_binary, key_data, what + " (sending the keys)");
      conn_->Exec(fmt::format("ANALYZE {}", keys_tmp), what + " (analyzing the keys)");
      conn_->Exec(
          fmt::format("DELETE FROM {} AS t USING {} AS k WHERE {}", table.quoted, keys_tmp, join),
          what + " (deleting the changed rows)");
    }
    if (!rows.empty() && remove_keys.empty()) {
      // Nothing to replace: straight into the table.
      CopyInto(table.quoted, col_list, rows_binary, row_data, what + " (sending the rows)");
    } else if (!rows.empty()) {
      conn_->Exec(fmt::format("CREATE TEMP TABLE {} ON COMMIT DROP AS SELECT {} FROM {} WITH NO "
                              "DATA",
                              rows_tmp, col_list, table.quoted),
                  what + " (creating a temporary table for the rows)");
      CopyInto(rows_tmp, col_list, rows_binary, row_data, what + " (sending the rows)");
      conn_->Exec(fmt::format("INSERT INTO {} ({}) SELECT {} FROM {}", table.quoted, col_list,
                              col_list, rows_tmp),
                  what + " (inserting the new rows)");
    }
  } catch (...) {
    // A COPY left open: end it so Rollback() finds the connection idle.
    PGconn* c = conn_->get();
    if (PQtransactionStatus(c) == PQTRANS_ACTIVE) {
      PQputCopyEnd(c, "aborted by ferry");
      for (int guard = 0; guard < 1000; ++guard) {
        PGresult* r = PQgetResult(c);
        if (r == nullptr) break;
        PQclear(r);
      }
    }
    throw;
  }
  if (PQenterPipelineMode(conn_->get()) != 1) {
    throw conn_->MakeError("entering pipeline mode", nullptr);
  }
}

}  // namespace ferry::postgres
