// SourceSnapshot: a point in time several readers of a source read at together. Connectors make
// one (Connector::OpenSnapshot; a ChangeCapture's Prepare and ExportSnapshot) and readers join
// it (TableReader::JoinSnapshot). It lives here, below the connectors and the capture contract
// (change_capture.h: PrepareResult), so that both can name it.
#pragma once

#include <string>

namespace ferry {

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
};

}  // namespace ferry
