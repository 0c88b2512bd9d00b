// Execution of a prepared query page by page, and the continuation tokens.
//
// Continuation grammar (base64 of a JSON object):
//   token     := {"v": 1, "h": scope_hash, "m": mode, "n": produced, ...}
//   scope_hash:= hex FNV-1a of the query fingerprint and the request scope
//   produced  := rows of the result already consumed (returned, or skipped
//                by OFFSET), for TOP and OFFSET/LIMIT accounting
//   mode "s"  := streaming;  "k": base64 position, "i": rows of that
//                position already consumed (resume there, skip that many)
//   mode "o"  := ORDER BY;   "k", "i" and "s": [[key] | [] ...] the sort keys
//                of the last consumed row ([] is undefined); resume after it
//   mode "f"  := ORDER BY fallback (sort keys too long for a header): skip
//                `produced` rows of the sorted result
//   mode "b"  := buffered;   skip `produced` outputs of the full result
#include <algorithm>
#include <charconv>
#include <cinttypes>
#include <cstdio>
#include <limits>
#include <memory>

#include "base/encoding.h"
#include "base/hash.h"
#include "query/compiler.h"
#include "query/evaluator.h"
#include "query/parser.h"
#include "query/query.h"

namespace regionlab::query {

// ---- VectorRowSource ----

Status VectorRowSource::Scan(std::string_view start_after, const RowFn& fn) const {
  auto it = start_after.empty() ? rows_.begin() : rows_.upper_bound(start_after);
  for (; it != rows_.end(); ++it) {
    std::string copy = it->second;
    if (!fn(it->first, std::move(copy))) break;
  }
  return Status::Ok();
}

Result<std::optional<std::string>> VectorRowSource::Get(std::string_view position) const {
  auto it = rows_.find(position);
  if (it == rows_.end()) return std::optional<std::string>();
  return std::optional<std::string>(it->second);
}

// ---- request parsing ----

Result<QuerySpec> ParseQuerySpec(std::string_view body) {
  auto parsed = ParseJson(body);
  if (!parsed.ok())
    return Status::BadRequest("The query request body is not valid JSON. " +
                              parsed.status().message());
  const Value* text = parsed->Find("query");
  if (!parsed->is_object() || !text || !text->is_string()) {
    return Status::BadRequest(
        "A query request body must be a JSON object with a string 'query', such as {\"query\": "
        "\"SELECT * FROM c\"}.");
  }
  QuerySpec spec;
  spec.text = text->as_string();
  const Value* params = parsed->Find("parameters");
  if (params && !params->is_null()) {
    if (!params->is_array())
      return Status::BadRequest("'parameters' must be an array of {\"name\", \"value\"} objects.");
    for (const Value& p : params->as_array()) {
      const Value* name = p.Find("name");
      if (!p.is_object() || !name || !name->is_string()) {
        return Status::BadRequest(
            "Each entry of 'parameters' must be an object with a string 'name', such as "
            "{\"name\": \"@id\", \"value\": 1}.");
      }
      spec.parameters.emplace_back(name->as_string(), p.Member("value"));
    }
  }
  return spec;
}

Result<int64_t> ParseMaxItemCount(const std::string* header) {
  if (!header || header->empty()) return int64_t{100};
  int64_t v = 0;
  const char* b = header->data();
  const char* e = b + header->size();
  auto r = std::from_chars(b, e, v);
  if (r.ec != std::errc() || r.ptr != e) {
    return Status::BadRequest("x-ms-max-item-count must be an integer (or -1 for no limit), not '" +
                              *header + "'.");
  }
  return v <= 0 ? int64_t{0} : v;
}

std::string FeedBody(std::string_view rid, std::string_view array_name,
                     const std::vector<std::string>& documents) {
  std::string out = "{\"_rid\":";
  AppendJsonString(&out, rid);
  out += ",";
  AppendJsonString(&out, array_name);
  out += ":[";
  for (size_t i = 0; i < documents.size(); ++i) {
    if (i) out += ',';
    out += documents[i];
  }
  out += "],\"_count\":" + std::to_string(documents.size()) + "}";
  return out;
}

// ---- PreparedQuery ----

namespace {

std::string Hex64(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016" PRIx64, v);
  return buf;
}

}  // namespace

PreparedQuery::PreparedQuery(std::unique_ptr<CompiledQuery> compiled, std::string fingerprint)
    : compiled_(std::move(compiled)), fingerprint_(std::move(fingerprint)) {}
PreparedQuery::PreparedQuery(PreparedQuery&&) noexcept = default;
PreparedQuery& PreparedQuery::operator=(PreparedQuery&&) noexcept = default;
PreparedQuery::~PreparedQuery() = default;

Result<PreparedQuery> PreparedQuery::Prepare(const QuerySpec& spec) {
  // Azure Cosmos DB's documented query limits.
  constexpr size_t kMaxQueryBytes = 512 * 1024;
  constexpr size_t kMaxJoins = 10;
  if (spec.text.size() > kMaxQueryBytes) {
    return Status::BadRequest("The query text is " + std::to_string(spec.text.size()) +
                              " bytes; Azure Cosmos DB allows at most 512 KB.");
  }
  auto parsed = ParseQuery(spec.text);
  if (!parsed.ok()) return parsed.status();
  if ((*parsed)->from.size() > kMaxJoins + 1) {
    return Status::BadRequest("The query has " + std::to_string((*parsed)->from.size() - 1) +
                              " JOINs; Azure Cosmos DB allows at most " + std::to_string(kMaxJoins) + " per query.");
  }
  auto compiled = Compile(std::move(*parsed), spec.parameters);
  if (!compiled.ok()) return compiled.status();
  std::string fp = spec.text;
  for (const auto& [name, value] : spec.parameters) {
    fp.push_back('\0');
    fp += name;
    fp.push_back('=');
    AppendCanonical(&fp, value);
  }
  return PreparedQuery(std::move(*compiled), Hex64(Fnv1a64(fp)));
}

Result<PreparedQuery> PreparedQuery::PrepareCondition(std::string_view condition) {
  auto parsed = ParseCondition(condition);
  if (!parsed.ok()) return parsed.status();
  auto compiled = Compile(std::move(*parsed), {});
  if (!compiled.ok()) return compiled.status();
  return PreparedQuery(std::move(*compiled), Hex64(Fnv1a64(condition)));
}

std::optional<std::vector<Value>> PreparedQuery::PartitionKeyEquality(
    const std::vector<std::string>& pk_paths) const {
  return query::PartitionKeyEquality(*compiled_, pk_paths);
}

Result<bool> PreparedQuery::Matches(std::string_view json, int64_t now_micros) const {
  const CompiledQuery& cq = *compiled_;
  Evaluator ev(cq, EvalContext{now_micros});
  if (!cq.query->from.empty()) {
    auto doc = ParseJsonProjected(json, cq.need);
    if (!doc.ok())
      return Status::Internal("The document is not valid JSON: " + doc.status().message());
    ev.set_input(std::move(*doc));
  }
  return !ev.RunQuery(*cq.query, 1).empty();
}

// ---- continuations ----

namespace {

struct Token {
  char mode = 0;    // 0: first page
  std::string key;  // position (modes s, o)
  int64_t idx = 0;  // rows of that position consumed (s) / row index (o)
  int64_t produced = 0;
  std::vector<Value> sort_keys;  // mode o
};

std::string ScopeHash(const PreparedQuery& q, const PageRequest& req) {
  return Hex64(Fnv1a64(req.scope, Fnv1a64(q.fingerprint())));
}

std::string EncodeToken(const Token& t, const std::string& hash) {
  Object o;
  o.emplace_back("v", Value::Number(1));
  o.emplace_back("h", Value::String(hash));
  o.emplace_back("m", Value::String(std::string(1, t.mode)));
  o.emplace_back("n", Value::Number(static_cast<double>(t.produced)));
  if (t.mode == 's' || t.mode == 'o') {
    o.emplace_back("k", Value::String(Base64Encode(t.key)));
    o.emplace_back("i", Value::Number(static_cast<double>(t.idx)));
  }
  if (t.mode == 'o') {
    Array keys;
    for (const Value& k : t.sort_keys)
      keys.push_back(Value::MakeArray(k.is_defined() ? Array{k} : Array{}));
    o.emplace_back("s", Value::MakeArray(std::move(keys)));
  }
  return Base64Encode(Value::MakeObject(std::move(o)).ToJson());
}

Result<Token> DecodeToken(const std::string& text, const std::string& hash, Mode mode,
                          size_t num_sort_keys) {
  Status bad =
      Status::BadRequest("The continuation token '" + text.substr(0, 200) +
                         "' is malformed or was not issued for this query (text, parameters and "
                         "partition key must stay the same while paging).");
  Token t;
  if (text.empty()) return t;
  auto json = Base64Decode(text);
  if (!json) return bad;
  auto v = ParseJson(*json);
  if (!v.ok() || !v->is_object()) return bad;
  const Value* h = v->Find("h");
  const Value* m = v->Find("m");
  const Value* n = v->Find("n");
  constexpr double kMaxCount = 9007199254740992.0;  // 2^53
  if (!h || !h->is_string() || h->as_string() != hash || !m || !m->is_string() ||
      m->as_string().size() != 1 || !n || !n->is_number() || n->as_number() < 0 ||
      n->as_number() > kMaxCount) {
    return bad;
  }
  t.mode = m->as_string()[0];
  t.produced = static_cast<int64_t>(n->as_number());
  bool mode_ok = (mode == Mode::kStreaming && t.mode == 's') ||
                 (mode == Mode::kOrdered && (t.mode == 'o' || t.mode == 'f')) ||
                 (mode == Mode::kBuffered && t.mode == 'b');
  if (!mode_ok) return bad;
  if (t.mode == 's' || t.mode == 'o') {
    const Value* k = v->Find("k");
    const Value* i = v->Find("i");
    if (!k || !k->is_string() || !i || !i->is_number() || i->as_number() < 0 ||
        i->as_number() > kMaxCount)
      return bad;
    auto key = Base64Decode(k->as_string());
    if (!key) return bad;
    t.key = std::move(*key);
    t.idx = static_cast<int64_t>(i->as_number());
  }
  if (t.mode == 'o') {
    const Value* s = v->Find("s");
    if (!s || !s->is_array() || s->as_array().size() != num_sort_keys) return bad;
    for (const Value& k : s->as_array()) {
      if (!k.is_array() || k.as_array().size() > 1) return bad;
      t.sort_keys.push_back(k.as_array().empty() ? Value() : k.as_array()[0]);
    }
  }
  return t;
}

constexpr size_t kMaxKeysetTokenBytes = 4096;
constexpr int64_t kUnlimited = std::numeric_limits<int64_t>::max();

int64_t SatAdd(int64_t a, int64_t b) { return a > kUnlimited - b ? kUnlimited : a + b; }

class Executor {
 public:
  Executor(const PreparedQuery& pq, const RowSource& source, const PageRequest& req)
      : cq_(pq.compiled()),
        q_(*cq_.query),
        source_(source),
        req_(req),
        hash_(ScopeHash(pq, req)),
        budget_(req.limits),
        ev_(cq_, EvalContext{req.now_micros, &budget_, req.udfs}),
        udfs_(req.udfs) {
    offset_ = q_.offset_n.value_or(0);
    limit_total_ = q_.top_n ? *q_.top_n : (q_.limit_n ? SatAdd(offset_, *q_.limit_n) : kUnlimited);
    page_cap_ = req.max_items > 0 ? req.max_items : kUnlimited;
  }

