// What the engine-neutral code (schema/, cdc/, control/, engine/, validation/) needs to know
// about an engine, in two layers:
//  - EngineTypes: what every endpoint has, SQL or not: its name in messages and the column type
//    each DMS type becomes on it as a target (a file target describes its file columns here);
//  - Dialect (an EngineTypes): how a SQL engine spells SQL and what its SQL can do.
// Core code asks a connector (Connector::types(); SqlConnector::dialect(), or DialectFor(engine)
// where only the engine is known) and never compares engines itself; a new SQL engine is a new
// Dialect, a new non-SQL target a new EngineTypes.
//
// Both are stateless and immutable: one instance per engine, shared by every connector of that
// engine, safe to use from any thread. Nothing here connects to a server.
//
// Dialect's sections: names and literals; tables; capabilities; control tables; ALTER TABLE; schema
// objects (the Ferry extension's indexes, foreign keys and defaults).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "catalog/table_def.h"

namespace ferry {

// Where the names of a kind of object must be unique on an engine.
enum class NameScope {
  kTable,     // per table (MySQL index names)
  kSchema,    // per schema / MySQL database (PostgreSQL index names, MySQL constraint names)
  kDatabase,  // per endpoint (a SQLite file: index names)
};

// The kinds of column the DMS control tables (and awsdms_txn_state) are made of.
enum class ControlColumnType {
  kName,         // a task, server, schema or table name
  kShortText,    // a status word or a position
  kLongText,     // a message or a statement
  kTime,         // a time in UTC, milliseconds
  kPreciseTime,  // a time in UTC, microseconds (awsdms_txn_state)
  kPosition,     // a source position's text (awsdms_txn_state CHECKPOINT)
  kInt,          // a 64-bit count
};

// A column default as the engine-neutral code understands it (Dialect::ParseDefault).
struct ParsedDefault {
  enum Kind {
    kNull,      // NULL (or a NULL cast): no default at all
    kNumber,    // `value` is the number's text
    kString,    // `value` is the string, unescaped
    kBoolean,   // `value` is "true" or "false"
    kNow,       // the current timestamp in any spelling
    kDate,      // the current date
    kTime,      // the current time
    kSequence,  // nextval, AUTO_INCREMENT, identity: never migrated
    kOther,     // anything else: kept verbatim between engines of the same kind only
  } kind = kOther;
  std::string value;
};

// An engine's name and how it types columns as a target: every endpoint has these.
class EngineTypes {
 public:
  virtual ~EngineTypes() = default;

  // The engine's name in messages: "PostgreSQL", "MySQL", "SQLite".
  virtual std::string_view DisplayName() const = 0;

  // The column `source` (read from an endpoint of `source_engine`) becomes on this engine:
  // same name and nullability, `type` unchanged (it describes the values the writer will
  // receive), `native_type` set to this engine's DDL type. Where source and target engines
  // are the same and source.portable_native, the native type is kept (PostgreSQL uuid, jsonb,
  // arrays, timestamptz...). Never picks a type that cannot hold every value of `type`
  // (UINT8 -> numeric(20) on PostgreSQL). `in_key` says the column is part of the primary key
  // or a unique index (MySQL cannot index unbounded text, for one).
  virtual ColumnDef MapColumn(const ColumnDef& source, Engine source_engine, bool in_key) const = 0;
  // True when values read from `source_engine` must reach this engine as they are stored, not
  // through a DMS type (SQLite -> SQLite: a value keeps its storage class whatever the declared
  // type). The planner then types the columns of a table copied unchanged (no transform)
  // DmsKind::kEngineValue on both sides, and keeps their declared types.
  virtual bool KeepsSourceValues(Engine source_engine) const {
    (void)source_engine;
    return false;
  }
  // The same per column: true when `source_column`, read from `source_engine`, must reach this
  // engine as stored (MySQL -> MySQL: DATE, DATETIME and TIMESTAMP, which hold zero dates no
  // calendar has). Default: KeepsSourceValues for every column.
  virtual bool KeepsSourceValue(Engine source_engine, const ColumnDef& source_column) const {
    (void)source_column;
    return KeepsSourceValues(source_engine);
  }
};

// The SQL of an engine.
class Dialect : public EngineTypes {
 public:
  // --- Names and literals -----------------------------------------------------------------

  virtual std::string QuoteIdentifier(std::string_view name) const = 0;
  // `value` as a string literal of this engine, for SQL text that Ferry's own sessions run
  // (the one escaper of the engine; every caller that writes a string into SQL uses it). The
  // literal reads back as exactly `value`. Throws Error(kData) when the engine's text cannot
  // hold the value (PostgreSQL and SQLite: a NUL byte). Each engine documents its form.
  virtual std::string QuoteLiteral(std::string_view value) const = 0;

  // --- Tables -----------------------------------------------------------------------------

