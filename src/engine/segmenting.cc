#include "engine/segmenting.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <set>

#include "common/text.h"

namespace ferry {

namespace {

using Int128 = __int128;

Int128 ParseInteger(std::string_view text) {
  std::string_view digits = text;
  const bool negative = !digits.empty() && digits.front() == '-';
  if (negative || (!digits.empty() && digits.front() == '+')) digits.remove_prefix(1);
  if (digits.empty() || digits.size() > 20 ||
      digits.find_first_not_of("0123456789") != std::string_view::npos) {
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("'{}' is not an integer key value", text));
  }
  Int128 v = 0;
  for (char c : digits) v = v * 10 + (c - '0');
  constexpr Int128 kUint64Max = static_cast<Int128>(UINT64_MAX);
  constexpr Int128 kInt64Min = static_cast<Int128>(INT64_MIN);
  if (negative) v = -v;
  if (v > kUint64Max || v < kInt64Min) {
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("integer key value {} is outside the 64-bit range", text));
  }
  return v;
}

std::string IntegerText(Int128 v) {
  if (v == 0) return "0";
  const bool negative = v < 0;
  std::string out;
  while (v != 0) {
    const int digit = static_cast<int>(v % 10);
    out.push_back(static_cast<char>('0' + (negative ? -digit : digit)));
    v /= 10;
  }
  if (negative) out.push_back('-');
  std::reverse(out.begin(), out.end());
  return out;
}

std::string QuotedTable(const SqlConnector& source, const TableDef& table) {
  const Dialect& d = source.dialect();
  return d.QuoteIdentifier(table.schema.empty() ? "main" : table.schema) + "." +
         d.QuoteIdentifier(table.name);
}

// Segments by ranges of physical pages (Dialect::ScansPageRanges: PostgreSQL ctid).
std::vector<Segment> PageAutoSegments(SqlConnector& source, const TablePlan& plan,
                                      const AutoSegmentPolicy& policy) {
  const TableDef& t = plan.source;
  const std::optional<PageLayout> layout = source.MeasurePages(t);
  if (!layout) return {};
  if (layout->partitioned) {
    // A partitioned parent has no pages of its own: its leaves are the natural segments.
    if (AutoSegmentCount(t.estimated_rows, t.estimated_bytes, policy) < 2) return {};
    std::vector<Segment> out;
    for (const PartitionInfo& p : source.OpenCatalog()->ListPartitions(t, true)) {
      out.push_back(Segment{"", p.name, p.schema});
    }
    if (out.size() < 2) return {};
    spdlog::info("table {}: {} automatic segments, one per leaf partition", t.QualifiedName(),
                 out.size());
    return out;
  }
  const int64_t pages = layout->pages;
  const int64_t tuples = layout->tuples;
  const int64_t bytes = layout->bytes;
  const int n = AutoSegmentCount(std::max(tuples, t.estimated_rows), bytes, policy);
  if (n < 2) return {};
  const std::vector<int64_t> bounds = SplitPages(pages, n);
  if (bounds.empty()) return {};
  spdlog::info("table {}: {} automatic segments by page ranges ({} pages, ~{} rows)",
               t.QualifiedName(), bounds.size() + 1, pages, std::max(tuples, t.estimated_rows));
  return PageRangeSegments(source.dialect(), bounds);
}

std::vector<Segment> KeyAutoSegments(SqlConnector& source, const TablePlan& plan,
                                     const AutoSegmentPolicy& policy) {
  const TableDef& t = plan.source;
  const int n = AutoSegmentCount(t.estimated_rows, t.estimated_bytes, policy);
  if (n < 2) return {};
  if (t.primary_key.size() != 1) {
    spdlog::debug("table {}: no automatic segments: no single-column primary key",
                  t.QualifiedName());
    return {};
  }
  const std::string& key = t.primary_key[0];
  auto col = std::find_if(t.columns.begin(), t.columns.end(),
                          [&](const ColumnDef& c) { return c.name == key; });
  const Dialect& d = source.dialect();
  // A SQLite -> SQLite copy reads values as stored (DmsKind::kEngineValue): on a dynamically
  // typed engine its integers are measured below like any key's.
  const bool stored_dynamic =
      col != t.columns.end() && col->type.kind == DmsKind::kEngineValue && d.DynamicallyTyped();
  if (col == t.columns.end() || !(IsIntegerKind(col->type.kind) || stored_dynamic)) {
    spdlog::debug("table {}: no automatic segments: primary key {} is not an integer",
                  t.QualifiedName(), key);
    return {};
  }
  const std::string quoted = d.QuoteIdentifier(key);
  // Dynamically typed columns (SQLite): measure the integers only (the rest sorts after them
  // and lands in the last, open-ended segment).
  const std::string is_integer = d.IsIntegerPredicate(quoted);
  const std::string only_integers = is_integer.empty() ? "" : " WHERE " + is_integer;
  auto rows = source.OpenSession()->Query(fmt::format("SELECT MIN({0}), MAX({0}) FROM {1}{2}",
                                                      quoted, QuotedTable(source, t),
                                                      only_integers));
  if (rows.size() != 1 || !rows[0][0] || !rows[0][1]) return {};
  const std::vector<std::string> bounds = SplitIntegerRange(*rows[0][0], *rows[0][1], n);
  if (bounds.empty()) return {};
  spdlog::info("table {}: {} automatic segments by ranges of {} ({} .. {}, ~{} rows)",
               t.QualifiedName(), bounds.size() + 1, key, *rows[0][0], *rows[0][1],
               t.estimated_rows);
  return KeySegments(quoted, bounds);
}

}  // namespace

