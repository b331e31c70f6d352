#include "connectors/name_rules.h"

#include <fmt/format.h>

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

std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
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
    base = std::string(Utf8Prefix(base, max_bytes > suffix.size() ? max_bytes - suffix.size() : 0));
  }
  return base + std::string(suffix);
}

std::string_view Utf8Prefix(std::string_view s, size_t max_bytes) {
  if (s.size() <= max_bytes) return s;
  size_t end = max_bytes;
  // Back off continuation bytes (10xxxxxx) so the cut falls before a character's first byte.
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
  return s.substr(0, end);
}

}  // namespace ferry
