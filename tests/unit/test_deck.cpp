#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>

#include "engine/deck.hpp"
#include "engine/driver.hpp"

using namespace saddle::engine;

namespace {

Schema demo_schema() {
  Schema s = engine_schema("decks/demo.toml");
  s.integer("demo.n").def(std::int64_t{10}).range(1, 1000).help("size");
  s.real("demo.eta").def(0.5).range(0, 1);
  s.string("demo.method").def(std::string("exact")).one_of({"exact", "randomized", "nystrom"});
  s.boolean("demo.center").def(false);
  s.real_list("demo.sigmas").def(std::vector<double>{1.0, 2.0}).range(0);
  s.string_list("demo.algorithms").def(std::vector<std::string>{"bc"}).one_of({"bc", "mail_bro", "murmail"});
  s.int_list("demo.sizes").optional();
  s.string("demo.path").optional();
  s.real("demo.kernel.sigma").def(1.0).range(0);
  return s;
}

const char* kDeck = R"(# a demo deck
[run]
workload = "demo"
steps = 20

[demo]
n = 7
method = "nystrom"
sigmas = [0.5, 3]

[demo.kernel]
sigma = 2
)";

// The message of the InputError `f` throws, or "" if it throws none.
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

std::string resolve_error(const std::string& text, const std::vector<std::string>& overrides = {}) {
  return error_of([&] { resolve(Deck::parse(text, "demo.toml", overrides), demo_schema()); });
}

}  // namespace

TEST(Deck, ResolvesValuesDefaultsAndTypes) {
  const Config c = resolve(Deck::parse(kDeck, "decks/demo.toml", {}), demo_schema());
  EXPECT_EQ(c.string("run.workload"), "demo");
  EXPECT_EQ(c.string("run.name"), "demo");  // default: the deck's file stem
  EXPECT_EQ(c.integer("run.steps"), 20);
  EXPECT_EQ(c.integer("run.seed"), 1);
  EXPECT_EQ(c.integer("demo.n"), 7);
  EXPECT_EQ(c.real("demo.eta"), 0.5);
  EXPECT_EQ(c.string("demo.method"), "nystrom");
  EXPECT_EQ(c.real_list("demo.sigmas"), (std::vector<double>{0.5, 3.0}));  // integers accepted as reals
  EXPECT_EQ(c.real("demo.kernel.sigma"), 2.0);
  EXPECT_FALSE(c.has("demo.path"));
  EXPECT_TRUE(c.is_set("demo.n"));
  EXPECT_FALSE(c.is_set("demo.eta"));  // default
  EXPECT_FALSE(c.is_set("demo.path"));  // optional, absent
  EXPECT_EQ(c.origin("demo.n"), "decks/demo.toml:7");
  EXPECT_THROW(c.integer("demo.eta"), std::logic_error);  // wrong accessor is a programming error
}

TEST(Deck, OverridesParseAsTomlAndBareStrings) {
  const Config c = resolve(Deck::parse(kDeck, "demo.toml",
                                       {"run.steps=300", "demo.eta=1e-3", "demo.method=exact", "demo.sigmas=[1, 2.5]",
                                        "demo.center=true", "demo.path=data/x.h5", "demo.sizes=[3, 4]", "demo.kernel.sigma=4"}),
                           demo_schema());
  EXPECT_EQ(c.integer("run.steps"), 300);
  EXPECT_DOUBLE_EQ(c.real("demo.eta"), 1e-3);
  EXPECT_EQ(c.string("demo.method"), "exact");
  EXPECT_EQ(c.real_list("demo.sigmas"), (std::vector<double>{1.0, 2.5}));
  EXPECT_TRUE(c.boolean("demo.center"));
  EXPECT_EQ(c.string("demo.path"), "data/x.h5");
  EXPECT_EQ(c.int_list("demo.sizes"), (std::vector<std::int64_t>{3, 4}));
  EXPECT_EQ(c.real("demo.kernel.sigma"), 4.0);
  EXPECT_EQ(c.origin("run.steps"), "command line override 'run.steps=300'");
}

