// Fenced leases: see server/leases.h and docs/leases.md.
#include "server/leases.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <condition_variable>
#include <limits>
#include <random>

#include "replication/replicator.h"
#include "server/errors.h"
#include "server/handlers.h"
#include "storage/keys.h"

namespace regionlab::server {

// One acquire/renew/release, as received over HTTP or from another region.
struct LeaseService::Op {
  std::string op;     // "acquire" | "renew" | "release"
  std::string name;
  std::string owner;
  int64_t ttl_ms = 0;  // 0: not given (renew keeps the lease's)
  uint64_t token = 0;  // renew/release
};

// An answer: HTTP status and JSON body (empty for 204).
struct LeaseService::Reply {
  int status = 200;
  std::string body;
};

struct LeaseService::Pending {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  Reply reply;
};

namespace {

namespace keys = storage::keys;

// The lease as stored in its record's body.
struct LeaseState {
  std::string name;
  std::string owner;
  uint64_t token = 0;
  int64_t expires_at_ms = 0;
  int64_t ttl_ms = 0;
  bool released = false;

  bool Held(int64_t now_ms) const { return !released && now_ms < expires_at_ms; }
};

std::optional<LeaseState> ParseLease(const storage::Record& rec) {
  if (rec.tombstone) return std::nullopt;
  Json j = Json::parse(rec.body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return std::nullopt;
  LeaseState s;
  s.name = j.value("id", rec.id);
  s.owner = j.value("owner", std::string());
  s.token = j.value("token", uint64_t{0});
  s.expires_at_ms = j.value("expiresAtMs", int64_t{0});
  s.ttl_ms = j.value("ttlMs", int64_t{0});
  s.released = j.value("released", false);
  return s;
}

Result<std::optional<LeaseState>> LoadLease(const storage::Store& store, std::string_view name) {
  auto rec = store.Get(keys::Lease(name));
  if (!rec.ok()) return rec.status();
  if (!rec->has_value()) return std::optional<LeaseState>();
  return ParseLease(**rec);
}

// The view of a lease that acquire/renew answer with.
Json GrantJson(const LeaseState& s) {
  return Json{{"name", s.name}, {"owner", s.owner}, {"token", s.token}, {"expiresAtMs", s.expires_at_ms},
              {"ttlMs", s.ttl_ms}};
}

LeaseService::Reply ErrorReply(const Status& s) {
  HttpResponse r = ErrorResponse(s);
  return {r.status, r.body};
}

LeaseService::Reply ConflictReply(const std::string& message, const std::optional<LeaseState>& cur,
                                  int64_t now_ms) {
  Json j = {{"code", "Conflict"}, {"message", message}};
  if (cur && cur->Held(now_ms)) {
    j["owner"] = cur->owner;
    j["expiresAtMs"] = cur->expires_at_ms;
  } else {
    j["owner"] = nullptr;
  }
  return {409, j.dump()};
}

HttpResponse ToHttp(const LeaseService::Reply& r) {
  HttpResponse resp;
  resp.status = r.status;
  resp.body = r.body;
  if (r.status == 429) resp.SetHeader("x-ms-retry-after-ms", "100");
  return resp;
}

Status ValidateOwner(const std::string& owner) {
  if (owner.empty()) return Status::BadRequest("The lease request needs a non-empty string \"owner\".");
  if (owner.size() > 255) return Status::BadRequest("The lease owner is longer than 255 characters.");
  return Status::Ok();
}

// Parses and validates the body of acquire/renew/release.
Result<LeaseService::Op> ParseOp(const std::string& op, const std::string& name, std::string_view body,
                                 const LeaseServiceOptions& options) {
  auto parsed = ParseJsonBody(body);
  if (!parsed.ok()) return parsed.status();
  const Json& j = *parsed;
  if (!j.is_object()) return Status::BadRequest("The lease request body must be a JSON object.");
  LeaseService::Op out;
  out.op = op;
  out.name = name;
  auto owner = j.find("owner");
  if (owner == j.end() || !owner->is_string()) {
    return Status::BadRequest("The lease request needs a non-empty string \"owner\".");
  }
  out.owner = owner->get<std::string>();
  RL_RETURN_IF_ERROR(ValidateOwner(out.owner));
  auto ttl = j.find("ttlMs");
  if (ttl != j.end() && !ttl->is_null()) {
    if (!ttl->is_number_integer()) return Status::BadRequest("\"ttlMs\" must be a whole number of milliseconds.");
    bool in_range = ttl->is_number_unsigned() ? ttl->get<uint64_t>() <= static_cast<uint64_t>(options.max_ttl_ms)
                                              : ttl->get<int64_t>() >= 1 && ttl->get<int64_t>() <= options.max_ttl_ms;
    if (!in_range || ttl->get<int64_t>() < 1) {
      return Status::BadRequest("\"ttlMs\" must be between 1 and " + std::to_string(options.max_ttl_ms) + ".");
    }
    out.ttl_ms = ttl->get<int64_t>();
  }
  if (op == "acquire") {
    if (out.ttl_ms == 0) out.ttl_ms = options.default_ttl_ms;
  } else {
    auto token = j.find("token");
    bool ok = token != j.end() && (token->is_number_unsigned() || (token->is_number_integer() && token->get<int64_t>() > 0));
    if (!ok) return Status::BadRequest("The " + op + " request needs the lease's \"token\" (a positive integer).");
    out.token = token->get<uint64_t>();
    if (out.token == 0) return Status::BadRequest("\"token\" must be a positive integer.");
  }
  return out;
}

Json OpToJson(const LeaseService::Op& op, uint64_t id) {
  return Json{{"t", "req"},         {"id", id},         {"op", op.op},      {"name", op.name},
              {"owner", op.owner},  {"ttlMs", op.ttl_ms}, {"token", op.token}};
}

}  // namespace

LeaseService::LeaseService(RegionContext& region, LeaseServiceOptions options)
    : region_(region), options_(std::move(options)) {
  // Request ids start at a random point, so that a late reply to a request of
  // an earlier incarnation of this region never matches a new request.
  std::random_device rd;
  next_id_ = (uint64_t(rd()) << 32 | rd()) & 0x000fffffffffffffULL;  // stays exact in JSON doubles
}

LeaseService::~LeaseService() { CancelForwards(); }

void LeaseService::CancelForwards() {
  std::vector<std::shared_ptr<Pending>> waiting;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [id, p] : pending_) waiting.push_back(p);
    pending_.clear();
  }
  for (auto& p : waiting) {
    std::lock_guard<std::mutex> lock(p->mu);
    if (!p->done) {
      p->done = true;
      p->reply = ErrorReply(Status::Unavailable("Region " + region_.self.name +
                                                " stopped while waiting for the lease's home region."));
    }
    p->cv.notify_all();
  }
}

