// Not part of any binary: ctest `layering_wrong_way_include_fails` (tests/CMakeLists.txt)
// compiles this file with ferry_cdc's usage requirements and expects the compiler to stop at the
// second include. cdc/ may include its own headers and the folders below it, so the first
// include resolves (with everything it includes); engine/ is above cdc/ (scripts/layers.txt),
// so ferry_cdc does not link ferry_engine and engine/ is not on its include path.
#include "cdc/apply_stage.h"
#include "engine/full_load.h"