TEST(Deck, ErrorsNameFileLineKeyAndExpectedForm) {
  EXPECT_EQ(resolve_error("[run]\nworkload = \"demo\"\nsteps = \"abc\"\n"),
            "demo.toml:3: key 'run.steps': expected an integer >= 0, got the string \"abc\"");
  EXPECT_EQ(resolve_error("[run]\nworkload = \"demo\"\n[demo]\nn = 5000\n"),
            "demo.toml:4: key 'demo.n': expected an integer in [1, 1000], got the integer 5000");
  EXPECT_EQ(resolve_error("[run]\nworkload = \"demo\"\nstpes = 3\n"),
            "demo.toml:3: unknown key 'run.stpes' (did you mean 'run.steps'?)");
  EXPECT_EQ(resolve_error("[run]\nworkload = \"demo\"\n[demo]\nmethod = \"nystom\"\n"),
            "demo.toml:4: key 'demo.method': expected one of \"exact\", \"randomized\", \"nystrom\", got \"nystom\" "
            "(did you mean \"nystrom\"?)");
  EXPECT_EQ(resolve_error("[run]\nworkload = \"demo\"\n[demo]\neta = nan\n"),
            "demo.toml:4: key 'demo.eta': expected a finite number in [0, 1], got the number nan");
  EXPECT_EQ(resolve_error("[run]\nworkload = \"demo\"\n[demo]\nn = 2.5\n"),
            "demo.toml:4: key 'demo.n': expected an integer in [1, 1000], got the number 2.5");
  EXPECT_EQ(resolve_error("[run]\nworkload = \"demo\"\n[demo]\nalgorithms = [\"bc\", \"murmal\"]\n"),
            "demo.toml:4: key 'demo.algorithms': element 1: expected an array of strings from \"bc\", \"mail_bro\", "
            "\"murmail\", got \"murmal\" (did you mean \"murmail\"?)");
  EXPECT_EQ(resolve_error("[run]\nworkload = \"demo\"\n[demo]\nsigmas = [1, -2]\n"),
            "demo.toml:4: key 'demo.sigmas': element 1: expected an array of finite numbers >= 0, got the integer -2");
  EXPECT_EQ(resolve_error("[run]\nworkload = \"demo\"\nlayer = 2\n"),
            "demo.toml:3: unknown key 'run.layer' (did you mean 'parallel.layer'?)");
  EXPECT_EQ(resolve_error("[run]\nsteps = 3\n"),
            "demo.toml: missing required key 'run.workload' (a string; which workload (apps/) runs this deck)");
  EXPECT_EQ(resolve_error("[run]\nworkload = \"demo\"\n[demo.kernl]\nsigma = 1\n"),
            "demo.toml:4: unknown key 'demo.kernl.sigma' (did you mean 'demo.kernel.sigma'?)");
}

TEST(Deck, EmptyTablesOfTheSchemaAreAccepted) {
  const Config c = resolve(Deck::parse("[run]\nworkload = \"demo\"\n[parallel]\n[demo.kernel]\n", "demo.toml", {}), demo_schema());
  EXPECT_EQ(c.integer("parallel.layer"), 1);
  EXPECT_EQ(resolve_error("[run]\nworkload = \"demo\"\n[paralel]\n"),
            "demo.toml:3: unknown table [paralel] (did you mean [parallel]?)");
}

TEST(Deck, ListsEveryProblemAtOnce) {
  const std::string e = resolve_error("[run]\nworkload = \"demo\"\nsteps = -1\nseed = \"x\"\nfoo = 1\n");
  EXPECT_NE(e.find("has 3 problems"), std::string::npos) << e;
  EXPECT_NE(e.find("run.steps"), std::string::npos);
  EXPECT_NE(e.find("run.seed"), std::string::npos);
  EXPECT_NE(e.find("unknown key 'run.foo'"), std::string::npos);
}

