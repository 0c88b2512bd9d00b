// Replicator: one region's replication state machine.
//
// Synchronous and clock-injected: it reacts to link events, frames and ticks,
// reads and writes the region's Store, and sends frames through a Transport.
// It never reads the wall clock or a global RNG and owns no threads, so tests
// drive several regions in one process, deterministically.
//
// Protocol (see wire.proto): each region ships its own writes, in log order,
// to every peer. The receiver applies them by version vector, persists per
// origin how far it has applied (in the same batch), and acknowledges.
// Duplicates are skipped by lsn; a gap (lost or reordered frame) makes the
// receiver ask to resume from what it has; a peer silent for too long is
// resent everything unacknowledged. A receiver behind the origin's retained
// log gets a snapshot of the origin's whole state instead.
//
// Thread-safety: every public method may be called from any thread; calls are
// serialized internally.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "replication/interfaces.h"
#include "storage/store.h"

namespace regionlab::replication::pb {
class Frame;  // replication/wire.proto
}  // namespace regionlab::replication::pb

namespace regionlab::replication {

struct ReplicatorOptions {
  // Most log entries per Entries frame. Default: 256.
  size_t max_entries_per_frame = 256;
  // Most unacknowledged entries in flight per peer. Default: 8192.
  size_t window_entries = 8192;
  // Resend from the last acknowledgement when a link with unacknowledged
  // entries has seen no acknowledgement for this long. Default: 1 s.
  int64_t retransmit_after_micros = 1'000'000;
  // Log entries kept; older ones are trimmed, and a peer that needs them gets
  // a snapshot. Default: 1,000,000.
  uint64_t log_retention_entries = 1'000'000;
  // Records per Snapshot frame. Default: 1000.
  size_t snapshot_chunk_records = 1000;
};

// What GET /links shows for one direction of one pair.
struct OutboundStats {
  bool connected = false;
  uint64_t own_lsn = 0;     // last local write
  uint64_t sent = 0;        // last own lsn shipped
  uint64_t acked = 0;       // last own lsn the peer applied
  uint64_t frames_sent = 0;
  uint64_t entries_sent = 0;
  uint64_t retransmits = 0;  // resends after silence or a resume request
  uint64_t snapshots = 0;
  int64_t lag_micros = 0;    // age of the oldest write the peer has not acknowledged
};

// Apply lag (origin commit -> committed here) of every replicated entry, in
// log-spaced buckets: bucket i counts lags < kLagBoundsMicros[i].
inline constexpr int kLagBuckets = 24;
inline constexpr int64_t kLagBoundsMicros[kLagBuckets] = {
    100,     200,     300,     400,     500,       750,       1'000,     1'250,
    1'500,   2'000,   3'000,   5'000,   10'000,    25'000,    50'000,    100'000,
    250'000, 500'000, 750'000, 1'000'000, 2'000'000, 5'000'000, 30'000'000, INT64_MAX};

struct InboundStats {
  bool connected = false;
  uint64_t applied = 0;         // last origin lsn applied here
  uint64_t entries_applied = 0;
  uint64_t duplicates = 0;      // entries skipped as already applied
  uint64_t gaps = 0;            // frames refused because an earlier one was missing
  uint64_t conflicts = 0;       // concurrent versions handed to the handler
  int64_t last_lag_micros = 0;  // origin commit -> applied here, for the last entry
  int64_t max_lag_micros = 0;
  uint64_t lag_buckets[kLagBuckets] = {};
  // The smallest bucket bound below which `q` (0..1) of the entries' lags fall.
  int64_t LagQuantileMicros(double q) const {
    uint64_t total = 0;
    for (uint64_t c : lag_buckets) total += c;
    if (total == 0) return 0;
    uint64_t seen = 0;
    for (int i = 0; i < kLagBuckets; ++i) {
      seen += lag_buckets[i];
      if (static_cast<double>(seen) >= q * static_cast<double>(total)) {
        return std::min(kLagBoundsMicros[i], max_lag_micros);
      }
    }
    return max_lag_micros;
  }
};

// Ownership: the cluster owns one Replicator per region (unique_ptr) and
// destroys it before the store, handler, transport and clock it borrows.
// Which thread: any (see the file comment); the transport calls the On*
// methods from its io threads, the data plane calls Pump after each write,
// a timer calls Tick.
class Replicator {
 public:
  // `self` is this region's id; `peers` the other regions' ids. Everything
  // passed by reference must outlive the replicator.
  static Result<std::unique_ptr<Replicator>> Create(storage::Store& store, uint32_t self,
                                                    std::vector<uint32_t> peers,
                                                    ConcurrencyHandler& handler,
                                                    Transport& transport, const Clock& clock,
                                                    ReplicatorOptions options = {});
  ~Replicator();

  // Outbound link (this region -> peer): usable after the handshake. Shipping
  // starts when the peer's Resume arrives.
  void OnOutboundUp(uint32_t peer);
  void OnOutboundDown(uint32_t peer);
  // A frame's payload (a serialized pb::Frame; ignored if it does not parse),
  // or the frame already parsed.
  void OnOutboundFrame(uint32_t peer, std::string_view payload);
  void OnOutboundParsedFrame(uint32_t peer, const pb::Frame& frame);
  // Inbound link (peer -> this region).
  void OnInboundUp(uint32_t peer);
  void OnInboundDown(uint32_t peer);
  void OnInboundFrame(uint32_t peer, std::string_view payload);
  // Several frames of the inbound link, in order, as they arrived together:
  // consecutive Entries frames are applied in batches spanning frames, and
  // acknowledged once. Payloads that do not parse are skipped (with a
  // warning).
  void OnInboundFrames(uint32_t peer, const std::vector<std::string_view>& payloads);
  // The same for frames already parsed. Message payloads are moved out of
  // `frames`.
  void OnInboundParsedFrames(uint32_t peer, std::vector<pb::Frame>& frames);

  // Ships whatever is new on every connected outbound link.
  void Pump();
  // The outbound link to `peer` was just repaired (a partition or a loss
  // fault removed): resend what it has not acknowledged now, instead of
  // after retransmit_after_micros of silence.
  void Retransmit(uint32_t peer);
  // Retransmission timers and log trimming; call periodically (e.g. every 50 ms).
  void Tick();

  // Application messages between regions (see pb::Message). A message is
  // sent on the outbound link to `peer` and is lost if that link is down or
  // a fault drops it: callers time out and retry. Returns false when the
  // link is not up. Messages are not ordered with replication entries.
  bool SendMessage(uint32_t peer, uint32_t channel, std::string payload);
  // Called for every message received, on the transport's thread, outside
  // the replicator's lock (it may call SendMessage). Set once, before the
  // links come up.
  using MessageHandler = std::function<void(uint32_t peer, uint32_t channel, std::string payload)>;
  void SetMessageHandler(MessageHandler handler);

  // Last lsn of `origin`'s writes applied here (own_lsn for this region).
  uint64_t Applied(uint32_t origin) const;
  OutboundStats Outbound(uint32_t peer) const;
  InboundStats Inbound(uint32_t peer) const;
  uint32_t self() const;
  const std::vector<uint32_t>& peers() const;

 private:
  struct Impl;
  explicit Replicator(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace regionlab::replication
