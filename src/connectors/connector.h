// The contract every engine connector fulfils. One folder per engine (postgres/, mysql/,
// sqlite/) implements these interfaces; the engine (src/engine) only talks to them.
//
// Two layers. Connector is what every endpoint offers: identity and checks, and as a source a
// catalog, readers, snapshots and change capture; as a target a bulk writer (TableWriter, with
// its segment marks) and a change applier that keeps the task's checkpoint (ChangeApplier).
// SqlConnector adds what only a SQL database has: sessions and a Dialect, on which the control
// tables, validation, schema objects, target DDL and segment planning by key run. Every source
// is a SqlConnector; a target need not be (a file target implements Connector alone), and the
// code that needs SQL of it asks Connector::sql().
//
// Threading: a Connector is shared and thread-safe for the const methods and Open*();
// each CatalogReader, TableReader and TableWriter owns one database connection and is used by
// one thread at a time.
//
// Errors: every method throws ferry::Error (common/error.h) with a kind and a message that
// names the object (schema, table, column) and never contains the password. Driver errors
// are translated at the connector edge; the server's own message is kept in the text.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "catalog/table_def.h"
#include "change/source_snapshot.h"
#include "common/error.h"
#include "connectors/dialect.h"
#include "connectors/name_rules.h"
#include "endpoint/endpoint_uri.h"
#include "types/batch.h"

