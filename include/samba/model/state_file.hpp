// samba/model/state_file.hpp: saves a sequence's state (with its last logits, a token history and
// a sampler's text) to a file and loads it back, for the same model only. docs/state_file.md
// describes the format in full; in short (all integers little-endian, floats IEEE binary32 LE):
//
//   offset  size  field
//   0       8     magic "SAMBASEQ"
//   8       4     u32 format version (1)
//   12      8     u64 model fingerprint (model_fingerprint(), fingerprint.hpp)
//   20      8     u64 payload length P
//   28      P     payload (below)
//   28+P    8     u64 checksum: FNV-1a 64 of the P payload bytes
//
// Payload (version 1), in this order:
//   u64 position                                   tokens consumed
//   u32 M, then per Mamba layer:                   M = the model's Mamba sublayers
//     u64 n, f32[n] conv  [K-1, E]                 n must equal the model's new_state() size
//     u64 n, f32[n] ssm   [N, E]
//   u32 A, then per attention layer:               A = the model's attention sublayers
//     i64 window (-1 = full), u64 groups G, u64 head_size H, u64 end (= position)
//     per KV head g < G: keys [live, H] then values [live, H], the live positions oldest first;
//     live = min(end, window) for a ring buffer, end for full attention
//   u64 n, f32[n] logits  [V_pad] or empty
//   u64 n, i32[n] history token ids
//   u64 n, u8[n]  sampler text
//
// Saving writes path + ".tmp" and renames it over `path` once complete, so a crash never leaves a
// half-written file under the real name. Loading checks everything before use and throws Error
// naming the path: not a state file (magic), unsupported version, truncation, trailing bytes,
// another model (fingerprint), damage (checksum), lengths beyond the file (checked before
// anything is allocated), sizes that do not match the model, unused payload bytes, NaN/Inf.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "samba/core/error.hpp"
#include "samba/io/atomic_file.hpp"
#include "samba/io/byte_reader.hpp"
#include "samba/io/byte_writer.hpp"
#include "samba/io/fnv1a.hpp"
#include "samba/io/mapped_file.hpp"
#include "samba/model/fingerprint.hpp"
#include "samba/model/saved_sequence.hpp"

