// Ferry extension: creates the converted secondary indexes, foreign keys and defaults
// (schema_objects.h) on the target after the full load, and reports what became of each.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "connectors/connector.h"
#include "schema/schema_objects.h"
#include "task_model/plan.h"
#include "task_model/table_stats.h"

namespace ferry::schema {

struct SchemaObjectsReport {
  SchemaObjectOptions options;       // what was requested
  std::vector<SchemaObject> objects;  // every object, with its final status

  // Counts of `kind` in `status`.
  int Count(ObjectKind kind, ObjectStatus status) const;
  // True when a requested object's DDL failed on the target or its table did not complete.
  // Objects that cannot be converted are reported but are not failures: they are a property
  // of the source/target pair, known before the load. The CLI exits 1 when this is true.
  bool AnyFailed() const;
  // One line per requested kind, e.g. "Indexes: 14 created, 1 not converted", followed by one
  // indented line per object not created (or created with a note), naming the source object,
  // the target table and why. Empty when nothing was requested.
  std::string FormatText() const;
  // {"indexes": {"created": n, "notConverted": n, "failed": n, "skipped": n},
  //  "foreignKeys": {...}, "defaults": {...},
  //  "objects": [{"kind", "source", "table", "name", "status", "reason", "sql"}]}
  nlohmann::json ToJson() const;
};

// Runs the post-load DDL for `plans` (as planned, including PrepareCreateTimeObjects) on
// `target`: indexes of a table only when that table completed, foreign keys only when both
// tables completed, defaults when their table completed; all indexes before any foreign key
// (a foreign key may need the referenced columns' unique index). `stats` are the load's
// statistics (FullLoad::stats()), matched to plans by target table name. Objects SQLite made
// with CREATE TABLE are checked in the target catalog: absent means the table existed before
// the load (DO_NOTHING, TRUNCATE_BEFORE_LOAD) and SQLite cannot add them later. A failed
// statement is recorded with the server's message and does not stop the others. Throws only
// when no connection to the target can be opened.
SchemaObjectsReport CreateSchemaObjects(SqlConnector& target, const std::vector<TablePlan>& plans,
                                        Engine source_engine, const SchemaObjectOptions& options,
                                        const std::vector<std::unique_ptr<TableStats>>& stats);

}  // namespace ferry::schema
