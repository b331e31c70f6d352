#include "connectors/mysql/my_names.h"

#include <fmt/format.h>

#include <algorithm>

#include "connectors/mysql/my_connection.h"
#include "types/utf8.h"

namespace ferry::mysql {

namespace {

constexpr int64_t kMaxChars = 64;

std::string Hex(std::string_view s) {
  static const char* digits = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() * 2);
  for (unsigned char c : s) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

class MyNameRules : public NameRules {
 public:
  explicit MyNameRules(const EndpointUri& uri) : conn_(uri, &kNoDatabase) {
    const auto rows = conn_.Query("SELECT @@lower_case_table_names",
                                  "reading lower_case_table_names");
    if (!rows.empty() && !rows[0].empty() && rows[0][0]) {
      lower_case_table_names_ = std::stoi(*rows[0][0]);
    }
  }

  std::string Refusal(NameKind /*kind*/, std::string_view name) const override {
    if (!IsValidUtf8(name)) return "is not valid UTF-8";
    const int64_t chars = Utf8Length(name);
    if (chars > kMaxChars) {
      return fmt::format("is {} characters long; MySQL and MariaDB names hold at most {}", chars,
                         kMaxChars);
    }
    if (!name.empty() && name.back() == ' ') {
      return "ends with a space, which MySQL and MariaDB do not allow in a name";
    }
    for (unsigned char c : name) {
      if (c >= 0xF0) {
        return "has a character above U+FFFF, which MySQL and MariaDB names cannot hold "
               "(identifiers are utf8mb3)";
      }
    }
    return "";
  }

  std::vector<std::string> Keys(NameKind kind, const std::vector<std::string>& names) override {
    if (!Folds(kind)) return names;
    // The server lower-cases as it compares identifiers (utf8mb3); asked in batches.
    std::vector<std::string> keys;
    keys.reserve(names.size());
    constexpr size_t kBatch = 200;
    for (size_t at = 0; at < names.size(); at += kBatch) {
      std::string sql = "SELECT ";
      const size_t end = std::min(names.size(), at + kBatch);
      for (size_t i = at; i < end; ++i) {
        sql += fmt::format("{}LOWER(CONVERT(_utf8mb4 X'{}' USING utf8mb3))", i > at ? ", " : "",
                           Hex(names[i]));
      }
      const auto rows = conn_.Query(sql, "comparing target names");
      for (size_t i = at; i < end; ++i) {
        const size_t col = i - at;
        keys.push_back(!rows.empty() && col < rows[0].size() && rows[0][col] ? *rows[0][col]
                                                                              : names[i]);
      }
    }
    return keys;
  }

  std::string Comparison(NameKind kind) const override {
    if (!Folds(kind)) return "";
    if (kind == NameKind::kColumn) {
      return "MySQL and MariaDB treat column names that differ only in letter case as one";
    }
    return fmt::format("this server (lower_case_table_names={}) treats {} names that differ only "
                       "in letter case as one",
                       lower_case_table_names_, NameKindName(kind));
  }

  std::string Fit(std::string_view name, std::string_view suffix) const override {
    std::vector<std::string> chars;  // one UTF-8 character each
    for (size_t i = 0; i < name.size();) {
      const unsigned char c = static_cast<unsigned char>(name[i]);
      const size_t len = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
      chars.push_back(len == 4 ? std::string("_") : std::string(name.substr(i, len)));
      i += len;
    }
    const size_t room = static_cast<size_t>(std::max<int64_t>(0, kMaxChars - Utf8Length(suffix)));
    if (chars.size() > room) chars.resize(room);
    while (!chars.empty() && chars.back() == " ") chars.pop_back();
    std::string out;
    for (const std::string& c : chars) out += c;
    return out + std::string(suffix);
  }

 private:
  static inline const std::string kNoDatabase;

  bool Folds(NameKind kind) const {
    return kind == NameKind::kColumn || lower_case_table_names_ != 0;
  }

  MyConnection conn_;
  int lower_case_table_names_ = 0;
};

}  // namespace

std::unique_ptr<NameRules> OpenMyNameRules(const EndpointUri& uri) {
  return std::make_unique<MyNameRules>(uri);
}

}  // namespace ferry::mysql
