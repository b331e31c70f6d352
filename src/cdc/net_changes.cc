#include "cdc/net_changes.h"

#include <fmt/format.h>

#include <cstring>

#include "common/error.h"

namespace ferry::cdc {

NetChanges::NetChanges(const TableDef& target) : target_(target) {
  if (target_.primary_key.empty()) {
    throw Error(ErrorKind::kInternal,
                fmt::format("batch apply of table {}: the table has no primary key",
                            target_.QualifiedName()));
  }
  for (const std::string& name : target_.primary_key) {
    const int i = target_.ColumnIndex(name);
    if (i < 0) {
      throw Error(ErrorKind::kSchema,
                  fmt::format("table {}: primary key column {} is not among its columns",
                              target_.QualifiedName(), name));
    }
    key_.push_back(i);
  }
  for (const ColumnDef& c : target_.columns) {
    is_bytes_.push_back(StorageOf(c.type.kind) == Storage::kBytes);
  }
  keys_ = Batch(static_cast<int>(key_.size()));
  store_ = Batch(static_cast<int>(target_.columns.size()));
}

void NetChanges::KeyOf(const Batch& b, int row, std::string* out) const {
  out->clear();
  for (int k : key_) {
    const Cell& c = b.at(row, k);
    if (c.null) {
      out->push_back(c.unchanged ? 'u' : 'n');
      continue;
    }
    if (is_bytes_[k]) {
      const std::string_view v = b.Bytes(row, k);
      const uint32_t n = static_cast<uint32_t>(v.size());
      out->push_back('b');
      out->append(reinterpret_cast<const char*>(&n), sizeof(n));
      out->append(v);
    } else {
      out->push_back('v');
      out->append(reinterpret_cast<const char*>(&c.u), sizeof(c.u));
    }
  }
}

size_t NetChanges::SlotOf(const Batch& b, int row, const std::string& encoded) {
  auto [it, inserted] = index_.try_emplace(encoded, slots_.size());
  if (inserted) {
    slots_.push_back(-1);
    for (int k : key_) keys_.AppendCellFrom(b, static_cast<size_t>(row), k, is_bytes_[k]);
  }
  return it->second;
}

int64_t NetChanges::Store(const Batch& b, int row, int64_t base) {
  const int64_t at = static_cast<int64_t>(store_.rows());
  const int n = store_.columns();
  for (int c = 0; c < n; ++c) {
    const Cell& cell = b.at(row, c);
    if (cell.unchanged) {
      // Copy through a temporary: the source is store_'s own arena.
      if (is_bytes_[c] && !store_.IsNull(base, c)) {
        const std::string copy(store_.Bytes(base, c));
        store_.AppendBytes(copy);
      } else {
        store_.AppendCellFrom(store_, static_cast<size_t>(base), c, false);
      }
    } else {
      store_.AppendCellFrom(b, static_cast<size_t>(row), c, is_bytes_[c]);
    }
  }
  return at;
}

bool NetChanges::Add(const ChangeView& change) {
  if (change.rows == nullptr) return false;
  const Batch& b = *change.rows;
  if (b.columns() != store_.columns()) {
    throw Error(ErrorKind::kInternal,
                fmt::format("{} on table {}: the change has {} columns, the table {}",
                            ChangeOpName(change.op), target_.QualifiedName(), b.columns(),
                            store_.columns()));
  }
  auto has_unchanged = [&](int row) {
    for (int c = 0; c < b.columns(); ++c) {
      if (b.at(row, c).unchanged) return true;
    }
    return false;
  };
  auto key_unchanged = [&](int row) {
    for (int k : key_) {
      if (b.at(row, k).unchanged) return true;
    }
    return false;
  };
  switch (change.op) {
    case ChangeOp::kTruncate:
    case ChangeOp::kShape:
      return false;
    case ChangeOp::kInsert: {
      if (change.new_row < 0 || has_unchanged(change.new_row)) return false;
      KeyOf(b, change.new_row, &key_a_);
      const size_t slot = SlotOf(b, change.new_row, key_a_);
      slots_[slot] = Store(b, change.new_row, -1);
      break;
    }
    case ChangeOp::kDelete: {
      if (change.old_kind == OldImage::kNone || change.old_row < 0) return false;
      if (key_unchanged(change.old_row)) return false;
      KeyOf(b, change.old_row, &key_a_);
      const size_t slot = SlotOf(b, change.old_row, key_a_);
      slots_[slot] = -1;
      break;
    }
    case ChangeOp::kUpdate: {
      if (change.new_row < 0 || key_unchanged(change.new_row)) return false;
      const bool has_old = change.old_kind != OldImage::kNone && change.old_row >= 0;
      if (has_old && key_unchanged(change.old_row)) return false;
      const int old_row = has_old ? change.old_row : change.new_row;
      KeyOf(b, old_row, &key_a_);
      KeyOf(b, change.new_row, &key_b_);
      int64_t base = -1;
      if (has_unchanged(change.new_row)) {
        auto it = index_.find(key_a_);
        if (it == index_.end() || slots_[it->second] < 0) return false;
        base = slots_[it->second];
      }
      if (key_a_ != key_b_) {
        const size_t old_slot = SlotOf(b, old_row, key_a_);
        slots_[old_slot] = -1;
      }
      const int64_t stored = Store(b, change.new_row, base);
      const size_t slot = SlotOf(b, change.new_row, key_b_);
      slots_[slot] = stored;
      break;
    }
  }
  ++changes_;
  return true;
}

Batch NetChanges::Rows() const {
  Batch out(store_.columns());
  size_t live = 0;
  for (int64_t r : slots_) live += r >= 0;
  out.Reserve(live, 0);
  for (int64_t r : slots_) {
    if (r < 0) continue;
    for (int c = 0; c < store_.columns(); ++c) {
      out.AppendCellFrom(store_, static_cast<size_t>(r), c, is_bytes_[c]);
    }
  }
  return out;
}

size_t NetChanges::ByteSize() const {
  return store_.ByteSize() + keys_.ByteSize() +
         index_.size() * (sizeof(std::string) + 32) + slots_.size() * sizeof(int64_t);
}

void NetChanges::Clear() {
  index_.clear();
  slots_.clear();
  keys_.Clear();
  store_.Clear();
  changes_ = 0;
}

}  // namespace ferry::cdc