uint32_t LeaseService::HomeRegionId() const {
  if (!options_.home_region.empty()) {
    for (const auto& r : region_.account_regions) {
      if (r.name == options_.home_region) return r.id;
    }
  }
  if (region_.account_regions.empty()) return region_.self.id;
  return region_.account_regions.front().id;
}

uint64_t LeaseService::KnownToken(std::string_view name) const {
  uint64_t known = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = known_tokens_.find(name);
    if (it != known_tokens_.end()) known = it->second;
  }
  if (region_.store) {
    auto cur = LoadLease(*region_.store, name);
    if (cur.ok() && cur->has_value()) known = std::max(known, (**cur).token);
  }
  return known;
}

void LeaseService::NoteToken(const std::string& name, uint64_t token) {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t& t = known_tokens_[name];
  t = std::max(t, token);
}

LeaseService::Stats LeaseService::stats() const {
  return {forwarded_.load(), forward_timeouts_.load(), forward_refused_.load(), decided_.load()};
}

HttpResponse LeaseService::Handle(const HttpRequest& request, const std::vector<std::string>& segments) {
  // segments: "_regionlab" "leases" name [op]
  const std::string home_name = RegionName(region_, HomeRegionId(), "#");
  auto finish = [&](HttpResponse r) {
    r.SetHeader("x-regionlab-lease-home", home_name);
    return r;
  };
  if (segments.size() < 3 || segments.size() > 4) {
    return finish(ErrorResponse(Status::NotFound(
        "Resource Not Found: use GET /_regionlab/leases/{name} or POST /_regionlab/leases/{name}/acquire|renew|release.")));
  }
  const std::string& name = segments[2];
  if (Status s = ValidateResourceId(name, "Lease"); !s.ok()) return finish(ErrorResponse(s));

  if (segments.size() == 3) {
    if (request.method != "GET") {
      return finish(ErrorResponse(Status::NotFound("Resource Not Found: no route for " + request.method +
                                                   " /_regionlab/leases/" + name + "; use GET, or POST .../acquire, "
                                                   "renew or release.")));
    }
    // From the local replica: at the home region the truth, elsewhere as
    // fresh as replication (x-regionlab-lease-source says which).
    auto cur = LoadLease(*region_.store, name);
    if (!cur.ok()) return finish(ErrorResponse(cur.status()));
    if (!cur->has_value()) {
      return finish(ErrorResponse(Status::NotFound("Lease '" + name + "' has never been acquired.")));
    }
    const LeaseState& s = **cur;
    int64_t now = region_.clock->NowMillis();
    Json j = {{"name", s.name},
              {"owner", s.released ? Json(nullptr) : Json(s.owner)},
              {"token", s.token},
              {"expiresAtMs", s.expires_at_ms},
              {"ttlMs", s.ttl_ms},
              {"held", s.Held(now)}};
    HttpResponse r = JsonResponse(200, j.dump());
    r.SetHeader("x-regionlab-lease-source", region_.self.id == HomeRegionId() ? "home" : "replica");
    return finish(std::move(r));
  }

  const std::string& op = segments[3];
  if (request.method != "POST" || (op != "acquire" && op != "renew" && op != "release")) {
    return finish(ErrorResponse(Status::NotFound("Resource Not Found: no route for " + request.method +
                                                 " /_regionlab/leases/" + name + "/" + op +
                                                 "; use POST .../acquire, renew or release.")));
  }
  auto parsed = ParseOp(op, name, request.body, options_);
  if (!parsed.ok()) return finish(ErrorResponse(parsed.status()));
  Reply reply = region_.self.id == HomeRegionId() ? Decide(*parsed) : Forward(*parsed);
  return finish(ToHttp(reply));
}

