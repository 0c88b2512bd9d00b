#include "cli/up_config.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

#include "base/clock.h"
#include "cli/fault.h"
#include "frontdoor/admin.h"
#include "frontdoor/front_door.h"

namespace regionlab::cli {
namespace {

using nlohmann::json;

Status Bad(const std::string& m) { return Status::BadRequest("frontDoor: " + m); }

// A duration field: "30s", "500ms" or a number of milliseconds.
Status Duration(const json& j, const char* key, int64_t* out) {
  if (!j.contains(key)) return Status::Ok();
  const json& v = j[key];
  if (v.is_number_integer() && v.get<int64_t>() >= 0) {
    *out = v.get<int64_t>();
    return Status::Ok();
  }
  if (!v.is_string()) return Bad(std::string(key) + " must be a duration such as \"30s\"");
  auto ms = ParseDurationMs(v.get<std::string>(), false);
  if (!ms.ok()) return Bad(std::string(key) + ": " + ms.status().message());
  *out = *ms;
  return Status::Ok();
}

Status Int(const json& j, const char* key, int* out) {
  if (!j.contains(key)) return Status::Ok();
  if (!j[key].is_number_integer()) return Bad(std::string(key) + " must be an integer");
  const int64_t v = j[key].get<int64_t>();
  if (v < 0 || v > 1'000'000) return Bad(std::string(key) + " is out of range");
  *out = static_cast<int>(v);
  return Status::Ok();
}

Status Str(const json& j, const char* key, std::string* out) {
  if (!j.contains(key)) return Status::Ok();
  if (!j[key].is_string()) return Bad(std::string(key) + " must be a string");
  *out = j[key].get<std::string>();
  return Status::Ok();
}

// The options of a frontDoor section. `regions` null: only the shape is
// checked (origins naming a region are not resolved).
Result<frontdoor::FrontDoorOptions> BuildOptions(const json& fd,
                                                 const std::vector<std::pair<std::string, std::string>>* regions) {
  static const char* kFields[] = {"listen", "origins", "probePath", "probeMethod", "probeInterval", "probeTimeout",
                                  "sampleSize", "successfulSamplesRequired", "additionalLatency", "pops",
                                  "timeScale", "originTimeout", "newOrigins", "threads"};
  if (!fd.is_object()) return Bad("the section must be an object");
  for (auto it = fd.begin(); it != fd.end(); ++it) {
    bool known = false;
    for (const char* f : kFields) known |= it.key() == f;
    if (!known) return Bad("unknown field '" + it.key() + "'");
  }
  frontdoor::FrontDoorOptions o;
  frontdoor::Settings& s = o.settings;
  o.port = 8080;
  int listen = 8080;
  RL_RETURN_IF_ERROR(Int(fd, "listen", &listen));
  if (listen > 65535) return Bad("listen must be a port (0: any free port)");
  o.port = static_cast<uint16_t>(listen);
  RL_RETURN_IF_ERROR(Str(fd, "probePath", &s.probe_path));
  if (!fd.contains("probePath")) s.probe_path = "/health/deep";
  s.probe_method = "GET";
  RL_RETURN_IF_ERROR(Str(fd, "probeMethod", &s.probe_method));
  RL_RETURN_IF_ERROR(Duration(fd, "probeInterval", &s.probe_interval_ms));
  RL_RETURN_IF_ERROR(Duration(fd, "probeTimeout", &s.probe_timeout_ms));
  RL_RETURN_IF_ERROR(Duration(fd, "additionalLatency", &s.additional_latency_ms));
  RL_RETURN_IF_ERROR(Duration(fd, "originTimeout", &s.origin_timeout_ms));
  RL_RETURN_IF_ERROR(Int(fd, "sampleSize", &s.sample_size));
  RL_RETURN_IF_ERROR(Int(fd, "successfulSamplesRequired", &s.successful_samples_required));
  RL_RETURN_IF_ERROR(Int(fd, "pops", &s.pops));
  RL_RETURN_IF_ERROR(Int(fd, "threads", &o.threads));
  if (fd.contains("timeScale")) {
    if (!fd["timeScale"].is_number()) return Bad("timeScale must be a number");
    s.time_scale = fd["timeScale"].get<double>();
  }
  std::string new_origins = "healthy";
  RL_RETURN_IF_ERROR(Str(fd, "newOrigins", &new_origins));
  if (new_origins != "healthy" && new_origins != "unhealthy") return Bad("newOrigins must be healthy or unhealthy");
  s.new_origin_healthy = new_origins == "healthy";
  if (Status v = s.Validate(); !v.ok()) return Bad(v.message());

  if (!fd.contains("origins")) {
    if (regions != nullptr) {
      int priority = 1;
      for (const auto& [name, url] : *regions) {
        frontdoor::OriginConfig oc;
        oc.name = name;
        oc.url = url;
        oc.priority = priority++;
        o.origins.push_back(oc);
      }
    }
    return o;
  }
  if (!fd["origins"].is_array() || fd["origins"].empty()) return Bad("origins must be a non-empty array");
  for (const json& e : fd["origins"]) {
    if (!e.is_object() || !e.contains("name") || !e["name"].is_string()) {
      return Bad("each origin needs a \"name\"");
    }
    const std::string name = e["name"].get<std::string>();
    for (auto it = e.begin(); it != e.end(); ++it) {
      const std::string& k = it.key();
      if (k != "name" && k != "url" && k != "region" && k != "priority" && k != "weight" && k != "enabled") {
        return Bad("origin " + name + ": unknown field '" + k + "' (name, url or region, priority, weight, enabled)");
      }
    }
    if (e.contains("url") == e.contains("region")) return Bad("origin " + name + ": give either \"url\" or \"region\"");
    std::string url = "http://127.0.0.1:1";  // placeholder while only the shape is checked
    if (e.contains("url")) {
      if (!e["url"].is_string()) return Bad("origin " + name + ": url must be a string");
      url = e["url"].get<std::string>();
    } else if (!e["region"].is_string()) {
      return Bad("origin " + name + ": region must be a region's short name");
    } else if (regions != nullptr) {
      const std::string region = e["region"].get<std::string>();
      bool found = false;
      for (const auto& [rname, rurl] : *regions) {
        if (rname == region) {
          url = rurl;
          found = true;
        }
      }
      if (!found) return Bad("origin " + name + ": up runs no region '" + region + "'");
    }
    while (url.size() > 7 && url.back() == '/') url.pop_back();
    std::string spec = name + "=" + url;
    for (const char* k : {"priority", "weight"}) {
      if (!e.contains(k)) continue;
      if (!e[k].is_number_integer()) return Bad("origin " + name + ": " + k + " must be an integer");
      spec += std::string(",") + k + "=" + std::to_string(e[k].get<int64_t>());
    }
    if (e.contains("enabled")) {
      if (!e["enabled"].is_boolean()) return Bad("origin " + name + ": enabled must be true or false");
      spec += e["enabled"].get<bool>() ? ",enabled=true" : ",enabled=false";
    }
    auto oc = frontdoor::ParseOriginSpec(spec);
    if (!oc.ok()) return Bad(oc.status().message());
    for (const auto& other : o.origins) {
      if (other.name == oc->name) return Bad("origin " + name + " is given twice");
    }
    o.origins.push_back(*oc);
  }
  return o;
}

}  // namespace

Result<UpConfig> ReadUpConfig(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::BadRequest("cannot read the config file " + path);
  std::ostringstream text;
  text << in.rdbuf();
  json j = json::parse(text.str(), nullptr, false);
  if (!j.is_object()) return Status::BadRequest(path + " is not a JSON object");
  UpConfig config;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() != "frontDoor") {
      return Status::BadRequest(path + ": unknown section '" + it.key() + "' (supported: frontDoor)");
    }
  }
  if (j.contains("frontDoor")) {
    auto checked = BuildOptions(j["frontDoor"], nullptr);
    if (!checked.ok()) return Status::BadRequest(path + ": " + checked.status().message());
    config.front_door = j["frontDoor"].dump();
  }
  return config;
}