  Result<Page> Run() {
    auto tok = DecodeToken(req_.continuation, hash_, cq_.mode, q_.order_by.size());
    if (!tok.ok()) return tok.status();
    token_ = std::move(*tok);
    Status s;
    switch (cq_.mode) {
      case Mode::kStreaming:
        s = RunStreaming();
        break;
      case Mode::kOrdered:
        s = RunOrdered();
        break;
      case Mode::kBuffered:
        s = RunBuffered();
        break;
    }
    page_.rows_evaluated = budget_.rows();
    if (budget_.exhausted() == WorkBudget::Exhausted::kFailed) {  // before `s`: it may be an OverBudget
      if (udfs_ && !udfs_->status().ok()) return udfs_->status();
      return Status::BadRequest("This query calls a user-defined function (udf.NAME), which is not available here.");
    }
    if (!s.ok()) return s;
    if (budget_.exhausted() != WorkBudget::Exhausted::kNo && !page_.budget_exhausted) {
      return OverBudget();  // partial ORDER BY / GROUP BY / aggregate state is never returned
    }
    return std::move(page_);
  }

  // A page that ran out of budget and cannot end with a continuation.
  Status OverBudget() const {
    if (budget_.exhausted() == WorkBudget::Exhausted::kCancelled) {
      return Status::BadRequest("The query was cancelled: the client closed the connection.");
    }
    return Status::BadRequest(
        "The query exceeded " + budget_.Describe() + " without finishing a result" +
        (cq_.mode == Mode::kStreaming
             ? " (one document's JOINs expand to more rows than a page may evaluate)"
             : " (ORDER BY, GROUP BY, aggregates and DISTINCT must see every row in one page)") +
        ". Narrow it with a filter, a partition key, or fewer JOINs.");
  }

