#include "validation/row_compare.h"

#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "types/value_codec.h"

namespace ferry {

namespace {

inline uint64_t Fmix(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

bool IsFloating(DmsKind k) { return k == DmsKind::kReal4 || k == DmsKind::kReal8; }
bool IsExactNumber(DmsKind k) {
  return k == DmsKind::kNumeric || (StorageOf(k) == Storage::kInt && k != DmsKind::kBoolean &&
                                    k != DmsKind::kDate && k != DmsKind::kTime &&
                                    k != DmsKind::kDatetime) ||
         StorageOf(k) == Storage::kUint;
}

ValueRule RuleFor(const DmsType& a, const DmsType& b) {
  if (a.kind == b.kind) return ValueRule::kPlain;
  if (IsFloating(a.kind) && IsFloating(b.kind)) return ValueRule::kFloatIfExact;
  if ((IsFloating(a.kind) && IsExactNumber(b.kind)) ||
      (IsFloating(b.kind) && IsExactNumber(a.kind))) {
    return ValueRule::kDecimal;
  }
  return ValueRule::kPlain;
}

// Cuts `s` to at most `limit` bytes without splitting a UTF-8 sequence.
std::string Cut(std::string s, size_t limit) {
  if (s.size() <= limit) return s;
  size_t n = limit;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  s.resize(n);
  return s + "...";
}

std::string Hex(std::string_view v) {
  std::string out = "\\x";
  out.reserve(2 + v.size() * 2);
  for (unsigned char c : v) fmt::format_to(std::back_inserter(out), "{:02x}", c);
  return out;
}

std::string DumpJson(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

CompareSpec MakeCompareSpec(const std::vector<std::string>& names,
                            const std::vector<DmsType>& source_types,
                            const std::vector<DmsType>& target_types,
                            const std::vector<std::string>& key_names,
                            const ValidationSettings& settings) {
  if (names.size() != source_types.size() || names.size() != target_types.size()) {
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("validation: {} column names, {} source columns and {} target "
                            "columns: expected the same number",
                            names.size(), source_types.size(), target_types.size()));
  }
  CompareSpec spec;
  spec.names = names;
  spec.source_types = source_types;
  spec.target_types = target_types;
  spec.lob_prefix_bytes =
      settings.validation_partial_lob_size > 0 ? settings.validation_partial_lob_size * 1024 : 0;
  for (size_t i = 0; i < names.size(); ++i) {
    spec.rules.push_back(RuleFor(source_types[i], target_types[i]));
    const bool lob = IsLob(source_types[i].kind) || IsLob(target_types[i].kind);
    spec.lob.push_back(lob);
    spec.compared.push_back(!(lob && settings.skip_lob_columns));
  }
  for (const std::string& k : key_names) {
    int index = -1;
    for (size_t i = 0; i < names.size(); ++i) {
      if (names[i] == k) index = static_cast<int>(i);
    }
    if (index < 0) {
      throw Error(ErrorKind::kInvalidArgument,
                  fmt::format("validation: key column '{}' is not among the compared columns", k));
    }
    spec.key_columns.push_back(index);
    spec.compared[index] = true;  // a key is always compared
  }
  return spec;
}

void AppendComparable(const Batch& batch, size_t row, int col, const CompareSpec& spec,
                      Side side, std::string* out) {
  const Cell& cell = batch.at(row, col);
  if (cell.null) return;
  const DmsType& own = side == Side::kSource ? spec.source_types[col] : spec.target_types[col];
  const ValueRule rule = spec.rules[col];
  if (rule != ValueRule::kPlain && StorageOf(own.kind) == Storage::kDouble) {
    const double d = cell.d;
    if (rule == ValueRule::kFloatIfExact) {
      const bool exact_float =
          own.kind == DmsKind::kReal4 ||
          (std::isfinite(d) && std::fabs(d) <= 3.4028234663852886e38 &&
           static_cast<double>(static_cast<float>(d)) == d) ||
          !std::isfinite(d);
      AppendDouble(d, exact_float, out);
      // A double that is no float's value must not print like one (0.1 vs 0.1f).
      if (!exact_float) out->append("(double)");
      return;
    }
    // kDecimal
    std::string text;
    AppendDouble(d, own.kind == DmsKind::kReal4, &text);
    std::optional<std::string> dec = NormalizeDecimal(text);
    out->append(dec ? *dec : text);
    return;
  }
  const size_t start = out->size();
  AppendCanonical(batch, row, col, own, out);
  if (rule == ValueRule::kDecimal && own.kind == DmsKind::kNumeric) {
    // Already canonical decimal text; nothing to do.
  }
  if (spec.lob[col] && spec.lob_prefix_bytes > 0 &&
      out->size() - start > static_cast<size_t>(spec.lob_prefix_bytes)) {
    out->resize(start + static_cast<size_t>(spec.lob_prefix_bytes));
  }
}

void MakeRowImage(const Batch& batch, size_t row, const CompareSpec& spec, Side side,
                  RowImage* out, std::vector<uint64_t>* column_hashes,
                  std::vector<std::optional<std::string>>* display, size_t display_limit) {
  const int columns = static_cast<int>(spec.names.size());
  out->key.clear();
  out->key_values.clear();
  if (column_hashes) column_hashes->assign(columns, 0);
  if (display) display->assign(columns, std::nullopt);
  std::string text;
  uint64_t row_hash = kFnvOffset;
  for (int c = 0; c < columns; ++c) {
    if (!spec.compared[c]) continue;
    const bool null = batch.IsNull(row, c);
    text.clear();
    if (!null) AppendComparable(batch, row, c, spec, side, &text);
    uint64_t h = Fnv(kFnvOffset, &null, 1);
    const uint64_t len = text.size();
    h = Fnv(h, &len, sizeof(len));
    h = Fmix(Fnv(h, text.data(), text.size()));
    row_hash = (row_hash ^ h) * kFnvPrime + static_cast<uint64_t>(c);
    if (column_hashes) (*column_hashes)[c] = h;
    if (display && !null) {
      const DmsType& own = side == Side::kSource ? spec.source_types[c] : spec.target_types[c];
      (*display)[c] = Cut(IsBinary(own.kind) ? Hex(text) : text, display_limit);
    }
  }
  out->row_hash = Fmix(row_hash);
  for (int k : spec.key_columns) {
    const bool null = batch.IsNull(row, k);
    if (null) {
      out->key.push_back('\0');
      out->key_values.push_back(std::nullopt);
      continue;
    }
    text.clear();
    AppendComparable(batch, row, k, spec, side, &text);
    const uint32_t len = static_cast<uint32_t>(text.size());
    out->key.push_back('\1');
    out->key.append(reinterpret_cast<const char*>(&len), sizeof(len));
    out->key.append(text);
    const DmsType& own = side == Side::kSource ? spec.source_types[k] : spec.target_types[k];
    out->key_values.push_back(IsBinary(own.kind) ? Hex(text) : text);
  }
  out->key_hash = Fmix(Fnv(kFnvOffset ^ 0x6b6579ULL, out->key.data(), out->key.size()));
}

int64_t PartitionCount(int64_t estimated_rows, int64_t partition_size) {
  if (estimated_rows <= 0 || partition_size <= 0) return 1;
  return std::max<int64_t>(1, (estimated_rows + partition_size - 1) / partition_size);
}

uint64_t PartitionOf(uint64_t key_hash, int64_t partitions) {
  return partitions <= 1 ? 0 : key_hash % static_cast<uint64_t>(partitions);
}

uint64_t SubPartitionOf(uint64_t key_hash, uint64_t ways) {
  return ways <= 1 ? 0 : Fmix(key_hash ^ 0x9e3779b97f4a7c15ULL) % ways;
}

void PartitionSummary::Add(uint64_t key_hash, uint64_t row_hash) {
  const uint64_t a = Fmix(row_hash ^ (key_hash * 0x9e3779b97f4a7c15ULL));
  sum += a;
  xor_mix ^= Fmix(a + key_hash);
  ++count;
}

void PartitionSummary::Merge(const PartitionSummary& other) {
  sum += other.sum;
  xor_mix ^= other.xor_mix;
  count += other.count;
}

const char* FailureTypeName(FailureType type) {
  switch (type) {
    case FailureType::kRecordDiff: return "RECORD_DIFF";
    case FailureType::kMissingSource: return "MISSING_SOURCE";
    case FailureType::kMissingTarget: return "MISSING_TARGET";
  }
  return "?";
}

std::string KeyJson(const std::vector<std::optional<std::string>>& key_values) {
  nlohmann::json values = nlohmann::json::array();
  for (const auto& v : key_values) {
    if (v) {
      values.push_back(*v);
    } else {
      values.push_back(nullptr);
    }
  }
  return DumpJson(nlohmann::json{{"key", values}});
}

void KeyedComparer::AddSource(const Batch& batch, size_t row) {
  RowImage image;
  Held held;
  MakeRowImage(batch, row, spec_, Side::kSource, &image, &held.column_hashes, &held.display);
  held.row_hash = image.row_hash;
  held.key_values = std::move(image.key_values);
  // A duplicate key on the source keeps the first row; the table's key guarantees uniqueness.
  rows_.try_emplace(std::move(image.key), std::move(held));
}

void KeyedComparer::CompareTarget(const Batch& batch, size_t row, const Report& report) {
  RowImage image;
  std::vector<uint64_t> hashes;
  std::vector<std::optional<std::string>> display;
  MakeRowImage(batch, row, spec_, Side::kTarget, &image, &hashes, &display);
  auto it = rows_.find(image.key);
  if (it == rows_.end() || it->second.matched) {
    report(RowDifference{FailureType::kMissingSource, KeyJson(image.key_values),
                         "row is on the target but not on the source", {}});
    return;
  }
  Held& held = it->second;
  held.matched = true;
  ++matched_;
  if (held.row_hash == image.row_hash) return;
  RowDifference diff{FailureType::kRecordDiff, KeyJson(held.key_values), "", {}};
  nlohmann::json src = nlohmann::json::array(), tgt = nlohmann::json::array();
  auto value = [](const std::optional<std::string>& v) -> nlohmann::json {
    if (v) return *v;
    return nullptr;
  };
  for (size_t c = 0; c < hashes.size(); ++c) {
    if (!spec_.compared[c] || hashes[c] == held.column_hashes[c]) continue;
    diff.columns.push_back(spec_.names[c]);
    src.push_back(nlohmann::json{{spec_.names[c], value(held.display[c])}});
    tgt.push_back(nlohmann::json{{spec_.names[c], value(display[c])}});
  }
  diff.details = Cut(DumpJson(nlohmann::json::array({src, tgt})), 8000);
  report(std::move(diff));
}

void KeyedComparer::Finish(const Report& report) {
  for (auto& [key, held] : rows_) {
    if (held.matched) continue;
    report(RowDifference{FailureType::kMissingTarget, KeyJson(held.key_values),
                         "row is on the source but not on the target", {}});
  }
  rows_.clear();
}

}  // namespace ferry