Result<std::unique_ptr<EmbeddedFrontDoor>> EmbeddedFrontDoor::Start(const std::string& section,
                                                                   const std::vector<std::string>& region_names,
                                                                   const std::string& host, std::string* ready_line) {
  json line = json::parse(*ready_line, nullptr, false);
  if (!line.is_object() || !line.contains("regions")) return Status::Internal("unexpected ready line");
  std::vector<std::pair<std::string, std::string>> regions;
  for (size_t i = 0; i < line["regions"].size() && i < region_names.size(); ++i) {
    std::string url = line["regions"][i].value("endpoint", std::string());
    while (!url.empty() && url.back() == '/') url.pop_back();
    regions.emplace_back(region_names[i], url);
  }
  auto options = BuildOptions(json::parse(section), &regions);
  if (!options.ok()) return options.status();
  options->host = host == "0.0.0.0" || host.empty() ? "127.0.0.1" : host;
  auto fd = frontdoor::FrontDoor::Start(*options, SystemClock::Instance());
  if (!fd.ok()) return fd.status();
  const std::string url = "http://" + options->host + ":" + std::to_string((*fd)->port()) + "/";
  line["frontDoor"] = url;
  *ready_line = line.dump();
  return std::unique_ptr<EmbeddedFrontDoor>(new EmbeddedFrontDoor(std::move(*fd), url));
}

EmbeddedFrontDoor::EmbeddedFrontDoor(std::unique_ptr<frontdoor::FrontDoor> fd, std::string url)
    : fd_(std::move(fd)), url_(std::move(url)) {}

EmbeddedFrontDoor::~EmbeddedFrontDoor() { Stop(); }

void EmbeddedFrontDoor::Stop() { fd_->Stop(); }

std::optional<server::HttpResponse> EmbeddedFrontDoor::Route(server::HttpRequest& req) {
  if (req.path != "/frontdoor" && req.path.rfind("/frontdoor/", 0) != 0) return std::nullopt;
  auto reply = frontdoor::HandleAdmin(fd_->model(), req.method, req.path, req.query, req.body);
  if (!reply) return std::nullopt;
  server::HttpResponse res;
  res.status = reply->status;
  res.content_type = reply->content_type;
  res.body = std::move(reply->body);
  return res;
}

}  // namespace regionlab::cli
