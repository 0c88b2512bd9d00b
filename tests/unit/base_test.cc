// base/: encodings, the Cosmos master-key auth scheme, Status and Result.
//
// Expected values that encode an external contract (base64, encodeURIComponent,
// RFC 1123 dates, HMAC signatures) were computed independently with Node.js
// (the runtime of the @azure/cosmos SDK), not with the code under test.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <thread>
#include <vector>
#include <utility>

#include "base/cosmos_auth.h"
#include "base/deferred_work.h"
#include "base/encoding.h"
#include "base/status.h"

namespace regionlab {
namespace {

// ---------------------------------------------------------------- base64

TEST(Base64Test, EncodesKnownVectorsWithPadding) {
  // node -e 'console.log(Buffer.from("Man").toString("base64"))' etc.
  EXPECT_EQ(Base64Encode(""), "");
  EXPECT_EQ(Base64Encode("M"), "TQ==");
  EXPECT_EQ(Base64Encode("Ma"), "TWE=");
  EXPECT_EQ(Base64Encode("Man"), "TWFu");
  // node -e 'console.log(Buffer.from([0xfb,0xff]).toString("base64"))' -> "+/8="
  EXPECT_EQ(Base64Encode(std::string("\xfb\xff", 2)), "+/8=");
}

TEST(Base64Test, RoundTripsEveryByteValueAndEveryLength) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (size_t len = 0; len <= all.size(); len += 1) {
    std::string in = all.substr(all.size() - len);  // includes 0x00 and 0xff
    auto out = Base64Decode(Base64Encode(in));
    ASSERT_TRUE(out.has_value()) << "length " << len;
    EXPECT_EQ(*out, in) << "length " << len;
  }
}

TEST(Base64Test, DecodeAcceptsMissingPadding) {
  EXPECT_EQ(Base64Decode("TQ"), std::optional<std::string>("M"));
  EXPECT_EQ(Base64Decode("TWE"), std::optional<std::string>("Ma"));
}

TEST(Base64Test, DecodeRejectsMalformedInput) {
  EXPECT_FALSE(Base64Decode("T").has_value());        // a lone 6-bit group
  EXPECT_FALSE(Base64Decode("TW=u").has_value());     // padding in the middle
  EXPECT_FALSE(Base64Decode("TW u").has_value());     // space
  EXPECT_FALSE(Base64Decode("TW*u").has_value());     // not in any alphabet
  EXPECT_FALSE(Base64Decode("not base64!").has_value());
}

// Cosmos writes _rid values in base64 with '/' replaced by '-' (the .NET SDK's
// ResourceId: ToBase64String(...).Replace('/', '-')), and x-ms-content-path
// carries a container _rid in that form. Decoding must undo exactly that.
TEST(Base64Test, RidAlphabetDashMeansSlash) {
  // node -e 'console.log(Buffer.from([0xfb,0xff,0xbf]).toString("base64"))' -> "+/+/"
  const std::string bytes("\xfb\xff\xbf", 3);
  ASSERT_EQ(Base64Encode(bytes), "+/+/");
  auto decoded = Base64Decode("+-+-");  // the rid form of "+/+/"
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(*decoded, bytes);
}

TEST(Base64Test, RidAlphabetRoundTripForEightByteRids) {
  // Every 8-byte container rid must survive text form and back.
  int mismatches = 0;
  std::string first_bad;
  for (int b = 0; b < 256; ++b) {
    std::string rid(8, static_cast<char>(b));
    rid[3] = static_cast<char>(255 - b);
    std::string text = Base64Encode(rid);
    for (char& c : text) {
      if (c == '/') c = '-';
    }
    auto back = Base64Decode(text);
    if (!back || *back != rid) {
      if (mismatches++ == 0) first_bad = text;
    }
  }
  EXPECT_EQ(mismatches, 0) << "rid texts that do not decode to their bytes, first: " << first_bad;
}

// ---------------------------------------------------------------- percent

TEST(PercentTest, DecodeKeepsPlusAsPlus) {
  // Form decoding would turn '+' into ' ', which breaks base64 signatures.
  EXPECT_EQ(PercentDecode("a+b"), "a+b");
  EXPECT_EQ(PercentDecode("sig%3Dab%2Bcd%2F%3D"), "sig=ab+cd/=");
  EXPECT_EQ(PercentDecode("%2b%2f"), "+/");  // lower-case hex
}

TEST(PercentTest, DecodesOnceAndUtf8) {
  // encodeURI("/docs/a bü") -> "/docs/a%20b%C3%BC"
  EXPECT_EQ(PercentDecode("/docs/a%20b%C3%BC"), "/docs/a b\xC3\xBC");
  EXPECT_EQ(PercentDecode("%2541"), "%41");  // once, not twice
}

TEST(PercentTest, DecodeKeepsMalformedEscapesVerbatim) {
  EXPECT_EQ(PercentDecode("100%"), "100%");
  EXPECT_EQ(PercentDecode("%4"), "%4");
  EXPECT_EQ(PercentDecode("%zz!"), "%zz!");
  EXPECT_EQ(PercentDecode("a%2"), "a%2");
}

TEST(PercentTest, EncodeComponentMatchesEncodeURIComponent) {
  // node -e "console.log(encodeURIComponent(...))" for each input.
  EXPECT_EQ(PercentEncodeComponent("AZaz09-_.!~*'()"), "AZaz09-_.!~*'()");
  EXPECT_EQ(PercentEncodeComponent(" \"#$%&+,/:;<=>?@[\\]^`{|}"),
            "%20%22%23%24%25%26%2B%2C%2F%3A%3B%3C%3D%3E%3F%40%5B%5C%5D%5E%60%7B%7C%7D");
  EXPECT_EQ(PercentEncodeComponent("\xC3\xA9"), "%C3%A9");
}

TEST(PercentTest, EncodeComponentRoundTripsThroughDecode) {
  std::string all;
  for (int i = 1; i < 256; ++i) all.push_back(static_cast<char>(i));
  EXPECT_EQ(PercentDecode(PercentEncodeComponent(all)), all);
}

TEST(PercentTest, EncodePathKeepsSlashes) {
  // node -e 'console.log(encodeURI("/docs/a bü"))' -> "/docs/a%20b%C3%BC"
  EXPECT_EQ(PercentEncodePath("/docs/a b\xC3\xBC"), "/docs/a%20b%C3%BC");
}

// ---------------------------------------------------------------- HTTP dates

TEST(HttpDateTest, FormatsRfc1123InGmt) {
  // node -e 'console.log(new Date(1700000000*1000).toUTCString())'
  EXPECT_EQ(FormatHttpDate(1700000000), "Tue, 14 Nov 2023 22:13:20 GMT");
  EXPECT_EQ(FormatHttpDate(0), "Thu, 01 Jan 1970 00:00:00 GMT");
  EXPECT_EQ(FormatHttpDate(951782400), "Tue, 29 Feb 2000 00:00:00 GMT");
}

TEST(HttpDateTest, ParsesKnownDate) {
  // node -e 'console.log(Date.parse("Tue, 01 Nov 1994 08:12:31 GMT")/1000)'
  EXPECT_EQ(ParseHttpDate("Tue, 01 Nov 1994 08:12:31 GMT"), std::optional<int64_t>(783677551));
  // The SDKs sign the lower-cased date; servers see either case.
  EXPECT_EQ(ParseHttpDate("tue, 01 nov 1994 08:12:31 gmt"), std::optional<int64_t>(783677551));
}

TEST(HttpDateTest, FormatParseRoundTrip) {
  for (int64_t t : {int64_t{0}, int64_t{783677551}, int64_t{951782400}, int64_t{1700000000},
                    int64_t{1709251199}, int64_t{4102444799}}) {
    EXPECT_EQ(ParseHttpDate(FormatHttpDate(t)), std::optional<int64_t>(t)) << FormatHttpDate(t);
  }
}

TEST(HttpDateTest, RejectsGarbage) {
  EXPECT_FALSE(ParseHttpDate("").has_value());
  EXPECT_FALSE(ParseHttpDate("garbage").has_value());
  EXPECT_FALSE(ParseHttpDate("Tue, ").has_value());
  EXPECT_FALSE(ParseHttpDate("Tue, 01 Foo 1994 08:12:31 GMT").has_value());   // month
  EXPECT_FALSE(ParseHttpDate("Tue, 32 Nov 1994 08:12:31 GMT").has_value());   // day
  EXPECT_FALSE(ParseHttpDate("Tue, 00 Nov 1994 08:12:31 GMT").has_value());   // day
  EXPECT_FALSE(ParseHttpDate("Tue, 01 Nov 1994 24:12:31 GMT").has_value());   // hour
  EXPECT_FALSE(ParseHttpDate("Tue, 01 Nov 1994 08:60:31 GMT").has_value());   // minute
  EXPECT_FALSE(ParseHttpDate("Tue, 01 Nov 1994 08:12 GMT").has_value());      // no seconds
  EXPECT_FALSE(ParseHttpDate("Tue, 01 Nov 1960 08:12:31 GMT").has_value());   // before 1970
  EXPECT_FALSE(ParseHttpDate("1994-11-01T08:12:31Z").has_value());            // ISO 8601
}

// ---------------------------------------------------------------- resource address

TEST(ResourceAddressTest, FeedPathOddSegments) {
  ResourceAddress a = ResourceAddressFromPath("/dbs/d/colls/c/docs");
  EXPECT_EQ(a.type, "docs");
  EXPECT_EQ(a.link, "dbs/d/colls/c");
}

TEST(ResourceAddressTest, ItemPathEvenSegments) {
  ResourceAddress a = ResourceAddressFromPath("/dbs/d/colls/c/docs/x");
  EXPECT_EQ(a.type, "docs");
  EXPECT_EQ(a.link, "dbs/d/colls/c/docs/x");
}

TEST(ResourceAddressTest, AccountRootIsEmpty) {
  ResourceAddress a = ResourceAddressFromPath("/");
  EXPECT_EQ(a.type, "");
  EXPECT_EQ(a.link, "");
  ResourceAddress b = ResourceAddressFromPath("");
  EXPECT_EQ(b.type, "");
  EXPECT_EQ(b.link, "");
}

TEST(ResourceAddressTest, TopLevelFeedAndItem) {
  ResourceAddress feed = ResourceAddressFromPath("/dbs");
  EXPECT_EQ(feed.type, "dbs");
  EXPECT_EQ(feed.link, "");
  ResourceAddress item = ResourceAddressFromPath("/dbs/MyDb");
  EXPECT_EQ(item.type, "dbs");
  EXPECT_EQ(item.link, "dbs/MyDb");  // case kept
}

TEST(ResourceAddressTest, TrailingSlashIgnored) {
  // The Python SDK sends "GET /dbs/db/".
  ResourceAddress a = ResourceAddressFromPath("/dbs/db/");
  EXPECT_EQ(a.type, "dbs");
  EXPECT_EQ(a.link, "dbs/db");
  ResourceAddress b = ResourceAddressFromPath("/dbs/d/colls/c/docs/");
  EXPECT_EQ(b.type, "docs");
  EXPECT_EQ(b.link, "dbs/d/colls/c");
}

TEST(ResourceAddressTest, DecodedSpecialCharactersStayInLink) {
  ResourceAddress a = ResourceAddressFromPath("/dbs/d/colls/c/docs/a b\xC3\xBC");
  EXPECT_EQ(a.type, "docs");
  EXPECT_EQ(a.link, "dbs/d/colls/c/docs/a b\xC3\xBC");
}

// ---------------------------------------------------------------- signatures

// Produced independently with Node's crypto (the SDK's own primitive):
//   node -e 'const c=require("crypto");
//     const k=Buffer.from("C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==","base64");
//     const s=c.createHmac("sha256",k).update("get\ndocs\ndbs/MyDb/colls/MyColl/docs/Doc1\n"
//       + "tue, 01 nov 1994 08:12:31 gmt\n\n").digest("base64");
//     console.log(s, encodeURIComponent("type=master&ver=1.0&sig="+s))'
// The resource link keeps its case; verb, type and date are lower-cased.
constexpr char kVectorDate[] = "Tue, 01 Nov 1994 08:12:31 GMT";
constexpr char kVectorLink[] = "dbs/MyDb/colls/MyColl/docs/Doc1";
constexpr char kVectorSignature[] = "DkS/bdi/6xHHMIbIWqUda8yhPjvppxo4ksw+YwuSOmc=";
constexpr char kVectorHeader[] =
    "type%3Dmaster%26ver%3D1.0%26sig%3DDkS%2Fbdi%2F6xHHMIbIWqUda8yhPjvppxo4ksw%2BYwuSOmc%3D";

TEST(CosmosAuthTest, SignatureMatchesIndependentVector) {
  auto sig = ComputeMasterSignature(kEmulatorKey, "GET", "docs", kVectorLink, kVectorDate);
  ASSERT_TRUE(sig.has_value());
  EXPECT_EQ(*sig, kVectorSignature);
}

TEST(CosmosAuthTest, SignatureLowerCasesVerbTypeAndDateButNotLink) {
  auto upper = ComputeMasterSignature(kEmulatorKey, "get", "DOCS", kVectorLink,
                                      "tue, 01 nov 1994 08:12:31 gmt");
  ASSERT_TRUE(upper.has_value());
  EXPECT_EQ(*upper, kVectorSignature);
  // node: same HMAC over "get\ndocs\ndbs/mydb/colls/mycoll/docs/doc1\n..." gives
  // "HQIiurA4H7OQJgEY8+f7aHL0sNRc+Dcub/X6HVHktB4=": the link's case matters.
  auto lower_link = ComputeMasterSignature(kEmulatorKey, "GET", "docs",
                                           "dbs/mydb/colls/mycoll/docs/doc1", kVectorDate);
  ASSERT_TRUE(lower_link.has_value());
  EXPECT_EQ(*lower_link, "HQIiurA4H7OQJgEY8+f7aHL0sNRc+Dcub/X6HVHktB4=");
}

TEST(CosmosAuthTest, SecondIndependentVectorForAccountLevelFeed) {
  // node: HMAC over "post\ndbs\n\nthu, 27 apr 2017 00:51:12 gmt\n\n"
  auto sig = ComputeMasterSignature(kEmulatorKey, "POST", "dbs", "", "Thu, 27 Apr 2017 00:51:12 GMT");
  ASSERT_TRUE(sig.has_value());
  EXPECT_EQ(*sig, "CHjhNtQltyEuPdWLf2/f+hSkSlYg+7UuFlwMyv8L7mI=");
}

// HMAC contexts are kept keyed per thread (four keys): a key that comes back
// after others pushed it out, keys in turn, two threads at once, a key with
// zero bytes; each against Node's crypto.createHmac("sha256", key).
TEST(CosmosAuthTest, HmacSha256AgreesWithNodeAcrossKeysAndThreads) {
  const std::pair<std::string, std::string> vectors[] = {
      {"k1", "f55aa6d0d62426dccb8b38e409fcdbd021fa5265dd89788b937614aea435089e"},
      {"k2", "cf5a783b33ba36f6e2508140bc64652d30808a55bec4a7b52e3819dec92a2a79"},
      {"k3", "dcc85dc068d612072f03b5fff1b7f93e7056aefe534e95f6ae6c5c6aa85715e0"},
      {"k4", "7d3742d3544e6e3ac46c9c48c5b9a5c72f98f8f8991e1bcb036bfe049cc76a05"},
      {"k5", "6a37ca695b1562efa7b0b32bca3222706d744715d1f00eba8a24f9f62b880d5d"},
      {"k6", "0ef903361deceabe3d62729b222a6f4aaa49c41b837dc39e9d5e349588643717"},
  };
  auto check = [&](int rounds) {
    for (int r = 0; r < rounds; ++r) {
      for (size_t i = 0; i < std::size(vectors); ++i) {
        // Forwards, then each key twice in a row, then backwards.
        const auto& [key, mac] = vectors[r % 3 == 2 ? std::size(vectors) - 1 - i : r % 3 == 1 ? i / 2 : i];
        EXPECT_EQ(HexEncode(HmacSha256(key, "payload")), mac) << key;
      }
    }
    // RFC 4231, test case 1: a 20-byte key of 0x0b.
    EXPECT_EQ(HexEncode(HmacSha256(std::string(20, '\x0b'), "Hi There")),
              "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    EXPECT_EQ(HexEncode(Sha256("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  };
  std::thread other(check, 200);
  check(200);
  other.join();
}

// ---------------------------------------------------------------- deferred work

TEST(DeferScopeTest, CollectsInOrderRunsEverythingAndNeverDropsWork) {
  std::vector<int> ran;
  auto note = [&](int n, Status s = Status::Ok()) {
    return [&ran, n, s]() -> Status {
      ran.push_back(n);
      return s;
    };
  };
  EXPECT_FALSE(DeferScope::Defer(note(0)));  // no scope: the caller runs it
  std::vector<DeferScope::Work> taken;
  {
    DeferScope outer;
    EXPECT_TRUE(DeferScope::Defer(note(1)));
    {
      DeferScope inner;  // the innermost collects
      EXPECT_TRUE(DeferScope::Defer(note(2)));
      EXPECT_TRUE(ran.empty());
    }  // not taken: it runs as the scope closes
    EXPECT_EQ(ran, (std::vector<int>{2}));
    EXPECT_TRUE(DeferScope::Defer(note(3, Status::Internal("disk full"))));
    EXPECT_TRUE(DeferScope::Defer(note(4, Status::Internal("later"))));
    taken = outer.Take();
  }
  EXPECT_FALSE(DeferScope::Defer(note(5)));  // closed
  EXPECT_EQ(ran, (std::vector<int>{2}));     // taken work waits for its owner
  ASSERT_EQ(taken.size(), 3u);
  Status s = DeferScope::RunAll(taken);
  EXPECT_EQ(s.message(), "disk full");  // the first error, after running all
  EXPECT_EQ(ran, (std::vector<int>{2, 1, 3, 4}));
  EXPECT_TRUE(taken.empty());
}

TEST(CosmosAuthTest, RejectsKeyThatIsNotBase64) {
  EXPECT_FALSE(ComputeMasterSignature("not base64!", "GET", "docs", kVectorLink, kVectorDate));
  EXPECT_FALSE(BuildAuthorizationHeader("", "GET", "docs", kVectorLink, kVectorDate));
}

TEST(CosmosAuthTest, HeaderIsEncodeURIComponentOfTheTriple) {
  auto header = BuildAuthorizationHeader(kEmulatorKey, "GET", "docs", kVectorLink, kVectorDate);
  ASSERT_TRUE(header.has_value());
  EXPECT_EQ(*header, kVectorHeader);
}

TEST(CosmosAuthTest, HeaderParseRoundTripKeepsPlusAndSlash) {
  auto header = BuildAuthorizationHeader(kEmulatorKey, "GET", "docs", kVectorLink, kVectorDate);
  ASSERT_TRUE(header.has_value());
  auto parsed = ParseAuthorizationHeader(*header);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->type, "master");
  EXPECT_EQ(parsed->version, "1.0");
  EXPECT_EQ(parsed->signature, kVectorSignature);
  EXPECT_NE(parsed->signature.find('+'), std::string::npos);
  EXPECT_NE(parsed->signature.find('/'), std::string::npos);
}

TEST(CosmosAuthTest, ParseAcceptsUnencodedHeaderWithLiteralPlus) {
  auto parsed = ParseAuthorizationHeader(std::string("type=master&ver=1.0&sig=") + kVectorSignature);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->signature, kVectorSignature);
}

