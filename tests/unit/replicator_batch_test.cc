// Replicator: frames that arrive together (a backlog read in one go from the
// socket) are applied across frame boundaries, acknowledged once, and keep
// the per-frame rules: a gap stops the run and asks to resume, duplicates are
// skipped.
#include <gtest/gtest.h>

#include <deque>
#include <string>
#include <vector>

#include "conflictfeed/policy_handler.h"
#include "replication/replicator.h"
#include "storage/keys.h"
#include "storage/store.h"
#include "tests/support/fake_clock.h"

namespace regionlab {
namespace {

class QueueTransport final : public replication::Transport {
 public:
  void SendToPeer(uint32_t, std::string payload) override { out.push_back(std::move(payload)); }
  void ReplyToPeer(uint32_t, std::string payload) override { back.push_back(std::move(payload)); }
  std::deque<std::string> out, back;
};

const std::string kColl = "\x01\x02\x03\x04\x05\x06\x07\x08";

class ReplicatorBatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    storage::StoreOptions o;
    o.in_memory = true;
    o.region_id = 1;
    auto origin = storage::Store::Open(o, clock_);
    ASSERT_TRUE(origin.ok());
    origin_ = std::move(*origin);
    o.region_id = 2;
    auto receiver = storage::Store::Open(o, clock_);
    ASSERT_TRUE(receiver.ok());
    receiver_ = std::move(*receiver);
    h1_ = std::make_unique<conflictfeed::PolicyHandler>(*origin_);
    h2_ = std::make_unique<conflictfeed::PolicyHandler>(*receiver_);
    replication::ReplicatorOptions ro;
    ro.max_entries_per_frame = 3;
    auto r1 = replication::Replicator::Create(*origin_, 1, {2}, *h1_, t1_, clock_, ro);
    auto r2 = replication::Replicator::Create(*receiver_, 2, {1}, *h2_, t2_, clock_, ro);
    ASSERT_TRUE(r1.ok() && r2.ok());
    r1_ = std::move(*r1);
    r2_ = std::move(*r2);
    r1_->OnOutboundUp(2);
    r2_->OnInboundUp(1);
    DeliverReplies();  // the receiver's Resume: shipping starts
  }

  void Write(int n) {
    for (int i = 0; i < n; ++i) {
      int id = next_++;
      auto c = origin_->Write([&](const storage::WriteContext& w) -> Result<storage::WriteSet> {
        storage::Record r;
        r.id = "d" + std::to_string(id);
        r.partition_key = "[\"p\"]";
        r.version = {{w.region_id, w.lsn}};
        r.origin_region = w.region_id;
        r.origin_lsn = w.lsn;
        r.write_micros = w.now_micros;
        r.body = "{\"id\":\"" + r.id + "\"}";
        storage::WriteSet set;
        set.puts.emplace_back(storage::keys::Document(kColl, r.partition_key, r.id), std::move(r));
        return set;
      });
      ASSERT_TRUE(c.ok());
    }
    r1_->Pump();
  }

  std::vector<std::string> TakeFrames() {
    std::vector<std::string> f(t1_.out.begin(), t1_.out.end());
    t1_.out.clear();
    return f;
  }

  void Deliver(const std::vector<std::string>& frames) {
    std::vector<std::string_view> views(frames.begin(), frames.end());
    r2_->OnInboundFrames(1, views);
  }

  size_t DeliverReplies() {
    size_t n = t2_.back.size();
    while (!t2_.back.empty()) {
      std::string f = std::move(t2_.back.front());
      t2_.back.pop_front();
      r1_->OnOutboundFrame(2, f);
    }
    return n;
  }

  size_t Documents() {
    size_t n = 0;
    EXPECT_TRUE(receiver_->Scan(storage::keys::DocumentPrefix(kColl), "", false, [&](std::string_view, storage::Record&&) {
      ++n;
      return true;
    }).ok());
    return n;
  }

  testing::FakeClock clock_;
  std::unique_ptr<storage::Store> origin_, receiver_;
  std::unique_ptr<conflictfeed::PolicyHandler> h1_, h2_;
  QueueTransport t1_, t2_;
  std::unique_ptr<replication::Replicator> r1_, r2_;
  int next_ = 0;
};

TEST_F(ReplicatorBatchTest, FramesArrivingTogetherAreAppliedAndAcknowledgedOnce) {
  Write(10);
  auto frames = TakeFrames();
  ASSERT_EQ(frames.size(), 4u);  // 3 + 3 + 3 + 1 entries
  Deliver(frames);
  EXPECT_EQ(r2_->Applied(1), 10u);
  EXPECT_EQ(Documents(), 10u);
  EXPECT_EQ(r2_->Inbound(1).entries_applied, 10u);
  EXPECT_EQ(DeliverReplies(), 1u);  // one acknowledgement for the four frames
  EXPECT_EQ(r1_->Outbound(2).acked, 10u);
}

TEST_F(ReplicatorBatchTest, AGapStopsTheRunAfterWhatCameBeforeIt) {
  Write(9);
  auto frames = TakeFrames();
  ASSERT_EQ(frames.size(), 3u);
  clock_.AdvanceMillis(200);        // past the resume rate limit (the link's first Resume was at start)
  Deliver({frames[0], frames[2]});  // the middle frame was lost
  EXPECT_EQ(r2_->Applied(1), 3u);   // the first frame is applied, the third is past the gap
  EXPECT_EQ(r2_->Inbound(1).gaps, 1u);
  EXPECT_EQ(Documents(), 3u);
  EXPECT_EQ(DeliverReplies(), 2u);  // a Resume (from 3) and the Ack of the first frame
  // The origin resends from 3: everything arrives, nothing twice.
  Deliver(TakeFrames());
  EXPECT_EQ(r2_->Applied(1), 9u);
  EXPECT_EQ(Documents(), 9u);
  EXPECT_EQ(r2_->Inbound(1).entries_applied, 9u);
}

TEST_F(ReplicatorBatchTest, DuplicatesInABatchAreSkippedAndStillAcknowledged) {
  Write(6);
  auto frames = TakeFrames();
  Deliver(frames);
  DeliverReplies();
  Deliver({frames[0], frames[1], frames[0]});
  EXPECT_EQ(r2_->Inbound(1).duplicates, 9u);
  EXPECT_EQ(r2_->Inbound(1).entries_applied, 6u);
  EXPECT_EQ(DeliverReplies(), 1u);
}

}  // namespace
}  // namespace regionlab