 private:
  Status LoadInput(std::string_view json) {
    ++page_.rows_scanned;
    auto doc = ParseJsonProjected(json, cq_.need);
    if (!doc.ok())
      return Status::Internal("A stored document is not valid JSON: " + doc.status().message());
    ev_.set_input(std::move(*doc));
    return Status::Ok();
  }

  bool Fits(const std::string& text) const {
    return page_.documents.empty() || bytes_ + text.size() <= req_.max_bytes;
  }
  void Emit(std::string text) {
    bytes_ += text.size();
    page_.documents.push_back(std::move(text));
  }

  // The continuation of a streaming page that stops before row `idx` of the
  // document at `key`, `produced` rows into the result.
  std::string StreamingToken(std::string_view key, int64_t idx, int64_t produced) const {
    Token next;
    next.mode = 's';
    next.key.assign(key);
    next.idx = idx;
    next.produced = produced;
    return EncodeToken(next, hash_);
  }

  // ---- streaming: rows leave in source order ----
  Status RunStreaming() {
    int64_t produced = token_.produced;
    if (produced >= limit_total_) return Status::Ok();
    bool stop = false;
    Status err;
    bool one_row_per_input = q_.from.size() == 1 && !q_.from[0].iterate && !q_.from[0].subquery;
    auto process = [&](std::string_view key, std::string&& json, int64_t skip) -> bool {
      if (Status s = LoadInput(json); !s.ok()) {
        err = s;
        return false;
      }
      int64_t idx = 0;
      budget_.set_replaying(skip > 0);
      ev_.ForEachRow(q_, [&]() -> bool {
        Value out;
        if (!cq_.raw_output) {
          out = ev_.Project(q_);
          if (out.is_undefined()) return true;
        }
        int64_t mine = idx++;
        if (mine < skip) return true;
        budget_.set_replaying(false);
        if (produced < offset_) {
          ++produced;
          return true;
        }
        if (produced >= limit_total_) {
          stop = true;
          return false;
        }
        std::string text =
            cq_.raw_output ? (one_row_per_input ? std::move(json) : json) : out.ToJson();
        if (static_cast<int64_t>(page_.documents.size()) >= page_cap_ || !Fits(text)) {
          page_.continuation = StreamingToken(key, mine, produced);
          stop = true;
          return false;
        }
        Emit(std::move(text));
        ++produced;
        if (produced >= limit_total_) {
          stop = true;
          return false;
        }
        return true;
      });
      if (!stop && err.ok() && budget_.exhausted() != WorkBudget::Exhausted::kNo) {
        // Out of budget inside this document: end the page here. Resuming
        // at the same place with no row returned would never progress.
        stop = true;
        const bool stuck = page_.documents.empty() && key == token_.key && idx <= token_.idx;
        if (!stuck) {
          page_.continuation = StreamingToken(key, idx, produced);
          page_.budget_exhausted = true;
        }
      }
      return !stop && err.ok();
    };
    if (!token_.key.empty()) {
      auto row = source_.Get(token_.key);
      if (!row.ok()) return row.status();
      if (row->has_value()) {
        process(token_.key, std::move(**row), token_.idx);
        if (!err.ok()) return err;
        if (stop) return Status::Ok();
      }
    }
    Status s = source_.Scan(token_.key, [&](std::string_view key, std::string&& json) {
      return process(key, std::move(json), 0);
    });
    if (!err.ok()) return err;
    return s;
  }

