// Segment marks on a SQL target (connector.h SegmentMarks): the table ferry_segment_marks in
// the control schema, next to awsdms_txn_state, one row per segment a task committed:
//
//   TASK_NAME    the task's checkpoint key (name and id)    (primary key: these four)
//   TABLE_OWNER  the target table's schema
//   TABLE_NAME   the target table's name
//   SEGMENT      the segment's index in the table's plan
//   SEGMENTS     how many segments the plan has
//   LOADED_ROWS  rows the segment loaded
//
// Column names as the other control tables spell them (lower case on PostgreSQL, upper case
// elsewhere), types and quoting from the target's Dialect. A writer inserts a segment's row in
// the transaction that commits the segment's rows (SqlSegmentMarks::InsertSql); reading and
// deleting go through the writer's connection outside a load.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "connectors/connector.h"
#include "connectors/dialect.h"

namespace ferry {

inline constexpr const char* kSegmentMarksTable = "ferry_segment_marks";

class SegmentMarkSql {
 public:
  // `control_schema` as ControlTablesSettings.ControlSchema ("" = the engine's default).
  SegmentMarkSql(const Dialect& dialect, const std::string& control_schema);

  // The control schema as resolved, and the quoted schema-qualified table.
  const std::string& schema() const { return schema_; }
  const std::string& table() const { return table_; }
  // Statements that create the schema (where the engine has one to create) and the table when
  // missing.
  std::vector<std::string> Create() const;
  // Inserts `mark`'s row (a plain INSERT: a segment is marked once per plan, and a second mark
  // would say the engine loaded it twice).
  std::string Insert(const SegmentMark& mark) const;
  // SELECT SEGMENT, SEGMENTS, LOADED_ROWS of `task`'s marks of schema.name, by SEGMENT.
  std::string Select(const std::string& task, const std::string& schema,
                     const std::string& name) const;
  // Deletes `task`'s marks of schema.name, or all of `task`'s when `name` is empty.
  std::string Delete(const std::string& task, const std::string& schema,
                     const std::string& name) const;

 private:
  std::string Col(const char* upper) const;
  const Dialect* dialect_;
  std::string schema_;
  std::string table_;
};

// SegmentMarks through a SQL writer's own connection. The writer supplies how it runs a
// statement outside a load (committed at once), a query, and whether a table exists; it
// inserts marks itself inside a segment's transaction with InsertSql.
class SqlSegmentMarks : public SegmentMarks {
 public:
  using Rows = std::vector<std::vector<std::optional<std::string>>>;
  struct Session {
    std::function<void(const std::string& sql, const std::string& what)> execute;
    std::function<Rows(const std::string& sql, const std::string& what)> query;
    std::function<bool(const std::string& schema, const std::string& table)> exists;
  };
  SqlSegmentMarks(const Dialect& dialect, Session session)
      : dialect_(dialect), session_(std::move(session)) {}

  void Locate(const std::string& control_schema, bool create) override;
  std::vector<SegmentMark> Read(const std::string& task, const std::string& schema,
                                const std::string& table) override;
  void Clear(const std::string& task, const std::string& schema, const std::string& table) override;

  // The statement that writes `mark`. Throws Error(kInternal) before Locate.
  std::string InsertSql(const SegmentMark& mark) const;

 private:
  const SegmentMarkSql& Sql() const;
  const Dialect& dialect_;
  Session session_;
  std::optional<SegmentMarkSql> sql_;
  bool exists_ = false;  // the table was found or created (then it stays)
};

}  // namespace ferry
