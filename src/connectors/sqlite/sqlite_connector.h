#pragma once
#include <memory>
#include "connectors/connector.h"
namespace ferry::sqlite {
std::unique_ptr<Connector> OpenSqliteConnector(const EndpointUri& uri);
}
