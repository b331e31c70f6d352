// PostgreSQL native types <-> the DMS type model, and the choices the reader and writer make
// per column (which binary decoder/encoder, which SELECT cast).
//
// Infinity convention: PostgreSQL dates and timestamps may be 'infinity' / '-infinity'.
// Ferry carries them in the cell as sentinels so a PostgreSQL -> PostgreSQL load keeps them:
//   DATE      cell.i = INT32_MAX for infinity, INT32_MIN for -infinity
//   DATETIME  cell.i = INT64_MAX for infinity, INT64_MIN for -infinity
// No real value collides with them (PostgreSQL's own ranges end well before). Other writers
// see values far outside any calendar and reject them as out of range.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "catalog/table_def.h"
#include "common/text.h"
#include "types/dms_type.h"

namespace ferry::postgres {

// Built-in type OIDs Ferry handles natively (pg_type.dat).
enum PgOid : uint32_t {
  kOidBool = 16,
  kOidBytea = 17,
  kOidChar = 18,
  kOidName = 19,
  kOidInt8 = 20,
  kOidInt2 = 21,
  kOidInt4 = 23,
  kOidText = 25,
  kOidJson = 114,
  kOidXml = 142,
  kOidFloat4 = 700,
  kOidFloat8 = 701,
  kOidMoney = 790,
  kOidBpchar = 1042,
  kOidVarchar = 1043,
  kOidDate = 1082,
  kOidTime = 1083,
  kOidTimestamp = 1114,
  kOidTimestamptz = 1184,
  kOidInterval = 1186,
  kOidTimetz = 1266,
  kOidNumeric = 1700,
  kOidUuid = 2950,
  kOidJsonb = 3802,
};
// OIDs below this are built into the server (FirstNormalObjectId).
constexpr uint32_t kFirstNormalOid = 16384;

// The binary wire form of a column, for reading and writing.
enum class PgWire : uint8_t {
  kBool,
  kInt2,
  kInt4,
  kInt8,
  kFloat4,
  kFloat8,
  kNumeric,
  kDate,
  kTime,
  kTimestamp,
  kTimestamptz,
  kBytea,
  kText,   // text, varchar, bpchar, name: UTF-8 bytes
  kJson,   // same bytes as text
  kJsonb,  // version byte 1 + text
  kUuid,
  kOther,  // no binary codec in Ferry: read as ::text, write through text COPY
};

// Bytes of a wire form's binary value when fixed (bool 1, int2 2, int4/float4/date 4,
// int8/float8/time/timestamp[tz] 8, uuid 16); 0 for variable-length forms.
size_t PgWireFixedSize(PgWire w);

// What the catalog knows about one column's type, before mapping.
struct PgTypeInfo {
  std::string formatted;  // format_type(atttypid, atttypmod), e.g. "numeric(10,2)"
  uint32_t oid = 0;       // resolved through domains to the base type
  char typtype = 'b';     // of the resolved type: b base, e enum, r range, c composite, ...
  char category = 'U';    // pg_type.typcategory of the resolved type ('A' array)
  uint32_t elem_oid = 0;  // arrays: the element type
  bool is_domain = false;
};

// The DMS type of a PostgreSQL column and whether a PostgreSQL target may recreate it as is.
struct PgMappedType {
  DmsType type;
  bool portable_native = true;
};
PgMappedType MapPgType(const PgTypeInfo& info);

// The reader's decoder for a column of type `oid`. `cast` receives the SELECT cast to apply
// ("numeric" for money, "text" for kOther, empty when the column is selected as it is).
PgWire ReadWireForOid(uint32_t oid, std::string* cast);
// The same for a column: by ColumnDef::native_id when the catalog set it, else by the native
// type's name (a TableDef built elsewhere).
PgWire ReadWireForColumn(const ColumnDef& column, std::string* cast);

// A target column's native type (as MapColumn or format_type spells it) parsed for the writer.
struct PgTargetType {
  PgWire wire = PgWire::kOther;
  int64_t max_chars = 0;  // varchar(n)/char(n): n; 0 = unlimited
  int precision = 0;      // numeric(p,s): p; 0 = unconstrained
  int scale = 0;
  bool is_array = false;
};
PgTargetType ParsePgTargetType(std::string_view native_type);

// The PostgreSQL DDL type for a column arriving from `source_engine` (Dialect::MapColumn).
std::string PgDdlType(const ColumnDef& source, Engine source_engine);

// Identifiers are quoted with DoubleQuoteIdent (common/text.h): "name" with "" doubling.

// The PostgreSQL string literal of `value` (Dialect::QuoteLiteral), whatever the session's
// standard_conforming_strings: '...' with quotes doubled; E'...' with backslashes doubled too
// when the value holds a backslash. Throws Error(kData) on a NUL byte, which PostgreSQL text
// cannot hold.
std::string QuoteLiteral(std::string_view value);
// "schema"."name", each quoted with DoubleQuoteIdent.
std::string QuoteQualified(std::string_view schema, std::string_view name);

}  // namespace ferry::postgres
