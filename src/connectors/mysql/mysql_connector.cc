// Placeholder until the Mysql connector lands; replaced by the real implementation.
#include "connectors/mysql/mysql_connector.h"
namespace ferry::mysql {
std::unique_ptr<Connector> OpenMysqlConnector(const EndpointUri& uri) {
  throw Error(ErrorKind::kUnsupported, "mysql connector not built yet");
}
}  // namespace ferry::mysql
