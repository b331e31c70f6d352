// SQLite declared types <-> DMS types, and the SQLite Dialect.
//
// SQLite is dynamically typed: a column's declared type only gives it an affinity (INTEGER,
// TEXT, BLOB, REAL, NUMERIC; https://sqlite.org/datatype3.html section 3.1) and any value may
// sit in any column. Reading, we take the DMS type from the declared name where it says more
// than the affinity (BOOLEAN, TINYINT, NVARCHAR(160), DATETIME, NUMERIC(10,2), ...) and fall
// back to the affinity otherwise. The reader converts each stored value into that type when it
// can do so exactly and raises a RowError when it cannot.
//
// Writing, the declared types we create are chosen for their affinity as much as their name:
//  - Exact decimals wider than 15 digits, unconstrained decimals and UINT8 are declared
//    DECIMAL_TEXT(p,s). The name holds "TEXT", so the affinity is TEXT and the decimal text is
//    stored as it is. A NUMERIC affinity column would turn '12345678901234567.89' into a
//    REAL and lose digits; SQLite only keeps text-to-REAL conversions that preserve 15
//    significant digits, so NUMERIC(p,s) with p <= 15 is exact and kept under that name.
//  - REAL4 is declared FLOAT4 (REAL affinity, reads back as REAL4); REAL8 DOUBLE.
//  - JSON documents are declared JSON_TEXT: a bare JSON column has NUMERIC affinity and would
//    store the document '1.0' as the integer 1.
//  - A single-column integer primary key is declared INTEGER so it becomes the rowid alias
//    (the table's own b-tree key: no separate index, fastest loads and lookups).
#pragma once

#include <string>
#include <string_view>

#include "connectors/connector.h"
#include "types/dms_type.h"

namespace ferry::sqlite {

enum class Affinity { kInteger, kText, kBlob, kReal, kNumeric };

// SQLite's own rules (datatype3.html 3.1), applied to the declared type as written.
Affinity AffinityOf(std::string_view declared);

// The DMS type of a column declared `declared` (table_xinfo's type, any case). An empty
// declared type (a column that holds anything) reads as NCLOB: every storage class has an
// exact text form, except BLOBs that are not UTF-8, which are RowErrors.
DmsType DmsTypeFromDeclared(std::string_view declared);

// The column that CreateTableSql declares INTEGER PRIMARY KEY (the rowid alias), or -1.
// SQLite fills a NULL inserted there with a new rowid, so writers refuse NULLs in it.
int RowidAliasColumn(const TableDef& target);

// DmsKind::kEngineValue as SQLite reads and writes it: one tag byte naming the storage class,
// then the value. A SQLite -> SQLite copy carries every value so, and binds it back with the
// same storage class into a column of the same declared type (so the same affinity): the
// target stores exactly what the source stored, whatever the declared type says. Numbers are
// text so the canonical form (hashes, comparisons, row keys in messages) stays readable.
enum class ValueTag : char {
  kInteger = 'i',  // then the integer in decimal
  kReal = 'r',     // then the shortest decimal text that reads back as the same double
  kText = 't',     // then the text bytes (as stored; not checked for UTF-8)
  kBlob = 'b',     // then the blob bytes
};

// A stored SQLite value, decoded from its kEngineValue bytes. `bytes` views the input.
struct StoredValue {
  ValueTag tag = ValueTag::kText;
  int64_t integer = 0;
  double real = 0;
  std::string_view bytes;
};
void AppendStoredInteger(int64_t v, std::string* out);
void AppendStoredReal(double v, std::string* out);
void AppendStoredBytes(ValueTag tag, std::string_view v, std::string* out);
// False when `encoded` is not a value the functions above made.
bool DecodeStoredValue(std::string_view encoded, StoredValue* out);
// SQLite's quote() of the value ("5000000000", "2.5", "'it''s'", "X'00FF'"), for messages,
// hashes and comparisons: equal values quote equally, and every storage class differs.
std::string QuoteStoredValue(std::string_view encoded);

class SqliteDialect : public Dialect {
 public:
  std::string_view DisplayName() const override { return "SQLite"; }
  std::string QuoteIdentifier(std::string_view name) const override;
  // 'text' with quotes doubled; a NUL byte throws Error(kData) (sqlite_connection.h).
  std::string QuoteLiteral(std::string_view value) const override;
  // A SQLite source's values go to a SQLite target as they are stored (DmsKind::kEngineValue).
  bool KeepsSourceValues(Engine source_engine) const override {
    return source_engine == Engine::kSqlite;
  }
  std::optional<std::string> EngineValueLiteral(std::string_view encoded) const override {
    StoredValue v;
    if (!DecodeStoredValue(encoded, &v)) return std::nullopt;
    if (v.tag == ValueTag::kText && v.bytes.find('\0') != std::string_view::npos) {
      return std::nullopt;  // SQLite's tokenizer ends a statement at NUL
    }
    return QuoteStoredValue(encoded);
  }
  ColumnDef MapColumn(const ColumnDef& source, Engine source_engine,
                      bool in_key) const override;
  // CREATE TABLE with NOT NULL and the primary key, then one CREATE UNIQUE INDEX per
  // target.unique_indexes. Index names are global in a SQLite file (MySQL's are per table),
  // so an index name that does not start with the table name is prefixed "<table>_".
  std::vector<std::string> CreateTableSql(const TableDef& target) const override;
  // Index names are per database: "<table>_" is prefixed to a name that does not start with
  // the table's name; an unnamed index is "<table>_key<i+1>".
  std::string UniqueIndexName(const TableDef& target, size_t i) const override;
  // The declared type for values of `type` (no same-engine shortcut, no key rule).
  static std::string DeclaredTypeFor(const DmsType& type);

  // Capabilities: columns are dynamically typed; no partitions.
  bool DynamicallyTyped() const override { return true; }
  std::string IsIntegerPredicate(std::string_view quoted_column) const override;
  bool HasPartitions() const override { return false; }

  // Control tables: in "main" (a file has no other schema to create), DMS names upper case.
  std::string ControlSchema(const std::string& configured) const override;
  std::string ControlColumnSql(ControlColumnType type) const override;
  std::string CreateSchemaSql(const std::string& schema) const override;
  // The date functions keep milliseconds only: seconds from strftime, then the six fraction
  // digits of the text ('YYYY-MM-DD HH:MM:SS.ffffff').
  std::string TimestampMicrosSql(const std::string& quoted_column) const override;
  std::string UpsertSql(const std::string& quoted_table,
                        const std::vector<std::string>& quoted_columns,
                        const std::vector<std::string>& values,
                        const std::string& quoted_key) const override;

  // ALTER TABLE: no type changes, and a column of the primary key or a unique index cannot be
  // dropped.
  std::string RetypeColumnSql(const std::string& quoted_table,
                              const ColumnDef& column) const override {
    (void)quoted_table;
    (void)column;
    return {};
  }
  bool DropsKeyColumns() const override { return false; }

  // Schema objects: index names per file, CREATE INDEX ... ON "table" (one schema), foreign
  // keys and defaults only in CREATE TABLE (no ALTER TABLE ADD CONSTRAINT / SET DEFAULT).
  size_t ObjectNameLimit() const override { return 1000; }
  NameScope IndexNameScope() const override { return NameScope::kDatabase; }
  std::string ObjectTableName(const TableDef& table) const override;
  std::optional<std::string> VerbatimIndexTail(const std::string& definition) const override;
  bool ConstraintsInCreateTable() const override { return true; }
};

}  // namespace ferry::sqlite