TEST(CosmosAuthTest, ParseRejectsHeaderWithoutSignature) {
  EXPECT_FALSE(ParseAuthorizationHeader("").has_value());
  EXPECT_FALSE(ParseAuthorizationHeader("type%3Dmaster%26ver%3D1.0").has_value());
  EXPECT_FALSE(ParseAuthorizationHeader("type%3Dmaster%26ver%3D1.0%26sig%3D").has_value());
}

TEST(CosmosAuthTest, SignaturesEqual) {
  EXPECT_TRUE(SignaturesEqual(kVectorSignature, kVectorSignature));
  EXPECT_TRUE(SignaturesEqual("", ""));
  std::string flipped = kVectorSignature;
  flipped[5] = flipped[5] == 'a' ? 'b' : 'a';
  EXPECT_FALSE(SignaturesEqual(kVectorSignature, flipped));
  // '+' vs ' ' (what a form decoder would produce) must not match.
  std::string spaced = kVectorSignature;
  spaced[spaced.find('+')] = ' ';
  EXPECT_FALSE(SignaturesEqual(kVectorSignature, spaced));
  // A prefix is not equal.
  EXPECT_FALSE(SignaturesEqual(kVectorSignature, std::string(kVectorSignature).substr(0, 10)));
  EXPECT_FALSE(SignaturesEqual("abc", "abcd"));
}

