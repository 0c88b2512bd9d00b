// The child process of a procedure run: a Duktape heap with a counting
// allocator, the Cosmos server-side API (written in JavaScript, kPrelude, on
// top of one native that forwards data access to the parent), and the
// procedure.
//
// Rules for this file, because it runs in a forked copy of a multithreaded
// process: only Duktape, libc and wire.h; no C++ exceptions on purpose; no
// logging; leave with _exit. Duktape reports errors with longjmp, so natives
// called from JavaScript keep no C++ objects with destructors on their stack
// (they use the buffers in ChildState instead).
#include "scripting/child.h"

#include <duktape.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "scripting/wire.h"

namespace regionlab::scripting::internal {
namespace {

// The file name compiled procedures carry (errors created in the procedure
// say so, and then describe() adds their line number).
constexpr const char* kProcedureFileName = "procedure";

// Every block the allocator hands out starts with this header holding the
// payload size, so realloc/free can keep the count. 16 keeps malloc's
// alignment.
constexpr size_t kHeader = 16;

struct HeapBudget {
  size_t used = 0;
  size_t limit = 0;
  bool refused = false;  // some allocation was refused for the budget
};

struct ChildState {
  int fd = -1;
  HeapBudget heap;
  std::string out;  // the frame being sent
  std::string in;   // the frame last received
  std::vector<std::string_view> fields;
  std::string scratch;  // wrapped source, joined query rows
};

ChildState* g_child = nullptr;

// ------------------------------------------------------------- allocator

void* BudgetAlloc(void* udata, duk_size_t size) {
  auto* b = static_cast<HeapBudget*>(udata);
  if (size > b->limit - b->used) {
    b->refused = true;
    return nullptr;
  }
  void* block = std::malloc(size + kHeader);
  if (block == nullptr) {
    b->refused = true;
    return nullptr;
  }
  *static_cast<size_t*>(block) = size;
  b->used += size;
  return static_cast<char*>(block) + kHeader;
}

void BudgetFree(void* udata, void* ptr) {
  if (ptr == nullptr) return;
  auto* b = static_cast<HeapBudget*>(udata);
  char* block = static_cast<char*>(ptr) - kHeader;
  b->used -= *reinterpret_cast<size_t*>(block);
  std::free(block);
}

void* BudgetRealloc(void* udata, void* ptr, duk_size_t size) {
  if (ptr == nullptr) return BudgetAlloc(udata, size);
  auto* b = static_cast<HeapBudget*>(udata);
  char* block = static_cast<char*>(ptr) - kHeader;
  const size_t old = *reinterpret_cast<size_t*>(block);
  if (size > old && size - old > b->limit - b->used) {
    b->refused = true;
    return nullptr;
  }
  void* grown = std::realloc(block, size + kHeader);
  if (grown == nullptr) {
    b->refused = true;
    return nullptr;
  }
  *static_cast<size_t*>(grown) = size;
  b->used = b->used - old + size;
  return static_cast<char*>(grown) + kHeader;
}

// ------------------------------------------------------------- text out

// Appends `s`, a string as Duktape holds it, to `out` as UTF-8. Duktape keeps
// what JavaScript builds from surrogate pairs ("\ud83d\ude00") as two 3-byte
// surrogate sequences (CESU-8); those become one 4-byte sequence, and a lone
// surrogate becomes U+FFFD. (UTF-8 that came in passes through unchanged.)
void AppendUtf8(std::string& out, std::string_view s) {
  auto u = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  auto surrogate = [&](size_t i, unsigned char lead_bits) {
    return i + 2 < s.size() && u(i) == 0xED && (u(i + 1) & 0xF0) == lead_bits &&
           (u(i + 2) & 0xC0) == 0x80;
  };
  size_t i = 0;
  while (i < s.size()) {
    if (u(i) != 0xED) {
      const size_t next = s.find('\xED', i);
      const size_t end = next == std::string_view::npos ? s.size() : next;
      out.append(s.substr(i, end - i));
      i = end;
      continue;
    }
    if (surrogate(i, 0xA0) && surrogate(i + 3, 0xB0)) {
      const uint32_t hi = 0xD000 | ((u(i + 1) & 0x3F) << 6) | (u(i + 2) & 0x3F);
      const uint32_t lo = 0xD000 | ((u(i + 4) & 0x3F) << 6) | (u(i + 5) & 0x3F);
      const uint32_t cp = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
      out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
      i += 6;
    } else if (surrogate(i, 0xA0) || surrogate(i, 0xB0)) {
      out.append("\xEF\xBF\xBD");
      i += 3;
    } else {
      out.push_back(s[i]);
      ++i;
    }
  }
}

// Appends a field holding `s` as UTF-8.
void AddUtf8Field(std::string& out, std::string& scratch, std::string_view s) {
  scratch.clear();
  AppendUtf8(scratch, s);
  wire::AddField(out, scratch);
}

// ------------------------------------------------------------- endings

[[noreturn]] void Finish(char type, std::string_view a, std::string_view b, int code) {
  ChildState& st = *g_child;
  wire::BeginFrame(st.out, type);
  AddUtf8Field(st.out, st.scratch, a);
  AddUtf8Field(st.out, st.scratch, b);
  wire::EndFrame(st.out);
  (void)wire::SendAll(st.fd, st.out);
  _exit(code);
}

[[noreturn]] void Fail(std::string_view kind, std::string_view message) {
  Finish(wire::kFailed, kind, message, 1);
}

std::string BudgetMessage() {
  return "stored procedure exceeded its memory budget of " + std::to_string(g_child->heap.limit) +
         " bytes";
}

// Duktape calls this for errors outside any protected call, or when it cannot
// go on (for instance out of memory while throwing). It must not return. No
// allocation here: the frame is built on the stack.
void Fatal(void* /*udata*/, const char* msg) {
  const bool oom = g_child->heap.refused;
  const std::string_view kind = oom ? wire::kKindTooLarge : wire::kKindInternal;
  char text[512];
  const char* what = msg != nullptr ? msg : "unknown";
  int n = 0;
  if (oom) {
    n = std::snprintf(text, sizeof text,
                      "stored procedure exceeded its memory budget of %zu bytes (%s)",
                      g_child->heap.limit, what);
  } else {
    n = std::snprintf(text, sizeof text, "JavaScript engine fatal error: %s", what);
  }
  if (n < 0) n = 0;
  if (static_cast<size_t>(n) >= sizeof text) n = sizeof text - 1;
  char frame[640];
  size_t len = wire::kLengthBytes;
  frame[len++] = wire::kFailed;
  auto put_field = [&](std::string_view f) {
    const auto size = static_cast<uint32_t>(f.size());
    for (int i = 0; i < 4; ++i) frame[len++] = static_cast<char>((size >> (8 * i)) & 0xff);
    std::memcpy(frame + len, f.data(), f.size());
    len += f.size();
  };
  put_field(kind);
  put_field(std::string_view(text, static_cast<size_t>(n)));
  const auto body = static_cast<uint32_t>(len - wire::kLengthBytes);
  for (int i = 0; i < 4; ++i) frame[i] = static_cast<char>((body >> (8 * i)) & 0xff);
  (void)wire::SendAll(g_child->fd, std::string_view(frame, len));
  _exit(3);
}

// ------------------------------------------------------------- the native

// host(type, field...) -> a JSON text on success, or
// {number, code, message, substatus} when the parent's DataAccess failed.
duk_ret_t HostCall(duk_context* ctx) {
  ChildState& st = *g_child;
  const duk_idx_t nargs = duk_get_top(ctx);
  duk_size_t len = 0;
  const char* type = duk_require_lstring(ctx, 0, &len);
  if (len != 1) return DUK_RET_TYPE_ERROR;
  for (duk_idx_t i = 1; i < nargs; ++i) duk_require_string(ctx, i);

  wire::BeginFrame(st.out, type[0]);
  for (duk_idx_t i = 1; i < nargs; ++i) {
    const char* p = duk_get_lstring(ctx, i, &len);
    AddUtf8Field(st.out, st.scratch, std::string_view(p, len));
  }
  wire::EndFrame(st.out);
  if (!wire::SendAll(st.fd, st.out) || !wire::RecvFrame(st.fd, &st.in)) _exit(2);  // parent gone
  char reply = 0;
  if (!wire::ParseFrame(st.in, &reply, &st.fields)) {
    Fail(wire::kKindInternal, "malformed answer from the parent");
  }

  if (reply == wire::kOk) {
    if (type[0] == wire::kQuery) {
      st.scratch.assign("[");
      for (size_t i = 0; i < st.fields.size(); ++i) {
        if (i > 0) st.scratch.push_back(',');
        st.scratch.append(st.fields[i]);
      }
      st.scratch.push_back(']');
      duk_push_lstring(ctx, st.scratch.data(), st.scratch.size());
    } else if (type[0] == wire::kDelete) {
      duk_push_string(ctx, "null");
    } else {
      if (st.fields.size() != 1) Fail(wire::kKindInternal, "malformed answer from the parent");
      duk_push_lstring(ctx, st.fields[0].data(), st.fields[0].size());
    }
    return 1;
  }
  if (reply != wire::kError || st.fields.size() != 4) {
    Fail(wire::kKindInternal, "malformed answer from the parent");
  }
  int number = 500;
  int substatus = 0;
  std::from_chars(st.fields[0].data(), st.fields[0].data() + st.fields[0].size(), number);
  std::from_chars(st.fields[3].data(), st.fields[3].data() + st.fields[3].size(), substatus);
  duk_push_object(ctx);
  duk_push_int(ctx, number);
  duk_put_prop_string(ctx, -2, "number");
  duk_push_lstring(ctx, st.fields[1].data(), st.fields[1].size());
  duk_put_prop_string(ctx, -2, "code");
  duk_push_lstring(ctx, st.fields[2].data(), st.fields[2].size());
  duk_put_prop_string(ctx, -2, "message");
  duk_push_int(ctx, substatus);
  duk_put_prop_string(ctx, -2, "substatus");
  return 1;
}

// ------------------------------------------------------------- the API

// The Cosmos server-side API. Evaluates to a function of (host, selfLink,
// global) that installs the globals and returns the helpers the C++ side
// uses: invoke, finish, describe. ES5 (what Duktape compiles).
constexpr const char* kPrelude = R"JS((function (host, selfLink, G) {
  'use strict';
  var body;       // what setBody was given last
  var logs = [];  // console.log lines

