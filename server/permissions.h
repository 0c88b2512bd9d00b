// Internal to the server module: users, permissions and resource tokens
// (server/permissions.cc has the routes and the token format).
#pragma once

#include <string_view>

#include "base/cosmos_auth.h"
#include "server/handlers.h"

namespace regionlab::server {

// dbs/{db}/users[/{user}[/permissions[/{permission}]]].
HttpResponse HandleUsers(RequestContext& ctx);

// True when an authorization header carries a resource token (type=resource).
bool IsResourceToken(std::string_view authorization);

// Whether the resource token in `req`'s authorization header allows the
// request on `addr` (the signed resource of its path): a valid signature, not
// expired, its permission still present in this region, `addr` within the
// permission's resource, a write only with mode All, and within the
// permission's partition key if it has one. 401 for a bad or expired token,
// 403 for one that does not cover the request.
Status AuthorizeResourceToken(const RegionContext& region, const HttpRequest& req, const ResourceAddress& addr,
                              bool read_only);

}  // namespace regionlab::server
