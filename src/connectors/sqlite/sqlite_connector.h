#pragma once
#include <memory>
#include "connectors/connector.h"
namespace ferry::sqlite {
// This engine's dialect (stateless, one for every connector of the engine).
const Dialect& EngineDialect();
std::unique_ptr<SqlConnector> OpenSqliteConnector(const EndpointUri& uri);
}
