// tests/test_tokenizer.cpp: the SentencePiece tokenizer on a tiny byte-fallback BPE model
// (tests/data/tokenizer, made like Llama-2's): round trips, bos, TextStream and errors.
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <samba/model/model.hpp>  // token_t, also declared by the tokenizer header: both must agree
#include <samba/text/sentencepiece_tokenizer.hpp>
#include <string>
#include <vector>

using samba::token_t;
using samba::text::SentencePieceTokenizer;
using samba::text::TextStream;

namespace {

const std::string tiny_model = std::string(SAMBA_TOKENIZER_DIR) + "/tiny.model";

const SentencePieceTokenizer& tiny() {
  static const SentencePieceTokenizer tok(tiny_model);
  return tok;
}

std::string temp_file(const std::string& name, const std::string& bytes) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("samba_tokenizer_test_" + std::to_string(::getpid()) + "_" + name);
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return path.string();
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

/// Strict UTF-8: shortest forms only, no surrogates, nothing above U+10FFFF, nothing cut off.
bool valid_utf8(const std::string& s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    std::uint32_t cp = 0;
    if (b < 0x80) n = 1, cp = b;
    else if (b >= 0xC2 && b < 0xE0) n = 2, cp = b & 0x1Fu;
    else if (b >= 0xE0 && b < 0xF0) n = 3, cp = b & 0x0Fu;
    else if (b >= 0xF0 && b < 0xF5) n = 4, cp = b & 0x07u;
    else return false;
    if (i + n > s.size()) return false;
    for (std::size_t k = 1; k < n; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      if ((c & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (c & 0x3Fu);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += n;
  }
  return true;
}

/// Streams `ids` and checks, after every push, that what came out is valid UTF-8 and that it
/// plus a flush (of a copy) is decode() of the ids so far; at the end, that it all is decode(ids).
void check_stream(const std::vector<token_t>& ids) {
  const auto& tok = tiny();
  TextStream stream(tok);
  std::string out;
  for (std::size_t k = 0; k < ids.size(); ++k) {
    const std::string piece = stream.push(ids[k]);
    INFO("after " << k + 1 << " of " << ids.size() << " ids");
    CHECK(valid_utf8(piece));
    out += piece;
    TextStream copy = stream;
    const std::string expected = tok.decode(std::span<const token_t>(ids.data(), k + 1));
    REQUIRE(out + copy.flush() == expected);
  }
  CHECK(out + stream.flush() == tok.decode(ids));
}

const std::vector<std::string> samples = {
    "The river runs past the old mill.",
    "Grüße, 東京!",
    "  two leading and two trailing spaces  ",
    " one space around ",
    "tabs\tand\nnew lines\n",
    "In 1723 it cost 250 coins; in 2024, 9.99!",
    "emoji 😀, accents àéîõü, and ẞ",
    "x",
    " ",
    "",
};

}  // namespace

TEST_CASE("the tiny model has Llama's special ids", "[tokenizer]") {
  const auto& tok = tiny();
  CHECK(tok.vocab_size() == 400);
  CHECK(tok.bos_id() == 1);
  CHECK(tok.eos_id() == 2);
  CHECK(tok.is_control(1));
  CHECK(tok.is_control(2));
  CHECK_FALSE(tok.is_control(0));  // unk
  CHECK(tok.byte_value(3) == std::uint8_t{0x00});
  CHECK(tok.byte_value(3 + 0xE6) == std::uint8_t{0xE6});
  CHECK_FALSE(tok.byte_value(300));
}

TEST_CASE("encode then decode returns the text", "[tokenizer]") {
  const auto& tok = tiny();
  for (const auto& text : samples) {
    INFO("text: [" << text << "]");
    const auto ids = tok.encode(text, false);
    CHECK(tok.decode(ids) == text);
    CHECK(tok.decode(tok.encode(text)) == text);  // bos decodes to nothing
    for (const token_t id : ids) CHECK((id >= 0 && id < tok.vocab_size()));
  }
}

TEST_CASE("characters outside the vocabulary go through byte fallback", "[tokenizer]") {
  const auto& tok = tiny();
  const auto ids = tok.encode("Grüße, 東京!", false);
  int bytes = 0;
  for (const token_t id : ids) bytes += tok.byte_value(id) ? 1 : 0;
  CHECK(bytes == 2 + 2 + 3 + 3);  // ü ß 東 京
  CHECK(std::find(ids.begin(), ids.end(), 0) == ids.end());  // never <unk>
}

TEST_CASE("bos is added when asked", "[tokenizer]") {
  const auto& tok = tiny();
  const auto with = tok.encode("the town");
  const auto without = tok.encode("the town", false);
  REQUIRE(with.size() == without.size() + 1);
  CHECK(with.front() == tok.bos_id());
  CHECK(std::vector<token_t>(with.begin() + 1, with.end()) == without);
  CHECK(std::find(without.begin(), without.end(), tok.bos_id()) == without.end());
  CHECK(tok.encode("", true) == std::vector<token_t>{1});
  CHECK(tok.encode("", false).empty());
}

TEST_CASE("TextStream gives decode() of every prefix, in valid UTF-8", "[tokenizer]") {
  const auto& tok = tiny();
  for (const auto& text : samples) {
    INFO("text: [" << text << "]");
    auto ids = tok.encode(text);
    ids.push_back(tok.eos_id());
    check_stream(ids);
  }
  // Several texts one after the other, as a chat might generate them.
  std::vector<token_t> ids;
  for (const auto& text : samples) {
    const auto more = tok.encode(text);
    ids.insert(ids.end(), more.begin(), more.end());
  }
  check_stream(ids);
}

TEST_CASE("TextStream on random ids (bytes, controls, spaces)", "[tokenizer]") {
  const auto& tok = tiny();
  const token_t space = tok.encode(" ", false).back();  // the lone "▁" piece
  std::mt19937 rng(1234);
  std::uniform_int_distribution<int> kind(0, 9), any(0, static_cast<int>(tok.vocab_size()) - 1),
      utf8_lead(0xC0, 0xF7), continuation(0x80, 0xBF), length(0, 40);
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<token_t> ids(static_cast<std::size_t>(length(rng)));
    for (auto& id : ids) {
      switch (kind(rng)) {
        case 0: id = 3 + utf8_lead(rng); break;  // byte pieces: leads and continuations
        case 1: case 2: id = 3 + continuation(rng); break;
        case 3: id = static_cast<token_t>(kind(rng) % 3); break;  // unk, bos, eos
        case 4: id = space; break;
        default: id = any(rng);
      }
    }
    INFO("trial " << trial);
    check_stream(ids);
  }
}

TEST_CASE("TextStream holds a split character until it is complete", "[tokenizer]") {
  const auto& tok = tiny();
  TextStream stream(tok);
  CHECK(stream.push(tok.encode("a", false).back()) == "a");
  CHECK(stream.push(3 + 0xE6).empty());  // 東 = E6 9D B1
  CHECK(stream.push(3 + 0x9D).empty());
  CHECK(stream.push(3 + 0xB1) == "東");
  CHECK(stream.push(3 + 0xE4).empty());  // cut short: flush gives U+FFFD, as decode() does
  CHECK(stream.flush() == "\xEF\xBF\xBD");
}

TEST_CASE("TextStream stays correct over a long generation", "[tokenizer]") {
  const auto& tok = tiny();
  std::string text;
  for (int i = 0; i < 200; ++i) text += "Grüße aus 東京, the river runs on. ";
  const auto ids = tok.encode(text);
  TextStream stream(tok);
  std::string out;
  for (const token_t id : ids) out += stream.push(id);
  out += stream.flush();
  CHECK(out == text);
}

TEST_CASE("tokenizer errors name the file and the problem", "[tokenizer]") {
  const std::string missing = std::string(SAMBA_TOKENIZER_DIR) + "/no_such.model";
  CHECK_THROWS_AS(SentencePieceTokenizer(missing), samba::Error);
  CHECK_THROWS_WITH(SentencePieceTokenizer(missing), Catch::Contains(missing) && Catch::Contains("cannot open"));
  CHECK_THROWS_WITH(SentencePieceTokenizer(SAMBA_TOKENIZER_DIR), Catch::Contains("not a regular file"));

  const auto empty = temp_file("empty.model", "");
  CHECK_THROWS_WITH(SentencePieceTokenizer(empty), Catch::Contains(empty) && Catch::Contains("not a SentencePiece model"));

  std::mt19937 rng(7);
  std::string noise(4096, '\0');
  for (auto& c : noise) c = static_cast<char>(rng() & 0xFF);
  const auto random = temp_file("random.model", noise);
  CHECK_THROWS_WITH(SentencePieceTokenizer(random), Catch::Contains(random) && Catch::Contains("not a SentencePiece model"));

  const std::string whole = read_file(tiny_model);
  REQUIRE(whole.size() > 1000);
  const auto truncated = temp_file("truncated.model", whole.substr(0, whole.size() / 2));
  CHECK_THROWS_WITH(SentencePieceTokenizer(truncated),
                    Catch::Contains(truncated) && Catch::Contains("not a SentencePiece model"));
  for (const auto& path : {empty, random, truncated}) std::filesystem::remove(path);
}

TEST_CASE("ids outside the vocabulary are refused", "[tokenizer]") {
  const auto& tok = tiny();
  const std::vector<token_t> too_big{5, 400};
  CHECK_THROWS_AS(tok.decode(too_big), samba::Error);
  CHECK_THROWS_WITH(tok.decode(too_big), Catch::Contains("token id 400") && Catch::Contains("outside the vocabulary [0, 400)"));
  const std::vector<token_t> negative{-1};
  CHECK_THROWS_WITH(tok.decode(negative), Catch::Contains("token id -1"));
  TextStream stream(tok);
  CHECK_THROWS_WITH(stream.push(1000), Catch::Contains("token id 1000"));
}
