// Run: the server's side. Starts a procedure process per run (spawn.cc; the
// process runs child.cc), sends it what to run, answers its data requests
// through DataAccess, enforces the time budget with poll() deadlines and
// always kills the process and waits for its end before returning.
#include "scripting/script_host.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "base/http_status.h"
#include "scripting/spawn.h"
#include "scripting/wire.h"

namespace regionlab::scripting {
namespace {

using Clock = std::chrono::steady_clock;

// Milliseconds until `deadline` for poll(), rounded up; 0 when past.
int PollTimeout(Clock::time_point deadline) {
  const auto left = deadline - Clock::now();
  if (left <= Clock::duration::zero()) return 0;
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
  return static_cast<int>(std::min<int64_t>(ms, std::numeric_limits<int>::max()));
}

enum class Wait { kReady, kTimeout, kError };

Wait PollFor(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    const int timeout = PollTimeout(deadline);
    pollfd p{fd, events, 0};
    const int r = ::poll(&p, 1, timeout);
    if (r > 0) return Wait::kReady;  // including POLLHUP/POLLERR: the read/write says
    if (r == 0) {
      if (timeout == 0) return Wait::kTimeout;
      continue;  // woke early: poll rounds
    }
    if (errno != EINTR) return Wait::kError;
  }
}

// What a run of the protocol loop ended with.
struct Ending {
  enum Kind { kTimeout, kClosed, kTooLarge, kBroken } kind;
  std::string detail;
};

class Conversation {
 public:
  Conversation(int fd, Clock::time_point deadline, size_t max_frame)
      : fd_(fd), deadline_(deadline), max_frame_(max_frame) {}

  // Reads one frame body into `body`; nullopt-like false with `ending` set.
  bool Read(std::string* body, Ending* ending) {
    for (;;) {
      if (buf_.size() >= wire::kLengthBytes) {
        const size_t len = wire::DecodeLength(buf_.data());
        if (len > max_frame_) {
          *ending = {Ending::kTooLarge, "a message from the procedure exceeds " +
                                            std::to_string(max_frame_) + " bytes"};
          return false;
        }
        if (buf_.size() >= wire::kLengthBytes + len) {
          body->assign(buf_, wire::kLengthBytes, len);
          buf_.erase(0, wire::kLengthBytes + len);
          return true;
        }
      }
      const Wait w = PollFor(fd_, POLLIN, deadline_);
      if (w == Wait::kTimeout) {
        *ending = {Ending::kTimeout, ""};
        return false;
      }
      if (w == Wait::kError) {
        *ending = {Ending::kBroken, std::string("poll: ") + std::strerror(errno)};
        return false;
      }
      char chunk[64 * 1024];
      const ssize_t got = ::recv(fd_, chunk, sizeof chunk, MSG_DONTWAIT);
      if (got > 0) {
        buf_.append(chunk, static_cast<size_t>(got));
      } else if (got == 0) {
        *ending = {Ending::kClosed, ""};
        return false;
      } else if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
        *ending = {Ending::kClosed, ""};
        return false;
      }
    }
  }

  bool Write(std::string_view data, Ending* ending) {
    while (!data.empty()) {
      const ssize_t put = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (put > 0) {
        data.remove_prefix(static_cast<size_t>(put));
        continue;
      }
      if (put < 0 && errno == EINTR) continue;
      if (put < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        const Wait w = PollFor(fd_, POLLOUT, deadline_);
        if (w == Wait::kTimeout) {
          *ending = {Ending::kTimeout, ""};
          return false;
        }
        if (w == Wait::kError) {
          *ending = {Ending::kBroken, std::string("poll: ") + std::strerror(errno)};
          return false;
        }
        continue;
      }
      *ending = {Ending::kClosed, ""};  // EPIPE/ECONNRESET: the child is gone
      return false;
    }
    return true;
  }

 private:
  int fd_;
  Clock::time_point deadline_;
  size_t max_frame_;
  std::string buf_;
};

// Builds the parent's answer to one request.
class Answer {
 public:
  explicit Answer(size_t max_bytes) : max_bytes_(max_bytes) {}

  void Error(const Status& s) {
    wire::BeginFrame(frame_, wire::kError);
    wire::AddField(frame_, std::to_string(HttpStatusFor(s.code())));
    wire::AddField(frame_, StatusCodeName(s.code()));
    wire::AddField(frame_, s.message());
    wire::AddField(frame_, std::to_string(s.substatus()));
    wire::EndFrame(frame_);
  }
  void Ok(const std::vector<std::string_view>& fields) {
    wire::BeginFrame(frame_, wire::kOk);
    for (auto f : fields) wire::AddField(frame_, f);
    wire::EndFrame(frame_);
  }
  // An answer the child could not hold within its memory budget.
  bool TooLarge() const { return frame_.size() > max_bytes_; }
  const std::string& frame() const { return frame_; }

 private:
  size_t max_bytes_;
  std::string frame_;
};

std::optional<std::string> IfMatch(std::string_view field) {
  if (field.empty() || field[0] != '1') return std::nullopt;
  return std::string(field.substr(1));
}

