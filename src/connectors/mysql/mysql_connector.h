#pragma once
#include <memory>
#include "connectors/connector.h"
namespace ferry::mysql {
std::unique_ptr<Connector> OpenMysqlConnector(const EndpointUri& uri);
}
