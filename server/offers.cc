#include "server/offers.h"

#include "base/encoding.h"
#include "base/hash.h"
#include "query/store_row_source.h"
#include "server/errors.h"
#include "server/throughput.h"
#include "storage/keys.h"

#include <charconv>

namespace regionlab::server {
namespace {

bool ParseInt64(const std::string& text, int64_t* out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size();
}

namespace keys = storage::keys;
using storage::Record;
using storage::RecordKind;

// Azure's bounds for provisioned throughput without a support request.
constexpr int64_t kMinManual = 400;
constexpr int64_t kMaxManual = 1'000'000;
constexpr int64_t kMinAutoscaleMax = 1000;

Status CheckManual(int64_t ru) {
  if (ru < kMinManual || ru > kMaxManual || ru % 100 != 0) {
    return Status::BadRequest("The offer throughput " + std::to_string(ru) +
                              " is invalid: it must be a multiple of 100 between 400 and 1000000 RU/s.");
  }
  return Status::Ok();
}

Status CheckAutoscaleMax(int64_t ru) {
  if (ru < kMinAutoscaleMax || ru > kMaxManual * 10 || ru % 1000 != 0) {
    return Status::BadRequest("The autoscale maximum throughput " + std::to_string(ru) +
                              " is invalid: it must be a multiple of 1000, at least 1000 RU/s.");
  }
  return Status::Ok();
}

// Four characters from [A-Za-z0-9], from the resource's rid.
std::string OfferId(std::string_view resource_rid) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  uint64_t h = Fnv1a64(resource_rid);
  std::string id;
  for (int i = 0; i < 4; ++i) {
    id.push_back(kAlphabet[h % 62]);
    h /= 62;
  }
  return id;
}

Json OfferContent(const ThroughputSetting& s) {
  Json content = {{"offerThroughput", s.autoscale ? s.throughput / 10 : s.throughput},
                  {"offerIsRUPerMinuteThroughputEnabled", false}};
  if (s.autoscale) {
    content["offerMinimumThroughputParameters"] = {{"maxThroughputEverProvisioned", s.throughput},
                                                   {"maxConsumedStorageEverInKB", 0}};
    content["offerAutopilotSettings"] = {{"maxThroughput", s.throughput}};
  }
  return content;
}

// The setting an offer record describes.
ThroughputSetting SettingOf(const Json& offer) {
  ThroughputSetting s;
  const Json& content = offer.contains("content") ? offer["content"] : Json::object();
  if (content.contains("offerAutopilotSettings") && content["offerAutopilotSettings"].contains("maxThroughput")) {
    s.autoscale = true;
    s.throughput = content["offerAutopilotSettings"]["maxThroughput"].get<int64_t>();
  } else {
    s.throughput = content.value("offerThroughput", int64_t{400});
  }
  return s;
}

// The offer with id `id` (scanning every offer: there are few).
Result<std::optional<std::pair<std::string, Record>>> FindOffer(const storage::Store& store, const std::string& id) {
  std::optional<std::pair<std::string, Record>> found;
  Status s = store.Scan(keys::OfferPrefix(), "", false, [&](std::string_view key, Record&& r) {
    if (r.id != id) return true;
    found.emplace(std::string(key), std::move(r));
    return false;
  });
  if (!s.ok()) return s;
  return found;
}

Status OfferNotFound(const std::string& id) {
  return Status::NotFound("Resource Not Found. Offer '" + id + "' does not exist.");
}

HttpResponse ReplaceOffer(RequestContext& ctx, const std::string& id) {
  auto body = ParseJsonBody(ctx.request.body);
  if (!body.ok()) return ErrorResponse(body.status());
  if (!body->is_object() || !body->contains("content") || !(*body)["content"].is_object()) {
    return ErrorResponse(Status::BadRequest("An offer must be an object with a 'content' object."));
  }
  const Json& content = (*body)["content"];
  const bool to_autoscale = ToLower(ctx.request.HeaderOr("x-ms-cosmos-migrate-offer-to-autopilot", "")) == "true";
  const bool to_manual = ToLower(ctx.request.HeaderOr("x-ms-cosmos-migrate-offer-to-manual-throughput", "")) == "true";
  const std::string* if_match = ctx.request.Header("if-match");
  Record written;
  auto commit = ctx.region.store->Write([&](const storage::WriteContext& w) -> Result<storage::WriteSet> {
    auto found = FindOffer(*ctx.region.store, id);
    if (!found.ok()) return found.status();
    if (!found->has_value()) return OfferNotFound(id);
    auto& [key, current] = **found;
    if (!EtagMatches(if_match, current)) return PreconditionFailed();
    Json offer = Json::parse(current.body);
    ThroughputSetting s = SettingOf(offer);
    if (to_autoscale) {
      s = {true, std::max<int64_t>(kMinAutoscaleMax, s.throughput * 10 / 1000 * 1000)};
    } else if (to_manual) {
      s = {false, std::max<int64_t>(kMinManual, s.throughput / 10 / 100 * 100)};
    } else if (s.autoscale) {
      const Json* ap = content.contains("offerAutopilotSettings") ? &content["offerAutopilotSettings"] : nullptr;
      if (!ap || !ap->contains("maxThroughput") || !(*ap)["maxThroughput"].is_number_integer()) {
        return Status::BadRequest("This offer is autoscale: set content.offerAutopilotSettings.maxThroughput "
                                  "(or switch with x-ms-cosmos-migrate-offer-to-manual-throughput).");
      }
      s.throughput = (*ap)["maxThroughput"].get<int64_t>();
      RL_RETURN_IF_ERROR(CheckAutoscaleMax(s.throughput));
    } else {
      if (!content.contains("offerThroughput") || !content["offerThroughput"].is_number_integer()) {
        return Status::BadRequest("An offer replace needs content.offerThroughput (RU/s).");
      }
      s.throughput = content["offerThroughput"].get<int64_t>();
      RL_RETURN_IF_ERROR(CheckManual(s.throughput));
    }
    written = MakeOfferRecord(s, offer.value("resource", ""), offer.value("offerResourceId", ""), w, current);
    storage::WriteSet set;
    set.puts.emplace_back(key, written);
    return set;
  });
  if (!commit.ok()) return ErrorResponse(commit.status());
  ctx.session_lsn = commit->lsn;
  return RecordResponse(200, written);
}

}  // namespace