TEST(Deck, OverrideErrorsNameTheOverride) {
  EXPECT_EQ(resolve_error(kDeck, {"run.steps=abc"}),
            "command line override 'run.steps=abc': key 'run.steps': expected an integer >= 0, got the string \"abc\"");
  EXPECT_NE(resolve_error(kDeck, {"steps"}).find("expected key.path=value"), std::string::npos);
  EXPECT_NE(resolve_error(kDeck, {"=3"}).find("expected key.path=value"), std::string::npos);
  EXPECT_NE(resolve_error(kDeck, {"run..steps=3"}).find("not a dotted key"), std::string::npos);
  EXPECT_NE(resolve_error(kDeck, {"run.steps.x=3"}).find("'run.steps' is the integer 20 in the deck, not a table"),
            std::string::npos);
}

TEST(Deck, SyntaxErrorsAreInputErrorsWithTheLine) {
  const std::string e = resolve_error("[run]\nworkload = \"demo\nsteps = 3\n");
  EXPECT_NE(e.find("deck 'demo.toml' is not valid TOML"), std::string::npos) << e;
  EXPECT_NE(e.find(" 2 |"), std::string::npos) << e;  // toml11 shows the offending line
  EXPECT_NE(resolve_error("[run]\nsteps = 1\nsteps = 2\n").find("not valid TOML"), std::string::npos);
  EXPECT_NE(error_of([] { Deck::load("/nonexistent/deck.toml", {}); }).find("cannot read deck '/nonexistent/deck.toml'"),
            std::string::npos);
}

TEST(Deck, ResolvedTomlParsesBackToTheSameConfig) {
  const Config c = resolve(Deck::parse(kDeck, "decks/demo.toml", {"demo.eta=0.1", "demo.path=a \"quoted\" path"}), demo_schema());
  const Config back = resolve(Deck::parse(c.to_toml(), "decks/demo.toml", {}), demo_schema());
  EXPECT_EQ(back.to_toml(), c.to_toml());
  EXPECT_EQ(back.identity(), c.identity());
  EXPECT_EQ(back.real("demo.eta"), 0.1);
  EXPECT_EQ(back.string("demo.path"), "a \"quoted\" path");
}

TEST(Deck, IdentityIgnoresRestartNeutralKeysOnly) {
  const auto id = [](std::vector<std::string> ov) { return resolve(Deck::parse(kDeck, "demo.toml", ov), demo_schema()).identity(); };
  const std::string base = id({});
  EXPECT_EQ(base, id({"run.checkpoint_every=5", "run.checkpoint_keep=4", "run.restart=no", "run.log_every=3", "run.output=elsewhere"}));
  EXPECT_NE(base, id({"run.steps=21"}));
  EXPECT_NE(base, id({"run.seed=2"}));
  EXPECT_NE(base, id({"demo.eta=0.25"}));
}

TEST(Deck, DidYouMeanOnlyForNearMisses) {
  EXPECT_EQ(did_you_mean("run.stpes", {"run.steps", "run.seed"}), "run.steps");
  EXPECT_EQ(did_you_mean("selftst", {"selftest", "ksvd"}), "selftest");
  EXPECT_EQ(did_you_mean("completely_different", {"run.steps", "ksvd"}), "");
}

TEST(Deck, SchemaRejectsDuplicateAndMalformedKeys) {
  Schema s;
  s.integer("a.b");
  EXPECT_THROW(s.integer("a.b"), std::logic_error);
  EXPECT_THROW(s.integer("a..b"), std::logic_error);
  EXPECT_THROW(s.integer("a b"), std::logic_error);
}

namespace {

std::string repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

// The parse error of `text` (InputError message), and how long the refusal took.
std::string parse_error(const std::string& text, double* seconds = nullptr, const std::vector<std::string>& overrides = {}) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::string e = error_of([&] { Deck::parse(text, "deep.toml", overrides); });
  if (seconds) *seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return e;
}

}  // namespace

