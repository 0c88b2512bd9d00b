// The message protocol between Run (the parent) and the procedure's child
// process, private to scripting/.
//
// One socketpair carries frames both ways:
//   u32 length (little-endian) of what follows | type byte | fields...
// where each field is a u32 length (little-endian) and that many bytes.
//
// The parent starts with kStart (what to run); the child asks (kRead..kDelete) and the parent
// answers each request with kOk (result fields) or kError (http status, code name, message,
// substatus); the child ends the run with kDone (body JSON, log) or kFailed (kind, message).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace regionlab::scripting::wire {

// Parent -> child, first frame: source, args JSON, self link, memory budget
// (decimal bytes).
inline constexpr char kStart = 'S';
// Child -> parent requests; fields in order.
inline constexpr char kRead = 'R';     // ref
inline constexpr char kQuery = 'Q';    // query spec JSON
inline constexpr char kCreate = 'C';   // document JSON
inline constexpr char kUpsert = 'U';   // document JSON
inline constexpr char kReplace = 'P';  // ref, document JSON, if-match ("0" or "1" + etag)
inline constexpr char kDelete = 'D';   // ref, if-match ("0" or "1" + etag)
// Child -> parent, last frame of a run.
inline constexpr char kDone = 'O';    // body JSON, log
inline constexpr char kFailed = 'E';  // kind (one of the kKind* below), message
// Parent -> child answers.
inline constexpr char kOk = 'K';     // read/create/upsert/replace: document; query: one per row
inline constexpr char kError = 'X';  // http status, code name, message, substatus

inline constexpr std::string_view kKindBadRequest = "BadRequest";
inline constexpr std::string_view kKindTooLarge = "TooLarge";
inline constexpr std::string_view kKindInternal = "Internal";

inline constexpr size_t kLengthBytes = 4;

// Starts a frame of `type` in `out` (clearing it); AddField appends fields;
// EndFrame writes the length prefix. `out` is then ready to send.
void BeginFrame(std::string& out, char type);
void AddField(std::string& out, std::string_view field);
void EndFrame(std::string& out);

uint32_t DecodeLength(const char* four_bytes);

// Splits a frame body (everything after the length prefix) into its type and
// fields (views into `body`). False if the body is malformed.
bool ParseFrame(std::string_view body, char* type, std::vector<std::string_view>* fields);

// Blocking I/O for the child: the whole buffer / one whole frame body.
// False when the peer is gone or the frame is malformed. EINTR-safe; sends
// never raise SIGPIPE.
bool SendAll(int fd, std::string_view data);
bool RecvFrame(int fd, std::string* body);

}  // namespace regionlab::scripting::wire
