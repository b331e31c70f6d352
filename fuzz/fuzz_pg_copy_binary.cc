// Fuzzes the PostgreSQL binary COPY stream parser and the per-type binary decoders
// (pg_copy_binary.h): the bytes come from a server over the network, so a malformed stream
// must end in ferry::Error, never in a crash or an out-of-bounds read.
//
// Input layout:
//   byte 0        number of columns - 1 (low 2 bits: 1..4 columns)
//   bytes 1..n    one byte per column: its PgWire (value % 17, see pg_types.h)
//   byte n+1      bit 0: prepend the 19-byte stream header; bits 1..7: chunking seed
//                 (0 = the whole stream in one Feed)
//   the rest      the stream, fed in chunks of pseudo-random sizes, each in its own
//                 exactly-sized heap buffer so ASan sees any read past a chunk.
// Each field is decoded the way the reader does (pg_reader.cc), and the decoders' round trips
// are checked: numeric -> canonical text -> EncodeNumeric -> the same text; uuid -> text ->
// the same bytes; date / timestamp -> cell -> the same PostgreSQL value; the two UTF-8
// validators of the code base agree with each other and with a reference.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "common/error.h"
#include "connectors/mysql/my_value_text.h"
#include "connectors/postgres/pg_copy_binary.h"
#include "connectors/postgres/pg_types.h"
#include "types/value_codec.h"