  // No clock and no randomness: a merge procedure must decide the same way
  // on every region.
  var noClock = function () {
    throw new TypeError('merge and stored procedures have no clock in regionlab');
  };
  var NoDate = function Date() { noClock(); };
  NoDate.now = noClock;
  NoDate.parse = noClock;
  NoDate.UTC = noClock;
  G.Date = NoDate;
  Math.random = function random() {
    throw new TypeError(
        'merge and stored procedures have no randomness in regionlab (Math.random)');
  };
  // performance.now() is a clock; Duktape.info() shows heap addresses.
  try { delete G.performance; } catch (e) { G.performance = undefined; }
  try { delete G.Duktape; } catch (e) { G.Duktape = undefined; }

  function makeError(r) {
    var e = new Error(r.message);
    e.number = r.number;
    e.body = JSON.stringify({ code: r.code, message: r.message });
    if (r.substatus) e.substatus = r.substatus;
    return e;
  }
  function badLink(link) {
    return { number: 400, code: 'BadRequest', message: 'not a document link: ' + String(link) };
  }
  // "dbs/d/colls/c/docs/<ref>[/]" -> <ref>; null when it is not a document link.
  function docRef(link) {
    if (typeof link !== 'string') return null;
    var s = link;
    while (s.length > 0 && s.charAt(s.length - 1) === '/') s = s.slice(0, -1);
    var i = s.lastIndexOf('/');
    if (i < 0) return null;
    var ref = s.slice(i + 1), parent = s.slice(0, i);
    if (ref === '' || parent.slice(parent.lastIndexOf('/') + 1) !== 'docs') return null;
    return ref;
  }
  // The optional (options, callback) tail of a call, starting at args[n].
  function tail(args, n, name) {
    var options = args[n], callback = args[n + 1];
    if (typeof options === 'function') { callback = options; options = undefined; }
    if (options === undefined || options === null) options = {};
    else if (typeof options !== 'object') throw new TypeError(name + ': options must be an object');
    if (callback === null) callback = undefined;
    if (callback !== undefined && typeof callback !== 'function') {
      throw new TypeError(name + ': callback must be a function');
    }
    return { options: options, callback: callback };
  }
  // The If-Match condition of replace/delete options, as the wire field.
  function ifMatch(o) {
    if (typeof o.etag === 'string') return '1' + o.etag;
    var ac = o.accessCondition;
    if (ac !== null && typeof ac === 'object' && (ac.type === undefined || ac.type === 'IfMatch') &&
        typeof ac.condition === 'string') {
      return '1' + ac.condition;
    }
    return '0';
  }
  function docText(doc, name) {
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
      throw new TypeError(name + ': the document must be an object');
    }
    return JSON.stringify(doc);
  }
  // Calls back (synchronously) or, with no callback, throws the error.
  function complete(call, r) {
    if (typeof r !== 'string') {
      var err = makeError(r);
      if (call.callback === undefined) throw err;
      call.callback(err, undefined, {});
      return true;
    }
    if (call.callback !== undefined) call.callback(null, JSON.parse(r), {});
    return true;
  }

