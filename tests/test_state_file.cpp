// tests/test_state_file.cpp: saving a sequence's state to a file and loading it back (a loaded
// state continues bit-identically), forking by copy, and every way a state file can be refused.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>
#include <samba/io/atomic_file.hpp>
#include <samba/io/fnv1a.hpp>
#include <samba/model/load.hpp>
#include <samba/model/random_init.hpp>
#include <samba/model/state_file.hpp>

using namespace samba;
using Catch::Contains;
namespace fs = std::filesystem;

namespace {

using ScalarModel = DynamicModel<backend::Scalar>;
const std::string unseen = SAMBA_UNSEEN_DIR;
const std::string ring_case = unseen + "/samba5_mqa_w3";            // M A M A M, window 3: the ring buffer wraps
const std::string full_case = unseen + "/transformer2_full_mha_f32";  // full attention only
const std::string mamba_case = unseen + "/hf_mamba_d128_l3";         // Mamba only

/// A fresh directory under the system's temporary one, removed with everything in it.
struct TempDir {
  fs::path path;
  TempDir() {
    static int serial = 0;
    path = fs::temp_directory_path() / ("samba_state_test_" + std::to_string(::getpid()) + "_" + std::to_string(serial++));
    fs::create_directories(path);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

std::vector<std::byte> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::byte> out(chars.size());
  if (!chars.empty()) std::memcpy(out.data(), chars.data(), chars.size());
  return out;
}

void write_bytes(const std::string& path, std::span<const std::byte> bytes) {
  // A new file each time: ext4 flushes a file rewritten through truncation on close (auto_da_alloc),
  // which makes the thousands of rewrites below slow.
  std::error_code ec;
  fs::remove(path, ec);
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

std::uint64_t get_u64(const std::vector<std::byte>& b, std::size_t at) {
  std::uint64_t v = 0;
  for (std::size_t i = 8; i-- > 0;) v = (v << 8) | std::to_integer<std::uint64_t>(b[at + i]);
  return v;
}
void put_u64(std::vector<std::byte>& b, std::size_t at, std::uint64_t v) {
  for (std::size_t i = 0; i < 8; ++i) b[at + i] = static_cast<std::byte>(v >> (8 * i));
}
void put_u32(std::vector<std::byte>& b, std::size_t at, std::uint32_t v) {
  for (std::size_t i = 0; i < 4; ++i) b[at + i] = static_cast<std::byte>(v >> (8 * i));
}

/// Rewrites the payload length and the checksum to match the bytes (for crafted payloads).
void reseal(std::vector<std::byte>& b) {
  const std::size_t length = b.size() - state_file_header_bytes - state_file_checksum_bytes;
  put_u64(b, 20, length);
  put_u64(b, b.size() - 8, io::fnv1a64(std::span<const std::byte>(b).subspan(state_file_header_bytes, length)));
}

/// The message of the samba::Error that `f` throws ("(no error)" if none; other exceptions escape).
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

std::vector<token_t> tokens(std::size_t n, token_t vocab, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<token_t> t(n);
  for (auto& x : t) x = static_cast<token_t>(rng() % static_cast<std::uint64_t>(vocab));
  return t;
}

/// A sequence after `prompt`, with its last logits, the prompt as history and an engine's state.
template <class ModelT>
SavedSequence after_prompt(const ModelT& model, const std::vector<token_t>& prompt, const std::mt19937_64& rng) {
  SavedSequence s{model.new_state(), {}, prompt, {}};
  s.logits = model.forward(s.state, prompt, LogitsFor::last).data;
  std::ostringstream text;
  text << rng;
  s.sampler = text.str();
  return s;
}

/// Both states hold exactly the same values (scratch aside).
void check_same_state(const SequenceState& a, const SequenceState& b) {
  REQUIRE(a.position == b.position);
  REQUIRE(a.mamba.size() == b.mamba.size());
  REQUIRE(a.attention.size() == b.attention.size());
  for (std::size_t i = 0; i < a.mamba.size(); ++i) {
    CHECK(a.mamba[i].conv == b.mamba[i].conv);
    CHECK(a.mamba[i].ssm == b.mamba[i].ssm);
  }
  for (std::size_t i = 0; i < a.attention.size(); ++i) {
    const KvCache &x = a.attention[i], &y = b.attention[i];
    REQUIRE(x.end() == y.end());
    REQUIRE(x.live_positions() == y.live_positions());
    const auto hs = static_cast<std::size_t>(x.head_size());
    for (index_t p = x.end() - x.live_positions(); p < x.end(); ++p)
      for (index_t g = 0; g < x.groups(); ++g) {
        CHECK(std::memcmp(x.key(p, g), y.key(p, g), hs * sizeof(float)) == 0);
        CHECK(std::memcmp(x.value(p, g), y.value(p, g), hs * sizeof(float)) == 0);
      }
  }
}

/// `a` and `b` continue identically: the same logits, bit for bit, for a chunk and then steps.
template <class ModelT>
void check_same_continuation(const ModelT& model, SequenceState& a, SequenceState& b, std::uint64_t seed) {
  const auto vocab = static_cast<token_t>(model.config().vocab_size);
  const auto chunk = tokens(4, vocab, seed);
  CHECK(model.forward(a, chunk).data == model.forward(b, chunk).data);
  for (token_t t : tokens(5, vocab, seed + 1)) CHECK(model.step(a, t) == model.step(b, t));
  check_same_state(a, b);
}

}  // namespace

TEST_CASE("a saved sequence continues bit-identically after loading", "[state]") {
  const TempDir dir;
  for (const std::string& dir_of_case : {ring_case, full_case, mamba_case}) {
    const ScalarModel model = load_model<ScalarModel>(dir_of_case);
    const auto vocab = static_cast<token_t>(model.config().vocab_size);
    for (std::size_t prompt_length : {0, 2, 7}) {  // empty; shorter than the window; wrapped ring buffer
      INFO(dir_of_case << ", prompt of " << prompt_length);
      std::mt19937_64 rng(prompt_length + 5);
      rng.discard(3);
      SavedSequence original = after_prompt(model, tokens(prompt_length, vocab, 11), rng);
      const std::string path = dir.file("seq.samba");
      save_sequence(path, model, original);
      CHECK_FALSE(fs::exists(path + ".tmp"));
      SavedSequence loaded = load_sequence(path, model);

      check_same_state(loaded.state, original.state);
      CHECK(loaded.logits == original.logits);
      CHECK(loaded.history == original.history);
      CHECK(loaded.sampler == original.sampler);
      std::mt19937_64 restored;
      std::istringstream(loaded.sampler) >> restored;
      CHECK(restored() == rng());
      CHECK(loaded.state.scratch.capacity() == 0);
      check_same_continuation(model, loaded.state, original.state, 21 + prompt_length);
    }
  }
}

TEST_CASE("a sequence saved without logits continues as if it had never stopped", "[state]") {
  const TempDir dir;
  const ScalarModel model = load_model<ScalarModel>(ring_case);
  const auto all = tokens(12, 128, 3);
  const auto head = std::span(all).first(8), tail = std::span(all).subspan(8);
  SequenceState straight = model.new_state();
  model.forward(straight, head, LogitsFor::none);
  const auto expected = model.forward(straight, tail).data;  // [4, V_pad]
  // Stop after 8 tokens, save, load, run the other 4.
  SavedSequence first{model.new_state(), {}, {}, {}};
  model.forward(first.state, head, LogitsFor::none);
  save_sequence(dir.file("a"), model, first);
  SavedSequence again = load_sequence(dir.file("a"), model);
  CHECK(again.logits.empty());
  CHECK(again.history.empty());
  CHECK(again.sampler.empty());
  CHECK(model.forward(again.state, tail).data == expected);
  check_same_state(again.state, straight);
}

TEST_CASE("a copied sequence state forks the conversation", "[state]") {
  for (const std::string& dir_of_case : {ring_case, full_case, mamba_case}) {
    INFO(dir_of_case);
    const ScalarModel model = load_model<ScalarModel>(dir_of_case);
    const auto vocab = static_cast<token_t>(model.config().vocab_size);
    const auto prompt = tokens(7, vocab, 5);
    SequenceState state = model.new_state();
    model.forward(state, prompt, LogitsFor::none);
    SequenceState fork = state;  // a plain copy
    CHECK(fork.scratch.capacity() == 0);
    check_same_continuation(model, fork, state, 9);  // both branches take the same tokens
    // The branches are independent: the original continues as if the fork had never run.
    model.step(fork, 1);
    model.step(fork, 2);
    SequenceState reference = model.new_state();
    model.forward(reference, prompt, LogitsFor::none);
    model.forward(reference, tokens(4, vocab, 9));
    for (token_t t : tokens(5, vocab, 10)) model.step(reference, t);
    CHECK(model.step(state, 3) == model.step(reference, 3));
  }
}

TEST_CASE("the model fingerprint tells models apart, not storage types", "[state]") {
  ScalarModel model = load_model<ScalarModel>(ring_case);
  const std::uint64_t fp = model_fingerprint(model);
  CHECK(model_fingerprint(load_model<ScalarModel>(ring_case)) == fp);  // deterministic
  const ScalarModel& constant = model;
  CHECK(model_fingerprint(constant) == fp);
  // The checkpoint is BF16: held as bf16 or as float32 the values, and so the fingerprint, agree.
  CHECK(model_fingerprint(load_model<DynamicModel<backend::Scalar, bf16>>(ring_case)) == fp);
  CHECK(model_fingerprint(load_model<ScalarModel>(unseen + "/samba3_gqa_w1")) != fp);
  ScalarModel same_config(model.config());
  randomize(same_config, 1);
  CHECK(model_fingerprint(same_config) != fp);
  ScalarModel other_seed(model.config());
  randomize(other_seed, 2);
  CHECK(model_fingerprint(other_seed) != model_fingerprint(same_config));
  // One weight changed is enough when it is sampled (the first element of every tensor is).
  ScalarModel tweaked = load_model<ScalarModel>(ring_case);
  bool done = false;
  tweaked.for_each_parameter([&](std::string_view, const Shape&, auto& storage, ParamRole role) {
    if constexpr (std::is_same_v<std::remove_reference_t<decltype(storage)>, std::vector<float>>)
      if (!done && role == ParamRole::norm) storage[0] += 0.5f, done = true;
  });
  REQUIRE(done);
  CHECK(model_fingerprint(tweaked) != fp);
}

TEST_CASE("a state file from another model is refused", "[state]") {
  const TempDir dir;
  const ScalarModel model = load_model<ScalarModel>(ring_case);
  std::mt19937_64 rng(1);

  // Another configuration.
  const ScalarModel other = load_model<ScalarModel>(unseen + "/samba3_gqa_w1");
  save_sequence(dir.file("other"), other, after_prompt(other, {1, 2, 3}, rng));
  CHECK_THAT(error_of([&] { load_sequence(dir.file("other"), model); }),
             Contains(dir.file("other")) && Contains("was saved from a different model"));

  // The same configuration with other weights.
  ScalarModel same_config(model.config());
  randomize(same_config, 1);
  save_sequence(dir.file("weights"), same_config, after_prompt(same_config, {1, 2, 3}, rng));
  CHECK_THAT(error_of([&] { load_sequence(dir.file("weights"), model); }),
             Contains(dir.file("weights")) && Contains("was saved from a different model"));
  CHECK_NOTHROW(load_sequence(dir.file("weights"), same_config));
}

TEST_CASE("missing, empty, foreign, truncated and damaged state files are refused", "[state]") {
  const TempDir dir;
  const ScalarModel model = load_model<ScalarModel>(ring_case);
  std::mt19937_64 rng(7);
  const std::string good = dir.file("good");
  save_sequence(good, model, after_prompt(model, tokens(7, 128, 2), rng));
  const std::vector<std::byte> bytes = read_bytes(good);
  REQUIRE(bytes.size() > 10000);
  const std::string bad = dir.file("bad");
  auto load_bad = [&] { return error_of([&] { load_sequence(bad, model); }); };
  auto load_variant = [&](const std::vector<std::byte>& b) {
    write_bytes(bad, b);
    return load_bad();
  };

  SECTION("missing file, directory, empty file, random bytes") {
    CHECK_THAT(error_of([&] { load_sequence(dir.file("none"), model); }), Contains(dir.file("none")) && Contains("cannot open"));
    CHECK_THAT(error_of([&] { load_sequence(dir.path.string(), model); }), Contains("not a regular file"));
    CHECK_THAT(load_variant({}), Contains(bad) && Contains("empty file"));
    std::vector<std::byte> noise(4096);
    std::mt19937_64 r(3);
    for (auto& b : noise) b = static_cast<std::byte>(r());
    CHECK_THAT(load_variant(noise), Contains(bad) && Contains("not a samba state file"));
    CHECK_THAT(load_variant({std::byte{'S'}, std::byte{'X'}}), Contains("not a samba state file"));
  }

  SECTION("every truncation is an error, never a crash") {
    for (std::size_t n = 1; n < bytes.size(); ++n) {
      const std::string message = load_variant(std::vector<std::byte>(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n)));
      INFO("prefix of " << n << " bytes: " << message);
      REQUIRE_THAT(message, Contains(bad) && Contains("truncated"));
    }
  }

