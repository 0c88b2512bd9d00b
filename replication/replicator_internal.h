// The Replicator's insides, shared by its files; not part of its interface
// (replicator.h). replicator.cc: the Replicator's methods (link events,
// frame dispatch, pump, tick, stats); replicator_outbound.cc: shipping this
// region's log to a peer (pump, snapshots, retransmission);
// replicator_inbound.cc: applying a peer's entries (merge by version vector,
// conflict resolution, batched store writes, snapshots).
#pragma once

#include "replication/replicator.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <algorithm>
#include <deque>
#include <map>
#include <mutex>
#include <unordered_map>

#include "replication/version_vector.h"
#include "replication/wire.pb.h"
#include "storage/codec.h"
#include "storage/keys.h"

namespace regionlab::replication {
namespace internal {

using storage::LogEntry;
using storage::Record;

// A receiver asks for a resume at most this often after seeing gaps.
inline constexpr int64_t kResumeIntervalMicros = 100'000;
// Most entries applied in one store write when a backlog of frames arrives
// together.
inline constexpr size_t kMaxApplyEntries = 2048;

inline std::string Serialize(const pb::Frame& frame) {
  std::string out;
  frame.SerializeToString(&out);
  return out;
}

struct PeerState {
  // Outbound: this region's writes to the peer.
  bool out_up = false;
  bool resumed = false;       // the peer told us where to start
  uint64_t acked = 0;         // own lsn the peer has applied
  uint64_t sent = 0;          // last own lsn shipped
  uint64_t scan_pos = 0;      // last local lsn examined for shipping
  int64_t last_progress_micros = 0;
  std::deque<std::pair<uint64_t, int64_t>> inflight;  // (own lsn, write micros)
  OutboundStats out;

  // Inbound: the peer's writes to this region.
  bool in_up = false;
  int64_t last_resume_micros = INT64_MIN / 2;
  bool in_snapshot = false;
  uint32_t snapshot_next_seq = 0;
  InboundStats in;
};

}  // namespace internal

// The names the replicator's files use unqualified (this header is theirs only).
using internal::kMaxApplyEntries;
using internal::kResumeIntervalMicros;
using internal::PeerState;
using internal::Serialize;
using storage::LogEntry;
using storage::Record;

struct Replicator::Impl {
  using PeerState = internal::PeerState;
  using LogEntry = storage::LogEntry;
  using Record = storage::Record;

  storage::Store* store;
  uint32_t self;
  std::vector<uint32_t> peers;
  ConcurrencyHandler* handler;
  Transport* transport;
  const Clock* clock;
  ReplicatorOptions options;

  mutable std::mutex mu;
  Replicator::MessageHandler message_handler;  // set before links come up
  std::map<uint32_t, PeerState> state;
  // Lock-free copy of each origin's applied lsn (read per request for
  // session tokens), indexed by region id.
  std::vector<std::atomic<uint64_t>> applied;
  PeerState* Find(uint32_t peer);
  void Reply(uint32_t peer, const pb::Frame& f) { transport->ReplyToPeer(peer, internal::Serialize(f)); }
  void SendResume(uint32_t peer, PeerState& ps);
  void SendAck(uint32_t peer, PeerState& ps);

  // ---- outbound ----
  void Rewind(PeerState& ps, uint64_t to);
  void PumpPeer(uint32_t peer, PeerState& ps);

  void SendSnapshot(uint32_t peer, PeerState& ps);

  // Resends what `peer` has not acknowledged on the outbound link: asks the
  // peer where to start if it has not said, else rewinds to its last
  // acknowledgement; then ships. Unless `force`, only once the link has seen
  // no progress for retransmit_after_micros.
  void RetransmitPeer(uint32_t peer, PeerState& ps, int64_t now, bool force);

  // ---- inbound ----

  // Records read ahead for one store write (Prefetch), by key.
  using Prefetched = std::unordered_map<std::string, std::optional<Record>>;

  // Merges `incoming` into the batch being built, reading the current version
  // from `pending` (earlier records of this batch), else from `prefetched`
  // (each taken once), else the store. The stored state of a key is the set
  // of its maximal versions (a winner and its open siblings); merging is set
  // union minus dominated versions, so the result does not depend on the
  // order in which versions arrive.
  Status MergeRecord(PeerState& ps, const std::string& key, Record incoming,
                     const storage::WriteContext& ctx, std::unordered_map<std::string, Record>& pending,
                     Prefetched& prefetched, storage::WriteSet& set);

  // The stored records of `keys`, read in one batch before a frame is
  // merged (MergeRecord takes each from here once). Call under the store's
  // write lock (inside a Write), and use within that write only.
  Result<Prefetched> Prefetch(std::vector<std::string> keys);

  // A stored record and its siblings as a flat list of versions. A merged
  // record is derived from its siblings, which are the versions.
  static std::vector<Record> Flatten(Record rec);

  // Gives records created by resolution (conflict records) their identity
  // as this region's write at `lsn`.
  static void StampLocal(storage::WriteSet& set, const storage::WriteContext& ctx);

  // Applies consecutive entries of `peer` in one atomic batch, with the
  // applied cursor.
  Status ApplyEntries(uint32_t peer, PeerState& ps, std::vector<LogEntry>& entries);

  // Applies the entries of consecutive Entries frames, in batches of up to
  // kMaxApplyEntries (one atomic store write each), and acknowledges once.
  void OnEntries(uint32_t peer, PeerState& ps, const std::vector<const pb::Entries*>& frames);
  bool Apply(uint32_t peer, PeerState& ps, std::vector<LogEntry>& batch);
  void OnSnapshot(uint32_t peer, PeerState& ps, const pb::Snapshot& msg);
};

}  // namespace regionlab::replication