// ---------------------------------------------------------------- Status / Result

TEST(StatusTest, DefaultIsOkAndFactoriesCarryCodeMessageSubstatus) {
  Status ok;
  EXPECT_TRUE(ok.ok());
  EXPECT_EQ(ok.code(), StatusCode::kOk);
  EXPECT_EQ(ok.ToString(), "OK");

  Status f = Status::Forbidden("writes refused", 3);
  EXPECT_FALSE(f.ok());
  EXPECT_TRUE(f.Is(StatusCode::kForbidden));
  EXPECT_EQ(f.substatus(), 3);
  EXPECT_EQ(f.message(), "writes refused");
  EXPECT_NE(f.ToString().find("writes refused"), std::string::npos);
  EXPECT_NE(f.ToString().find("/3"), std::string::npos);

  EXPECT_EQ(Status::NotFound("x", 1002).substatus(), 1002);
  EXPECT_EQ(Status::Conflict("x").code(), StatusCode::kConflict);
  EXPECT_EQ(Status::PreconditionFailed("x").code(), StatusCode::kPreconditionFailed);
  EXPECT_EQ(Status::TooLarge("x").code(), StatusCode::kTooLarge);
  EXPECT_EQ(Status::Unavailable("x").code(), StatusCode::kUnavailable);
}