  SECTION("every single flipped bit is an error") {
    std::vector<std::byte> b = bytes;
    for (std::size_t i = 0; i < b.size(); ++i) {
      const auto bit = static_cast<std::byte>(1u << (i % 8));
      b[i] ^= bit;
      const std::string message = load_variant(b);
      b[i] ^= bit;
      INFO("bit " << i % 8 << " of byte " << i << ": " << message);
      REQUIRE_THAT(message, Contains(bad));
      REQUIRE(message != "(no error)");
      if (i >= state_file_header_bytes && i < bytes.size() - 8) REQUIRE_THAT(message, Contains("damaged"));
    }
    CHECK_THAT(load_variant(b), Contains("(no error)"));  // restored: loads again
  }

  SECTION("header fields") {
    std::vector<std::byte> b = bytes;
    put_u32(b, 8, 2);  // the checksum covers the payload only: still correct
    CHECK_THAT(load_variant(b), Contains(bad) && Contains("unsupported samba state file version 2") &&
                                    Contains("reads version 1 only"));
    b = bytes;
    b.insert(b.end(), 3, std::byte{0});
    CHECK_THAT(load_variant(b), Contains("3 trailing bytes"));
    b = bytes;
    put_u64(b, 20, std::numeric_limits<std::uint64_t>::max());
    CHECK_THAT(load_variant(b), Contains("truncated") && Contains("announces a 18446744073709551615-byte payload"));
    b = bytes;
    put_u64(b, b.size() - 8, get_u64(b, b.size() - 8) + 1);
    CHECK_THAT(load_variant(b), Contains("damaged samba state file (checksum"));
  }

