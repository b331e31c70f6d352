// Placeholder until the Sqlite connector lands; replaced by the real implementation.
#include "connectors/sqlite/sqlite_connector.h"
namespace ferry::sqlite {
std::unique_ptr<Connector> OpenSqliteConnector(const EndpointUri& uri) {
  throw Error(ErrorKind::kUnsupported, "sqlite connector not built yet");
}
}  // namespace ferry::sqlite
