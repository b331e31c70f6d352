// A Batch is the unit that moves through a full load: up to a few thousand rows of one table,
// row-major, one 16-byte Cell per value and one byte arena for every variable-length value.
// No per-value heap allocation; a batch is filled by one reader thread, handed over a queue,
// and drained by one writer thread (not thread-safe itself).
//
// Encoding of a value is decided by the column's DmsKind (see StorageOf in dms_type.h):
//   kInt    -> Cell::i     booleans (0/1), signed ints, DATE (days since 1970-01-01, proleptic
//                          Gregorian), TIME (signed microseconds), DATETIME (microseconds since
//                          1970-01-01 00:00:00; UTC when the type says with_time_zone)
//   kUint   -> Cell::u     unsigned ints
//   kDouble -> Cell::d     REAL4 holds exactly the float's value
//   kBytes  -> arena bytes text as UTF-8, binary as is, NUMERIC as decimal text in canonical
//                          form (see value_codec.h: NormalizeDecimal) or NaN/Infinity/-Infinity
#pragma once

#include <cassert>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ferry {

struct Cell {
  union {
    int64_t i;
    uint64_t u;
    double d;
    struct {
      uint32_t offset;
      uint32_t length;
    } s;
  };
  bool null;
  // CDC only: the source did not send this value because it did not change (PostgreSQL
  // unchanged TOAST). Set together with `null`; an update leaves such a column as it is.
  bool unchanged;
};
static_assert(sizeof(Cell) == 16);

class Batch {
 public:
  explicit Batch(int columns = 0) : columns_(columns) {}

  int columns() const { return columns_; }
  size_t rows() const { return columns_ == 0 ? 0 : cells_.size() / columns_; }
  bool empty() const { return cells_.empty(); }
  // Approximate memory held, for queue accounting and flush decisions.
  size_t ByteSize() const { return cells_.size() * sizeof(Cell) + arena_.size(); }

  void Reserve(size_t rows, size_t arena_bytes) {
    cells_.reserve(rows * columns_);
    arena_.reserve(arena_bytes);
  }
  void Clear() {
    cells_.clear();
    arena_.clear();
  }

  // Append values to the current row, left to right. A row is complete after `columns()`
  // appends; callers must not leave a row half-written when handing the batch on.
  void AppendNull() { cells_.push_back(MakeCell(true)); }
  // A value the source left out because it did not change (see Cell::unchanged).
  void AppendUnchanged() {
    Cell c = MakeCell(true);
    c.unchanged = true;
    cells_.push_back(c);
  }
  void AppendInt(int64_t v) {
    Cell c = MakeCell(false);
    c.i = v;
    cells_.push_back(c);
  }
  void AppendUint(uint64_t v) {
    Cell c = MakeCell(false);
    c.u = v;
    cells_.push_back(c);
  }
  void AppendDouble(double v) {
    Cell c = MakeCell(false);
    c.d = v;
    cells_.push_back(c);
  }
  void AppendBytes(std::string_view v) {
    Cell c = MakeCell(false);
    c.s.offset = static_cast<uint32_t>(arena_.size());
    c.s.length = static_cast<uint32_t>(v.size());
    arena_.append(v);
    cells_.push_back(c);
  }
  // For writers that build a value in place: returns the arena to append to, then call
  // CommitBytes(start) with the arena size noted before appending.
  std::string& arena() { return arena_; }
  void CommitBytes(size_t start) {
    Cell c = MakeCell(false);
    c.s.offset = static_cast<uint32_t>(start);
    c.s.length = static_cast<uint32_t>(arena_.size() - start);
    cells_.push_back(c);
  }
  // Appends a copy of `other`'s cell (row, col) to the current row: bytes are copied into this
  // batch's arena; NULL and unchanged flags are kept.
  void AppendCellFrom(const Batch& other, size_t row, int col, bool is_bytes) {
    const Cell& c = other.at(row, col);
    if (c.null || !is_bytes) {
      cells_.push_back(c);
      return;
    }
    AppendBytes(other.Bytes(row, col));
  }
  // Turns an appended cell into an unchanged one (see Cell::unchanged).
  void MarkUnchanged(size_t row, int col) {
    Cell& c = cells_[row * columns_ + col];
    c.null = true;
    c.unchanged = true;
  }
  // Drops the values of a half-written last row (used when a reader fails mid-row).
  void TruncateToRows(size_t rows) { cells_.resize(rows * columns_); }

  const Cell& at(size_t row, int col) const { return cells_[row * columns_ + col]; }
  bool IsNull(size_t row, int col) const { return at(row, col).null; }
  std::string_view Bytes(size_t row, int col) const {
    const Cell& c = at(row, col);
    return std::string_view(arena_.data() + c.s.offset, c.s.length);
  }
  size_t cell_count() const { return cells_.size(); }

 private:
  static Cell MakeCell(bool null) {
    Cell c;
    c.u = 0;
    c.null = null;
    c.unchanged = false;
    return c;
  }

  int columns_;
  std::vector<Cell> cells_;
  std::string arena_;
};

}  // namespace ferry
