// MySQL/MariaDB naming rules for a target (connectors/name_rules.h): names of at most 64
// characters, no trailing space, only characters up to U+FFFF (identifiers are utf8mb3);
// column names compared ignoring letter case (the server's utf8mb3 lower-casing; accents
// count: "é" and "e" differ, "É" and "é" do not); database and table names compared exactly
// when lower_case_table_names is 0, else lower-cased.
#pragma once

#include <memory>

#include "connectors/name_rules.h"
#include "endpoint/endpoint_uri.h"

namespace ferry::mysql {

// Connects (without a default database: the target database may not exist yet) to read
// lower_case_table_names; the rules then keep that connection to fold names.
std::unique_ptr<NameRules> OpenMyNameRules(const EndpointUri& uri);

}  // namespace ferry::mysql
