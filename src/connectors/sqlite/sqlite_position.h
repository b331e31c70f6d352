// Positions in a SQLite source's change stream: the sequence number (seq) of a row in the
// task's change table (sqlite_capture.h). In memory 8 big-endian bytes, so byte order is
// stream order; seq 0 (nothing captured yet) is the empty Position. The text form is the
// plain decimal number ("0", "1234").
#pragma once

#include <cstdint>

#include "change/position.h"

namespace ferry::sqlite {

cdc::Position SeqPosition(int64_t seq);
// The seq of `position`; 0 for the empty one. Throws Error(kData) for a position that is not
// 8 bytes (another engine's) or beyond INT64_MAX.
int64_t PositionSeq(const cdc::Position& position);
const cdc::PositionCodec& SeqCodec();

}  // namespace ferry::sqlite