  var collection = {
    getSelfLink: function () { return selfLink; },
    getAltLink: function () { return selfLink; },
    readDocument: function (link) {
      var call = tail(arguments, 1, 'readDocument'), ref = docRef(link);
      return complete(call, ref === null ? badLink(link) : host('R', ref));
    },
    queryDocuments: function (link, query) {
      var call = tail(arguments, 2, 'queryDocuments'), spec;
      if (typeof query === 'string') {
        spec = { query: query, parameters: [] };
      } else if (query !== null && typeof query === 'object' && typeof query.query === 'string') {
        spec = { query: query.query,
                 parameters: query.parameters === undefined ? [] : query.parameters };
      } else {
        throw new TypeError('queryDocuments: the query must be a string or {query, parameters}');
      }
      return complete(call, host('Q', JSON.stringify(spec)));
    },
    createDocument: function (link, doc) {
      var call = tail(arguments, 2, 'createDocument');
      return complete(call, host('C', docText(doc, 'createDocument')));
    },
    upsertDocument: function (link, doc) {
      var call = tail(arguments, 2, 'upsertDocument');
      return complete(call, host('U', docText(doc, 'upsertDocument')));
    },
    replaceDocument: function (link, doc) {
      var call = tail(arguments, 2, 'replaceDocument'), text = docText(doc, 'replaceDocument');
      var ref = docRef(link);
      return complete(call, ref === null ? badLink(link)
                                         : host('P', ref, text, ifMatch(call.options)));
    },
    deleteDocument: function (link) {
      var call = tail(arguments, 1, 'deleteDocument'), ref = docRef(link);
      var r = ref === null ? badLink(link) : host('D', ref, ifMatch(call.options));
      // A delete has no resource: the callback gets {} in its place, so both
      // (err, resource, options) and (err, responseOptions) callbacks work.
      return complete(call, typeof r === 'string' ? '{}' : r);
    }
  };

