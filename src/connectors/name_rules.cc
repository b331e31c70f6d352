#include "connectors/name_rules.h"

#include <fmt/format.h>

#include "common/text.h"
#include "types/utf8.h"

namespace ferry {

const char* NameKindName(NameKind kind) {
  switch (kind) {
    case NameKind::kSchema:
      return "schema";
    case NameKind::kTable:
      return "table";
    case NameKind::kColumn:
      return "column";
  }
  return "name";
}

std::string FixedNameRules::Refusal(NameKind kind, std::string_view name) const {
  if (max_bytes > 0 && name.size() > max_bytes) {
    return fmt::format("is {} bytes long; {} keeps only the first {} bytes of a name", name.size(),
                       engine, max_bytes);
  }
  if (kind == NameKind::kTable && !reserved_prefix.empty() &&
      AsciiLower(name.substr(0, reserved_prefix.size())) == reserved_prefix) {
    return fmt::format("starts with '{}', which {} keeps for its own tables", reserved_prefix,
                       engine);
  }
  return "";
}

std::vector<std::string> FixedNameRules::Keys(NameKind /*kind*/,
                                              const std::vector<std::string>& names) {
  if (!ascii_case_insensitive) return names;
  std::vector<std::string> keys;
  keys.reserve(names.size());
  for (const std::string& n : names) keys.push_back(AsciiLower(n));
  return keys;
}

std::string FixedNameRules::Comparison(NameKind kind) const {
  if (!ascii_case_insensitive) return "";
  return fmt::format("{} treats {} names that differ only in ASCII letter case as one", engine,
                     NameKindName(kind));
}

std::string FixedNameRules::Fit(std::string_view name, std::string_view suffix) const {
  std::string base(name);
  if (!reserved_prefix.empty() &&
      AsciiLower(std::string_view(base).substr(0, reserved_prefix.size())) == reserved_prefix) {
    base = "t_" + base;
  }
  if (max_bytes > 0 && base.size() + suffix.size() > max_bytes) {
    base = std::string(Utf8PrefixBytes(base, max_bytes > suffix.size() ? max_bytes - suffix.size() : 0));
  }
  return base + std::string(suffix);
}

}  // namespace ferry