LeaseService::Reply LeaseService::Decide(const Op& op) {
  if (region_.state.load() != RegionState::kOnline) {
    return ErrorReply(Status::Unavailable("The lease's home region " + region_.self.name +
                                          " is offline (fault injected); leases cannot be granted."));
  }
  if (!region_.store) return ErrorReply(Status::Unavailable("The home region has no store."));
  std::unique_lock<std::shared_mutex> grant(grant_mu_);
  decided_.fetch_add(1, std::memory_order_relaxed);
  Reply reply;
  const std::string key = keys::Lease(op.name);
  auto committed = region_.store->Write([&](const storage::WriteContext& w) -> Result<storage::WriteSet> {
    storage::WriteSet set;
    auto rec = region_.store->Get(key);
    if (!rec.ok()) return rec.status();
    std::optional<LeaseState> cur;
    if (rec->has_value()) cur = ParseLease(**rec);
    const int64_t now = region_.clock->NowMillis();

    LeaseState next;
    bool write = false;
    if (op.op == "acquire") {
      if (cur && cur->Held(now) && cur->owner != op.owner) {
        reply = ConflictReply("Lease '" + op.name + "' is held by '" + cur->owner + "' until " +
                                  std::to_string(cur->expires_at_ms) + " (home region clock, ms).",
                              cur, now);
        return set;
      }
      next.name = op.name;
      next.owner = op.owner;
      next.ttl_ms = op.ttl_ms;
      next.expires_at_ms = now + op.ttl_ms;
      // The holder re-acquiring keeps its token; anyone after expiry or
      // release gets the next one.
      next.token = cur && cur->Held(now) ? cur->token : (cur ? cur->token : 0) + 1;
      reply = {200, GrantJson(next).dump()};
      write = true;
    } else if (op.op == "renew") {
      if (!cur || cur->released || cur->token != op.token || cur->owner != op.owner) {
        reply = ConflictReply("Lease '" + op.name + "' is not held by '" + op.owner + "' with token " +
                                  std::to_string(op.token) + (cur ? "; its token is now " + std::to_string(cur->token) : "") +
                                  ".",
                              cur, now);
        return set;
      }
      if (!cur->Held(now)) {
        reply = ConflictReply("Lease '" + op.name + "' expired at " + std::to_string(cur->expires_at_ms) +
                                  " (home region clock, ms); acquire it again for a new token.",
                              cur, now);
        return set;
      }
      next = *cur;
      if (op.ttl_ms > 0) next.ttl_ms = op.ttl_ms;
      next.expires_at_ms = now + next.ttl_ms;
      reply = {200, GrantJson(next).dump()};
      write = true;
    } else {  // release
      if (!cur || cur->token != op.token || cur->owner != op.owner) {
        reply = ConflictReply("Lease '" + op.name + "' is not held by '" + op.owner + "' with token " +
                                  std::to_string(op.token) + (cur ? "; its token is now " + std::to_string(cur->token) : "") +
                                  ".",
                              cur, now);
        return set;
      }
      reply = {204, ""};
      if (cur->released) return set;  // idempotent
      next = *cur;
      next.released = true;
      next.expires_at_ms = std::min(next.expires_at_ms, now);
      write = true;
    }
    if (!write) return set;
    std::optional<storage::Record> previous;
    if (rec->has_value()) previous = **rec;
    storage::Record r = NewLocalRecord(storage::RecordKind::kLease, op.name, "", w, previous);
    r.operation = PutOperation(previous);
    Json body = {{"id", next.name},
                 {"owner", next.owner},
                 {"token", next.token},
                 {"expiresAtMs", next.expires_at_ms},
                 {"ttlMs", next.ttl_ms},
                 {"released", next.released},
                 {"_etag", r.etag},
                 {"_ts", r.ts}};
    r.body = body.dump();
    set.puts.emplace_back(key, std::move(r));
    return set;
  });
  if (!committed.ok()) {
    spdlog::error("{}: lease {} {}: {}", region_.self.name, op.op, op.name, committed.status().ToString());
    return ErrorReply(Status::Unavailable("The lease's home region could not persist lease '" + op.name +
                                          "': " + committed.status().message()));
  }
  return reply;
}

