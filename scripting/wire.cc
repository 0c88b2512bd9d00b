#include "scripting/wire.h"

#include <sys/socket.h>
#include <sys/types.h>

#include <cerrno>

namespace regionlab::scripting::wire {
namespace {

void PutU32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

bool RecvAll(int fd, char* p, size_t n) {
  while (n > 0) {
    ssize_t got = ::recv(fd, p, n, 0);
    if (got > 0) {
      p += got;
      n -= static_cast<size_t>(got);
    } else if (got == 0 || errno != EINTR) {
      return false;
    }
  }
  return true;
}

}  // namespace

void BeginFrame(std::string& out, char type) {
  out.clear();
  out.append(kLengthBytes, '\0');
  out.push_back(type);
}

void AddField(std::string& out, std::string_view field) {
  PutU32(out, static_cast<uint32_t>(field.size()));
  out.append(field);
}

void EndFrame(std::string& out) {
  const auto n = static_cast<uint32_t>(out.size() - kLengthBytes);
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
}

uint32_t DecodeLength(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i)
    v |= static_cast<uint32_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

bool ParseFrame(std::string_view body, char* type, std::vector<std::string_view>* fields) {
  fields->clear();
  if (body.empty()) return false;
  *type = body[0];
  body.remove_prefix(1);
  while (!body.empty()) {
    if (body.size() < kLengthBytes) return false;
    const uint32_t n = DecodeLength(body.data());
    body.remove_prefix(kLengthBytes);
    if (n > body.size()) return false;
    fields->push_back(body.substr(0, n));
    body.remove_prefix(n);
  }
  return true;
}

bool SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t put = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (put > 0) {
      data.remove_prefix(static_cast<size_t>(put));
    } else if (put < 0 && errno == EINTR) {
      continue;
    } else {
      return false;
    }
  }
  return true;
}

bool RecvFrame(int fd, std::string* body) {
  char len[kLengthBytes];
  if (!RecvAll(fd, len, sizeof len)) return false;
  body->resize(DecodeLength(len));
  return RecvAll(fd, body->data(), body->size());
}

}  // namespace regionlab::scripting::wire