  // ---- ORDER BY: the smallest rows after the last returned one ----
  struct Candidate {
    std::vector<Value> keys;
    std::string position;
    int64_t idx = 0;
    std::vector<Value> frame;                // FROM slots, for lazy projection
    Value out;                               // SELECT VALUE: projected eagerly
    std::shared_ptr<const std::string> raw;  // raw output: the document text
  };

  int CompareRows(const std::vector<Value>& ka, std::string_view pa, int64_t ia,
                  const std::vector<Value>& kb, std::string_view pb, int64_t ib) const {
    int c = CompareSortKeys(ka, kb, q_.order_by);
    if (c != 0) return c;
    c = pa.compare(pb);
    if (c != 0) return c < 0 ? -1 : 1;
    return ia < ib ? -1 : (ia > ib ? 1 : 0);
  }

  Status RunOrdered() {
    const int64_t e = token_.produced;
    const bool keyset = token_.mode == 'o';
    const int64_t remaining_offset = std::max<int64_t>(0, offset_ - e);
    const int64_t emit_cap =
        limit_total_ == kUnlimited ? kUnlimited : limit_total_ - std::max(e, offset_);
    if (emit_cap <= 0) return Status::Ok();
    const int64_t pre_skip = token_.mode == 'f' ? e : 0;
    const int64_t skip_before = SatAdd(pre_skip, remaining_offset);
    const int64_t page_emit = std::min(page_cap_, emit_cap);
    const int64_t k = SatAdd(SatAdd(skip_before, page_emit), 1);  // +1: is there more?

    auto less = [&](const Candidate& a, const Candidate& b) {
      return CompareRows(a.keys, a.position, a.idx, b.keys, b.position, b.idx) < 0;
    };
    std::vector<Candidate> heap;  // max-heap: front is the worst kept row
    Status err;
    std::vector<Value> keys;
    auto scan = source_.Scan("", [&](std::string_view position, std::string&& json) -> bool {
      if (Status s = LoadInput(json); !s.ok()) {
        err = s;
        return false;
      }
      std::shared_ptr<const std::string> raw;
      int64_t idx = 0;
      ev_.ForEachRow(q_, [&]() -> bool {
        Value out;
        if (q_.value && !cq_.raw_output) {
          out = ev_.Project(q_);
          if (out.is_undefined()) return true;
        }
        int64_t mine = idx++;
        keys.clear();
        for (const auto& o : q_.order_by) keys.push_back(ev_.Eval(*o.expr));
        if (keyset &&
            CompareRows(keys, position, mine, token_.sort_keys, token_.key, token_.idx) <= 0)
          return true;
        if (static_cast<int64_t>(heap.size()) >= k) {
          const Candidate& worst = heap.front();
          if (CompareRows(keys, position, mine, worst.keys, worst.position, worst.idx) >= 0)
            return true;
        }
        Candidate c;
        c.keys = keys;
        c.position.assign(position);
        c.idx = mine;
        if (cq_.raw_output) {
          if (!raw) raw = std::make_shared<const std::string>(std::move(json));
          c.raw = raw;
        } else if (q_.value) {
          c.out = std::move(out);
        } else {
          for (const auto& src : q_.from)
            c.frame.push_back(ev_.slots()[static_cast<size_t>(src.slot)]);
        }
        heap.push_back(std::move(c));
        if (!budget_.Hold(heap.size())) return false;
        std::push_heap(heap.begin(), heap.end(), less);
        if (static_cast<int64_t>(heap.size()) > k) {
          std::pop_heap(heap.begin(), heap.end(), less);
          heap.pop_back();
        }
        return true;
      });
      return err.ok() && budget_.exhausted() == WorkBudget::Exhausted::kNo;
    });
    if (!err.ok()) return err;
    if (!scan.ok()) return scan;
    if (budget_.exhausted() != WorkBudget::Exhausted::kNo) return OverBudget();
    std::sort_heap(heap.begin(), heap.end(), less);

    int64_t consumed = 0, emitted = 0;
    const Candidate* last = nullptr;
    bool more = false;
    for (int64_t i = 0; i < static_cast<int64_t>(heap.size()); ++i) {
      Candidate& c = heap[static_cast<size_t>(i)];
      if (i < skip_before) {
        if (i >= pre_skip) ++consumed;
        last = &c;
        continue;
      }
      if (emitted >= page_emit) {
        more = emitted < emit_cap;
        break;
      }
      std::string text;
      if (c.raw) {
        text = *c.raw;
      } else if (q_.value) {
        text = c.out.ToJson();
      } else {
        for (size_t s = 0; s < q_.from.size(); ++s)
          ev_.slots()[static_cast<size_t>(q_.from[s].slot)] = c.frame[s];
        text = ev_.Project(q_).ToJson();
      }
      if (!Fits(text)) {
        more = true;
        break;
      }
      Emit(std::move(text));
      ++emitted;
      ++consumed;
      last = &c;
    }
    if (more) {
      Token next;
      next.produced = e + consumed;
      std::string encoded;
      if (last && (keyset || pre_skip == 0)) {
        next.mode = 'o';
        next.key = last->position;
        next.idx = last->idx;
        next.sort_keys = last->keys;
        encoded = EncodeToken(next, hash_);
      }
      if (encoded.empty() || encoded.size() > kMaxKeysetTokenBytes) {
        next.mode = 'f';
        encoded = EncodeToken(next, hash_);
      }
      page_.continuation = std::move(encoded);
    }
    return Status::Ok();
  }

