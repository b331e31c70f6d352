#include "cdc/row_filter.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "common/error.h"
#include "types/value_codec.h"

namespace ferry::cdc {

namespace {

enum class Compare { kDecimal, kDouble, kInt, kBytes };

Compare CompareOf(DmsKind kind) {
  switch (kind) {
    case DmsKind::kInt1:
    case DmsKind::kInt2:
    case DmsKind::kInt4:
    case DmsKind::kInt8:
    case DmsKind::kUint1:
    case DmsKind::kUint2:
    case DmsKind::kUint4:
    case DmsKind::kUint8:
    case DmsKind::kNumeric:
      return Compare::kDecimal;
    case DmsKind::kReal4:
    case DmsKind::kReal8:
      return Compare::kDouble;
    case DmsKind::kBoolean:
    case DmsKind::kDate:
    case DmsKind::kTime:
    case DmsKind::kDatetime:
      return Compare::kInt;
    default:
      return Compare::kBytes;
  }
}

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// A literal as the integer a cell of `kind` holds (Storage::kInt); nullopt when it is not one.
std::optional<int64_t> IntLiteral(DmsKind kind, std::string_view text) {
  switch (kind) {
    case DmsKind::kBoolean: {
      const std::string v = Lower(text);
      if (v == "t" || v == "true" || v == "1" || v == "y" || v == "yes" || v == "on") return 1;
      if (v == "f" || v == "false" || v == "0" || v == "n" || v == "no" || v == "off") return 0;
      return std::nullopt;
    }
    case DmsKind::kDate:
      return ParseDate(text);
    case DmsKind::kTime:
      return ParseTime(text);
    case DmsKind::kDatetime:
      if (auto ts = ParseDatetime(text)) return ts;
      if (auto d = ParseDate(text)) return *d * 86400LL * 1000000LL;  // its midnight
      return std::nullopt;
    default:
      return std::nullopt;
  }
}

template <typename T>
int Cmp(const T& a, const T& b) {
  return a < b ? -1 : (b < a ? 1 : 0);
}

}  // namespace

int CompareDecimal(std::string_view a, std::string_view b) {
  const bool na = !a.empty() && a[0] == '-';
  const bool nb = !b.empty() && b[0] == '-';
  if (na != nb) return na ? -1 : 1;
  if (na) {
    a.remove_prefix(1);
    b.remove_prefix(1);
  }
  const size_t pa = std::min(a.find('.'), a.size());
  const size_t pb = std::min(b.find('.'), b.size());
  int r = Cmp(pa, pb);  // canonical: no leading zeros, so more integer digits is larger
  if (r == 0) r = a.substr(0, pa).compare(b.substr(0, pb));
  if (r == 0) {
    std::string fa(a.substr(std::min(pa + 1, a.size())));
    std::string fb(b.substr(std::min(pb + 1, b.size())));
    const size_t n = std::max(fa.size(), fb.size());
    fa.resize(n, '0');
    fb.resize(n, '0');
    r = fa.compare(fb);
  }
  r = r < 0 ? -1 : (r > 0 ? 1 : 0);
  return na ? -r : r;
}

RowFilter::RowFilter(const std::vector<SourceFilter>& filters, const TableDef& table)
    : source_(filters) {
  Bind(table);
}

void RowFilter::Rebind(const TableDef& table) { Bind(table); }

void RowFilter::Bind(const TableDef& table) {
  std::vector<Filter> bound;
  std::vector<std::string> orderings;
  for (const SourceFilter& sf : source_) {
    Filter f;
    f.column = sf.column;
    f.rule_id = sf.rule_id;
    for (size_t i = 0; i < table.columns.size(); ++i) {
      if (table.columns[i].name == sf.column) f.index = static_cast<int>(i);
    }
    if (f.index < 0) {
      throw Error(ErrorKind::kInvalidArgument,
                  fmt::format("selection rule {}: filter column '{}' is not a column of {}",
                              sf.rule_id, sf.column, table.QualifiedName()));
    }
    f.type = table.columns[static_cast<size_t>(f.index)].type;
    const Compare how = CompareOf(f.type.kind);
    for (const FilterCondition& fc : sf.conditions) {
      Condition c;
      c.op = fc.op;
      const bool two = fc.op == FilterOperator::kBetween || fc.op == FilterOperator::kNotBetween;
      const bool none = fc.op == FilterOperator::kNull || fc.op == FilterOperator::kNotNull;
      auto bad = [&](const std::string& v, const char* expected) {
        return Error(ErrorKind::kInvalidArgument,
                     fmt::format("selection rule {}: filter value '{}' for column {}.{} is not "
                                 "{}",
                                 sf.rule_id, v, table.QualifiedName(), sf.column, expected));
      };
      auto load = [&](const std::string& v, std::string* text, double* d, int64_t* i) {
        switch (how) {
          case Compare::kDecimal: {
            std::optional<std::string> n = NormalizeDecimal(v);
            if (!n || *n == "NaN" || *n == "Infinity" || *n == "-Infinity") {
              throw bad(v, "a number");
            }
            *text = *n;
            break;
          }
          case Compare::kDouble: {
            std::optional<double> x = ParseDouble(v);
            if (!x) throw bad(v, "a number");
            *d = *x;
            break;
          }
          case Compare::kInt: {
            std::optional<int64_t> x = IntLiteral(f.type.kind, v);
            if (!x) {
              throw bad(v, f.type.kind == DmsKind::kBoolean ? "a boolean"
                           : f.type.kind == DmsKind::kTime  ? "a time"
                                                            : "a date or timestamp");
            }
            *i = *x;
            break;
          }
          case Compare::kBytes:
            *text = v;
            break;
        }
      };
      if (!none) {
        load(two ? fc.start_value : fc.value, &c.text_a, &c.d_a, &c.i_a);
        if (two) load(fc.end_value, &c.text_b, &c.d_b, &c.i_b);
        if (IsText(f.type.kind) && fc.op != FilterOperator::kEq &&
            fc.op != FilterOperator::kNotEq) {
          orderings.push_back(fmt::format("{} on text column {} (rule {})",
                                          FilterOperatorName(fc.op), sf.column, sf.rule_id));
        }
      }
      f.conditions.push_back(std::move(c));
    }
    bound.push_back(std::move(f));
  }
  filters_ = std::move(bound);
  text_orderings_ = std::move(orderings);
}

bool RowFilter::Test(const Filter& f, const Condition& c, const Batch& rows, int row) const {
  const Cell& cell = rows.at(static_cast<size_t>(row), f.index);
  if (c.op == FilterOperator::kNull) return cell.null;
  if (c.op == FilterOperator::kNotNull) return !cell.null;
  if (cell.null) return false;  // a comparison with NULL is not true
  const bool two = c.op == FilterOperator::kBetween || c.op == FilterOperator::kNotBetween;
  // cmp(x) = value <=> literal x.
  int ca = 0, cb = 0;
  switch (CompareOf(f.type.kind)) {
    case Compare::kDecimal: {
      std::string v;
      AppendCanonical(rows, static_cast<size_t>(row), f.index, f.type, &v);
      ca = CompareDecimal(v, c.text_a);
      if (two) cb = CompareDecimal(v, c.text_b);
      break;
    }
    case Compare::kDouble:
      if (cell.d != cell.d) return c.op == FilterOperator::kNotEq;  // NaN equals nothing
      ca = Cmp(cell.d, c.d_a);
      if (two) cb = Cmp(cell.d, c.d_b);
      break;
    case Compare::kInt:
      ca = Cmp(cell.i, c.i_a);
      if (two) cb = Cmp(cell.i, c.i_b);
      break;
    case Compare::kBytes: {
      const std::string_view v = rows.Bytes(static_cast<size_t>(row), f.index);
      ca = v.compare(c.text_a);
      if (two) cb = v.compare(c.text_b);
      ca = ca < 0 ? -1 : (ca > 0 ? 1 : 0);
      cb = cb < 0 ? -1 : (cb > 0 ? 1 : 0);
      break;
    }
  }
  switch (c.op) {
    case FilterOperator::kEq: return ca == 0;
    case FilterOperator::kNotEq: return ca != 0;
    case FilterOperator::kLte:
    case FilterOperator::kSte: return ca <= 0;
    case FilterOperator::kGte: return ca >= 0;
    case FilterOperator::kBetween: return ca >= 0 && cb <= 0;
    case FilterOperator::kNotBetween: return ca < 0 || cb > 0;
    default: return false;
  }
}

std::optional<bool> RowFilter::Matches(const Batch& rows, int row) const {
  bool all = true;
  for (const Filter& f : filters_) {
    if (rows.at(static_cast<size_t>(row), f.index).unchanged) return std::nullopt;
    bool any = false;
    for (const Condition& c : f.conditions) {
      if (Test(f, c, rows, row)) {
        any = true;
        break;
      }
    }
    if (!f.conditions.empty() && !any) all = false;
  }
  return all;
}

}  // namespace ferry::cdc