namespace samba {

inline constexpr std::string_view state_file_magic = "SAMBASEQ";
inline constexpr std::uint32_t state_file_version = 1;
inline constexpr std::size_t state_file_header_bytes = 28;   // magic, version, fingerprint, payload length
inline constexpr std::size_t state_file_checksum_bytes = 8;  // after the payload

namespace detail {

/// Encodes the payload (format above); `saved` has passed check_saved_sequence.
template <class Sink>
void write_state_payload(io::ByteWriter<Sink>& w, const SavedSequence& saved) {
  const SequenceState& s = saved.state;
  w.u64(static_cast<std::uint64_t>(s.position));
  w.u32(static_cast<std::uint32_t>(s.mamba.size()));
  for (const MambaState& m : s.mamba) {
    w.u64(m.conv.size());
    w.f32s(m.conv);
    w.u64(m.ssm.size());
    w.f32s(m.ssm);
  }
  w.u32(static_cast<std::uint32_t>(s.attention.size()));
  for (const KvCache& kv : s.attention) {
    w.i64(kv.window());
    w.u64(static_cast<std::uint64_t>(kv.groups()));
    w.u64(static_cast<std::uint64_t>(kv.head_size()));
    w.u64(static_cast<std::uint64_t>(kv.end()));
    const auto hs = static_cast<std::size_t>(kv.head_size());
    const index_t first = kv.end() - kv.live_positions();
    for (index_t g = 0; g < kv.groups(); ++g) {
      for (index_t p = first; p < kv.end(); ++p) w.f32s({kv.key(p, g), hs});
      for (index_t p = first; p < kv.end(); ++p) w.f32s({kv.value(p, g), hs});
    }
  }
  w.u64(saved.logits.size());
  w.f32s(saved.logits);
  w.u64(saved.history.size());
  w.i32s(saved.history);
  w.u64(saved.sampler.size());
  w.text(saved.sampler);
}

/// Decodes a payload into a state shaped like the model's `fresh` one, checking every count
/// against it before reading (errors start with `where`).
inline SavedSequence read_state_payload(io::ByteReader& r, SequenceState fresh, index_t padded_vocab, const std::string& where) {
  SavedSequence saved;
  SequenceState& s = fresh;
  const std::uint64_t position = r.u64("the position");
  require(position <= static_cast<std::uint64_t>(max_saved_position), where, ": sequence position ", position,
          " is outside [0, 2^62]");
  s.position = static_cast<index_t>(position);

  const std::uint32_t mambas = r.u32("the Mamba layer count");
  require(mambas == s.mamba.size(), where, ": the file has ", mambas, " Mamba layers; the model has ", s.mamba.size());
  for (std::size_t i = 0; i < s.mamba.size(); ++i) {
    for (std::vector<float>* v : {&s.mamba[i].conv, &s.mamba[i].ssm}) {
      const char* what = v == &s.mamba[i].conv ? "conv" : "ssm";
      const std::uint64_t n = r.u64("a Mamba state length");
      require(n == v->size(), where, ": Mamba layer ", i, " ", what, " state has ", n, " values; the model's has ", v->size());
      r.read_f32s(*v, "a Mamba state");
    }
  }

  const std::uint32_t attentions = r.u32("the attention layer count");
  require(attentions == s.attention.size(), where, ": the file has ", attentions, " attention layers; the model has ",
          s.attention.size());
  for (std::size_t i = 0; i < s.attention.size(); ++i) {
    KvCache& kv = s.attention[i];
    const auto window = static_cast<index_t>(r.u64("a KV cache window"));
    const std::uint64_t groups = r.u64("a KV head count"), head_size = r.u64("a head size"), end = r.u64("a KV cache end");
    require(window == kv.window() && groups == static_cast<std::uint64_t>(kv.groups()) &&
                head_size == static_cast<std::uint64_t>(kv.head_size()),
            where, ": attention layer ", i, " has window ", window, ", ", groups, " KV heads of ", head_size,
            " floats; the model's has window ", kv.window(), ", ", kv.groups(), " KV heads of ", kv.head_size(), " floats");
    require(end == position, where, ": attention layer ", i, " holds positions up to ", end,
            " but the sequence is at position ", position);
    const std::uint64_t live = window > 0 ? std::min<std::uint64_t>(end, static_cast<std::uint64_t>(window)) : end;
    const std::uint64_t row_bytes = 2 * groups * head_size * sizeof(float);  // keys and values of one position
    require(row_bytes == 0 || live <= r.remaining() / row_bytes, where, ": attention layer ", i, " needs ", live,
            " positions x ", row_bytes, " bytes but only ", r.remaining(), " bytes are left (truncated or damaged)");
    const auto per_head = static_cast<std::size_t>(live * head_size);
    std::vector<float> keys(per_head * groups), values(keys.size());  // [G, live, H] each
    for (std::size_t g = 0; g < groups; ++g) {
      r.read_f32s(std::span<float>(keys).subspan(g * per_head, per_head), "KV cache keys");
      r.read_f32s(std::span<float>(values).subspan(g * per_head, per_head), "KV cache values");
    }
    kv.restore(static_cast<index_t>(end), keys, values);
  }

  const std::uint64_t n_logits = r.u64("the logit count");
  require(n_logits == 0 || n_logits == static_cast<std::uint64_t>(padded_vocab), where, ": ", n_logits,
          " logits; expected none or ", padded_vocab, " (the padded vocabulary)");
  saved.logits = r.f32s(n_logits, "the logits");
  saved.history = r.i32s(r.u64("the history length"), "the history");
  saved.sampler = r.text(r.u64("the sampler text length"), "the sampler text");
  require(r.remaining() == 0, where, ": ", r.remaining(), " unused bytes at the end of the payload");
  saved.state = std::move(fresh);
  return saved;
}

/// Unsigned little-endian integer of `n` bytes at `offset` (the caller checked the size).
inline std::uint64_t read_le(std::span<const std::byte> bytes, std::size_t offset, std::size_t n) {
  std::uint64_t v = 0;
  for (std::size_t i = n; i-- > 0;) v = (v << 8) | std::to_integer<std::uint64_t>(bytes[offset + i]);
  return v;
}

/// The parts of a state file around its payload, checked: magic, version, lengths, checksum.
struct StateFrame {
  std::uint64_t fingerprint;
  std::span<const std::byte> payload;
};

inline StateFrame read_state_frame(std::span<const std::byte> bytes, const std::string& path) {
  const std::size_t size = bytes.size(), magic = state_file_magic.size();
  const std::size_t overhead = state_file_header_bytes + state_file_checksum_bytes;
  require(size > 0, path, ": empty file (0 bytes), not a samba state file");
  require(std::memcmp(bytes.data(), state_file_magic.data(), std::min(size, magic)) == 0, path,
          ": not a samba state file (it does not start with \"", state_file_magic, "\")");
  const auto too_short = [&] {
    fail(path, ": truncated samba state file (", size, " bytes, less than the ", overhead, " of its header and checksum)");
  };
  if (size < magic + 4) too_short();
  const std::uint64_t version = read_le(bytes, magic, 4);
  require(version == state_file_version, path, ": unsupported samba state file version ", version,
          " (this library reads version ", state_file_version, " only)");
  if (size < overhead) too_short();
  const std::uint64_t length = read_le(bytes, magic + 12, 8), room = size - overhead;
  require(length <= room, path, ": truncated samba state file (the header announces a ", length,
          "-byte payload; the file has room for ", room, ")");
  require(length == room, path, ": ", room - length, " trailing bytes after the checksum of a samba state file");
  const auto payload = bytes.subspan(state_file_header_bytes, static_cast<std::size_t>(length));
  const std::uint64_t stored = read_le(bytes, state_file_header_bytes + payload.size(), 8);
  const std::uint64_t computed = io::fnv1a64(payload);
  require(stored == computed, path, ": damaged samba state file (checksum 0x", std::hex, stored, " stored, 0x", computed,
          " computed)");
  return {read_le(bytes, magic + 4, 8), payload};
}

}  // namespace detail

/// Writes `saved` (which must fit `model`: check_saved_sequence) to `path`, atomically.
template <class ModelT>
void save_sequence(const std::string& path, const ModelT& model, const SavedSequence& saved) {
  check_saved_sequence(model, saved, path + ": cannot save");
  io::CountingSink counter;
  io::ByteWriter<io::CountingSink> count(counter);
  detail::write_state_payload(count, saved);

  io::AtomicFile file(path);
  io::ByteWriter<io::AtomicFile> out(file);
  out.text(state_file_magic);
  out.u32(state_file_version);
  out.u64(model_fingerprint(model));
  out.u64(counter.bytes);
  io::HashingSink<io::AtomicFile> hashing{file};
  io::ByteWriter<io::HashingSink<io::AtomicFile>> payload(hashing);
  detail::write_state_payload(payload, saved);
  out.u64(hashing.hash.value());
  file.commit();
}

/// Reads a sequence saved from this same model (same configuration and weights); the state comes
/// back with empty scratch. Throws Error naming `path` for anything wrong with the file.
template <class ModelT>
SavedSequence load_sequence(const std::string& path, const ModelT& model) {
  const io::MappedFile file(path);
  const detail::StateFrame frame = detail::read_state_frame(file.bytes(), path);
  const std::uint64_t expected = model_fingerprint(model);
  require(frame.fingerprint == expected, path, ": was saved from a different model (fingerprint 0x", std::hex,
          frame.fingerprint, "; model '", model.config().name, "' has 0x", expected,
          "): a state belongs to the weights it was saved with, as they were stored then (float32, bf16 or int8)");
  io::ByteReader reader(frame.payload, path);
  SavedSequence saved = detail::read_state_payload(reader, model.new_state(), model.padded_vocab_size(), path);
  check_saved_sequence(model, saved, path);
  return saved;
}

}  // namespace samba
