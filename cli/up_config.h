// `regionlab up --config FILE`: a JSON file of settings for `up`. Today one
// section, `frontDoor`, runs the Front Door emulator inside `up`, in front of
// its regions (or any origins), with its routes on up's admin port
// (docs/frontdoor.md, "Inside up"):
//
//   {"frontDoor": {"listen": 8080,
//                  "origins": [{"name": "uksouth", "region": "uksouth", "priority": 1},
//                              {"name": "westeurope", "url": "http://127.0.0.1:8082", "priority": 2}],
//                  "probePath": "/health/deep", "probeMethod": "GET", "probeInterval": "30s",
//                  "probeTimeout": "30s", "sampleSize": 4, "successfulSamplesRequired": 3,
//                  "additionalLatency": "50ms", "pops": 1, "timeScale": 1,
//                  "originTimeout": "30s", "newOrigins": "healthy"}}
//
// Without "origins": one origin per region of `up`, priorities 1, 2, ... in
// the order of --regions. Durations as the command line takes them ("30s",
// "500ms", or a number of milliseconds).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "server/http_types.h"

namespace regionlab::frontdoor {
class FrontDoor;
}  // namespace regionlab::frontdoor

namespace regionlab::cli {

struct UpConfig {
  std::optional<std::string> front_door;  // the "frontDoor" section, as JSON text
};

// Reads and checks FILE: BadRequest naming the problem (not JSON, an unknown
// section or field, a bad value) so that `up` exits 2 before starting.
Result<UpConfig> ReadUpConfig(const std::string& path);

// The front door of a `frontDoor` section, started once the regions are up.
// Thread-safe.
class EmbeddedFrontDoor {
 public:
  // `region_names`: up's short region names, in the order of `ready_line`
  // (the cluster's ready line, whose "regions" give their endpoints), to
  // which "frontDoor": URL is added. `host`: the address to bind (up's --host).
  static Result<std::unique_ptr<EmbeddedFrontDoor>> Start(const std::string& section,
                                                          const std::vector<std::string>& region_names,
                                                          const std::string& host, std::string* ready_line);
  ~EmbeddedFrontDoor();
  // "http://host:port/" of the proxy.
  std::string url() const { return url_; }
  // The /frontdoor admin routes; nullopt for any other path.
  std::optional<server::HttpResponse> Route(server::HttpRequest& req);
  void Stop();

 private:
  EmbeddedFrontDoor(std::unique_ptr<frontdoor::FrontDoor> fd, std::string url);
  std::unique_ptr<frontdoor::FrontDoor> fd_;
  std::string url_;
};

}  // namespace regionlab::cli
