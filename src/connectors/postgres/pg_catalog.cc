#include "connectors/postgres/pg_catalog.h"

#include <fmt/format.h>

#include <map>

#include "connectors/postgres/pg_types.h"

namespace ferry::postgres {

namespace {

// User tables: ordinary and partitioned parents, never partitions; system and temporary
// schemas excluded. Row estimates of a partitioned parent are the sum over its leaf
// partitions (-1 when none was ever analyzed); bytes likewise.
constexpr const char* kTablesSql = R"sql(
SELECT c.oid, n.nspname, c.relname,
  CASE WHEN c.relkind = 'p' THEN
    (SELECT CASE WHEN count(*) FILTER (WHERE p.reltuples >= 0) = 0 THEN -1
                 ELSE sum(greatest(p.reltuples, 0))::int8 END
       FROM pg_partition_tree(c.oid) t JOIN pg_class p ON p.oid = t.relid WHERE t.isleaf)
  ELSE c.reltuples::int8 END,
  CASE WHEN c.relkind = 'p' THEN
    (SELECT coalesce(sum(pg_total_relation_size(t.relid)), 0)::int8
       FROM pg_partition_tree(c.oid) t WHERE t.isleaf)
  ELSE pg_total_relation_size(c.oid) END
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp\_%'
  AND ($1 = '' OR n.nspname = $1) AND ($2 = '' OR c.relname = $2)
ORDER BY n.nspname, c.relname)sql";

// Columns in attnum order with their type facts; domains are resolved below.
constexpr const char* kColumnsSql = R"sql(
SELECT a.attrelid, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, a.atttypid,
       t.typtype, t.typcategory, t.typelem
FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attrelid, a.attnum)sql";

// Primary keys and plain unique indexes (no expressions, no predicate), key columns in order.
constexpr const char* kKeysSql = R"sql(
SELECT i.indrelid, ic.relname, i.indisprimary, a.attname
FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
WHERE i.indrelid = ANY($1::oid[]) AND i.indisvalid AND k.ord <= i.indnkeyatts
  AND (i.indisprimary OR (i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL))
ORDER BY i.indrelid, i.indisprimary DESC, ic.relname, k.ord)sql";

// One step down a domain: its base type with the domain's typmod.
constexpr const char* kDomainSql = R"sql(
SELECT t.typbasetype, format_type(t.typbasetype, t.typtypmod), b.typtype, b.typcategory,
       b.typelem
FROM pg_type t JOIN pg_type b ON b.oid = t.typbasetype WHERE t.oid = $1::oid)sql";

int64_t ToInt(const std::optional<std::string>& s, int64_t fallback) {
  if (!s) return fallback;
  return std::stoll(*s);
}

}  // namespace

