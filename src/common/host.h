// The machine's host name, as Ferry names it in task locks, owner marks, control tables and
// session names.
#pragma once

#include <string>

namespace ferry {

// gethostname(), or `fallback` when the system cannot say.
std::string HostName(const std::string& fallback = "localhost");

}  // namespace ferry
