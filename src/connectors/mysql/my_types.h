// MySQL/MariaDB native types: parsing information_schema COLUMN_TYPE, the DMS type each one
// reads as, the native type each DMS type is written as (Dialect::MapColumn), and DDL.
// Pure functions, no server.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "catalog/table_def.h"
#include "types/dms_type.h"

namespace ferry::mysql {

enum class MyBase : uint8_t {
  kTinyint,
  kSmallint,
  kMediumint,
  kInt,
  kBigint,
  kDecimal,
  kFloat,
  kDouble,
  kBit,
  kChar,
  kVarchar,
  kTinytext,
  kText,
  kMediumtext,
  kLongtext,
  kBinary,
  kVarbinary,
  kTinyblob,
  kBlob,
  kMediumblob,
  kLongblob,
  kDate,
  kTime,
  kDatetime,
  kTimestamp,
  kYear,
  kEnum,
  kSet,
  kJson,
  kGeometry,
  kInet6,
  kInet4,
  kUuid,
  kUnknown,
};

// A native column type as information_schema.COLUMNS.COLUMN_TYPE prints it.
struct MyNativeType {
  MyBase base = MyBase::kUnknown;
  bool is_unsigned = false;
  int64_t length = 0;  // char/binary/bit length, decimal precision, time fsp; 0 when absent
  int scale = 0;       // decimal scale
  std::vector<std::string> members;  // enum/set members, unquoted
  std::string text;                  // the COLUMN_TYPE as given, lower case
};

// Parses "int(10) unsigned", "decimal(38,10)", "enum('a','it''s')", "datetime(6)", "json",
// "point", ... Unknown types come back as kUnknown (read as text).
MyNativeType ParseNativeType(std::string_view column_type);

// The DMS type a column of this native type reads as (see the mapping table in
// my_types.cc).
DmsType DmsTypeForNative(const MyNativeType& t);

// True for the text-like natives (char, varchar, text family, enum, set, json, inet, uuid).
bool IsTextNative(MyBase b);
bool IsBinaryNative(MyBase b);
// Maximum bytes a value of this native type can hold (text and binary kinds), else 0.
int64_t MaxBytes(const MyNativeType& t);
// Maximum characters (char/varchar), else 0 (no character limit beyond MaxBytes).
int64_t MaxChars(const MyNativeType& t);

// `name` quoted with backticks, embedded backticks doubled.
std::string QuoteIdent(std::string_view name);
// The MySQL string literal of `text` (Dialect::QuoteLiteral): '...' with quotes doubled,
// backslashes as \\ and NUL as \0. Ferry's sessions pin an sql_mode without
// NO_BACKSLASH_ESCAPES (my_connection.cc), where it reads back as `text`; on a session with
// NO_BACKSLASH_ESCAPES the backslashes would read doubled, but since a quote is never written
// as \' nothing can end the literal early under either mode.
std::string QuoteLiteral(std::string_view text);

// Dialect::MapColumn for the MySQL target.
ColumnDef MapColumnToMysql(const ColumnDef& source, Engine source_engine, bool in_key);
// CREATE TABLE (with PRIMARY KEY) and CREATE UNIQUE INDEX statements for `target`.
std::vector<std::string> CreateTableStatements(const TableDef& target);

}  // namespace ferry::mysql
