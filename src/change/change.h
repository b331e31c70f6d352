// One row change captured from a source, in Ferry's type model, and the compact byte form
// changes travel in: a transaction's changes in memory, spilled to disk, and cached for a
// table that is still loading all use the same record layout, so nothing is converted twice.
//
// Record layout (all integers little-endian):
//   u8  op ('I' insert, 'U' update, 'D' delete, 'T' truncate, 'S' shape)
//   u32 table      the task's table index (the capture side's numbering)
//   u8  old_kind   0 none, 'K' key columns only, 'O' the whole old row
//   u16 columns    values per image
//   [old image]    when old_kind != 0
//   [new image]    for 'I' and 'U'
//   [definition]   for 'S': u32 length, then the table's new definition (table_def_json.h)
// A shape record ('S', old_kind 0, columns 0) marks where, between a transaction's own changes
// of the table, the source table's columns changed: the records before it use the old columns,
// the ones after it the new (see CaptureSink::OnChange).
// Image: per column a tag, then its payload:
//   0 NULL, 1 unchanged (not sent by the source, see Cell::unchanged),
//   2 int64 (8 bytes), 3 uint64 (8 bytes), 4 double (8 bytes, IEEE bits),
//   5 bytes (u32 length, then the bytes)
// In a 'K' old image the columns outside the key are NULL.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "change/position.h"
#include "types/batch.h"
#include "types/dms_type.h"

namespace ferry::cdc {

enum class ChangeOp : uint8_t {
  kInsert = 'I',
  kUpdate = 'U',
  kDelete = 'D',
  kTruncate = 'T',
  kShape = 'S',  // the table's columns change here (ChangeView::shape)
};
const char* ChangeOpName(ChangeOp op);  // "INSERT", "UPDATE", "DELETE", "TRUNCATE", "ALTER TABLE"

enum class OldImage : uint8_t { kNone = 0, kKey = 'K', kFull = 'O' };

// A change as the engine and the appliers see it. The images are rows of `rows`, whose
// columns are the table's columns in order (the source table's on the capture side, the target
// table's once mapped). Update without an old image: the key is in the new image's key columns.
// Delete always has an old image. Truncate has neither.
struct ChangeView {
  ChangeOp op = ChangeOp::kInsert;
  uint32_t table = 0;
  OldImage old_kind = OldImage::kNone;
  const Batch* rows = nullptr;
  int old_row = -1;  // row of `rows` with the old image, -1 when none
  int new_row = -1;  // row of `rows` with the new image, -1 when none
  // kShape: the table's definition from here on (catalog/table_def_json.h TableDefToJson);
  // `rows` is then an empty batch.
  std::string_view shape;
};

// Appends `change` as one record to `out`. `storage` gives each column's Storage (StorageOf of
// the column's DmsKind), which says which cell field holds the value.
void EncodeChange(const ChangeView& change, const std::vector<Storage>& storage,
                  std::string* out);

// Appends a shape record: table `table` reads as `definition` (TableDefToJson) from here on.
void EncodeShapeChange(uint32_t table, std::string_view definition, std::string* out);

// The Storage of each column of a table, for EncodeChange.
std::vector<Storage> StorageOfColumns(const std::vector<DmsType>& types);

// Reads records back. The bytes must outlive the reader; views are valid until the next call.
class ChangeReader {
 public:
  explicit ChangeReader(std::string_view bytes) : bytes_(bytes) {}
  // The next record into `out`; false at the end of the bytes. Throws Error(kData) naming the
  // byte offset for a malformed or truncated record (spill files are outside input too).
  bool Next(ChangeView* out);
  // Offset of the next record (for a caller that wants to come back to one).
  size_t offset() const { return pos_; }

 private:
  void ReadImage(int columns, size_t start);
  std::string_view bytes_;
  size_t pos_ = 0;
  Batch batch_;
};

// A transaction as the capture side hands it over, in commit order.
struct TransactionInfo {
  uint32_t xid = 0;
  Position commit_position{};  // the commit record's position
  Position end_position{};     // where the next transaction starts: the position to confirm
  int64_t commit_time_us = 0;  // commit time, microseconds since 1970-01-01 UTC
};

}  // namespace ferry::cdc