// toml11 parses nesting recursively: 10,000 nested arrays or inline tables overflowed the stack,
// and 100,000 dotted key parts took minutes. They are refused before toml11 sees them.
TEST(Deck, DeepNestingIsRefusedFastWithTheLine) {
  const std::string head = "[run]\nworkload = \"demo\"\n";
  for (const int n : {10000, 100000}) {
    double seconds = 0;
    for (const std::string& deep :
         {"x = " + repeat("[", n) + repeat("]", n), "x = " + repeat("{a = ", n) + "1" + repeat("}", n),
          "x" + repeat(".a", n) + " = 1", "[a" + repeat(".a", n) + "]"}) {
      const std::string e = parse_error(head + deep + "\n", &seconds);
      EXPECT_NE(e.find("deep.toml:3: arrays, inline tables, tables and dotted keys nested more than 64 deep"),
                std::string::npos)
          << e;
      EXPECT_LT(seconds, 1.0) << deep.substr(0, 20);
    }
  }
  EXPECT_NE(parse_error(head, nullptr, {"run.x=" + repeat("[", 10000)}).find("command line override of 'run.x': arrays"),
            std::string::npos);
  EXPECT_NE(parse_error(head, nullptr, {"run" + repeat(".x", 100) + "=1"}).find("a key of more than 64 parts"),
            std::string::npos);
  // 64 levels pass; brackets inside strings and comments do not count.
  EXPECT_EQ(parse_error(head + "x = " + repeat("[", 62) + repeat("]", 62) + "\n"), "");
  EXPECT_EQ(parse_error(head + "x = \"" + repeat("[", 100) + "\" # " + repeat("{", 100) + "\ny = '''\n" + repeat("[", 100) +
                        "'''\nz = [\"]\", '[', \"\\\"[\", [1, 2], {a = [3]}]\n"),
            "");
}

// toml11 clamps integer literals beyond 64 bits to the int64 range; Saddle refuses them.
TEST(Deck, IntegersBeyond64BitsAreRefusedNotClamped) {
  for (const std::string big : {"99999999999999999999", "-99999999999999999999", "9_223_372_036_854_775_808", "0xffffffffffffffff"}) {
    const std::string e = resolve_error(kDeck, {"demo.n=" + big});
    EXPECT_NE(e.find("key 'demo.n': expected an integer in [1, 1000], got " + big + ", which is beyond the 64-bit integer range"),
              std::string::npos)
        << e;
  }
  EXPECT_NE(resolve_error("[run]\nworkload = \"demo\"\nseed = 99999999999999999999\n").find(
                "demo.toml:3: key 'run.seed': expected an integer >= 0, got 99999999999999999999, which is beyond"),
            std::string::npos);
  EXPECT_NE(resolve_error(kDeck, {"demo.sizes=[1, 99999999999999999999]"}).find("element 1: expected an array of integers, got 99999999999999999999"),
            std::string::npos);
  EXPECT_NE(resolve_error(kDeck, {"demo.kernel.sigma=99999999999999999999"}).find("(write a float such as 1e20)"), std::string::npos);
  // The extremes themselves are integers like any other.
  const Config c = resolve(Deck::parse(kDeck, "demo.toml", {"run.seed=9223372036854775807", "demo.sizes=[-9223372036854775808]"}),
                           demo_schema());
  EXPECT_EQ(c.integer("run.seed"), std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(c.int_list("demo.sizes"), std::vector<std::int64_t>{std::numeric_limits<std::int64_t>::min()});
}

// A NUL cut file names ("abc\u0000def" created abc) and messages; it is refused in any string.
TEST(Deck, StringsWithNulAreRefused) {
  EXPECT_NE(parse_error("[run]\nworkload = \"demo\"\noutput = \"abc\\u0000def\"\n").find(
                "deep.toml:3: key 'run.output': the string \"abc\\u0000def\" holds a NUL character"),
            std::string::npos);
  EXPECT_NE(parse_error("[run]\nworkload = \"demo\"\n", nullptr, {"run.name=\"a\\u0000\""}).find(
                "command line override 'run.name=\"a\\u0000\"': key 'run.name': the string \"a\\u0000\" holds a NUL"),
            std::string::npos);
  EXPECT_NE(parse_error("[demo]\nalgorithms = [\"bc\", \"x\\u0000\"]\n").find("key 'demo.algorithms': the string \"x\\u0000\""),
            std::string::npos);
  EXPECT_NE(parse_error("[demo]\n\"a\\u0000b\" = 1\n").find("the key \"a\\u0000b\" holds a NUL character"), std::string::npos);
}