// Answers one request from the child. False when the request is malformed.
bool Serve(char type, const std::vector<std::string_view>& f, DataAccess& data, Answer& answer) {
  switch (type) {
    case wire::kRead: {
      if (f.size() != 1) return false;
      auto r = data.Read(std::string(f[0]));
      if (!r.ok()) {
        answer.Error(r.status());
      } else if (!r->has_value()) {
        answer.Error(
            Status::NotFound("Entity with the specified id does not exist in the system."));
      } else {
        answer.Ok({**r});
      }
      return true;
    }
    case wire::kQuery: {
      if (f.size() != 1) return false;
      auto r = data.Query(std::string(f[0]));
      if (!r.ok()) {
        answer.Error(r.status());
      } else {
        std::vector<std::string_view> rows(r->begin(), r->end());
        answer.Ok(rows);
      }
      return true;
    }
    case wire::kCreate:
    case wire::kUpsert: {
      if (f.size() != 1) return false;
      auto r =
          type == wire::kCreate ? data.Create(std::string(f[0])) : data.Upsert(std::string(f[0]));
      if (!r.ok()) {
        answer.Error(r.status());
      } else {
        answer.Ok({*r});
      }
      return true;
    }
    case wire::kReplace: {
      if (f.size() != 3) return false;
      auto r = data.Replace(std::string(f[0]), std::string(f[1]), IfMatch(f[2]));
      if (!r.ok()) {
        answer.Error(r.status());
      } else {
        answer.Ok({*r});
      }
      return true;
    }
    case wire::kDelete: {
      if (f.size() != 2) return false;
      Status s = data.Delete(std::string(f[0]), IfMatch(f[1]));
      if (!s.ok()) {
        answer.Error(s);
      } else {
        answer.Ok({});
      }
      return true;
    }
    default:
      return false;
  }
}

size_t SaturatingAdd(size_t a, size_t b) {
  return a > std::numeric_limits<size_t>::max() - b ? std::numeric_limits<size_t>::max() : a + b;
}

}  // namespace

void StartHelper() { (void)internal::EnsureHelper(); }

Result<Outcome> Run(std::string_view source, std::string_view args_json, DataAccess& data,
                    const Budget& budget) {
  const Clock::time_point deadline =
      Clock::now() + std::chrono::milliseconds(std::max<int64_t>(budget.time_ms, 0));
  const std::string self_link = data.SelfLink();  // the child never calls DataAccess itself

  auto spawned = internal::SpawnProcedure();
  if (!spawned.ok()) return spawned.status();
  // Killed, gone and its socket closed whichever way Run returns.
  internal::ProcedureProcess process = std::move(spawned).value();

  // The body and the log each fit in the child's heap; requests carry one
  // document or query; answers must fit in the child's heap.
  const size_t max_frame = std::min<size_t>(
      SaturatingAdd(SaturatingAdd(budget.memory_bytes, budget.memory_bytes), 1u << 20),
      std::numeric_limits<uint32_t>::max());
  Conversation talk(process.fd(), deadline, max_frame);
  std::string body;
  std::vector<std::string_view> fields;
  Ending ending{Ending::kBroken, ""};
  const std::string budget_text = "stored procedure exceeded its memory budget of " +
                                  std::to_string(budget.memory_bytes) + " bytes";

  std::string start;
  wire::BeginFrame(start, wire::kStart);
  wire::AddField(start, source);
  wire::AddField(start, args_json);
  wire::AddField(start, self_link);
  wire::AddField(start, std::to_string(budget.memory_bytes));
  wire::EndFrame(start);
  const bool started = talk.Write(start, &ending);
  start = std::string();

  // Every way out of this loop returns, or breaks with `ending` set.
  while (started) {
    if (!talk.Read(&body, &ending)) break;
    char type = 0;
    if (!wire::ParseFrame(body, &type, &fields)) {
      return Status::Internal("malformed message from the stored procedure's process");
    }
    if (type == wire::kDone) {
      if (fields.size() != 2) return Status::Internal("malformed result from the stored procedure");
      Outcome out;
      out.body_json.assign(fields[0]);
      out.log.assign(fields[1]);
      return out;  // ~ProcedureProcess kills (it is exiting anyway) and reaps
    }
    if (type == wire::kFailed) {
      if (fields.size() != 2) return Status::Internal("malformed error from the stored procedure");
      std::string message(fields[1]);
      if (fields[0] == wire::kKindBadRequest) return Status::BadRequest(std::move(message));
      if (fields[0] == wire::kKindTooLarge) return Status::TooLarge(std::move(message));
      return Status::Internal(std::move(message));
    }
    Answer answer(budget.memory_bytes);
    if (!Serve(type, fields, data, answer)) {
      return Status::Internal("malformed request from the stored procedure's process");
    }
    if (answer.TooLarge()) {
      return Status::TooLarge(budget_text + " (a data access result of " +
                              std::to_string(answer.frame().size()) + " bytes)");
    }
    if (Clock::now() >= deadline) {
      ending = {Ending::kTimeout, ""};
      break;
    }
    if (!talk.Write(answer.frame(), &ending)) break;
  }

  switch (ending.kind) {
    case Ending::kTimeout:
      return Status::Unavailable("stored procedure exceeded its time budget of " +
                                 std::to_string(budget.time_ms) + " ms");
    case Ending::kTooLarge:
      return Status::TooLarge(budget_text + " (" + ending.detail + ")");
    case Ending::kClosed:
      return Status::Internal(process.DescribeEnd());
    case Ending::kBroken:
      break;
  }
  return Status::Internal("stored procedure failed: " + ending.detail);
}

}  // namespace regionlab::scripting