std::vector<TableDef> PgCatalogReader::Load(const std::string& schema, const std::string& name) {
  const std::string what =
      name.empty() ? fmt::format("listing tables of schema '{}'", schema.empty() ? "*" : schema)
                   : fmt::format("reading the catalog of table {}.{}", schema, name);
  PgResult tables = conn_->ExecParams(kTablesSql, {schema, name}, what);
  std::vector<TableDef> out;
  std::map<uint32_t, size_t> by_oid;
  std::string oids = "{";
  for (int r = 0; r < PQntuples(tables.get()); ++r) {
    TableDef t;
    t.engine = Engine::kPostgres;
    const uint32_t oid = static_cast<uint32_t>(std::stoul(*GetText(tables.get(), r, 0)));
    t.schema = *GetText(tables.get(), r, 1);
    t.name = *GetText(tables.get(), r, 2);
    t.estimated_rows = ToInt(GetText(tables.get(), r, 3), -1);
    t.estimated_bytes = ToInt(GetText(tables.get(), r, 4), -1);
    by_oid[oid] = out.size();
    if (oids.size() > 1) oids += ",";
    oids += std::to_string(oid);
    out.push_back(std::move(t));
  }
  oids += "}";
  if (out.empty()) return out;

  std::map<uint32_t, PgTypeInfo> domains;  // resolved once per domain type
  PgResult cols = conn_->ExecParams(kColumnsSql, {oids}, what);
  for (int r = 0; r < PQntuples(cols.get()); ++r) {
    TableDef& t = out[by_oid.at(static_cast<uint32_t>(std::stoul(*GetText(cols.get(), r, 0))))];
    ColumnDef c;
    c.name = *GetText(cols.get(), r, 1);
    c.native_type = *GetText(cols.get(), r, 2);
    c.nullable = *GetText(cols.get(), r, 3) != "t";
    PgTypeInfo info;
    info.formatted = c.native_type;
    info.oid = static_cast<uint32_t>(std::stoul(*GetText(cols.get(), r, 4)));
    info.typtype = GetText(cols.get(), r, 5)->at(0);
    info.category = GetText(cols.get(), r, 6)->at(0);
    info.elem_oid = static_cast<uint32_t>(std::stoul(*GetText(cols.get(), r, 7)));
    if (info.typtype == 'd') {
      const uint32_t domain_oid = info.oid;
      auto it = domains.find(domain_oid);
      if (it == domains.end()) {
        PgTypeInfo base = info;
        base.is_domain = true;
        for (int depth = 0; depth < 32 && base.typtype == 'd'; ++depth) {
          PgResult d = conn_->ExecParams(kDomainSql, {std::to_string(base.oid)}, what);
          if (PQntuples(d.get()) != 1) break;
          base.oid = static_cast<uint32_t>(std::stoul(*GetText(d.get(), 0, 0)));
          base.formatted = *GetText(d.get(), 0, 1);
          base.typtype = GetText(d.get(), 0, 2)->at(0);
          base.category = GetText(d.get(), 0, 3)->at(0);
          base.elem_oid = static_cast<uint32_t>(std::stoul(*GetText(d.get(), 0, 4)));
        }
        it = domains.emplace(domain_oid, base).first;
      }
      info = it->second;
    }
    const PgMappedType m = MapPgType(info);
    c.type = m.type;
    c.portable_native = m.portable_native;
    c.native_id = info.oid;
    t.columns.push_back(std::move(c));
  }

  PgResult keys = conn_->ExecParams(kKeysSql, {oids}, what);
  uint32_t last_rel = 0;
  std::string last_index;
  for (int r = 0; r < PQntuples(keys.get()); ++r) {
    const uint32_t rel = static_cast<uint32_t>(std::stoul(*GetText(keys.get(), r, 0)));
    TableDef& t = out[by_oid.at(rel)];
    const std::string index = *GetText(keys.get(), r, 1);
    const bool primary = *GetText(keys.get(), r, 2) == "t";
    std::string column = *GetText(keys.get(), r, 3);
    if (primary) {
      t.primary_key.push_back(std::move(column));
      continue;
    }
    if (rel != last_rel || index != last_index || t.unique_indexes.empty()) {
      t.unique_indexes.push_back(IndexDef{index, {}});
    }
    t.unique_indexes.back().columns.push_back(std::move(column));
    last_rel = rel;
    last_index = index;
  }
  return out;
}

std::vector<TableDef> PgCatalogReader::ListTables(const std::string& schema) {
  return Load(schema, "");
}

TableDef PgCatalogReader::GetTable(const std::string& schema, const std::string& name) {
  std::vector<TableDef> found = Load(schema, name);
  if (found.empty() || schema.empty()) {
    if (found.size() == 1) return std::move(found.front());
    throw Error(ErrorKind::kNotFound,
                fmt::format("table {}.{} not found on {}", schema, name, conn_->where()));
  }
  return std::move(found.front());
}

std::string PgCatalogReader::ServerVersion() {
  const int v = PQserverVersion(conn_->get());
  return fmt::format("PostgreSQL {}.{}", v / 10000, v % 10000);
}

}  // namespace ferry::postgres