int AutoSegmentCount(int64_t rows, int64_t bytes, const AutoSegmentPolicy& policy) {
  if (policy.max_segments < 2) return 0;
  const bool big = (rows >= 0 && rows >= policy.min_rows) ||
                   (bytes >= 0 && bytes >= policy.min_bytes);
  return big ? policy.max_segments : 0;
}

std::vector<int64_t> SplitPages(int64_t pages, int n) {
  std::vector<int64_t> out;
  if (pages <= 1 || n < 2) return out;
  for (int i = 1; i < n; ++i) {
    const int64_t b = static_cast<int64_t>(static_cast<Int128>(pages) * i / n);
    if (b > 0 && b < pages && (out.empty() || b > out.back())) out.push_back(b);
  }
  return out;
}

std::vector<std::string> SplitIntegerRange(std::string_view min, std::string_view max, int n) {
  const Int128 lo = ParseInteger(min), hi = ParseInteger(max);
  if (lo > hi) {
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("key range {} .. {} is empty", min, max));
  }
  std::vector<std::string> out;
  if (n < 2) return out;
  const Int128 width = hi - lo + 1;  // at most 2^64 + 2^63: fits
  Int128 last = lo;
  for (int i = 1; i < n; ++i) {
    const Int128 b = lo + width * i / n;
    if (b > last && b <= hi) {
      out.push_back(IntegerText(b));
      last = b;
    }
  }
  return out;
}

std::vector<Segment> PageRangeSegments(const Dialect& dialect,
                                       const std::vector<int64_t>& page_boundaries) {
  std::vector<Segment> out;
  for (size_t i = 0; i <= page_boundaries.size(); ++i) {
    const int64_t from = i > 0 ? page_boundaries[i - 1] : -1;
    const int64_t to = i < page_boundaries.size() ? page_boundaries[i] : -1;
    out.push_back(Segment{dialect.PageRangePredicate(from, to), "", ""});
  }
  return out;
}

std::vector<Segment> KeySegments(const std::string& quoted_column,
                                 const std::vector<std::string>& boundaries) {
  std::vector<Segment> out;
  if (boundaries.empty()) return {Segment{}};
  for (size_t i = 0; i <= boundaries.size(); ++i) {
    std::string predicate;
    if (i == 0) {
      predicate = quoted_column + " < " + boundaries[0];
    } else if (i < boundaries.size()) {
      predicate =
          fmt::format("{0} >= {1} AND {0} < {2}", quoted_column, boundaries[i - 1], boundaries[i]);
    } else {
      predicate = fmt::format("{0} >= {1} OR {0} IS NULL", quoted_column, boundaries[i - 1]);
    }
    out.push_back(Segment{predicate, "", ""});
  }
  return out;
}

std::vector<Segment> PlanAutoSegments(SqlConnector& source, const TablePlan& plan,
                                      const AutoSegmentPolicy& policy) {
  // A view has no pages and no key to split on: it is read by one SELECT.
  if (policy.max_segments < 2 || plan.source.is_view) return {};
  try {
    if (source.dialect().ScansPageRanges()) return PageAutoSegments(source, plan, policy);
    return KeyAutoSegments(source, plan, policy);
  } catch (const Error& e) {
    spdlog::warn("table {}: no automatic segments, it loads as one stream: {}",
                 plan.source.QualifiedName(), e.what());
    return {};
  }
}