  // The statements that create `target` (table, then unique indexes), in order.
  virtual std::vector<std::string> CreateTableSql(const TableDef& target) const = 0;
  // The name CreateTableSql gives `target.unique_indexes[i]` (SQLite prefixes "<table>_":
  // its index names are per database). Default: the index's own name.
  virtual std::string UniqueIndexName(const TableDef& target, size_t i) const {
    return target.unique_indexes[i].name;
  }
  // The SQL literal of a DmsKind::kEngineValue this engine's reader made (its cell bytes), or
  // nullopt when the engine makes none.
  virtual std::optional<std::string> EngineValueLiteral(std::string_view encoded) const {
    (void)encoded;
    return std::nullopt;
  }

  // --- Capabilities -----------------------------------------------------------------------

  // DDL runs inside a transaction and rolls back with it (PostgreSQL, SQLite). MySQL commits
  // each ALTER at once: false.
  virtual bool TransactionalDdl() const { return true; }
  // A column may hold values of any storage class whatever its declared type (SQLite).
  virtual bool DynamicallyTyped() const { return false; }
  // A predicate true where `quoted_column` holds an integer, for engines where a column can
  // hold other values too (DynamicallyTyped); "" where an integer column holds integers only.
  virtual std::string IsIntegerPredicate(std::string_view quoted_column) const {
    (void)quoted_column;
    return {};
  }
  // As a source, a table can be read in ranges of physical pages (PostgreSQL: ctid ranges);
  // Connector::MeasurePages gives the page count. Else automatic segments split the key.
  virtual bool ScansPageRanges() const { return false; }
  // Where ScansPageRanges: the ScanOptions::where predicate that reads the rows on pages
  // [from_page, to_page); a negative bound leaves that end open (both open: ""). Elsewhere
  // throws Error(kInternal).
  virtual std::string PageRangePredicate(int64_t from_page, int64_t to_page) const;
  // As a source, automatic segments by key ranges pay off by default (MySQL: one server thread
  // per reader); elsewhere they are used only when asked for.
  virtual bool AutoSegmentsByDefault() const { return false; }
  // Tables can be partitioned (CatalogReader::ListPartitions lists them). SQLite: false.
  virtual bool HasPartitions() const { return true; }
  // Partition names compare case-insensitively (MySQL); else exactly.
  virtual bool PartitionNamesFoldCase() const { return false; }
  // A partition is a table of its own, in a schema (PostgreSQL leaves): it is named
  // "schema.name" where its schema differs from the table's and read from that schema.
  virtual bool PartitionsAreTables() const { return false; }

  // --- Control tables (awsdms_* on a target) ----------------------------------------------

  // The schema the control tables go to for ControlTablesSettings.ControlSchema `configured`
  // ("" = this engine's default: PostgreSQL "public", MySQL "awsdms_control"; SQLite always
  // "main").
  virtual std::string ControlSchema(const std::string& configured) const = 0;
  // A DMS control column name (upper case, as DMS spells it) as created on this engine,
  // unquoted: PostgreSQL lower case (what an unquoted DMS name becomes there), else as given.
  virtual std::string ControlColumnName(std::string_view upper) const { return std::string(upper); }
  // The DDL type of a control column.
  virtual std::string ControlColumnSql(ControlColumnType type) const = 0;
  // The statement that creates `schema` when missing (UTF-8 text), or "" when the engine has
  // nothing to create (SQLite).
  virtual std::string CreateSchemaSql(const std::string& schema) const = 0;
  // An expression giving the timestamp column `quoted_column` (written as
  // 'YYYY-MM-DD HH:MM:SS.ffffff' UTC) as microseconds since 1970 UTC, a 64-bit integer.
  virtual std::string TimestampMicrosSql(const std::string& quoted_column) const = 0;
  // Inserts the row `values` (literals, in the order of `quoted_columns`) into the table
  // `quoted_table`, replacing a row with the same primary key `quoted_key` (its first column
  // must be part of `quoted_columns`).
  virtual std::string UpsertSql(const std::string& quoted_table,
                                const std::vector<std::string>& quoted_columns,
                                const std::vector<std::string>& values,
                                const std::string& quoted_key) const = 0;

  // --- ALTER TABLE (CDC: source table changes followed on the target) ----------------------

  // Adds `column` (native_type set, nullable) to `quoted_table`.
  virtual std::string AddColumnSql(const std::string& quoted_table, const ColumnDef& column) const;
  // Changes the type (and nullability) of `column` to its native_type, converting the values;
  // "" when the engine cannot change a column's type (SQLite).
  virtual std::string RetypeColumnSql(const std::string& quoted_table,
                                      const ColumnDef& column) const = 0;
  // A column in the primary key or a unique index can be dropped (SQLite: false).
  virtual bool DropsKeyColumns() const { return true; }