Result<std::optional<ThroughputSetting>> ParseThroughputHeaders(const HttpRequest& request) {
  const std::string* manual = request.Header("x-ms-offer-throughput");
  const std::string* autoscale = request.Header("x-ms-cosmos-offer-autopilot-settings");
  if (manual && autoscale) {
    return Status::BadRequest("Give either x-ms-offer-throughput or x-ms-cosmos-offer-autopilot-settings, not both.");
  }
  if (manual) {
    int64_t ru = 0;
    if (!ParseInt64(*manual, &ru)) {
      return Status::BadRequest("x-ms-offer-throughput must be a whole number of RU/s, not '" + *manual + "'.");
    }
    RL_RETURN_IF_ERROR(CheckManual(ru));
    return std::optional<ThroughputSetting>(ThroughputSetting{false, ru});
  }
  if (autoscale) {
    Json j = Json::parse(*autoscale, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object() || !j.contains("maxThroughput") || !j["maxThroughput"].is_number_integer()) {
      return Status::BadRequest("x-ms-cosmos-offer-autopilot-settings must be {\"maxThroughput\": N}.");
    }
    const int64_t max = j["maxThroughput"].get<int64_t>();
    RL_RETURN_IF_ERROR(CheckAutoscaleMax(max));
    return std::optional<ThroughputSetting>(ThroughputSetting{true, max});
  }
  return std::optional<ThroughputSetting>();
}