  SECTION("payloads with a correct checksum but wrong contents") {
    // Payload (offset 28): position u64, M u32, conv count u64 at 40, conv values from 48, ...
    std::vector<std::byte> b = bytes;
    put_u64(b, 40, 191);
    reseal(b);
    CHECK_THAT(load_variant(b), Contains(bad) && Contains("Mamba layer 0 conv state has 191 values; the model's has 192"));
    b = bytes;
    put_u32(b, 48, 0x7fc00000u);  // NaN
    reseal(b);
    CHECK_THAT(load_variant(b), Contains("Mamba layer 0 conv state holds a NaN or infinite value") && Contains("at index 0"));
    b = bytes;
    put_u32(b, 36, 2);
    reseal(b);
    CHECK_THAT(load_variant(b), Contains("the file has 2 Mamba layers; the model has 3"));
    b = bytes;
    put_u64(b, 28, std::uint64_t{1} << 63);
    reseal(b);
    CHECK_THAT(load_variant(b), Contains("sequence position 9223372036854775808 is outside"));
    b = bytes;
    put_u64(b, 28, 8);  // the caches say 7
    reseal(b);
    CHECK_THAT(load_variant(b), Contains("attention layer 0 holds positions up to 7 but the sequence is at position 8"));
    // The tail: ... history count, history ids, sampler length, sampler text, checksum.
    std::ostringstream engine;
    engine << std::mt19937_64(7);
    const std::size_t sampler_length_at = b.size() - 8 - engine.str().size() - 8;
    b = bytes;
    put_u64(b, sampler_length_at, std::uint64_t{1} << 60);
    reseal(b);
    CHECK_THAT(load_variant(b), Contains("the sampler text needs 1152921504606846976 x 1 bytes") && Contains("truncated or damaged"));
    const std::size_t history_at = sampler_length_at - 7 * 4;
    b = bytes;
    put_u64(b, history_at - 8, std::uint64_t{1} << 62);
    reseal(b);
    CHECK_THAT(load_variant(b), Contains("the history needs 4611686018427387904 x 4 bytes"));
    b = bytes;
    put_u32(b, history_at, 999);
    reseal(b);
    CHECK_THAT(load_variant(b), Contains("history token 0 is 999, outside the vocabulary [0, 128)"));
    b = bytes;
    put_u64(b, history_at - 8 - 128 * 4 - 8, 5);  // the logit count
    reseal(b);
    CHECK_THAT(load_variant(b), Contains("5 logits; expected none or 128"));
    b = bytes;
    b.insert(b.end() - 8, 4, std::byte{0});
    reseal(b);
    CHECK_THAT(load_variant(b), Contains("4 unused bytes at the end of the payload"));
  }
}

TEST_CASE("a full-attention state file with a corrupt length allocates nothing huge", "[state]") {
  const TempDir dir;
  const ScalarModel model = load_model<ScalarModel>(full_case);
  SavedSequence s{model.new_state(), {}, {}, {}};
  model.forward(s.state, tokens(3, 128, 1), LogitsFor::none);
  save_sequence(dir.file("full"), model, s);
  const std::vector<std::byte> bytes = read_bytes(dir.file("full"));
  // Payload: position u64 (28), M = 0 u32 (36), A u32 (40), window (44), groups (52), head size (60), end (68), keys (76).
  REQUIRE(get_u64(bytes, 68) == 3);
  std::vector<std::byte> b = bytes;
  put_u64(b, 28, std::uint64_t{1} << 60);
  put_u64(b, 68, std::uint64_t{1} << 60);
  reseal(b);
  write_bytes(dir.file("bad"), b);
  CHECK_THAT(error_of([&] { load_sequence(dir.file("bad"), model); }),
             Contains("attention layer 0 needs 1152921504606846976 positions") && Contains("truncated or damaged"));
  b = bytes;
  put_u32(b, 76 + 4 * 5, 0x7f800000u);  // +inf in a key of position 0
  reseal(b);
  write_bytes(dir.file("bad"), b);
  CHECK_THAT(error_of([&] { load_sequence(dir.file("bad"), model); }),
             Contains("attention layer 0 key of position 0 holds a NaN or infinite value (inf) at index 5"));
  b = bytes;
  put_u64(b, 52, 3);  // KV heads
  reseal(b);
  write_bytes(dir.file("bad"), b);
  CHECK_THAT(error_of([&] { load_sequence(dir.file("bad"), model); }),
             Contains("attention layer 0 has window -1, 3 KV heads of 16 floats; the model's has window -1, 4 KV heads of 16 floats"));
}

TEST_CASE("saving refuses what could not be loaded and never leaves a partial file", "[state]") {
  const TempDir dir;
  const ScalarModel model = load_model<ScalarModel>(ring_case);
  const std::string path = dir.file("s");
  SavedSequence good{model.new_state(), {}, {1, 2}, "x"};
  model.forward(good.state, tokens(4, 128, 1), LogitsFor::none);
  save_sequence(path, model, good);
  const auto before = read_bytes(path);

  SavedSequence s = good;
  s.state.mamba[1].ssm[3] = std::nanf("");
  CHECK_THAT(error_of([&] { save_sequence(path, model, s); }),
             Contains(path + ": cannot save: Mamba layer 1 ssm state holds a NaN or infinite value"));
  s = good;
  s.logits.assign(5, 0.0f);
  CHECK_THAT(error_of([&] { save_sequence(path, model, s); }), Contains("5 logits; expected none or 128"));
  s = good;
  s.history.push_back(128);
  CHECK_THAT(error_of([&] { save_sequence(path, model, s); }), Contains("history token 2 is 128"));
  s = good;
  s.state = SequenceState{};
  CHECK_THAT(error_of([&] { save_sequence(path, model, s); }), Contains("the state has 0 Mamba and 0 attention layers"));
  s = good;
  s.state.position = 5;
  CHECK_THAT(error_of([&] { save_sequence(path, model, s); }), Contains("holds positions up to 4 but the sequence is at position 5"));
  const ScalarModel other = load_model<ScalarModel>(full_case);
  CHECK_THAT(error_of([&] { save_sequence(path, other, good); }), Contains("the model has 0 and 2"));
  CHECK(read_bytes(path) == before);  // the file was never touched
  CHECK_FALSE(fs::exists(path + ".tmp"));
  CHECK_THAT(error_of([&] { save_sequence(dir.file("no/such/dir/s"), model, good); }), Contains("cannot create"));

  // An abandoned write leaves the real file as it was and no temporary behind.
  {
    io::AtomicFile file(path);
    const std::byte junk[3]{};
    file.write(junk);
  }
  CHECK(read_bytes(path) == before);
  CHECK_FALSE(fs::exists(path + ".tmp"));
  // A new save replaces the old file.
  SavedSequence longer = good;
  model.step(longer.state, 5);
  save_sequence(path, model, longer);
  CHECK(load_sequence(path, model).state.position == 5);
}
