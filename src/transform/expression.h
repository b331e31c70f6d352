// DMS add-column expressions: SQLite-syntax expressions over `$column` references to the
// source row and the `$AR_H_*` header columns, evaluated per row by the real SQLite library.
//
// Each table gets one private in-memory database; each expression is compiled once as
// `SELECT (<expression>)` with `$name` as SQLite's named parameters, and costs one
// sqlite3_step per row. The statement is locked down: exactly one statement (the tail after
// it must be empty), one result column, an authorizer that allows only SELECT without table
// access and function calls (no ATTACH, PRAGMA, table or schema reads, recursive CTEs,
// load_extension), a step budget per evaluation, and a size limit for values.
//
// Beyond SQLite's own functions, these DMS functions are registered: operation_indicator(
// delete_value, update_value, insert_value) (by $AR_H_OPERATION; a full load inserts) and
// replaceChars(X, Y, Z) (each character of X found in Y is replaced by the character of Z at
// the same position, or Z's first character when Z is shorter) and hash_sha256(x) (lowercase
// hex SHA-256 of x's bytes).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "catalog/table_def.h"
#include "types/batch.h"

struct sqlite3;
struct sqlite3_stmt;

namespace ferry {

// The DMS header columns an expression may read ($AR_H_OPERATION, ...); nullopt = NULL.
// Timestamps are text 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC), as SQLite's date functions read.
struct HeaderValues {
  std::optional<std::string> operation;            // AR_H_OPERATION: INSERT/UPDATE/DELETE
  std::optional<std::string> timestamp;            // AR_H_TIMESTAMP
  std::optional<std::string> commit_timestamp;     // AR_H_COMMIT_TIMESTAMP
  std::optional<std::string> db_commit_timestamp;  // AR_H_DB_COMMIT_TIMESTAMP
  std::optional<std::string> stream_position;      // AR_H_STREAM_POSITION
  std::optional<std::string> change_seq;           // AR_H_CHANGE_SEQ
  std::optional<std::string> transaction_id;       // AR_H_TRANSACTION_ID
  std::optional<std::string> user;                 // AR_H_USER
};

// The header values during a full load (as the Replicate engine under DMS documents them):
// OPERATION 'INSERT', TIMESTAMP and COMMIT_TIMESTAMP the load's time `now_micros` (microseconds
// since 1970-01-01 UTC), STREAM_POSITION '' (empty string), the others NULL.
HeaderValues FullLoadHeader(int64_t now_micros);
// The same at the current time.
HeaderValues FullLoadHeader();

// "$AR_H_OPERATION", ... every header column an expression may name.
const std::vector<std::string>& HeaderColumnNames();

// One expression result, valid until the next Evaluate of the same expression.
struct ExpressionValue {
  enum class Type { kNull, kInteger, kReal, kText, kBlob };
  Type type = Type::kNull;
  int64_t i = 0;
  double d = 0;
  std::string_view bytes;  // kText (UTF-8) and kBlob
};

// The compiled expressions of one table. Not thread-safe: one per reader/transform thread.
class ExpressionSet {
 public:
  // `source` gives the names and types of the columns `$name` may reference (exact name
  // first, else the one column whose name matches ignoring ASCII case) and of the rows
  // evaluated. `max_value_bytes` caps every string/blob SQLite builds (0 = SQLite's default,
  // 1,000,000,000). Throws Error(kInternal) when SQLite cannot open a memory database.
  explicit ExpressionSet(TableDef source, int64_t max_value_bytes = 0);
  ~ExpressionSet();
  ExpressionSet(const ExpressionSet&) = delete;
  ExpressionSet& operator=(const ExpressionSet&) = delete;

  // Compiles `expression` for the add-column rule `rule_id` that creates target column
  // `column` and returns its index for Evaluate. Throws Error(kInvalidArgument) naming the
  // rule-id, the column and the expression when it does not compile (with SQLite's message),
  // is more than one statement or more than one value, does something other than compute a
  // value (table access, ATTACH, PRAGMA...), uses a parameter other than `$name`, or names
  // a `$column` the table does not have (the message lists the columns that exist).
  int Add(std::string_view expression, const std::string& rule_id, const std::string& column);

  // Evaluates expression `index` on row `row` of `in` (a batch of the source table's columns)
  // with `header`. False when SQLite fails at run time (an integer overflow, a value over the
  // size limit, the step budget exhausted); `error` then says why ("the expression failed:
  // integer overflow"); the caller adds the rule-id and column.
  // A statement that yields no row gives NULL; only the first row is read.
  bool Evaluate(int index, const Batch& in, size_t row, const HeaderValues& header,
                ExpressionValue* value, std::string* error);

  size_t size() const { return compiled_.size(); }

  // What the SQLite callbacks share with this object (defined in expression.cc).
  struct State;

 private:
  struct Binding {
    int parameter;  // SQLite parameter index
    int column;     // source column, or -1 - header id
  };
  struct Compiled {
    sqlite3_stmt* stmt = nullptr;
    std::vector<Binding> bindings;
    std::string rule_id;
    std::string column;
  };

  TableDef source_;
  sqlite3* db_ = nullptr;
  std::vector<Compiled> compiled_;
  std::string scratch_;
  std::unique_ptr<State> state_;
};

}  // namespace ferry
