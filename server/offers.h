// Internal to the server module: throughput offers (GET/POST /offers,
// GET/PUT /offers/{id}), the throughput headers of database and container
// creation, and the budget the throughput governor enforces.
//
// An offer is a replicated record at keys::Offer(resource rid). A database
// has one only when created with shared throughput; a container gets one
// when created with throughput, or with none in a database without shared
// throughput (400 RU/s, as Azure and its emulator provision by default).
// Offer ids are derived from the resource's rid, so every region names an
// offer the same.
#pragma once

#include <optional>
#include <string>

#include "server/handlers.h"

namespace regionlab::server {

// What a create request asked for: x-ms-offer-throughput (manual RU/s) or
// x-ms-cosmos-offer-autopilot-settings {"maxThroughput": N} (autoscale).
struct ThroughputSetting {
  bool autoscale = false;
  int64_t throughput = 0;  // manual RU/s, or the autoscale maximum
};
// nullopt when the request names no throughput; 400 when it is invalid.
Result<std::optional<ThroughputSetting>> ParseThroughputHeaders(const HttpRequest& request);

// The offer record of a resource: `resource_self` is its _self
// ("dbs/AAAA==/" or "dbs/AAAA==/colls/AAAAAAAAAAA=/"), `resource_rid` its
// _rid text. `previous` is what the offer key holds (a tombstone or nothing).
storage::Record MakeOfferRecord(const ThroughputSetting& setting, const std::string& resource_self,
                                const std::string& resource_rid, const storage::WriteContext& w,
                                const std::optional<storage::Record>& previous);

// The RU/s budget of a container: its own offer's, else its database's
// shared offer's (with the rid of the offer's resource in `*bucket`, so that
// containers sharing a database's throughput share one budget). nullopt: no
// offer at all.
Result<std::optional<double>> ContainerBudget(const storage::Store& store, const std::string& coll_rid_bytes,
                                              std::string* bucket);

// /offers and /offers/{id}.
HttpResponse HandleOffers(RequestContext& ctx);

}  // namespace regionlab::server
