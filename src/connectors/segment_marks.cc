#include "connectors/segment_marks.h"

#include <fmt/format.h>

#include <stdexcept>

namespace ferry {

SegmentMarkSql::SegmentMarkSql(const Dialect& dialect, const std::string& control_schema)
    : dialect_(&dialect), schema_(dialect.ControlSchema(control_schema)) {
  table_ = dialect.QuoteIdentifier(schema_) + "." + dialect.QuoteIdentifier(kSegmentMarksTable);
}

std::string SegmentMarkSql::Col(const char* upper) const {
  return dialect_->QuoteIdentifier(dialect_->ControlColumnName(upper));
}

std::vector<std::string> SegmentMarkSql::Create() const {
  std::vector<std::string> out;
  const std::string create_schema = dialect_->CreateSchemaSql(schema_);
  if (!create_schema.empty()) out.push_back(create_schema);
  const std::string name = dialect_->ControlColumnSql(ControlColumnType::kName);
  const std::string count = dialect_->ControlColumnSql(ControlColumnType::kInt);
  out.push_back(
      fmt::format("CREATE TABLE IF NOT EXISTS {} ({} {} NOT NULL, {} {} NOT NULL, {} {} NOT NULL, "
                  "{} {} NOT NULL, {} {} NOT NULL, {} {} NOT NULL, PRIMARY KEY ({}, {}, {}, {}))",
                  table_, Col("TASK_NAME"), name, Col("TABLE_OWNER"), name, Col("TABLE_NAME"), name,
                  Col("SEGMENT"), count, Col("SEGMENTS"), count, Col("LOADED_ROWS"), count,
                  Col("TASK_NAME"), Col("TABLE_OWNER"), Col("TABLE_NAME"), Col("SEGMENT")));
  return out;
}

std::string SegmentMarkSql::Insert(const SegmentMark& mark) const {
  return fmt::format("INSERT INTO {} ({}, {}, {}, {}, {}, {}) VALUES ({}, {}, {}, {}, {}, {})",
                     table_, Col("TASK_NAME"), Col("TABLE_OWNER"), Col("TABLE_NAME"),
                     Col("SEGMENT"), Col("SEGMENTS"), Col("LOADED_ROWS"),
                     dialect_->QuoteLiteral(mark.task), dialect_->QuoteLiteral(mark.schema),
                     dialect_->QuoteLiteral(mark.table), mark.segment, mark.segments, mark.rows);
}

std::string SegmentMarkSql::Select(const std::string& task, const std::string& schema,
                                   const std::string& name) const {
  return fmt::format("SELECT {}, {}, {} FROM {} WHERE {} = {} AND {} = {} AND {} = {} ORDER BY {}",
                     Col("SEGMENT"), Col("SEGMENTS"), Col("LOADED_ROWS"), table_, Col("TASK_NAME"),
                     dialect_->QuoteLiteral(task), Col("TABLE_OWNER"),
                     dialect_->QuoteLiteral(schema), Col("TABLE_NAME"),
                     dialect_->QuoteLiteral(name), Col("SEGMENT"));
}

std::string SegmentMarkSql::Delete(const std::string& task, const std::string& schema,
                                   const std::string& name) const {
  std::string sql = fmt::format("DELETE FROM {} WHERE {} = {}", table_, Col("TASK_NAME"),
                                dialect_->QuoteLiteral(task));
  if (!name.empty()) {
    sql +=
        fmt::format(" AND {} = {} AND {} = {}", Col("TABLE_OWNER"), dialect_->QuoteLiteral(schema),
                    Col("TABLE_NAME"), dialect_->QuoteLiteral(name));
  }
  return sql;
}

void SqlSegmentMarks::Locate(const std::string& control_schema, bool create) {
  if (!sql_ || sql_->schema() != dialect_.ControlSchema(control_schema)) {
    sql_.emplace(dialect_, control_schema);
    exists_ = false;
  }
  if (!create || exists_) return;
  for (const std::string& sql : sql_->Create()) {
    session_.execute(sql, fmt::format("creating the segment marks table {}", sql_->table()));
  }
  exists_ = true;
}

const SegmentMarkSql& SqlSegmentMarks::Sql() const {
  if (!sql_) throw Error(ErrorKind::kInternal, "segment marks used before Locate");
  return *sql_;
}

std::vector<SegmentMark> SqlSegmentMarks::Read(const std::string& task, const std::string& schema,
                                               const std::string& table) {
  const SegmentMarkSql& sql = Sql();
  if (!exists_ && !session_.exists(sql.schema(), kSegmentMarksTable)) return {};
  exists_ = true;
  const std::string what =
      fmt::format("reading the segment marks of table {}.{} from {}", schema, table, sql.table());
  std::vector<SegmentMark> out;
  for (const auto& row : session_.query(sql.Select(task, schema, table), what)) {
    SegmentMark m{task, schema, table};
    try {
      if (row.size() != 3 || !row[0] || !row[1] || !row[2]) throw std::invalid_argument("NULL");
      m.segment = std::stoull(*row[0]);
      m.segments = std::stoull(*row[1]);
      m.rows = std::stoll(*row[2]);
    } catch (const std::exception&) {
      throw Error(ErrorKind::kData, fmt::format("{}: a row that is not Ferry's", what));
    }
    out.push_back(std::move(m));
  }
  return out;
}

void SqlSegmentMarks::Clear(const std::string& task, const std::string& schema,
                            const std::string& table) {
  const SegmentMarkSql& sql = Sql();
  if (!exists_ && !session_.exists(sql.schema(), kSegmentMarksTable)) return;
  exists_ = true;
  session_.execute(
      sql.Delete(task, schema, table),
      table.empty() ? fmt::format("deleting task '{}''s segment marks from {}", task, sql.table())
                    : fmt::format("deleting the segment marks of table {}.{} from {}", schema,
                                  table, sql.table()));
}

std::string SqlSegmentMarks::InsertSql(const SegmentMark& mark) const { return Sql().Insert(mark); }

}  // namespace ferry
