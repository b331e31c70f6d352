// Small builders shared by the unit tests.
#pragma once

#include <cstdint>

#include "types/dms_type.h"

namespace ferry::testing {

// A DmsType in one call: T(DmsKind::kNumeric, 0, 10, 2) is NUMERIC(10,2).
inline DmsType T(DmsKind kind, int64_t length = 0, int precision = 0, int scale = 0,
                 bool with_time_zone = false) {
  DmsType t;
  t.kind = kind;
  t.length = length;
  t.precision = precision;
  t.scale = scale;
  t.with_time_zone = with_time_zone;
  return t;
}

}  // namespace ferry::testing
