// Fuzzes the change record codec (change/change.h) and the framed change files
// (cdc/change_spool.h): spill files and table caches are read back from local disk, which is
// outside input too.
// Input: the first byte selects the mode, the rest is the payload.
//   even: the payload is a sequence of change records read by one ChangeReader.
//   odd:  the payload is a framed file read by a FrameReader (via fmemopen) whose chunk size is
//         1 + (first byte >> 1) bytes; each frame is decoded as one record (DecodeOneRecord).
// Invariants: no crash or read out of bounds (ASan/UBSan); every error is kData and names a
// byte offset; a decoded record re-read on its own gives the same cells; a decoded change has
// the images its operation and old-image kind call for.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "cdc/change_spool.h"
#include "change/change.h"
#include "common/error.h"

namespace {

using ferry::cdc::ChangeOp;
using ferry::cdc::ChangeReader;
using ferry::cdc::ChangeView;
using ferry::cdc::OldImage;

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "fuzz_change_record: %s\n", what);
  std::abort();
}

void CheckError(const ferry::Error& e) {
  if (e.kind() != ferry::ErrorKind::kData) Fail(e.what());
  if (std::strstr(e.what(), "byte") == nullptr) Fail("an error names no byte offset");
}

void CheckShape(const ChangeView& v) {
  if (v.rows == nullptr) Fail("no rows");
  const int images = (v.old_kind != OldImage::kNone) +
                     (v.op == ChangeOp::kInsert || v.op == ChangeOp::kUpdate);
  // A Batch of 0 columns reports 0 rows whatever was appended.
  if (v.rows->columns() > 0 && v.rows->rows() != static_cast<size_t>(images)) {
    Fail("row count differs from the images");
  }
  if ((v.old_kind != OldImage::kNone) != (v.old_row >= 0)) Fail("old_row disagrees with kind");
  if ((v.op == ChangeOp::kInsert || v.op == ChangeOp::kUpdate) != (v.new_row >= 0)) {
    Fail("new_row disagrees with op");
  }
  if (v.op == ChangeOp::kDelete && v.old_row < 0) Fail("a DELETE without an old image");
  if (v.op != ChangeOp::kShape && !v.shape.empty()) Fail("a row change with a definition");
  if (v.op == ChangeOp::kShape && v.rows->columns() != 0) Fail("a shape record with columns");
}

bool SameCells(const ChangeView& a, const ChangeView& b) {
  if (a.op != b.op || a.table != b.table || a.old_kind != b.old_kind) return false;
  if (a.shape != b.shape) return false;  // a shape record's definition bytes
  if (a.rows->columns() != b.rows->columns() || a.rows->rows() != b.rows->rows()) return false;
  for (size_t r = 0; r < a.rows->rows(); ++r) {
    for (int c = 0; c < a.rows->columns(); ++c) {
      const ferry::Cell& x = a.rows->at(r, c);
      const ferry::Cell& y = b.rows->at(r, c);
      if (x.null != y.null || x.unchanged != y.unchanged) return false;
      if (!x.null && x.u != y.u && a.rows->Bytes(r, c) != b.rows->Bytes(r, c)) return false;
    }
  }
  return true;
}

void Records(std::string_view bytes) {
  ChangeReader reader(bytes);
  ChangeView v;
  try {
    while (true) {
      const size_t start = reader.offset();
      if (!reader.Next(&v)) break;
      CheckShape(v);
      ChangeReader again(bytes.substr(start, reader.offset() - start));
      ChangeView w;
      if (!again.Next(&w) || again.Next(&w) || !SameCells(v, w)) {
        Fail("a record read again differs");
      }
    }
  } catch (const ferry::Error& e) {
    CheckError(e);
  }
}

void Frames(std::string_view bytes, size_t chunk) {
  if (bytes.empty()) return;
  std::string copy(bytes);
  std::FILE* f = fmemopen(copy.data(), copy.size(), "rb");
  if (f == nullptr) return;
  ferry::cdc::FrameReader frames(f, copy.size(), "fuzz", chunk);
  std::optional<ChangeReader> record;
  ChangeView v;
  try {
    std::string_view payload;
    while (frames.Next(&payload)) {
      try {
        ferry::cdc::DecodeOneRecord(payload, "fuzz", frames.frame_offset(), &record, &v);
        CheckShape(v);
      } catch (const ferry::Error& e) {
        CheckError(e);
      }
    }
  } catch (const ferry::Error& e) {
    CheckError(e);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  if ((data[0] & 1) == 0) {
    Records(rest);
  } else {
    Frames(rest, 1 + (data[0] >> 1));
  }
  return 0;
}
