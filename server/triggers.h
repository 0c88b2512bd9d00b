// Internal to the server module: document writes that run pre- and
// post-triggers (server/triggers.cc has the semantics).
#pragma once

#include <string>

#include "server/handlers.h"

namespace regionlab::server {

enum class TriggerOp { kCreate, kUpsert, kReplace, kDelete };

// True when the request names pre- or post-triggers.
bool NamesTriggers(const HttpRequest& request);

// Runs the write `op` of document `id` (partition key `pk`, canonical; body
// `body`, null for a delete) with the request's triggers, in one transaction,
// and answers it as the plain write would.
HttpResponse WriteWithTriggers(RequestContext& ctx, const ContainerInfo& info, TriggerOp op, const std::string& pk,
                               const std::string& id, const Json* body);

}  // namespace regionlab::server