Record MakeOfferRecord(const ThroughputSetting& setting, const std::string& resource_self,
                       const std::string& resource_rid, const storage::WriteContext& w,
                       const std::optional<Record>& previous) {
  const std::string id = OfferId(resource_rid);
  Record r = NewLocalRecord(RecordKind::kOffer, id, id, w, previous);
  Json doc = {{"id", id},
              {"_rid", id},
              {"_self", "offers/" + id + "/"},
              {"_etag", r.etag},
              {"_ts", r.ts},
              {"offerVersion", "V2"},
              {"offerType", "Invalid"},
              {"resource", resource_self},
              {"offerResourceId", resource_rid},
              {"content", OfferContent(setting)}};
  r.body = doc.dump();
  return r;
}

Result<std::optional<double>> ContainerBudget(const storage::Store& store, const std::string& coll_rid_bytes,
                                              std::string* bucket) {
  for (const std::string& rid : {coll_rid_bytes, coll_rid_bytes.substr(0, 4)}) {
    auto rec = store.Get(keys::Offer(rid));
    if (!rec.ok()) return rec.status();
    if (!rec->has_value() || (*rec)->tombstone) continue;
    Json offer = Json::parse((*rec)->body, nullptr, /*allow_exceptions=*/false);
    if (!offer.is_object()) continue;
    *bucket = rid;
    // Autoscale scales between 10% and the maximum at once: the budget is the maximum.
    return std::optional<double>(static_cast<double>(SettingOf(offer).throughput));
  }
  return std::optional<double>();
}

std::optional<HttpResponse> AdmitOnThroughput(RequestContext& ctx, const ContainerInfo& info) {
  ThroughputGovernor* governor = ctx.region.throughput.get();
  if (!governor) return std::nullopt;
  std::string bucket;
  auto budget = ContainerBudget(*ctx.region.store, RidBytes(info.record.rid).value_or(""), &bucket);
  if (!budget.ok()) return ErrorResponse(budget.status());
  if (!*budget) return std::nullopt;
  if (auto wait_ms = governor->Admit(bucket, **budget)) {
    HttpResponse resp = ErrorResponse(Status(
        StatusCode::kTooManyRequests,
        "Message: {\"Errors\":[\"Request rate is large. More Request Units may be needed, so no changes were made. "
        "Please retry this request later. Learn more: http://aka.ms/cosmosdb-error-429\"]} (the offer allows " +
            std::to_string(static_cast<int64_t>(**budget)) + " RU/s; regionlab runs with --enforce-throughput)",
        3200));
    resp.SetHeader("x-ms-retry-after-ms", std::to_string(*wait_ms));
    ctx.request_charge = 0;
    return resp;
  }
  ctx.throughput_bucket = std::move(bucket);
  return std::nullopt;
}

HttpResponse HandleOffers(RequestContext& ctx) {
  const auto& s = ctx.segments;
  const std::string& m = ctx.request.method;
  if (s.size() == 1) {
    const bool is_query = m == "POST";
    if (m != "GET" && !is_query) return ErrorResponse(Status::BadRequest("Use GET or POST (a query) on /offers."));
    query::StoreRowSource source(*ctx.region.store, keys::OfferPrefix());
    return QueryFeedPage(ctx, source, keys::OfferPrefix(), "", "Offers", is_query);
  }
  if (s.size() != 2) return ErrorResponse(Status::NotFound("Resource Not Found."));
  const std::string& id = s[1];
  if (m == "GET") {
    auto found = FindOffer(*ctx.region.store, id);
    if (!found.ok()) return ErrorResponse(found.status());
    if (!found->has_value()) return ErrorResponse(OfferNotFound(id));
    HttpResponse resp = RecordResponse(200, (*found)->second);
    Json offer = Json::parse((*found)->second.body);
    resp.SetHeader("x-ms-cosmos-min-throughput", SettingOf(offer).autoscale ? "1000" : "400");
    return resp;
  }
  if (m == "PUT") return ReplaceOffer(ctx, id);
  return ErrorResponse(Status::BadRequest("Method " + m + " is not supported on offers."));
}

}  // namespace regionlab::server
