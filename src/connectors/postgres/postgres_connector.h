#pragma once
#include <memory>
#include "connectors/connector.h"
namespace ferry::postgres {
std::unique_ptr<Connector> OpenPostgresConnector(const EndpointUri& uri);
}
