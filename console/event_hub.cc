#include "console/event_hub.h"

#include <functional>
#include <utility>

namespace regionlab::console {

// One subscriber: the pieces not yet handed to its connection, and the
// connection's pending Pull. Lock order: EventHub::mu_, then Client::mu_.
class EventHub::Client final : public server::BodyStream {
 public:
  explicit Client(size_t max_bytes) : max_bytes_(max_bytes) {}

  void Pull(std::function<void(std::string)> next) override {
    std::string out;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (queue_.empty() && !ended_) {
        pending_ = std::move(next);
        return;
      }
      out = std::move(queue_);  // empty when ended: the end of the body
      queue_.clear();
    }
    next(std::move(out));
  }

  void Cancel() override {
    std::lock_guard<std::mutex> lock(mu_);
    ended_ = true;
    pending_ = nullptr;
    queue_.clear();
  }

  // Queues `piece`, or hands it to a waiting Pull. False when the client is
  // gone: it ended, or it is dropped now because `piece` would overflow its
  // queue.
  enum class Push { kOk, kGone, kDropped };
  Push Add(const std::string& piece) {
    std::function<void(std::string)> call;
    std::string out;
    Push result = Push::kOk;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (ended_) return Push::kGone;
      if (queue_.size() + piece.size() > max_bytes_) {
        ended_ = true;
        queue_.clear();
        result = Push::kDropped;
      } else {
        queue_ += piece;
      }
      if (pending_) {
        call = std::move(pending_);
        pending_ = nullptr;
        out = std::move(queue_);
        queue_.clear();
      }
    }
    if (call) call(std::move(out));  // only posts to the connection's strand
    return result;
  }

  // Ends the stream: the pending Pull (or the next one) gets the end.
  void End() {
    std::function<void(std::string)> call;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (ended_ && !pending_) return;
      ended_ = true;
      queue_.clear();
      call = std::move(pending_);
      pending_ = nullptr;
    }
    if (call) call(std::string());
  }

  bool ended() const {
    std::lock_guard<std::mutex> lock(mu_);
    return ended_;
  }

 private:
  const size_t max_bytes_;
  mutable std::mutex mu_;
  std::string queue_;                          // guarded by mu_
  std::function<void(std::string)> pending_;  // guarded by mu_
  bool ended_ = false;                         // guarded by mu_
};

EventHub::EventHub(EventHubOptions options) : options_(options) {}

EventHub::~EventHub() { CloseAll(); }

std::string EventHub::Format(uint64_t id, std::string_view type, std::string_view data) {
  std::string out;
  out.reserve(data.size() + type.size() + 32);
  if (id != 0) out += "id: " + std::to_string(id) + "\n";
  out += "event: ";
  out += type;
  out += "\n";
  for (size_t i = 0;;) {
    const size_t j = data.find('\n', i);
    std::string_view line = data.substr(i, j == std::string_view::npos ? std::string_view::npos : j - i);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    out += "data: ";
    out += line;
    out += "\n";
    if (j == std::string_view::npos) break;
    i = j + 1;
  }
  out += "\n";
  return out;
}

uint64_t EventHub::Publish(std::string_view type, std::string_view data) {
  std::lock_guard<std::mutex> lock(mu_);
  const uint64_t id = next_id_++;
  std::string text = Format(id, type, data);
  for (size_t i = 0; i < clients_.size();) {
    Client::Push p = clients_[i]->Add(text);
    if (p == Client::Push::kOk) {
      ++i;
      continue;
    }
    if (p == Client::Push::kDropped) {
      ++dropped_;
      clients_[i]->End();
    }
    clients_.erase(clients_.begin() + static_cast<std::ptrdiff_t>(i));
  }
  history_.emplace_back(id, std::move(text));
  while (history_.size() > options_.history) history_.pop_front();
  return id;
}

std::shared_ptr<server::BodyStream> EventHub::Subscribe(std::optional<uint64_t> last_event_id) {
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_) return nullptr;
  // Forget clients that left since the last event.
  std::erase_if(clients_, [](const std::shared_ptr<Client>& c) { return c->ended(); });
  if (clients_.size() >= options_.max_clients) return nullptr;
  auto client = std::make_shared<Client>(options_.max_queue_bytes);
  std::string start = "retry: " + std::to_string(options_.retry_ms) + "\n\n";
  const uint64_t newest = next_id_ - 1;
  const uint64_t oldest = history_.empty() ? next_id_ : history_.front().first;
  const bool covered = last_event_id && *last_event_id <= newest && *last_event_id + 1 >= oldest;
  if (!covered) start += Format(0, "reset", "{\"lastEventId\":" + std::to_string(newest) + "}");
  for (const auto& [id, text] : history_) {
    if (covered && id <= *last_event_id) continue;
    start += text;
  }
  if (client->Add(start) != Client::Push::kOk) return nullptr;  // a history over max_queue_bytes
  clients_.push_back(client);
  return client;
}

void EventHub::CloseAll() {
  std::vector<std::shared_ptr<Client>> clients;
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    clients.swap(clients_);
  }
  for (auto& c : clients) c->End();
}

size_t EventHub::clients() const {
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = 0;
  for (const auto& c : clients_) n += c->ended() ? 0 : 1;
  return n;
}

uint64_t EventHub::dropped() const {
  std::lock_guard<std::mutex> lock(mu_);
  return dropped_;
}

uint64_t EventHub::last_id() const {
  std::lock_guard<std::mutex> lock(mu_);
  return next_id_ - 1;
}

}  // namespace regionlab::console