std::vector<Segment> PartitionSegments(CatalogReader& catalog, const TableDef& table,
                                       const ParallelLoad& load, const std::string& rule_id,
                                       bool subpartitions) {
  if (load.type != ParallelLoadType::kPartitionsAuto &&
      load.type != ParallelLoadType::kPartitionsList) {
    return {};
  }
  const Dialect& d = DialectFor(table.engine);
  if (!d.HasPartitions()) {
    spdlog::info(
        "table {}: rule-id {}: {} has no partitions; parallel-load {} loads the "
        "table as one stream",
        table.QualifiedName(), rule_id, d.DisplayName(), ParallelLoadTypeName(load.type));
    return {};
  }
  const std::vector<PartitionInfo> parts = catalog.ListPartitions(table, subpartitions);
  // PostgreSQL leaves are tables of their own schema; MySQL partitions are names in a table.
  const bool tables = d.PartitionsAreTables();
  auto segment = [&](const PartitionInfo& p) {
    return Segment{"", p.name, tables ? p.schema : ""};
  };
  std::vector<Segment> out;
  if (load.type == ParallelLoadType::kPartitionsAuto) {
    if (parts.empty()) {
      spdlog::info("table {}: rule-id {}: parallel-load partitions-auto, but the table is not "
                   "partitioned; it loads as one stream",
                   table.QualifiedName(), rule_id);
      return {};
    }
    for (const PartitionInfo& p : parts) out.push_back(segment(p));
    spdlog::info("table {}: rule-id {}: {} segments, one per partition", table.QualifiedName(),
                 rule_id, out.size());
    return out;
  }
  // partitions-list: each name is a partition (PostgreSQL: a leaf, optionally schema-qualified;
  // MySQL: a partition, standing for its subpartitions, or a subpartition; names compare
  // case-insensitively there as MySQL does).
  auto same = [&](const std::string& a, const std::string& b) {
    return d.PartitionNamesFoldCase() ? AsciiLower(a) == AsciiLower(b) : a == b;
  };
  std::set<size_t> taken;
  for (const std::string& name : load.partitions) {
    bool found = false;
    for (size_t i = 0; i < parts.size(); ++i) {
      const PartitionInfo& p = parts[i];
      const bool match = same(p.name, name) || (!p.parent.empty() && same(p.parent, name)) ||
                         (tables && p.schema + "." + p.name == name);
      if (!match) continue;
      found = true;
      if (taken.insert(i).second) out.push_back(segment(p));
    }
    if (!found) {
      std::set<std::string> names;
      for (const PartitionInfo& p : parts) {
        names.insert(tables && p.schema != table.schema ? p.schema + "." + p.name : p.name);
        if (!p.parent.empty()) names.insert(p.parent);
      }
      throw Error(ErrorKind::kInvalidArgument,
                  fmt::format("rule-id {}: parallel-load partitions-list names partition '{}', "
                              "which table {} does not have; {}",
                              rule_id, name, table.QualifiedName(),
                              names.empty() ? std::string("the table is not partitioned")
                                            : fmt::format("its partitions are: {}",
                                                          fmt::join(names, ", "))));
    }
  }
  if (taken.size() < parts.size()) {
    // DMS reads only the listed partitions; say so, since the rows of the others stay behind.
    spdlog::warn("table {}: rule-id {}: partitions-list reads {} of its {} partitions; rows of "
                 "the others are not loaded",
                 table.QualifiedName(), rule_id, taken.size(), parts.size());
  }
  return out;
}

void ResolvePartitionSegments(const std::vector<MappedTable>& mapped, const TableMappings& mappings,
                              SqlConnector& source, std::vector<TablePlan>* plans) {
  std::unique_ptr<CatalogReader> catalog;
  for (const MappedTable& m : mapped) {
    if (!m.parallel_load || (m.parallel_load->type != ParallelLoadType::kPartitionsAuto &&
                             m.parallel_load->type != ParallelLoadType::kPartitionsList)) {
      continue;
    }
    std::string rule_id;
    for (const TableSettingsRule& r : mappings.table_settings) {
      if (!r.parallel_load) continue;
      if (std::find(m.rule_ids.begin(), m.rule_ids.end(), r.rule_id) == m.rule_ids.end()) {
        continue;
      }
      if (rule_id.empty() || CompareRuleIds(r.rule_id, rule_id) > 0) rule_id = r.rule_id;
    }
    if (rule_id.empty()) rule_id = "?";
    for (TablePlan& plan : *plans) {
      if (plan.source.schema != m.source.schema || plan.source.name != m.source.name) continue;
      if (!catalog) catalog = source.OpenCatalog();
      plan.segments = PartitionSegments(*catalog, m.source, *m.parallel_load, rule_id);
    }
  }
}

}  // namespace ferry
