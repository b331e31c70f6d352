// Fuzzes the native type name parsers, whose input is catalog text from the servers (and from
// SQLite files, which anyone can write with any declared type):
//  - MySQL information_schema COLUMN_TYPE (my_types.h ParseNativeType and what uses it);
//  - PostgreSQL format_type() output (pg_types.h ParsePgTargetType, MapPgType, PgDdlType);
//  - SQLite declared types (sqlite_types.h AffinityOf, DmsTypeFromDeclared, the dialect).
// Byte 0 picks the PostgreSQL type OID / typtype / category, the source engine and whether
// the column is in a key; the rest is the type name given to all three engines.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/error.h"
#include "connectors/mysql/my_types.h"
#include "connectors/postgres/pg_types.h"
#include "connectors/sqlite/sqlite_types.h"
#include "types/dms_type.h"

namespace {

[[noreturn]] void Fail(const char* what, std::string_view input, std::string_view detail) {
  std::fprintf(stderr, "fuzz_type_names: %s\n  input: '%.*s'\n  detail: '%.*s'\n", what,
               static_cast<int>(input.size()), input.data(), static_cast<int>(detail.size()),
               detail.data());
  std::abort();
}

constexpr uint32_t kOids[] = {
    ferry::postgres::kOidBool,    ferry::postgres::kOidBytea,      ferry::postgres::kOidChar,
    ferry::postgres::kOidName,    ferry::postgres::kOidInt8,       ferry::postgres::kOidInt2,
    ferry::postgres::kOidInt4,    ferry::postgres::kOidText,       ferry::postgres::kOidJson,
    ferry::postgres::kOidXml,     ferry::postgres::kOidFloat4,     ferry::postgres::kOidFloat8,
    ferry::postgres::kOidMoney,   ferry::postgres::kOidBpchar,     ferry::postgres::kOidVarchar,
    ferry::postgres::kOidDate,    ferry::postgres::kOidTime,       ferry::postgres::kOidTimestamp,
    ferry::postgres::kOidTimestamptz, ferry::postgres::kOidInterval, ferry::postgres::kOidTimetz,
    ferry::postgres::kOidNumeric, ferry::postgres::kOidUuid,       ferry::postgres::kOidJsonb,
    16385,                        869 /* inet */,                  1560 /* bit */,
    3904 /* int4range */,         0,                               1000 /* bool[] */,
    600 /* point */,              2249 /* record */,
};
constexpr size_t kNumOids = sizeof(kOids) / sizeof(kOids[0]);

// Checks that do not depend on the engine: the type is usable by every writer.
void CheckDmsType(const ferry::DmsType& t, std::string_view input, const char* engine) {
  if (static_cast<int>(t.kind) > static_cast<int>(ferry::DmsKind::kNclob)) {
    Fail("DMS kind out of range", input, engine);
  }
  // Only for SQLite: anyone can declare VARCHAR(-1) there, while PostgreSQL's format_type()
  // never prints a negative typmod (MapPgType trusts it and would give WSTRING(-1)).
  if (std::string_view(engine) == "sqlite" && t.length < 0) {
    Fail("negative DMS length", input, ferry::DescribeDmsType(t));
  }
  (void)ferry::DescribeDmsType(t);
  (void)ferry::StorageOf(t.kind);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t sel = data[0];
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  const bool in_key = (sel & 1) != 0;
  const ferry::Engine engines[] = {ferry::Engine::kPostgres, ferry::Engine::kMysql,
                                   ferry::Engine::kSqlite};
  const ferry::Engine source_engine = engines[(sel >> 1) % 3];

  // MySQL COLUMN_TYPE.
  try {
    const ferry::mysql::MyNativeType t = ferry::mysql::ParseNativeType(text);
    if (t.text.size() != text.size()) Fail("MySQL type text changed length", text, t.text);
    const ferry::DmsType d = ferry::mysql::DmsTypeForNative(t);
    (void)ferry::mysql::IsTextNative(t.base);
    (void)ferry::mysql::IsBinaryNative(t.base);
    (void)ferry::mysql::MaxBytes(t);
    (void)ferry::mysql::MaxChars(t);
    (void)ferry::DescribeDmsType(d);
    ferry::ColumnDef col;
    col.name = "c";
    col.native_type = std::string(text);
    col.type = d;
    const ferry::ColumnDef mapped = ferry::mysql::MapColumnToMysql(col, source_engine, in_key);
    if (mapped.native_type.empty()) Fail("MySQL MapColumn chose no type", text, "");
    ferry::TableDef table;
    table.engine = ferry::Engine::kMysql;
    table.schema = "s";
    table.name = "t";
    table.columns.push_back(mapped);
    if (in_key) table.primary_key.push_back("c");
    (void)ferry::mysql::CreateTableStatements(table);
  } catch (const ferry::Error&) {
  }

  // PostgreSQL format_type().
  try {
    const ferry::postgres::PgTargetType t = ferry::postgres::ParsePgTargetType(text);
    (void)t;
    ferry::postgres::PgTypeInfo info;
    info.formatted = std::string(text);
    info.oid = kOids[(sel >> 3) % kNumOids];
    info.typtype = "becrdm"[(sel >> 3) % 6];
    info.category = (sel & 0x80) ? 'A' : 'U';
    info.elem_oid = (sel & 0x40) ? 16390u : uint32_t{ferry::postgres::kOidInt4};
    info.is_domain = (sel & 0x20) != 0;
    const ferry::postgres::PgMappedType m = ferry::postgres::MapPgType(info);
    CheckDmsType(m.type, text, "postgresql");
    std::string cast;
    (void)ferry::postgres::ReadWireForOid(info.oid, &cast);
    ferry::ColumnDef col;
    col.name = "c";
    col.native_type = std::string(text);
    col.type = m.type;
    col.native_id = info.oid;
    col.portable_native = m.portable_native;
    const std::string ddl = ferry::postgres::PgDdlType(col, source_engine);
    if (ddl.empty()) Fail("PostgreSQL DDL type is empty", text, "");
    (void)ferry::postgres::ParsePgTargetType(ddl);
  } catch (const ferry::Error&) {
  }

  // SQLite declared type.
  try {
    (void)ferry::sqlite::AffinityOf(text);
    const ferry::DmsType d = ferry::sqlite::DmsTypeFromDeclared(text);
    CheckDmsType(d, text, "sqlite");
    const std::string declared = ferry::sqlite::SqliteDialect::DeclaredTypeFor(d);
    // What we declare must read back as the same kind of value.
    const ferry::DmsType back = ferry::sqlite::DmsTypeFromDeclared(declared);
    if (ferry::StorageOf(back.kind) != ferry::StorageOf(d.kind) &&
        !(d.kind == ferry::DmsKind::kUint8 && back.kind == ferry::DmsKind::kNumeric)) {
      Fail("SQLite declared type reads back with another storage", text, declared);
    }
    ferry::sqlite::SqliteDialect dialect;
    ferry::ColumnDef col;
    col.name = "c";
    col.native_type = std::string(text);
    col.type = d;
    const ferry::ColumnDef mapped = dialect.MapColumn(col, source_engine, in_key);
    ferry::TableDef table;
    table.engine = ferry::Engine::kSqlite;
    table.schema = "main";
    table.name = "t";
    table.columns.push_back(mapped);
    if (in_key) table.primary_key.push_back("c");
    (void)dialect.CreateTableSql(table);
    (void)ferry::sqlite::RowidAliasColumn(table);
  } catch (const ferry::Error&) {
  }
  return 0;
}
