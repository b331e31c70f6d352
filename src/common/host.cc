#include "common/host.h"

#include <unistd.h>

namespace ferry {

std::string HostName(const std::string& fallback) {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') return fallback;
  return host;
}

}  // namespace ferry
