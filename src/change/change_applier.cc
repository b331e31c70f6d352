#include "change/change_applier.h"

#include <fmt/format.h>

#include "common/error.h"

namespace ferry::cdc {

void ChangeApplier::ExecuteInTransaction(const std::string& sql) {
  throw Error(ErrorKind::kUnsupported,
              fmt::format("this target commits DDL at once, so it cannot run inside a "
                          "transaction of applied changes: {}",
                          sql));
}

void ChangeApplier::ApplyNet(const TableDef& target, const Batch& remove_keys,
                             const Batch& rows) {
  const int n = static_cast<int>(target.columns.size());
  std::vector<int> key;
  std::vector<bool> is_bytes;
  for (const ColumnDef& c : target.columns) {
    is_bytes.push_back(StorageOf(c.type.kind) == Storage::kBytes);
  }
  for (const std::string& name : target.primary_key) key.push_back(target.ColumnIndex(name));
  if ((key.empty() ? !remove_keys.empty()
                    : remove_keys.columns() != static_cast<int>(key.size())) ||
      (!rows.empty() && rows.columns() != n)) {
    throw Error(ErrorKind::kInternal,
                fmt::format("batch apply of table {}: key batch of {} columns, row batch of {} "
                            "columns, for a table of {} columns and a {}-column key",
                            target.QualifiedName(), remove_keys.columns(), rows.columns(), n,
                            key.size()));
  }
  for (int k : key) {
    if (k < 0) {
      throw Error(ErrorKind::kSchema, fmt::format("table {}: a primary key column is not among "
                                                  "its columns", target.QualifiedName()));
    }
  }
  // Deletes: a full-width row per key, the key columns set, the others NULL.
  Batch old_rows(n);
  for (size_t r = 0; !key.empty() && r < remove_keys.rows(); ++r) {
    for (int c = 0; c < n; ++c) {
      int pos = -1;
      for (size_t j = 0; j < key.size(); ++j) {
        if (key[j] == c) pos = static_cast<int>(j);
      }
      if (pos < 0) {
        old_rows.AppendNull();
      } else {
        old_rows.AppendCellFrom(remove_keys, r, pos, is_bytes[c]);
      }
    }
  }
  ChangeView v;
  v.op = ChangeOp::kDelete;
  v.old_kind = OldImage::kKey;
  v.rows = &old_rows;
  for (size_t r = 0; r < old_rows.rows(); ++r) {
    v.old_row = static_cast<int>(r);
    Apply(target, v, false, r);
  }
  if (!old_rows.empty()) Flush();  // keys matching no row are expected
  v = ChangeView();
  v.op = ChangeOp::kInsert;
  v.rows = &rows;
  for (size_t r = 0; r < rows.rows(); ++r) {
    v.new_row = static_cast<int>(r);
    Apply(target, v, false, r);
  }
  Flush();  // every key was removed above: nothing can be a duplicate of the batch's rows
}

}  // namespace ferry::cdc