LeaseService::Reply LeaseService::Forward(const Op& op) {
  const uint32_t home = HomeRegionId();
  const std::string home_name = RegionName(region_, home);
  auto unreachable = [&](const std::string& why) {
    return ErrorReply(Status::Unavailable("Region " + region_.self.name + " cannot reach the lease's home region " +
                                          home_name + " (" + why + "); lease '" + op.name +
                                          "' is decided only there. Retry, or ask another region."));
  };
  replication::Replicator* replicator = region_.replicator;  // null while the region is killed
  if (!replicator) return unreachable("no replication");
  if (options_.max_forward_waiters <= 0) {
    return unreachable("this region has a single io thread, which cannot wait for the reply; send lease "
                       "requests to the home region");
  }
  if (waiters_.fetch_add(1) >= options_.max_forward_waiters) {
    waiters_.fetch_sub(1);
    forward_refused_.fetch_add(1, std::memory_order_relaxed);
    return ErrorReply(Status(StatusCode::kTooManyRequests,
                             "Too many lease requests of region " + region_.self.name +
                                 " are waiting for the home region " + home_name + "; retry shortly."));
  }
  struct Release {
    std::atomic<int>& w;
    ~Release() { w.fetch_sub(1); }
  } release{waiters_};

  auto pending = std::make_shared<Pending>();
  uint64_t id;
  {
    std::lock_guard<std::mutex> lock(mu_);
    id = next_id_++;
    pending_[id] = pending;
  }
  auto forget = [&] {
    std::lock_guard<std::mutex> lock(mu_);
    pending_.erase(id);
  };
  forwarded_.fetch_add(1, std::memory_order_relaxed);
  if (!replicator->SendMessage(home, kLeaseChannel, OpToJson(op, id).dump())) {
    forget();
    return unreachable("the replication link is down");
  }
  Reply reply;
  {
    std::unique_lock<std::mutex> lock(pending->mu);
    bool done = pending->cv.wait_for(lock, options_.forward_timeout, [&] { return pending->done; });
    if (done) reply = pending->reply;
    lock.unlock();
    forget();
    if (!done) {
      forward_timeouts_.fetch_add(1, std::memory_order_relaxed);
      return unreachable("no answer within " + std::to_string(options_.forward_timeout.count()) + " ms");
    }
  }
  if (reply.status == 200) {
    Json j = Json::parse(reply.body, nullptr, false);
    if (j.is_object() && j.contains("token") && j["token"].is_number_unsigned()) {
      NoteToken(op.name, j["token"].get<uint64_t>());
    }
  }
  return reply;
}