  var response = {
    setBody: function (v) { body = v; },
    getBody: function () { return body; },
    appendBody: function (s) {
      body = (body === undefined || body === null ? '' : String(body)) + String(s);
    }
  };
  response.setValue = response.setBody;
  response.getValue = response.getBody;
  response.appendValue = response.appendBody;

  var request = {
    getBody: function () { return undefined; },
    getValue: function () { return undefined; },
    getHeader: function () { return undefined; }
  };

  var context = {
    getCollection: function () { return collection; },
    getResponse: function () { return response; },
    getRequest: function () { return request; },
    abort: function (e) { throw (e === undefined ? new Error('the procedure aborted') : e); }
  };

  function format(v) {
    if (typeof v === 'string') return v;
    if (v !== null && typeof v === 'object' && !(v instanceof Error)) {
      try { var j = JSON.stringify(v); if (j !== undefined) return j; } catch (e) { }
    }
    return String(v);
  }
  var log = function () {
    var parts = [];
    for (var i = 0; i < arguments.length; i++) parts.push(format(arguments[i]));
    logs.push(parts.join(' '));
  };

  G.getContext = function () { return context; };
  G.__ = collection;
  G.console = { log: log, info: log, warn: log, error: log, debug: log };

  return {
    invoke: function (fn, args) { return fn.apply(undefined, args); },
    finish: function () {
      var s = JSON.stringify(body);
      return [s === undefined ? 'null' : s, logs.join('\n')];
    },
    describe: function (e) {
      if (e instanceof Error) {
        var s = String(e);
        if (typeof e.number === 'number') s += ' (status ' + e.number + ')';
        if (e.fileName === 'procedure' && typeof e.lineNumber === 'number' &&
            s.indexOf('(line ') < 0) {
          s += ' (line ' + e.lineNumber + ')';
        }
        return s;
      }
      if (e !== null && typeof e === 'object') {
        try { var j = JSON.stringify(e); if (j !== undefined) return j; } catch (x) { }
      }
      return String(e);
    }
  };
}))JS";

