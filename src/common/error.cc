#include "common/error.h"

namespace ferry {

const char* ErrorKindName(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInvalidArgument: return "invalid argument";
    case ErrorKind::kConnection: return "connection";
    case ErrorKind::kAuth: return "authentication";
    case ErrorKind::kNotFound: return "not found";
    case ErrorKind::kUnsupported: return "unsupported";
    case ErrorKind::kData: return "data";
    case ErrorKind::kSchema: return "schema";
    case ErrorKind::kIo: return "io";
    case ErrorKind::kCancelled: return "cancelled";
    case ErrorKind::kInternal: return "internal";
  }
  return "unknown";
}

}  // namespace ferry