namespace ferry {

namespace cdc {
class ChangeCapture;
class PositionCodec;
class Position;
class ChangeApplier;
struct CaptureOptions;
}  // namespace cdc

// A value the connector cannot read or write. `column` indexes TableDef::columns;
// `batch_row` is the row inside the batch being read or written (-1 when unknown);
// `row_key` is a description such as "(id=42)" when the connector could tell, else empty.
class RowError : public Error {
 public:
  RowError(int column, int64_t batch_row, std::string message, std::string row_key = {})
      : Error(ErrorKind::kData, std::move(message)),
        column(column),
        batch_row(batch_row),
        row_key(std::move(row_key)) {}
  int column;
  int64_t batch_row;
  std::string row_key;
};

// What Ferry says with a target's duplicate-key refusal during a load: where such a row comes
// from and which prep mode replaces the target's rows.
extern const char* const kDuplicateKeyHint;

// "(id=42, k='a')" from the row key columns of `table` in `batch` row `row`; columns not
// yet filled in (a row being read) print as "?".
std::string DescribeRowKey(const Batch& batch, size_t row, const TableDef& table);

// Throws RowError(column, row, message, row key) for the first NULL of `batch` in a column
// `target` declares NOT NULL or has in its primary key, in Ferry's form ("column \"x\" is NOT NULL on target table
// s.t and the value is NULL"), before the server would refuse the whole batch with its own
// words. Writers call it before sending a batch.
void CheckNotNull(const Batch& batch, const TableDef& target);

enum class TablePrepMode { kDoNothing, kDropAndCreate, kTruncateBeforeLoad };

// Segment commits (engine/full_load.h). A table read in segments can be loaded one segment per
// target transaction, so that a load cut off by a crash keeps the segments it committed. The
// target itself says which those are: the writer records a segment's mark in the very
// transaction that commits the segment's rows (TableWriter::EndSegment), so the target holds a
// segment's rows exactly when it holds its mark, and a resume reads the marks back
// (SegmentMarks::Read) to decide what is loaded. SQL targets keep the marks in a control table
// of the control schema (connectors/segment_marks.h); a file target keeps them in its
// manifest, written with the segment's files.
struct SegmentMark {
  std::string task;    // whose: the task's checkpoint key (name and id: cdc::CheckpointKey), so
                       // two tasks of one name never share marks
  std::string schema;  // the target table (TableDef::schema and name)
  std::string table;
  size_t segment = 0;   // the segment's index in the table's segment plan
  size_t segments = 0;  // how many segments that plan has
  int64_t rows = 0;     // rows the segment loaded
};

// The segment marks of one target, as a writer keeps them (TableWriter::segment_marks). Used by
// the writer's thread, outside a load (never between BeginLoad/BeginSegment and their end).
class SegmentMarks {
 public:
  virtual ~SegmentMarks() = default;
  // Where the marks are: ControlTablesSettings.ControlSchema `control_schema` ("" = the
  // engine's default, as for the control tables). With `create`, makes their home when missing
  // (SQL: the control schema and table), as BeginSegment needs. Call before anything else.
  virtual void Locate(const std::string& control_schema, bool create) = 0;
  // `task`'s marks of target table schema.table, by segment; none when there are none (also
  // when the marks' home was never created).
  virtual std::vector<SegmentMark> Read(const std::string& task, const std::string& schema,
                                        const std::string& table) = 0;
  // Deletes `task`'s marks of schema.table, or of every table when `table` is empty; committed
  // on return. Nothing to delete is fine.
  virtual void Clear(const std::string& task, const std::string& schema,
                     const std::string& table) = 0;
};
const char* TablePrepModeName(TablePrepMode mode);  // "DO_NOTHING", ...

// Receives the rows a TableReader produces.
class BatchSink {
 public:
  virtual ~BatchSink() = default;
  // Takes a full batch. Returns false when the reader should stop (the load was cancelled or
  // failed downstream); the reader then returns without error.
  virtual bool Push(Batch&& batch) = 0;
  // A value was changed by policy rather than copied (e.g. MySQL zero date -> NULL).
  // `column` indexes TableDef::columns. Counted and logged by the caller.
  virtual void Warning(int column, std::string_view message) = 0;
  // A value of the row being read cannot be represented (`error` names the column, the row key
  // and why). The reader has taken the half-read row out of its batch. Returns true when the
  // row is to be left out and reading goes on (the full load's DataErrorPolicy said so and
  // recorded it); false (the default) to stop: the reader then throws `error`.
  virtual bool SkipRow(const RowError& error) {
    (void)error;
    return false;
  }
};

struct ScanOptions {
  size_t batch_rows = 10000;          // flush a batch at this many rows...
  size_t batch_bytes = 8u << 20;      // ...or when its memory reaches this many bytes
  std::string where;                  // predicate in the source's SQL, empty = every row
  // Read only this partition instead of the whole table: PostgreSQL a leaf partition (a table
  // of its own, in `partition_schema`, empty = the table's schema), MySQL a partition or
  // subpartition name (SELECT ... FROM t PARTITION (p)). Empty = the whole table.
  std::string partition;
  std::string partition_schema;
  // Read inside this source snapshot (SourceSnapshot::id()): PostgreSQL imports it with SET
  // TRANSACTION SNAPSHOT; MySQL reads in the transaction TableReader::JoinSnapshot started for
  // the snapshot of this id. Empty = the reader's own transaction.
  std::string snapshot;
};

// One partition of a partitioned source table (CatalogReader::ListPartitions).
struct PartitionInfo {
  std::string schema;  // PostgreSQL: the leaf's schema; MySQL: the table's database
  std::string name;    // PostgreSQL: the leaf table; MySQL: the partition or subpartition
  std::string parent;  // MySQL subpartitions: the partition holding it; else empty
  int64_t estimated_rows = -1;
};

class CatalogReader {
 public:
  virtual ~CatalogReader() = default;
  // Every user table (no views, no system schemas), with columns, primary key, unique
  // indexes and row estimates. `schema` empty = the default scope: PostgreSQL every non-system
  // schema, MySQL the URI's database, SQLite "main". Partitions of a partitioned table are
  // not listed; the partitioned parent is.
  virtual std::vector<TableDef> ListTables(const std::string& schema) = 0;
  // Every view in the same scope as ListTables (PostgreSQL: views and materialized views;
  // MySQL: the database's views; SQLite: views of "main"), each with is_view set and its
  // columns as the engine describes them; no keys, indexes or foreign keys, row estimates -1.
  // Only selection rules with table-type view/all ask for these.
  virtual std::vector<TableDef> ListViews(const std::string& schema) = 0;
  // One table; throws Error(kNotFound) naming it when absent.
  virtual TableDef GetTable(const std::string& schema, const std::string& name) = 0;
  // "PostgreSQL 15.8", "MariaDB 10.11.6", "SQLite 3.40.1".
  virtual std::string ServerVersion() = 0;
  // The partitions of `table`, in the engine's order; empty when it is not partitioned (and on
  // engines without partitions). PostgreSQL: every leaf of the partition tree (recursive).
  // MySQL: each partition, or with `subpartitions` each subpartition where there are some.
  virtual std::vector<PartitionInfo> ListPartitions(const TableDef& table, bool subpartitions) {
    (void)table;
    (void)subpartitions;
    return {};
  }
};

class TableReader {
 public:
  virtual ~TableReader() = default;
  // Streams the rows of `table` (as returned by this endpoint's CatalogReader) into `sink`
  // on the engine's fast path, encoded per column DmsType (batch.h). Returns rows read.
  // Throws RowError for a value it cannot represent, Error for anything else.
  virtual int64_t Scan(const TableDef& table, const ScanOptions& options, BatchSink& sink) = 0;
  // Starts this reader's transaction inside `snapshot` now (MySQL: START TRANSACTION WITH
  // CONSISTENT SNAPSHOT while the snapshot's coordinator holds its lock); the next Scan with
  // ScanOptions::snapshot == snapshot.id() reads in it. Default: nothing to do (PostgreSQL
  // imports the snapshot in Scan). Throws Error.
  virtual void JoinSnapshot(const SourceSnapshot& snapshot) { (void)snapshot; }
};

class TableWriter {
 public:
  virtual ~TableWriter() = default;
  // Creates the schema (PostgreSQL) or database (MySQL) when missing; no-op on SQLite.
  virtual void EnsureSchema(const std::string& schema) = 0;
  virtual bool TableExists(const std::string& schema, const std::string& name) = 0;
  // Makes `target` ready for loading: DO_NOTHING creates it only when missing,
  // DROP_AND_CREATE drops any existing table and creates it, TRUNCATE_BEFORE_LOAD empties an
  // existing table (creating it when missing). Creates columns, NOT NULL, primary key, and
  // the unique indexes in target.unique_indexes.
  virtual void PrepareTable(const TableDef& target, TablePrepMode mode) = 0;
  // Starts a load into `target`. Batches passed to Write have target.columns.size() columns,
  // each encoded per target.columns[i].type (the DMS type of the incoming values).
  virtual void BeginLoad(const TableDef& target) = 0;
  // Writes every row of `batch`. Values are checked before they are sent: a value the target
  // cannot hold throws RowError (batch_row set) and nothing of the batch is written.
  virtual void Write(const Batch& batch) = 0;
  // Finishes the load; on return every row written is committed.
  virtual void EndLoad() = 0;
  // Abandons the current load: rolls back what is not yet committed and, where the writer
  // committed parts of the load already (MySQL and SQLite commit as they go) into a table that
  // was empty when BeginLoad ran, empties the table again, so a cancelled or failed load leaves
  // the table as it was. Returns the rows of this load that stay committed (a table that had
  // rows before, or a cleanup the server refused). Never throws.
  virtual int64_t AbortLoad() noexcept = 0;
  // Whether the table had no rows when the last BeginLoad ran. Writers that commit as they go
  // (MySQL, SQLite) record it; one whose AbortLoad never leaves rows may answer false.
  virtual bool LoadStartedEmpty() const { return false; }
  // Whether rows of a load can stay committed before EndLoad (MySQL and SQLite commit as they
  // go; PostgreSQL loads a table in one transaction): after a crash, an interrupted load may
  // have left rows in the table.
  virtual bool CommitsAsItGoes() const { return false; }
  // Segment commits (SegmentMark above). The writer's segment marks, or nullptr when it keeps
  // none: then the engine loads a table read in segments as one load (BeginLoad/EndLoad).
  virtual SegmentMarks* segment_marks() { return nullptr; }
  // Starts the load of one segment of `target`: as BeginLoad, except that every row written
  // until EndSegment is in one target transaction whatever its size, also on writers that
  // otherwise commit as they go, so AbortLoad leaves nothing of it (returns 0). Only on a writer
  // whose segment_marks() were located. The default throws Error(kUnsupported).
  virtual void BeginSegment(const TableDef& target);
  // Ends a load begun with BeginSegment: writes `mark` (its rows set by the caller) into the
  // segment marks and commits, in the transaction that holds the segment's rows, so both
  // commit or neither does. On an Error nothing of the segment is committed: call AbortLoad.
  virtual void EndSegment(const SegmentMark& mark);
  // CreatePkAfterFullLoad: adds target.primary_key to `target`, a table created without it
  // (PrepareTable given a copy with primary_key empty) and fully loaded (after EndLoad).
  // SQLite cannot add a primary key to an existing table: it creates a UNIQUE index on the key
  // columns instead. Throws Error with the server's message, e.g. for a duplicate key.
  // The default throws Error(kUnsupported).
  virtual void AddPrimaryKey(const TableDef& target) {
    throw Error(ErrorKind::kUnsupported,
                "adding a primary key after the load is not supported for table " +
                    target.QualifiedName());
  }
};

// A plain SQL connection for setup, checks and tests: text protocol, autocommit.
class SqlSession {
 public:
  virtual ~SqlSession() = default;
  // Runs one or more statements (separated by ';' where the engine allows it); throws Error
  // with the server's message.
  virtual void Execute(const std::string& sql) = 0;
  // Runs one query and returns every row as text (std::nullopt for NULL), in the engine's own
  // text format.
  virtual std::vector<std::vector<std::optional<std::string>>> Query(const std::string& sql) = 0;
};

// The physical size of a source table, for automatic segments by page ranges
// (Dialect::ScansPageRanges, Connector::MeasurePages).
struct PageLayout {
  bool partitioned = false;  // a partitioned parent: no pages of its own, its leaves are segments
  int64_t pages = 0;         // pages of the table's main storage
  int64_t tuples = -1;       // the catalog's row estimate, -1 = unknown
  int64_t bytes = -1;        // size of the main storage in bytes, -1 = unknown
};

class Connector {
 public:
  virtual ~Connector() = default;
  virtual Engine engine() const = 0;
  virtual const EndpointUri& uri() const = 0;
  // Connects once and disconnects: throws Error(kConnection | kAuth | kNotFound) with a
  // message naming host, port, database and user (never the password).
  virtual void TestConnection() = 0;
  // As a target: checks, without writing any data, what can be known up front about whether
  // the endpoint takes writes (SQLite: its directory takes new files, which the database, its
  // journal and WAL need). Throws Error naming what is missing. The default checks nothing
  // (server privileges are named with their GRANT when an operation meets them).
  virtual void TestWritable() {}
  // Which database this endpoint is, whatever host name, port or user reaches it: the text a
  // task records when it is created and compares on resume, so a task never continues against
  // another database. PostgreSQL "postgresql system <system identifier> database <name>",
  // MySQL "mysql server <server_uuid> database <name>" (MariaDB, which has no server_uuid:
  // "mariadb server <hostname>:<port> datadir <datadir> database <name>"), SQLite "sqlite file
  // <absolute path>". Connects; throws Error as TestConnection does.
  virtual std::string Identity() = 0;
  virtual std::unique_ptr<CatalogReader> OpenCatalog() = 0;
  virtual std::unique_ptr<TableReader> OpenReader() = 0;
  virtual std::unique_ptr<TableWriter> OpenWriter() = 0;
  // This endpoint's name in messages and how it types the columns it creates as a target.
  virtual const EngineTypes& types() const = 0;
  // This endpoint as a SQL database, or nullptr when it speaks no SQL (a file target).
  virtual class SqlConnector* sql() { return nullptr; }
  virtual const class SqlConnector* sql() const { return nullptr; }
  // How this endpoint, as a target, folds, limits and refuses names (connectors/name_rules.h).
  // May connect (MySQL reads lower_case_table_names); throws Error as TestConnection does.
  virtual std::unique_ptr<NameRules> TargetNameRules() = 0;
  // Where a source table from `source_schema` on `source_engine` lands on this endpoint
  // when no schema is configured: MySQL the URI's database; PostgreSQL the source schema
  // name (SQLite's "main" and MySQL databases map as they are, "main" -> "public"); SQLite
  // "main". The URI parameter schema= overrides (handled by the caller).
  virtual std::string DefaultTargetSchema(const std::string& source_schema,
                                          Engine source_engine) const = 0;
  // For a source whose dialect ScansPageRanges: `table`'s pages as the catalog has them now, or
  // nullopt when it has none to split (not a plain table or materialized view, or not found).
  // Connects; throws Error. The default: nullopt.
  virtual std::optional<PageLayout> MeasurePages(const TableDef& table) {
    (void)table;
    return std::nullopt;
  }
  // As a target: a database that does not exist yet (TestConnection throws kNotFound) is
  // created by the writer (MySQL: CREATE DATABASE), so it is no reason to stop before the
  // task starts. Default false.
  virtual bool CreatesMissingDatabase() const { return false; }
  // Opens a snapshot that several readers of `table` share (see SourceSnapshot), or nullptr
  // when the engine has none or it cannot be had (each reader then reads in its own
  // transaction; the connector logs why once). Throws Error for a connection failure.
  virtual std::unique_ptr<SourceSnapshot> OpenSnapshot(const TableDef& table) {
    (void)table;
    return nullptr;
  }
  // Change data capture from this endpoint as a source (change/change_capture.h). Connects
  // lazily. The default throws Error(kUnsupported) naming the engine.
  virtual std::unique_ptr<cdc::ChangeCapture> OpenChangeCapture(const cdc::CaptureOptions& options);
  // The text form of this engine's change-stream positions (change/position.h), for the task
  // store, the checkpoint and --cdc-start-position; nullptr when the engine is no CDC source.
  virtual const cdc::PositionCodec* positions() const { return nullptr; }
  // The position of the first change committed at or after `unix_micros` (DMS CdcStartTime),
  // for a source that can map a time to a position. Connects. The default throws
  // Error(kUnsupported) saying so and what to give instead.
  virtual cdc::Position PositionAtTime(int64_t unix_micros);
  // Applies changes to this endpoint as a target (change/change_applier.h), on its own connection.
  // The default throws Error(kUnsupported) naming the engine.
  virtual std::unique_ptr<cdc::ChangeApplier> OpenChangeApplier();
};

// An endpoint that is a SQL database (every source engine, and the database targets).
class SqlConnector : public Connector {
 public:
  // A new session of its own connection (autocommit). Connects; throws Error as
  // TestConnection does.
  virtual std::unique_ptr<SqlSession> OpenSession() = 0;
  virtual const Dialect& dialect() const = 0;

  const EngineTypes& types() const final { return dialect(); }
  SqlConnector* sql() final { return this; }
  const SqlConnector* sql() const final { return this; }
};

// `endpoint` as a SQL database, for `what` needs one ("validation", "the control tables");
// throws Error(kUnsupported) saying that `what` needs a database endpoint and this one is not.
SqlConnector& RequireSql(Connector& endpoint, std::string_view what);
const SqlConnector& RequireSql(const Connector& endpoint, std::string_view what);

// Opens the connector for `uri`'s engine. Does not connect yet.
std::unique_ptr<Connector> OpenConnector(const EndpointUri& uri);
// The same for an engine that is a SQL database (a source, or a target used with SQL: tools
// and tests); throws Error(kUnsupported) as RequireSql for any other.
std::unique_ptr<SqlConnector> OpenSqlConnector(const EndpointUri& uri);

}  // namespace ferry