// Stack slot of the helpers object kPrelude returns.
constexpr duk_idx_t kApi = 0;

// With a thrown value on the stack top: its text, via describe().
std::string Describe(duk_context* ctx) {
  duk_get_prop_string(ctx, kApi, "describe");
  duk_dup(ctx, kApi);
  duk_dup(ctx, -3);
  std::string text = "(an error that cannot be described)";
  if (duk_pcall_method(ctx, 1) == DUK_EXEC_SUCCESS && duk_is_string(ctx, -1)) {
    duk_size_t len = 0;
    const char* p = duk_get_lstring(ctx, -1, &len);
    text.assign(p, len);
  }
  duk_pop_2(ctx);  // the description (or its error) and the thrown value
  return text;
}

// With a thrown value on the stack top: reports it and exits. A run that
// reached the memory budget reports TooLarge whatever was thrown.
[[noreturn]] void FailWithError(duk_context* ctx, std::string_view prefix) {
  std::string text = Describe(ctx);
  if (g_child->heap.refused) Fail(wire::kKindTooLarge, BudgetMessage() + " (" + text + ")");
  Fail(wire::kKindBadRequest, std::string(prefix) + text);
}

constexpr std::string_view kCompileFailed =
    "Encountered exception while compiling JavaScript. Exception = ";
constexpr std::string_view kRunFailed =
    "Encountered exception while executing JavaScript. Exception = ";

bool IsIdentChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '$';
}

// Skips whitespace and comments from `i`.
size_t SkipBlank(std::string_view s, size_t i) {
  while (i < s.size()) {
    const char c = s[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
      ++i;
    } else if (s.substr(i, 2) == "//") {
      while (i < s.size() && s[i] != '\n') ++i;
    } else if (s.substr(i, 2) == "/*") {
      const size_t end = s.find("*/", i + 2);
      i = end == std::string_view::npos ? s.size() : end + 2;
    } else {
      break;
    }
  }
  return i;
}

