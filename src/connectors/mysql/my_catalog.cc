#include "connectors/mysql/my_catalog.h"

#include <fmt/format.h>

#include <charconv>
#include <map>

#include "connectors/mysql/my_partitions.h"
#include "connectors/mysql/my_types.h"

namespace ferry::mysql {

namespace {

int64_t ToInt(const std::optional<std::string>& s, int64_t fallback = -1) {
  if (!s) return fallback;
  int64_t v = fallback;
  std::from_chars(s->data(), s->data() + s->size(), v);
  return v;
}

}  // namespace

MyCatalogReader::MyCatalogReader(const EndpointUri& uri) : conn_(uri) {}

std::string DescribeServerVersion(const std::string& version) {
  const std::string number = version.substr(0, version.find('-'));
  if (version.find("MariaDB") != std::string::npos) return "MariaDB " + number;
  return "MySQL " + number;
}

std::string MyCatalogReader::ServerVersion() {
  auto rows = conn_.Query("SELECT VERSION()", "reading the server version");
  return rows.empty() || !rows[0][0] ? "MySQL" : DescribeServerVersion(*rows[0][0]);
}

std::vector<TableDef> MyCatalogReader::ListTables(const std::string& schema) {
  return Load(schema.empty() ? conn_.uri().database : schema, {}, false);
}

std::vector<TableDef> MyCatalogReader::ListViews(const std::string& schema) {
  return Load(schema.empty() ? conn_.uri().database : schema, {}, true);
}

TableDef MyCatalogReader::GetTable(const std::string& schema, const std::string& name) {
  const std::string db = schema.empty() ? conn_.uri().database : schema;
  auto tables = Load(db, name, false);
  if (tables.empty()) {
    throw Error(ErrorKind::kNotFound,
                fmt::format("MySQL table {}.{} not found on {}", db, name, conn_.Where()));
  }
  return std::move(tables.front());
}

std::vector<TableDef> MyCatalogReader::Load(const std::string& db, const std::string& only,
                                            bool views) {
  const std::string what = fmt::format("reading the catalog of MySQL database '{}'", db);
  const std::string schema_lit = QuoteLiteral(db);
  const std::string table_filter = only.empty() ? "" : " AND TABLE_NAME = " + QuoteLiteral(only);

  auto exists = conn_.Query(
      "SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = " + schema_lit, what);
  if (exists.empty()) {
    throw Error(ErrorKind::kNotFound,
                fmt::format("MySQL database '{}' not found on {}", db, conn_.Where()));
  }

  std::vector<TableDef> tables;
  std::map<std::string, size_t> by_name;
  for (auto& r :
       conn_.Query(fmt::format("SELECT TABLE_NAME, TABLE_ROWS, DATA_LENGTH + "
                               "INDEX_LENGTH FROM information_schema.TABLES WHERE "
                               "TABLE_SCHEMA = {} AND TABLE_TYPE = {}{} ORDER BY "
                               "TABLE_NAME",
                               schema_lit, views ? "'VIEW'" : "'BASE TABLE'", table_filter),
                   what)) {
    TableDef t;
    t.engine = Engine::kMysql;
    t.schema = db;
    t.name = r[0].value_or("");
    t.estimated_rows = ToInt(r[1]);
    t.estimated_bytes = ToInt(r[2]);
    t.is_view = views;
    by_name[t.name] = tables.size();
    tables.push_back(std::move(t));
  }
  if (tables.empty()) return tables;

  // MariaDB's json is longtext plus a CHECK (json_valid(`col`)); that check is how a json
  // column is told apart from a plain longtext.
  std::map<std::pair<std::string, std::string>, bool> json_columns;
  for (auto& r :
       conn_.Query(fmt::format("SELECT TABLE_NAME, CHECK_CLAUSE FROM "
                               "information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = "
                               "{}{}",
                               schema_lit, table_filter),
                   what)) {
    const std::string clause = r[1].value_or("");
    if (clause.starts_with("json_valid(`") && clause.ends_with("`)")) {
      std::string col = clause.substr(12, clause.size() - 14);
      // Backticks inside the name are doubled in the clause.
      std::string unq;
      for (size_t i = 0; i < col.size(); ++i) {
        unq.push_back(col[i]);
        if (col[i] == '`' && i + 1 < col.size() && col[i + 1] == '`') ++i;
      }
      json_columns[{r[0].value_or(""), unq}] = true;
    }
  }

  // Ferry extension: MariaDB prints COLUMN_DEFAULT as SQL (string literals quoted, "NULL" for
  // an explicit DEFAULT NULL); MySQL prints a literal's bare value and an expression as
  // written, marking it DEFAULT_GENERATED in EXTRA.
  auto version = conn_.Query("SELECT VERSION()", what);
  const bool mariadb = !version.empty() && version[0][0] &&
                       version[0][0]->find("MariaDB") != std::string::npos;
  for (auto& r :
       conn_.Query(fmt::format("SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, "
                               "COLUMN_DEFAULT, EXTRA FROM information_schema.COLUMNS WHERE "
                               "TABLE_SCHEMA = {}{} ORDER BY TABLE_NAME, ORDINAL_POSITION",
                               schema_lit, table_filter),
                   what)) {
    auto it = by_name.find(r[0].value_or(""));
    if (it == by_name.end()) continue;  // a view (or a table when listing views)
    ColumnDef c;
    c.name = r[1].value_or("");
    c.native_type = r[2].value_or("");
    c.nullable = r[3].value_or("YES") == "YES";
    if (json_columns.count({r[0].value_or(""), c.name}) &&
        ParseNativeType(c.native_type).base == MyBase::kLongtext) {
      c.native_type = "json";
    }
    c.type = DmsTypeForNative(ParseNativeType(c.native_type));
    c.portable_native = true;  // MySQL has no user-defined column types
    const std::string extra = r[5].value_or("");
    if (extra.find("auto_increment") != std::string::npos) {
      c.default_expression = "AUTO_INCREMENT";
    } else if (r[4] && extra.find("GENERATED") == std::string::npos) {
      c.default_expression = *r[4];
    } else if (r[4] && extra.find("DEFAULT_GENERATED") != std::string::npos) {
      c.default_expression = *r[4];
    }
    if (!mariadb && r[4] && extra.find("DEFAULT_GENERATED") == std::string::npos &&
        c.default_expression != "AUTO_INCREMENT") {
      // MySQL 8 literal: numbers and bit/boolean values stay bare, anything else is quoted.
      const bool bare = !IsText(c.type.kind) && !IsBinary(c.type.kind) &&
                        c.type.kind != DmsKind::kDate && c.type.kind != DmsKind::kTime &&
                        c.type.kind != DmsKind::kDatetime;
      if (!bare) {
        c.default_expression = QuoteLiteral(*r[4]);
      }
    }
    if (c.default_expression == "NULL") c.default_expression.clear();
    tables[it->second].columns.push_back(std::move(c));
  }

  // Unique indexes, the primary key among them. An index with a prefix part (SUB_PART) is
  // skipped: a unique prefix is a rule about the first N characters that a full-column index
  // on the target would not reproduce, and it cannot identify rows for us either.
  struct Index {
    std::vector<std::string> columns;
    bool prefix = false;
  };
  std::map<std::pair<std::string, std::string>, Index> indexes;
  std::vector<std::pair<std::string, std::string>> order;
  for (auto& r : conn_.Query(
           fmt::format("SELECT TABLE_NAME, INDEX_NAME, COLUMN_NAME, SUB_PART FROM "
                       "information_schema.STATISTICS WHERE TABLE_SCHEMA = {} AND NON_UNIQUE = "
                       "0{} ORDER BY TABLE_NAME, INDEX_NAME = 'PRIMARY' DESC, INDEX_NAME, "
                       "SEQ_IN_INDEX",
                       schema_lit, table_filter),
           what)) {
    std::pair<std::string, std::string> key{r[0].value_or(""), r[1].value_or("")};
    auto [it, inserted] = indexes.try_emplace(key);
    if (inserted) order.push_back(key);
    it->second.columns.push_back(r[2].value_or(""));
    if (r[3]) it->second.prefix = true;
  }
  for (const auto& key : order) {
    auto t = by_name.find(key.first);
    if (t == by_name.end()) continue;
    const Index& idx = indexes[key];
    if (idx.prefix) continue;
    TableDef& table = tables[t->second];
    if (key.second == "PRIMARY") {
      table.primary_key = idx.columns;
    } else {
      table.unique_indexes.push_back(IndexDef{key.second, idx.columns});
    }
  }

  // Ferry extension: every index but the primary key, with prefix parts and DESC
  // (COLLATION 'D'); a part without a column is a functional index part (MySQL 8).
  std::map<std::pair<std::string, std::string>, size_t> secondary;  // -> index in table
  for (auto& r : conn_.Query(
           fmt::format("SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, COLUMN_NAME, SUB_PART, "
                       "INDEX_TYPE, COLLATION FROM information_schema.STATISTICS WHERE "
                       "TABLE_SCHEMA = {} AND INDEX_NAME <> 'PRIMARY'{} ORDER BY TABLE_NAME, "
                       "INDEX_NAME, SEQ_IN_INDEX",
                       schema_lit, table_filter),
           what)) {
    auto t = by_name.find(r[0].value_or(""));
    if (t == by_name.end()) continue;
    TableDef& table = tables[t->second];
    std::pair<std::string, std::string> key{r[0].value_or(""), r[1].value_or("")};
    auto [it, inserted] = secondary.try_emplace(key, table.secondary_indexes.size());
    if (inserted) {
      SecondaryIndexDef def;
      def.name = key.second;
      def.unique = r[2].value_or("1") == "0";
      def.method = r[5].value_or("BTREE");
      def.plain = def.method == "BTREE" || def.method == "HASH";
      table.secondary_indexes.push_back(std::move(def));
    }
    SecondaryIndexDef& def = table.secondary_indexes[it->second];
    IndexColumn part;
    part.name = r[3].value_or("");
    part.prefix_length = static_cast<int>(ToInt(r[4], 0));
    part.descending = r[6].value_or("A") == "D";
    if (part.name.empty()) def.plain = false;
    def.columns.push_back(std::move(part));
  }

  // Ferry extension: foreign keys, one row per column pair.
  std::map<std::pair<std::string, std::string>, size_t> fk_at;
  for (auto& r : conn_.Query(
           "SELECT k.TABLE_NAME, k.CONSTRAINT_NAME, k.REFERENCED_TABLE_SCHEMA, "
           "k.REFERENCED_TABLE_NAME, rc.DELETE_RULE, rc.UPDATE_RULE, k.COLUMN_NAME, "
           "k.REFERENCED_COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE k "
           "JOIN information_schema.REFERENTIAL_CONSTRAINTS rc ON rc.CONSTRAINT_SCHEMA = "
           "k.CONSTRAINT_SCHEMA AND rc.CONSTRAINT_NAME = k.CONSTRAINT_NAME AND rc.TABLE_NAME = "
           "k.TABLE_NAME WHERE k.TABLE_SCHEMA = " +
               schema_lit + " AND k.REFERENCED_TABLE_NAME IS NOT NULL" +
               (only.empty() ? "" : " AND k.TABLE_NAME = " + QuoteLiteral(only)) +
               " ORDER BY k.TABLE_NAME, k.CONSTRAINT_NAME, k.ORDINAL_POSITION",
           what)) {
    auto t = by_name.find(r[0].value_or(""));
    if (t == by_name.end()) continue;
    TableDef& table = tables[t->second];
    auto action = [](const std::string& rule) {
      if (rule == "CASCADE") return ForeignKeyAction::kCascade;
      if (rule == "SET NULL") return ForeignKeyAction::kSetNull;
      if (rule == "SET DEFAULT") return ForeignKeyAction::kSetDefault;
      if (rule == "RESTRICT") return ForeignKeyAction::kRestrict;
      return ForeignKeyAction::kNoAction;
    };
    auto [it, inserted] =
        fk_at.try_emplace({r[0].value_or(""), r[1].value_or("")}, table.foreign_keys.size());
    if (inserted) {
      ForeignKeyDef fk;
      fk.name = r[1].value_or("");
      fk.ref_schema = r[2].value_or(db);
      fk.ref_table = r[3].value_or("");
      fk.on_delete = action(r[4].value_or(""));
      fk.on_update = action(r[5].value_or(""));
      table.foreign_keys.push_back(std::move(fk));
    }
    table.foreign_keys[it->second].columns.push_back(r[6].value_or(""));
    table.foreign_keys[it->second].ref_columns.push_back(r[7].value_or(""));
  }
  return tables;
}

std::vector<PartitionInfo> MyCatalogReader::ListPartitions(const TableDef& table,
                                                           bool subpartitions) {
  return ListMyPartitions(conn_, table, subpartitions);
}

}  // namespace ferry::mysql
