// Which tables a DDL statement of a binlog QUERY event touches, for the capture
// (my_capture.h): ALTER TABLE (and whether it renames the table), TRUNCATE, DROP TABLE,
// RENAME TABLE, CREATE TABLE. A small tokenizer, not a SQL parser: it reads the statement's
// leading keywords and table names (`quoted`, db.t or t, the QUERY event's default database
// for an unqualified name), skipping comments; everything else is kOther. Input is the
// server's text of the statement: outside input, bounds-checked, with a fuzz target.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ferry::mysql::binlog {

struct DdlStatement {
  enum Kind { kOther, kAlter, kTruncate, kDrop, kRename, kCreate } kind = kOther;
  // kRename: pairs (from, to) one after the other; else the tables named.
  std::vector<std::pair<std::string, std::string>> tables;  // (database, table)
  bool alter_renames = false;                               // ALTER TABLE ... RENAME [TO|AS] x
};

// Never throws; a statement it does not recognise is kOther.
DdlStatement ParseDdlStatement(std::string_view sql, std::string_view default_db);

}  // namespace ferry::mysql::binlog