// The name in a leading `function name(`, or "" when the source starts
// otherwise.
std::string_view LeadingFunctionName(std::string_view s) {
  size_t i = SkipBlank(s, 0);
  constexpr std::string_view kFunction = "function";
  if (s.substr(i, kFunction.size()) != kFunction) return {};
  i += kFunction.size();
  if (i < s.size() && IsIdentChar(s[i])) return {};
  i = SkipBlank(s, i);
  const size_t start = i;
  while (i < s.size() && IsIdentChar(s[i])) ++i;
  return s.substr(start, i - start);
}

// Leaves the procedure's function on the stack top, or reports and exits.
void CompileProcedure(duk_context* ctx, std::string_view source) {
  ChildState& st = *g_child;
  // A function expression, or a declaration read as one.
  st.scratch.assign("(");
  st.scratch.append(source);
  st.scratch.append("\n)");
  duk_push_string(ctx, kProcedureFileName);
  if (duk_pcompile_lstring_filename(ctx, DUK_COMPILE_EVAL, st.scratch.data(), st.scratch.size()) ==
      0) {
    if (duk_pcall(ctx, 0) == DUK_EXEC_SUCCESS && duk_is_function(ctx, -1)) return;
  }
  duk_pop(ctx);

  // A program: declarations (maybe several, or with a trailing semicolon);
  // the procedure is the function the source starts by declaring, or else
  // the program's value.
  duk_push_string(ctx, kProcedureFileName);
  if (duk_pcompile_lstring_filename(ctx, DUK_COMPILE_EVAL, source.data(), source.size()) != 0) {
    FailWithError(ctx, kCompileFailed);
  }
  if (duk_pcall(ctx, 0) != DUK_EXEC_SUCCESS) FailWithError(ctx, kRunFailed);
  if (duk_is_function(ctx, -1)) return;
  duk_pop(ctx);
  const std::string_view name = LeadingFunctionName(source);
  if (!name.empty()) {
    duk_push_global_object(ctx);
    duk_get_prop_lstring(ctx, -1, name.data(), name.size());
    duk_remove(ctx, -2);
    if (duk_is_function(ctx, -1)) return;
    duk_pop(ctx);
  }
  Fail(wire::kKindBadRequest, "the stored procedure's source is not a function");
}

duk_ret_t DecodeJson(duk_context* ctx, void* /*udata*/) {
  duk_json_decode(ctx, -1);
  return 1;
}

void PrepareProcess(int fd, pid_t parent) {
  // Die with the thread that forked us: the helper's only thread, or the
  // server thread that waits for us.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) _exit(2);
  ::prctl(PR_SET_NAME, "regionlab-proc");
  g_child->fd = KeepOnlyFd(fd);
  DefaultSignals();
}

}  // namespace

int KeepOnlyFd(int fd) {
  if (fd != 3) {
    if (::dup2(fd, 3) < 0) _exit(2);
    ::close(fd);
    fd = 3;
  }
  if (::close_range(4, ~0U, 0) != 0) {
    struct rlimit lim {};
    rlim_t max = 65536;
    if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < max) max = lim.rlim_cur;
    for (rlim_t i = 4; i < max; ++i) ::close(static_cast<int>(i));
  }
  return fd;
}

void DefaultSignals() {
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    struct sigaction old {};
    if (::sigaction(sig, nullptr, &old) != 0) continue;
    if (old.sa_handler == SIG_DFL || old.sa_handler == SIG_IGN) continue;
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    ::sigemptyset(&dfl.sa_mask);
    ::sigaction(sig, &dfl, nullptr);
  }
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
}

