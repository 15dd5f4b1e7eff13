// tests/test_passkey.cpp: the passkey task (samba/eval/passkey.hpp): prompts equal those of
// tools/train/passkey_task.py (tests/data/passkey/prompts.json) whatever the piece size they are
// produced in, the task file's validation, and the ASCII tokenizer's range check.
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include <catch2/catch.hpp>
#include <samba/eval/passkey.hpp>

using namespace samba;
using Catch::Matchers::Contains;

namespace {

nlohmann::json fixtures() {
  std::ifstream in(SAMBA_PASSKEY_DIR "/prompts.json");
  REQUIRE(in.good());
  return nlohmann::json::parse(in);
}

std::string write_temp(const std::string& name, const std::string& content) {
  const std::string path = std::string(SAMBA_TEST_TMP) + "/" + name;
  std::ofstream(path) << content;
  return path;
}

}  // namespace

TEST_CASE("passkey prompts equal the training script's, in pieces of any size", "[passkey]") {
  const auto j = fixtures();
  const std::string task_path = write_temp("passkey_task.json", j["task"].dump());
  const eval::PasskeyTask task = eval::load_passkey_task(task_path);
  REQUIRE(j["cases"].size() >= 10);
  for (const auto& c : j["cases"]) {
    const std::string want = c["prompt"];
    for (long long piece : {1LL, 7LL, 64LL, 1LL << 20}) {
      eval::PasskeyPrompt prompt(task, c["context"].get<long long>(), c["depth"].get<double>(), c["key"].get<std::string>());
      std::string got;
      while (!prompt.done()) got += prompt.next(piece);
      INFO("context " << c["context"] << ", depth " << c["depth"] << ", pieces of " << piece);
      CHECK(got == want);
      CHECK(prompt.size() == static_cast<long long>(want.size()));
      CHECK(want.compare(static_cast<std::size_t>(prompt.key_position()), 16, "The pass key is ") == 0);
    }
  }
}

TEST_CASE("passkey prompts: the key moves with the depth and the length stays near the context", "[passkey]") {
  const eval::PasskeyTask task;
  long long previous = -1;
  for (double depth : {0.0, 0.2, 0.4, 0.6, 0.8, 1.0}) {
    eval::PasskeyPrompt prompt(task, 100000, depth, "31415");
    CHECK(prompt.key_position() > previous);
    previous = prompt.key_position();
    CHECK(prompt.size() <= 100000);
    CHECK(prompt.size() > 100000 - 32);  // within one filler sentence
  }
  CHECK_THROWS_WITH(eval::PasskeyPrompt(task, 1000, 1.5, "1"), Contains("outside [0, 1]"));
}

TEST_CASE("passkey task files are validated field by field", "[passkey]") {
  const auto check = [](const std::string& json, const std::string& message) {
    CHECK_THROWS_WITH(eval::load_passkey_task(write_temp("bad_task.json", json)), Contains(message));
  };
  const std::string ok_tail = R"("key": "k {key}", "question": "q", "digits": 5})";
  check("{", "not valid JSON");
  check(R"({"filler": [], )" + ok_tail, "'filler' must be a non-empty list");
  check(R"({"filler": ["a", 3], )" + ok_tail, "every 'filler' entry");
  check(R"({"filler": ["a"], "key": "no placeholder", "question": "q", "digits": 5})", "must contain {key}");
  check(R"({"filler": ["a"], "key": "k {key}", "digits": 5})", "'question' must be a non-empty string");
  check(R"({"filler": ["a"], "key": "k {key}", "question": "q", "digits": 0})", "'digits' must be an integer in 1..18");
  check(R"({"filler": ["a"], "key": "k {key}", "question": "q", "digits": 5, "tokenizer": "bpe"})", "is not supported");
  CHECK_THROWS_WITH(eval::load_passkey_task("/nonexistent/passkey.json"), Contains("cannot open"));
  const eval::PasskeyTask task = eval::load_passkey_task(write_temp("good_task.json", R"({"filler": ["a. "], )" + ok_tail));
  CHECK(task.key_text("77") == "k 77");
}

TEST_CASE("the ASCII tokenizer maps bytes to ids and refuses what the vocabulary lacks", "[passkey]") {
  CHECK(eval::ascii_tokens("Az 9.", 128) == std::vector<token_t>{65, 122, 32, 57, 46});
  CHECK_THROWS_WITH(eval::ascii_tokens("caf\xc3\xa9", 128), Contains("outside the vocabulary"));
  CHECK_THROWS_WITH(eval::ascii_tokens("z", 100), Contains("outside the vocabulary of 100"));
}