namespace {

using ferry::postgres::PgWire;

[[noreturn]] void Fail(const char* what, std::string_view detail) {
  std::fprintf(stderr, "fuzz_pg_copy_binary: %s\n  detail: '%.*s'\n", what,
               static_cast<int>(detail.size()), detail.data());
  std::abort();
}

std::string Hex(const char* p, size_t n) {
  std::string s;
  char b[4];
  for (size_t i = 0; i < n && i < 64; ++i) {
    std::snprintf(b, sizeof b, "%02x", static_cast<unsigned char>(p[i]));
    s += b;
  }
  return s;
}

// Straightforward UTF-8 validation (RFC 3629), the reference for the two fast validators.
bool ReferenceUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    int n;
    uint32_t cp, min;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1, cp = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2, cp = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3, cp = c & 0x07, min = 0x10000;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;
    for (int k = 1; k <= n; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = cp << 6 | (cc & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n + 1;
  }
  return true;
}


void CheckNumeric(const char* d, size_t len) {
  std::string text;
  if (!ferry::postgres::DecodeNumeric(d, len, &text)) return;
  auto norm = ferry::NormalizeDecimal(text);
  if (!norm || *norm != text) Fail("DecodeNumeric output is not canonical", text);
  std::string bin;
  if (!ferry::postgres::EncodeNumeric(text, &bin)) return;  // beyond numeric's limits
  std::string back;
  if (!ferry::postgres::DecodeNumeric(bin.data(), bin.size(), &back) || back != text) {
    Fail("numeric does not round-trip through EncodeNumeric", text + " -> " + back);
  }
}

void CheckText(std::string_view v) {
  bool has_nul = false;
  const bool valid = ferry::IsValidUtf8(v, &has_nul);
  const bool ref = ReferenceUtf8(v);
  if (valid != ref || ferry::IsValidUtf8(v) != ref) {
    Fail("IsValidUtf8 disagrees with the reference decoder",
         std::to_string(valid) + std::to_string(ref) + " " + Hex(v.data(), v.size()));
  }
  if (has_nul != (v.find('\0') != std::string_view::npos) && valid) {
    Fail("IsValidUtf8 has_nul is wrong", Hex(v.data(), v.size()));
  }
  // A text value may be a numeric or a uuid in text form (the writer's inputs).
  if (v.size() < 200) {
    std::string bin;
    if (ferry::postgres::EncodeNumeric(v, &bin)) {
      std::string back;
      auto norm = ferry::NormalizeDecimal(v);
      if (!ferry::postgres::DecodeNumeric(bin.data(), bin.size(), &back) || !norm ||
          back != *norm) {
        Fail("EncodeNumeric/DecodeNumeric disagree with NormalizeDecimal",
             std::string(v) + " -> " + back);
      }
    }
    char uuid[16];
    if (ferry::postgres::ParseUuidText(v, uuid)) {
      std::string t;
      ferry::postgres::AppendUuidText(uuid, &t);
      char again[16];
      if (!ferry::postgres::ParseUuidText(t, again) || std::memcmp(uuid, again, 16) != 0) {
        Fail("uuid text does not round-trip", t);
      }
    }
  }
}

void DecodeField(const ferry::postgres::CopyField& f, PgWire wire) {
  using namespace ferry::postgres;
  if (f.length < 0) return;  // NULL
  const size_t len = static_cast<size_t>(f.length);
  const size_t fixed = ferry::postgres::PgWireFixedSize(wire);
  if (fixed != 0 && len != fixed) {
    // What the reader does: a malformed stream.
    throw ferry::Error(ferry::ErrorKind::kData, "field has the wrong size");
  }
  const char* d = f.data;
  switch (wire) {
    case PgWire::kDate: {
      const auto pg = static_cast<int32_t>(LoadU32(d));
      const int64_t cell = DateCellFromPg(pg);
      int32_t back;
      if (PgDateFromCell(cell, &back) && back != pg) Fail("date does not round-trip", Hex(d, 4));
      if (pg != INT32_MAX && pg != INT32_MIN) {
        auto parsed = ferry::ParseDate(ferry::FormatDate(cell));
        if (!parsed || *parsed != cell) Fail("date text does not round-trip", Hex(d, 4));
      }
      return;
    }
    case PgWire::kTimestamp:
    case PgWire::kTimestamptz: {
      const auto pg = static_cast<int64_t>(LoadU64(d));
      int64_t cell;
      if (!DatetimeCellFromPg(pg, &cell)) return;  // the reader's RowError
      int64_t back;
      if (PgTimestampFromCell(cell, &back)) {
        if (back != pg) Fail("timestamp does not round-trip", Hex(d, 8));
        if (pg != INT64_MAX && pg != INT64_MIN) {
          auto parsed = ferry::ParseDatetime(ferry::FormatDatetime(cell));
          if (!parsed || *parsed != cell) Fail("timestamp text does not round-trip", Hex(d, 8));
        }
      }
      return;
    }
    case PgWire::kTime: {
      const auto micros = static_cast<int64_t>(LoadU64(d));
      if (micros >= 0 && micros <= ferry::kMicrosPerDay) {
        auto parsed = ferry::ParseTime(ferry::FormatTime(micros));
        if (!parsed || *parsed != micros) Fail("time text does not round-trip", Hex(d, 8));
      }
      return;
    }
    case PgWire::kFloat4:
    case PgWire::kFloat8: {
      double v;
      if (wire == PgWire::kFloat4) {
        const uint32_t bits = LoadU32(d);
        float fv;
        std::memcpy(&fv, &bits, 4);
        v = fv;
      } else {
        const uint64_t bits = LoadU64(d);
        std::memcpy(&v, &bits, 8);
      }
      const std::string t = ferry::FormatDouble(v, wire == PgWire::kFloat4);
      auto parsed = ferry::ParseDouble(t);
      bool same;
      if (!parsed) {
        same = false;
      } else if (std::isnan(v)) {
        same = std::isnan(*parsed);
      } else if (wire == PgWire::kFloat4) {
        const float a = static_cast<float>(*parsed), b = static_cast<float>(v);
        same = std::memcmp(&a, &b, 4) == 0;
      } else {
        same = std::memcmp(&*parsed, &v, 8) == 0;
      }
      if (!same) Fail("float text does not round-trip", t);
      return;
    }
    case PgWire::kNumeric:
      CheckNumeric(d, len);
      return;
    case PgWire::kUuid: {
      std::string t;
      AppendUuidText(d, &t);
      char back[16];
      if (!ParseUuidText(t, back) || std::memcmp(back, d, 16) != 0) {
        Fail("uuid does not round-trip", t);
      }
      return;
    }
    case PgWire::kJsonb:
      if (len < 1 || d[0] != 1) return;  // the reader's RowError
      CheckText(std::string_view(d + 1, len - 1));
      return;
    case PgWire::kText:
    case PgWire::kJson:
    case PgWire::kOther:
      CheckText(std::string_view(d, len));
      return;
    default:
      return;  // bool, int2/4/8, bytea: any bytes of the right size are a value
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using ferry::postgres::CopyBinaryParser;
  if (size < 1) return 0;
  const int ncols = 1 + (data[0] & 3);
  if (size < static_cast<size_t>(ncols) + 2) return 0;
  PgWire wires[4];
  for (int i = 0; i < ncols; ++i) wires[i] = static_cast<PgWire>(data[1 + i] % 17);
  const uint8_t flags = data[1 + ncols];
  size_t pos = static_cast<size_t>(ncols) + 2;

  std::string stream;
  if (flags & 1) ferry::postgres::AppendCopyHeader(&stream);
  stream.append(reinterpret_cast<const char*>(data) + pos, size - pos);

  uint32_t rng = flags >> 1;
  auto next_chunk = [&](size_t left) -> size_t {
    if (rng == 0) return left;
    rng = rng * 1103515245u + 12345u;
    const size_t n = 1 + (rng >> 16) % 48;
    return n < left ? n : left;
  };

  try {
    CopyBinaryParser parser(ncols);
    std::unique_ptr<char[]> chunk;
    size_t at = 0;
    bool ended = false;
    while (at < stream.size()) {
      const size_t n = next_chunk(stream.size() - at);
      // Replacing the previous chunk is allowed: Next() returned kNeedMore or kEnd for it.
      chunk.reset(new char[n]);
      std::memcpy(chunk.get(), stream.data() + at, n);
      at += n;
      parser.Feed(chunk.get(), n);
      for (;;) {
        const auto status = parser.Next();
        if (status == CopyBinaryParser::Status::kNeedMore) break;
        if (status == CopyBinaryParser::Status::kEnd) {
          ended = true;
          break;
        }
        if (ended) Fail("a tuple after the trailer", "");
        const auto* fields = parser.fields();
        for (int i = 0; i < ncols; ++i) {
          if (fields[i].length < -1) Fail("negative field length", "");
          DecodeField(fields[i], wires[i]);
        }
      }
    }
    parser.Finish();
    if (!parser.ended()) Fail("Finish() accepted a stream without trailer", "");
  } catch (const ferry::Error&) {
    // Malformed stream or value: the reader reports it.
  }
  return 0;
}
