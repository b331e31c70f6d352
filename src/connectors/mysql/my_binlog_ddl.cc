#include "connectors/mysql/my_binlog_ddl.h"

#include <optional>

#include "common/text.h"

namespace ferry::mysql::binlog {

namespace {

class DdlTokens {
 public:
  DdlTokens(std::string_view sql, std::string default_db)
      : sql_(sql), default_db_(std::move(default_db)) {}

  // The next word upper-cased, or an identifier as written ("" at the end).
  std::optional<std::string> Next(bool* quoted) {
    Skip();
    *quoted = false;
    if (pos_ >= sql_.size()) return std::nullopt;
    const char c = sql_[pos_];
    if (c == '`') {
      std::string out;
      ++pos_;
      while (pos_ < sql_.size()) {
        if (sql_[pos_] == '`') {
          if (pos_ + 1 < sql_.size() && sql_[pos_ + 1] == '`') {
            out += '`';
            pos_ += 2;
            continue;
          }
          ++pos_;
          break;
        }
        out += sql_[pos_++];
      }
      *quoted = true;
      return out;
    }
    if (IsWordChar(c)) {
      const size_t start = pos_;
      while (pos_ < sql_.size() && IsWordChar(sql_[pos_])) ++pos_;
      return std::string(sql_.substr(start, pos_ - start));
    }
    ++pos_;
    return std::string(1, c);
  }
  std::optional<std::string> Word() {
    bool quoted = false;
    std::optional<std::string> w = Next(&quoted);
    if (w && !quoted) w = AsciiUpper(*w);
    return w;
  }
  // A table name: `db`.`t`, db.t or t.
  std::optional<std::pair<std::string, std::string>> Table() {
    bool quoted = false;
    std::optional<std::string> first = Next(&quoted);
    if (!first || first->empty() || (!quoted && !IsWordChar((*first)[0]))) return std::nullopt;
    const size_t save = pos_;
    Skip();
    if (pos_ < sql_.size() && sql_[pos_] == '.') {
      ++pos_;
      std::optional<std::string> second = Next(&quoted);
      if (!second || second->empty() || (!quoted && !IsWordChar((*second)[0]))) {
        return std::nullopt;
      }
      return std::make_pair(*first, *second);
    }
    pos_ = save;
    return std::make_pair(default_db_, *first);
  }
  bool Peek(std::string_view word) {
    const size_t save = pos_;
    std::optional<std::string> w = Word();
    if (w && *w == word) return true;
    pos_ = save;
    return false;
  }

 private:
  static bool IsWordChar(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '$' || static_cast<unsigned char>(c) >= 0x80;
  }
  void Skip() {
    while (pos_ < sql_.size()) {
      const char c = sql_[pos_];
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        ++pos_;
      } else if (sql_.substr(pos_, 3) == "/*!") {
        pos_ += 3;  // executable comment: its text is part of the statement
        while (pos_ < sql_.size() && sql_[pos_] >= '0' && sql_[pos_] <= '9') ++pos_;
      } else if (sql_.substr(pos_, 2) == "/*") {
        const size_t end = sql_.find("*/", pos_ + 2);
        pos_ = end == std::string_view::npos ? sql_.size() : end + 2;
      } else if (sql_.substr(pos_, 2) == "*/") {
        pos_ += 2;
      } else if (c == '#' || sql_.substr(pos_, 3) == "-- ") {
        const size_t end = sql_.find('\n', pos_);
        pos_ = end == std::string_view::npos ? sql_.size() : end + 1;
      } else {
        break;
      }
    }
  }

  std::string_view sql_;
  std::string default_db_;
  size_t pos_ = 0;
};

}  // namespace

DdlStatement ParseDdlStatement(std::string_view sql, std::string_view default_db) {
  DdlStatement out;
  DdlTokens t(sql, std::string(default_db));
  std::optional<std::string> w = t.Word();
  if (!w) return out;
  if (*w == "ALTER") {
    t.Peek("ONLINE");
    t.Peek("IGNORE");
    if (!t.Peek("TABLE")) return out;
    t.Peek("IF") && t.Peek("EXISTS");
    auto name = t.Table();
    if (!name) return out;
    out.kind = DdlStatement::kAlter;
    out.tables.push_back(*name);
    // ALTER TABLE t RENAME [TO|AS] u (not RENAME COLUMN / INDEX / KEY).
    while (std::optional<std::string> x = t.Word()) {
      if (*x != "RENAME") continue;
      if (t.Peek("COLUMN") || t.Peek("INDEX") || t.Peek("KEY")) continue;
      out.alter_renames = true;
    }
    return out;
  }
  if (*w == "TRUNCATE") {
    t.Peek("TABLE");
    if (auto name = t.Table()) {
      out.kind = DdlStatement::kTruncate;
      out.tables.push_back(*name);
    }
    return out;
  }
  if (*w == "DROP") {
    t.Peek("TEMPORARY");
    if (!t.Peek("TABLE")) return out;
    if (t.Peek("IF")) t.Peek("EXISTS");
    while (auto name = t.Table()) {
      out.tables.push_back(*name);
      if (!t.Peek(",")) break;
    }
    if (!out.tables.empty()) out.kind = DdlStatement::kDrop;
    return out;
  }
  if (*w == "RENAME") {
    if (!t.Peek("TABLE")) return out;
    while (auto from = t.Table()) {
      if (!t.Peek("TO")) break;
      auto to = t.Table();
      if (!to) break;
      out.tables.push_back(*from);
      out.tables.push_back(*to);
      if (!t.Peek(",")) break;
    }
    if (!out.tables.empty()) out.kind = DdlStatement::kRename;
    return out;
  }
  if (*w == "CREATE") {
    if (t.Peek("OR")) t.Peek("REPLACE");
    t.Peek("TEMPORARY");
    if (!t.Peek("TABLE")) return out;
    if (t.Peek("IF")) {
      t.Peek("NOT");
      t.Peek("EXISTS");
    }
    if (auto name = t.Table()) {
      out.kind = DdlStatement::kCreate;
      out.tables.push_back(*name);
    }
  }
  return out;
}

}  // namespace ferry::mysql::binlog
