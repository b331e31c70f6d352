// SourceSnapshot: a point in time several readers of a source read at together. Connectors make
// one (Connector::OpenSnapshot; a ChangeCapture's Prepare and ExportSnapshot) and readers join
// it (TableReader::JoinSnapshot). It lives here, below the connectors and the capture contract
// (change_capture.h: PrepareResult), so that both can name it.
#pragma once

#include <memory>
#include <string>

#include "change/position.h"

namespace ferry {

struct TableDef;

// A point in time several readers of one source read at together (Connector::OpenSnapshot).
// Holds a coordinator connection; the snapshot stays importable while this object lives.
class SourceSnapshot {
 public:
  virtual ~SourceSnapshot() = default;
  // What readers pass as ScanOptions::snapshot: PostgreSQL the pg_export_snapshot() id;
  // MySQL an id naming this snapshot (readers must JoinSnapshot it first).
  virtual const std::string& id() const = 0;
  // Every reader that will use the snapshot has called TableReader::JoinSnapshot: MySQL
  // releases the table lock it held meanwhile. Throws Error.
  virtual void ReadersJoined() {}
  // Where the engine's readers cannot share one point in time across tables (MySQL/MariaDB,
  // SQLite), the task's snapshot gives each table one of its own, taken when this is called:
  // the table's readers join that one instead (then ReadersJoined), and its position() says
  // where the table's rows stand in the change stream: changes ending after it are applied to
  // the table, none at or before it. nullptr (the default): every table's readers join this
  // snapshot, whose point is the capture's PrepareResult::start. Throws Error.
  virtual std::unique_ptr<SourceSnapshot> ForTable(const TableDef& table) {
    (void)table;
    return nullptr;
  }
  // A ForTable snapshot's change-stream position, known once ReadersJoined() returned; empty
  // for other snapshots.
  virtual cdc::Position position() const { return {}; }
};

}  // namespace ferry
