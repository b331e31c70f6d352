// What a target engine does with the names Ferry gives it. Engines change names silently:
// PostgreSQL keeps the first 63 bytes of a longer name, SQLite treats "Dup" and "dup" as one
// table, MySQL treats column names "É" and "é" as one column. Two source tables (or columns)
// would then become one target object, or a name would arrive cut, with no error from the
// server. Ferry asks the target connector for these rules (Connector::TargetNameRules) and
// checks every planned target name against them before anything is created
// (engine/target_names.h).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/text.h"  // AsciiLower

namespace ferry {

enum class NameKind { kSchema, kTable, kColumn };
const char* NameKindName(NameKind kind);  // "schema", "table", "column"

class NameRules {
 public:
  virtual ~NameRules() = default;
  // Why the engine cannot take `name` for an object of `kind` exactly as given (too long,
  // a character it cannot hold, a reserved prefix), as a clause completing "the name ...":
  // "is 72 bytes long; PostgreSQL keeps only the first 63 bytes of a name". "" = it can.
  virtual std::string Refusal(NameKind kind, std::string_view name) const = 0;
  // The key under which the engine compares names of `kind`, for each of `names`: two names
  // with equal keys are one object on the target. Given every name at once because an
  // engine may ask its server (MySQL's case folding). Throws Error on a connection failure.
  virtual std::vector<std::string> Keys(NameKind kind, const std::vector<std::string>& names) = 0;
  // How the engine compares names of `kind`, completing "on the target, ...": "SQLite treats
  // table names that differ only in ASCII letter case as one". "" when names are compared
  // exactly (then equal keys mean equal names).
  virtual std::string Comparison(NameKind kind) const = 0;
  // A name close to `name` ending in `suffix` that the engine takes as given (cut to the
  // length limit, unsupported characters replaced), for the rename rules Ferry suggests.
  virtual std::string Fit(std::string_view name, std::string_view suffix) const = 0;
};

// Rules an engine applies without asking its server: names at most `max_bytes` bytes and
// `max_chars` characters (0 = no limit), compared exactly or ignoring ASCII letter case,
// names starting with `reserved_prefix` (compared ignoring ASCII case; "" = none) refused.
struct FixedNameRules : NameRules {
  std::string engine;  // "PostgreSQL", for messages
  size_t max_bytes = 0;
  bool ascii_case_insensitive = false;
  std::string reserved_prefix;

  std::string Refusal(NameKind kind, std::string_view name) const override;
  std::vector<std::string> Keys(NameKind kind, const std::vector<std::string>& names) override;
  std::string Comparison(NameKind kind) const override;
  std::string Fit(std::string_view name, std::string_view suffix) const override;
};

}  // namespace ferry