  // --- Schema objects (Ferry extension: secondary indexes, foreign keys, defaults) ---------
  // As a source:

  // Reads a column default as this engine's catalog prints it (ColumnDef::default_expression):
  // its own string literal syntax (MySQL backslash escapes, PostgreSQL E'' strings and
  // '...'::type casts). Never throws; what it does not understand is kOther.
  virtual ParsedDefault ParseDefault(std::string_view expression) const;

  // As a target:

  // The expression after DEFAULT for the current timestamp, date or time.
  virtual std::string CurrentTimeDefaultSql(ParsedDefault::Kind kind) const;
  // `column` (its native_type on this engine) is a real boolean, whose defaults are spelled
  // true / false (PostgreSQL boolean); else booleans are 1 / 0 (or text in a text column).
  virtual bool IsBooleanColumn(const ColumnDef& column) const {
    (void)column;
    return false;
  }
  // An expression default kept verbatim from a source of this same engine: `original` as the
  // catalog printed it, `body` with any outer parentheses removed. Default "(body)" (MySQL and
  // SQLite need parentheses around what is not a literal).
  virtual std::string VerbatimDefaultSql(const std::string& original,
                                         const std::string& body) const {
    (void)original;
    return "(" + body + ")";
  }
  // Longest object name in bytes (PostgreSQL 63, MySQL 64).
  virtual size_t ObjectNameLimit() const = 0;
  // Where index names must be unique. Where that is not per table, table names share it.
  virtual NameScope IndexNameScope() const = 0;
  // Where constraint names must be unique.
  virtual NameScope ConstraintNameScope() const { return NameScope::kTable; }
  // The name of the index that backs `table`'s primary key when the engine names it in the
  // index namespace (PostgreSQL "<table>_pkey"); nullopt otherwise.
  virtual std::optional<std::string> PrimaryKeyIndexName(const TableDef& table) const {
    (void)table;
    return std::nullopt;
  }
  // `table` quoted as CREATE INDEX and REFERENCES name it (SQLite: the bare table name, its
  // file has one schema; else schema.table).
  virtual std::string ObjectTableName(const TableDef& table) const;
  // CREATE INDEX takes IF NOT EXISTS (MySQL: no).
  virtual bool CreateIndexIfNotExists() const { return true; }
  // The part after "ON <table> " of a non-plain index definition this engine's catalog printed
  // (SecondaryIndexDef::definition), to recreate it verbatim on this same
  // engine: "" when not understood; nullopt when the engine does not take definitions verbatim
  // (MySQL).
  virtual std::optional<std::string> VerbatimIndexTail(const std::string& definition) const;
  // An index method with its own CREATE <method> INDEX form (MySQL FULLTEXT, SPATIAL).
  virtual bool NamedIndexMethod(std::string_view method) const {
    (void)method;
    return false;
  }
  // An index part can be a prefix of a column (MySQL col(10)); a source index says so with
  // IndexColumn::prefix_length.
  virtual bool IndexPrefixes() const { return false; }
  // `column` (its native_type on this engine) can be indexed whole (MySQL: not unbounded text
  // or blobs, nor varchar beyond InnoDB's key length); a foreign key needs that.
  virtual bool IndexableWhole(const ColumnDef& column) const {
    (void)column;
    return true;
  }
  // Why `fk` cannot be created on this engine, or "" (MySQL: ON ... SET DEFAULT).
  virtual std::string ForeignKeyRefusal(const ForeignKeyDef& fk) const {
    (void)fk;
    return {};
  }
  // Constraints can be DEFERRABLE (MySQL: no).
  virtual bool DeferrableConstraints() const { return true; }
  // Foreign keys and defaults cannot be added to an existing table: they go into CREATE TABLE
  // (SQLite), where a foreign key can only reference a table of the same schema.
  virtual bool ConstraintsInCreateTable() const { return false; }

 protected:
  // How an engine's catalog spells column defaults, for ParseDefaultExpression.
  struct DefaultSyntax {
    bool backslash_escapes = false;  // '...' strings take backslash escapes (MySQL)
    bool escape_strings = false;     // E'...' strings take backslash escapes (PostgreSQL)
    bool casts = false;              // '...'::type casts (PostgreSQL)
  };
  // The parser every ParseDefault shares: NULL, numbers, strings, booleans, the current
  // timestamp/date/time in the spellings of every engine, sequences.
  static ParsedDefault ParseDefaultExpression(std::string_view expression,
                                              const DefaultSyntax& syntax);
  // The part of an index definition "CREATE INDEX i ON t ..." from the first `from` after
  // " on " (case-insensitive), trimmed; "" when either is missing.
  static std::string IndexDefinitionTail(const std::string& definition, std::string_view from);
};

// The dialect of `engine` (the same object its connectors' dialect() return).
const Dialect& DialectFor(Engine engine);

}  // namespace ferry
