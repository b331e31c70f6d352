// PostgreSQL positions: an LSN (a WAL byte offset) as cdc::Position and as text.
//
// Bytes: the LSN as 8 big-endian bytes, so byte order is LSN order (change/position.h); LSN 0
// (InvalidXLogRecPtr, never a real position) is the empty Position. Text: PostgreSQL's own
// "16/B374D848" (upper-case hex, as pg_lsn prints it; either case is read).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "change/position.h"

namespace ferry::postgres {

using Lsn = uint64_t;

std::string FormatLsn(Lsn lsn);
// nullopt when `text` is not "<hex>/<hex>" with at most 8 digits per half.
std::optional<Lsn> ParseLsn(std::string_view text);

cdc::Position LsnPosition(Lsn lsn);
// The LSN of a position made by LsnPosition (empty: 0). Throws Error(kData) for bytes that are
// not one (a position from another engine's stream).
Lsn PositionLsn(const cdc::Position& position);

// The codec of postgresql:// sources (PostgresConnector::positions()).
const cdc::PositionCodec& LsnCodec();

}  // namespace ferry::postgres