TEST(ResultTest, HoldsValue) {
  Result<std::string> r(std::string("hello"));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.status().ok());
  EXPECT_EQ(*r, "hello");
  EXPECT_EQ(r->size(), 5u);
  r.value() += "!";
  EXPECT_EQ(r.value(), "hello!");
  std::string moved = std::move(r).value();
  EXPECT_EQ(moved, "hello!");
}

TEST(ResultTest, HoldsStatus) {
  Result<int> r(Status::NotFound("gone", 1002));
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(r.status().substatus(), 1002);
  EXPECT_EQ(r.status().message(), "gone");
}

Status Step(bool fail, int* reached) {
  ++*reached;
  return fail ? Status::BadRequest("step failed") : Status::Ok();
}

Status TwoSteps(bool fail_first, int* reached) {
  RL_RETURN_IF_ERROR(Step(fail_first, reached));
  RL_RETURN_IF_ERROR(Step(false, reached));
  return Status::Conflict("reached the end");
}

TEST(StatusMacroTest, ReturnIfErrorPropagatesFirstFailure) {
  int reached = 0;
  Status s = TwoSteps(/*fail_first=*/true, &reached);
  EXPECT_EQ(s.code(), StatusCode::kBadRequest);
  EXPECT_EQ(s.message(), "step failed");
  EXPECT_EQ(reached, 1);  // the second step never ran
}

TEST(StatusMacroTest, ReturnIfErrorContinuesOnOk) {
  int reached = 0;
  Status s = TwoSteps(/*fail_first=*/false, &reached);
  EXPECT_EQ(s.code(), StatusCode::kConflict);
  EXPECT_EQ(reached, 2);
}

Result<int> Parse(bool fail) {
  RL_RETURN_IF_ERROR(fail ? Status::TooLarge("too big") : Status::Ok());
  return 42;
}

TEST(StatusMacroTest, ReturnIfErrorWorksInFunctionsReturningResult) {
  EXPECT_EQ(Parse(false).value(), 42);
  Result<int> r = Parse(true);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kTooLarge);
}

}  // namespace
}  // namespace regionlab
