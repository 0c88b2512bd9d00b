// QueryFeedPage: read feeds and queries of non-document resources (conflicts,
// stored procedures) through the query engine, so that paging, continuations
// and the SQL dialect behave the same as for documents.
#include "server/errors.h"
#include "server/handlers.h"
#include "query/query.h"

namespace regionlab::server {

HttpResponse QueryFeedPage(RequestContext& ctx, const query::RowSource& source, const std::string& scope,
                           const std::string& rid, const char* array_name, bool is_query) {
  query::QuerySpec spec{"SELECT * FROM root", {}};
  if (is_query) {
    auto parsed = query::ParseQuerySpec(ctx.request.body);
    if (!parsed.ok()) return ErrorResponse(parsed.status());
    spec = std::move(*parsed);
  }
  auto prepared = query::PreparedQuery::Prepare(spec);
  if (!prepared.ok()) return ErrorResponse(prepared.status());
  auto max_items = query::ParseMaxItemCount(ctx.request.Header("x-ms-max-item-count"));
  if (!max_items.ok()) return ErrorResponse(max_items.status());
  query::PageRequest request;
  request.max_items = *max_items;
  request.continuation = ctx.request.HeaderOr("x-ms-continuation", "");
  request.scope = scope;
  request.now_micros = ctx.region.clock->NowMicros();
  request.limits.cancelled = ctx.request.cancelled.get();
  auto page = query::ExecutePage(*prepared, source, request);
  if (!page.ok()) return ErrorResponse(page.status());
  HttpResponse resp = JsonResponse(200, query::FeedBody(rid, array_name, page->documents));
  resp.SetHeader("x-ms-item-count", std::to_string(page->documents.size()));
  if (!page->continuation.empty()) resp.SetHeader("x-ms-continuation", page->continuation);
  ctx.request_charge = 2.0 + static_cast<double>(page->rows_scanned) * 0.01;
  return resp;
}

}  // namespace regionlab::server