void ChildMain(int fd, pid_t parent) {
  g_child = new ChildState();
  g_child->fd = fd;
  PrepareProcess(fd, parent);

  // What to run.
  ChildState& st = *g_child;
  // st.in is reused by HostCall: the inputs get a buffer of their own, which
  // lives until the process ends.
  char type = 0;
  std::string* inputs = new std::string();
  if (!wire::RecvFrame(st.fd, inputs)) _exit(2);
  std::vector<std::string_view> f;
  if (!wire::ParseFrame(*inputs, &type, &f) || type != wire::kStart || f.size() != 4) {
    Fail(wire::kKindInternal, "malformed start message from the parent");
  }
  const std::string_view source = f[0];
  const std::string_view args_json = f[1];
  const std::string self_link(f[2]);
  size_t memory_bytes = 0;
  if (std::from_chars(f[3].data(), f[3].data() + f[3].size(), memory_bytes).ec != std::errc()) {
    Fail(wire::kKindInternal, "malformed memory budget from the parent");
  }

  // Duktape 2.7 crashes when an allocation fails while it creates a heap, so
  // the budget starts to apply once the heap exists (~100 KB of built-ins).
  g_child->heap.limit = std::numeric_limits<size_t>::max();
  duk_context* ctx = duk_create_heap(BudgetAlloc, BudgetRealloc, BudgetFree, &g_child->heap, Fatal);
  if (ctx == nullptr) Fail(wire::kKindInternal, "cannot create a JavaScript heap");
  g_child->heap.limit = memory_bytes;
  if (g_child->heap.used > g_child->heap.limit) {
    g_child->heap.refused = true;
    Fail(wire::kKindTooLarge,
         BudgetMessage() + " (the engine alone needs " + std::to_string(g_child->heap.used) + ")");
  }

  // The API. Errors here are ours (or the budget's), not the procedure's.
  if (duk_peval_string(ctx, kPrelude) != 0) {
    if (g_child->heap.refused) Fail(wire::kKindTooLarge, BudgetMessage());
    Fail(wire::kKindInternal, "the scripting prelude does not compile");
  }
  duk_push_c_function(ctx, HostCall, DUK_VARARGS);
  duk_push_lstring(ctx, self_link.data(), self_link.size());
  duk_push_global_object(ctx);
  if (duk_pcall(ctx, 3) != DUK_EXEC_SUCCESS || !duk_is_object(ctx, -1)) {
    if (g_child->heap.refused) Fail(wire::kKindTooLarge, BudgetMessage());
    Fail(wire::kKindInternal, "the scripting prelude failed");
  }
  // Stack: [api]

  CompileProcedure(ctx, source);  // [api fn]

  duk_push_lstring(ctx, args_json.data(), args_json.size());
  if (duk_safe_call(ctx, DecodeJson, nullptr, 1, 1) != DUK_EXEC_SUCCESS) {
    if (g_child->heap.refused) Fail(wire::kKindTooLarge, BudgetMessage());
    std::string text = Describe(ctx);
    Fail(wire::kKindBadRequest, "the stored procedure's arguments are not valid JSON: " + text);
  }
  if (!duk_is_array(ctx, -1)) {
    Fail(wire::kKindBadRequest, "the stored procedure's arguments must be a JSON array");
  }
  // [api fn args]

  duk_get_prop_string(ctx, kApi, "invoke");
  duk_dup(ctx, kApi);
  duk_dup(ctx, -4);
  duk_dup(ctx, -4);
  if (duk_pcall_method(ctx, 2) != DUK_EXEC_SUCCESS) FailWithError(ctx, kRunFailed);
  duk_pop(ctx);  // the procedure's return value (Cosmos ignores it too)

  duk_get_prop_string(ctx, kApi, "finish");
  duk_dup(ctx, kApi);
  if (duk_pcall_method(ctx, 0) != DUK_EXEC_SUCCESS) FailWithError(ctx, kRunFailed);
  duk_get_prop_index(ctx, -1, 0);
  duk_get_prop_index(ctx, -2, 1);
  duk_size_t body_len = 0;
  duk_size_t log_len = 0;
  const char* body = duk_get_lstring(ctx, -2, &body_len);
  const char* log = duk_get_lstring(ctx, -1, &log_len);
  if (body == nullptr || log == nullptr) Fail(wire::kKindInternal, "finish() returned no strings");
  Finish(wire::kDone, std::string_view(body, body_len), std::string_view(log, log_len), 0);
}

}  // namespace regionlab::scripting::internal