  // ---- GROUP BY, aggregates, DISTINCT: the whole result, then a slice ----
  Status RunBuffered() {
    Accumulator acc(ev_, q_, std::numeric_limits<size_t>::max());
    if (q_.from.empty()) {
      ev_.ForEachRow(q_, [&] { return acc.AddRow(); });
    } else {
      Status err;
      Status s = source_.Scan("", [&](std::string_view, std::string&& json) -> bool {
        if (Status l = LoadInput(json); !l.ok()) {
          err = l;
          return false;
        }
        return ev_.ForEachRow(q_, [&] { return acc.AddRow(); });
      });
      if (!err.ok()) return err;
      if (!s.ok()) return s;
    }
    if (budget_.exhausted() != WorkBudget::Exhausted::kNo) return OverBudget();
    std::vector<Value> outs = acc.Finish();
    int64_t pos = token_.produced;
    while (pos < static_cast<int64_t>(outs.size())) {
      std::string text = outs[static_cast<size_t>(pos)].ToJson();
      if (static_cast<int64_t>(page_.documents.size()) >= page_cap_ || !Fits(text)) break;
      Emit(std::move(text));
      ++pos;
    }
    if (pos < static_cast<int64_t>(outs.size())) {
      Token next;
      next.mode = 'b';
      next.produced = pos;
      page_.continuation = EncodeToken(next, hash_);
    }
    return Status::Ok();
  }

  const CompiledQuery& cq_;
  const Query& q_;
  const RowSource& source_;
  const PageRequest& req_;
  std::string hash_;
  WorkBudget budget_;  // before ev_, which points to it
  Evaluator ev_;
  UdfCaller* udfs_ = nullptr;
  Token token_;
  Page page_;
  size_t bytes_ = 0;
  int64_t offset_ = 0;
  int64_t limit_total_ = kUnlimited;
  int64_t page_cap_ = kUnlimited;
};

}  // namespace

Result<Page> ExecutePage(const PreparedQuery& query, const RowSource& source,
                         const PageRequest& request) {
  return Executor(query, source, request).Run();
}

}  // namespace regionlab::query
