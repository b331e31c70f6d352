// Batch apply (TargetMetadata.BatchApplyEnabled): the changes of many source transactions to
// one target table, reduced to the net change per row, so they can be applied with set-based
// statements (remove every touched key, then insert the final rows).
//
// Per key (the target table's primary key) the net state is "gone" or "this full row":
//   INSERT      -> the row (an existing row with that key is replaced: conflicts are not
//                  detected in batch mode, as in DMS)
//   UPDATE      -> key unchanged: the new row; key changed: old key gone, new key -> the row.
//                  Unchanged cells (Cell::unchanged) are filled from the key's row of this
//                  batch; without one the change cannot be netted (Add returns false)
//   DELETE      -> gone
//   TRUNCATE    -> not netted (Add returns false)
// The result: RemoveKeys() = every key touched (in first-touch order), to delete from the target,
// and Rows() = the final rows of keys that exist, to insert after the delete.
//
// Threading: one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "catalog/table_def.h"
#include "change/change.h"
#include "types/batch.h"

namespace ferry::cdc {

class NetChanges {
 public:
  // `target` must have a primary key (Error(kInternal) otherwise); changes given to Add have
  // target.columns (mapped changes).
  explicit NetChanges(const TableDef& target);

  // Folds `change` in. Returns false, changing nothing, when it cannot be netted: TRUNCATE, an
  // UPDATE with unchanged cells and no full row of that key in this batch, an INSERT with
  // unchanged cells, a change without the images it needs. The caller then applies what is
  // netted so far, then that change on its own.
  bool Add(const ChangeView& change);

  // The keys to delete from the target: one row per key touched, with the primary key columns
  // only, in target.primary_key order (types of those columns).
  const Batch& RemoveKeys() const { return keys_; }
  // The rows to insert after the delete: full rows with target.columns, none unchanged.
  Batch Rows() const;

  // Changes folded in since construction or Clear.
  int64_t changes() const { return changes_; }
  // Keys touched.
  size_t keys() const { return slots_.size(); }
  bool empty() const { return slots_.empty(); }
  // Approximate memory held (for BatchApplyMemoryLimit).
  size_t ByteSize() const;
  void Clear();

 private:
  // The encoded key of row `row` of `b` (key columns), into `out`.
  void KeyOf(const Batch& b, int row, std::string* out) const;
  // The slot of the key at `row` of `b`, created (key appended to keys_) when new.
  size_t SlotOf(const Batch& b, int row, const std::string& encoded);
  // Appends row `row` of `b` to store_, unchanged cells taken from store_ row `base` (-1 none).
  int64_t Store(const Batch& b, int row, int64_t base);

  TableDef target_;
  std::vector<int> key_;        // indexes of the key columns in target_.columns
  std::vector<bool> is_bytes_;  // per column: Storage::kBytes
  std::unordered_map<std::string, size_t> index_;
  std::vector<int64_t> slots_;  // per slot: row of store_ with its final row, -1 = gone
  Batch keys_;
  Batch store_;  // every row image stored (older images of a key stay as garbage)
  int64_t changes_ = 0;
  std::string key_a_, key_b_;
};

}  // namespace ferry::cdc