void LeaseService::OnMessage(uint32_t peer, uint32_t channel, std::string payload) {
  if (channel != kLeaseChannel) return;
  Json j = Json::parse(payload, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("t") || !j["t"].is_string() || !j.contains("id") ||
      !j["id"].is_number_unsigned()) {
    spdlog::warn("{}: malformed lease message from region {}", region_.self.name, peer);
    return;
  }
  const std::string t = j["t"].get<std::string>();
  const uint64_t id = j["id"].get<uint64_t>();
  if (t == "rep") {
    std::shared_ptr<Pending> p;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = pending_.find(id);
      if (it == pending_.end()) return;  // too late: the requester gave up
      p = it->second;
      pending_.erase(it);
    }
    std::lock_guard<std::mutex> lock(p->mu);
    p->done = true;
    p->reply.status = j.value("status", 500);
    p->reply.body = j.value("body", std::string());
    p->cv.notify_all();
    return;
  }
  if (t != "req") return;
  Reply reply;
  if (region_.self.id != HomeRegionId()) {
    reply = ErrorReply(Status::Unavailable("Region " + region_.self.name + " is not the home region of leases."));
  } else {
    Op op;
    op.op = j.value("op", std::string());
    op.name = j.value("name", std::string());
    op.owner = j.value("owner", std::string());
    op.ttl_ms = j.value("ttlMs", int64_t{0});
    op.token = j.value("token", uint64_t{0});
    Status valid = ValidateResourceId(op.name, "Lease");
    if (valid.ok()) valid = ValidateOwner(op.owner);
    if (valid.ok() && op.op != "acquire" && op.op != "renew" && op.op != "release") {
      valid = Status::BadRequest("unknown lease operation '" + op.op + "'");
    }
    if (valid.ok() && op.op == "acquire" && (op.ttl_ms < 1 || op.ttl_ms > options_.max_ttl_ms)) {
      valid = Status::BadRequest("\"ttlMs\" must be between 1 and " + std::to_string(options_.max_ttl_ms) + ".");
    }
    reply = valid.ok() ? Decide(op) : ErrorReply(valid);
  }
  Json rep = {{"t", "rep"}, {"id", id}, {"status", reply.status}, {"body", reply.body}};
  replication::Replicator* replicator = region_.replicator;
  if (replicator && !replicator->SendMessage(peer, kLeaseChannel, rep.dump())) {
    spdlog::debug("{}: lease reply to region {} lost: link down", region_.self.name, peer);
  }
}

std::optional<ResourceAddress> LeaseResourceAddress(std::string_view path) {
  while (path.starts_with('/')) path.remove_prefix(1);
  constexpr std::string_view kPrefix = "_regionlab/leases/";
  if (!path.starts_with(kPrefix)) return std::nullopt;
  path.remove_prefix(kPrefix.size());
  std::string_view name = path.substr(0, path.find('/'));
  if (name.empty()) return std::nullopt;
  return ResourceAddress{"leases", "leases/" + std::string(name)};
}

HttpResponse HandleLeaseRequest(RegionContext& region, const HttpRequest& request,
                                const std::vector<std::string>& segments) {
  if (!region.leases) {
    return ErrorResponse(Status::Unavailable("Region " + region.self.name + " does not run the lease service."));
  }
  return region.leases->Handle(request, segments);
}

LeaseFence CheckLeaseFence(const RegionContext& region, const HttpRequest& request, bool is_write) {
  LeaseFence fence;
  const std::string* header = is_write ? request.Header(kFenceHeader) : nullptr;
  if (!header || LeaseResourceAddress(request.path)) return fence;
  const std::string& h = *header;
  size_t colon = h.rfind(':');
  auto malformed = [&] {
    return Status::BadRequest("The header x-regionlab-fence '" + h +
                              "' is malformed; expected {leaseName}:{token}, e.g. orders-writer:7.");
  };
  if (colon == std::string::npos || colon == 0 || colon + 1 >= h.size()) {
    fence.status = malformed();
    return fence;
  }
  std::string name = h.substr(0, colon);
  uint64_t token = 0;
  for (size_t i = colon + 1; i < h.size(); ++i) {
    char c = h[i];
    if (c < '0' || c > '9' || token > (std::numeric_limits<uint64_t>::max() - 9) / 10) {
      fence.status = malformed();
      return fence;
    }
    token = token * 10 + static_cast<uint64_t>(c - '0');
  }
  if (region.leases) fence.hold = region.leases->HoldForFencedWrite();
  uint64_t known = 0;
  if (region.leases) {
    known = region.leases->KnownToken(name);
  } else if (region.store) {
    auto cur = LoadLease(*region.store, name);
    if (cur.ok() && cur->has_value()) known = (**cur).token;
  }
  if (known > token) {
    fence.hold = {};
    fence.status = Status::PreconditionFailed("The fence token " + std::to_string(token) + " of lease '" + name +
                                              "' is stale: region " + region.self.name + " knows token " +
                                              std::to_string(known) + ". The write was not applied.");
  }
  return fence;
}

}  // namespace regionlab::server
