// samba/text/sentencepiece_tokenizer.hpp: text <-> token ids through a SentencePiece model (Samba
// uses Llama-2's tokenizer.model), and TextStream, which turns generated ids into text as they come.
// Optional: needs libsentencepiece; link the samba::text CMake target (it exists when CMake found
// SentencePiece, see SAMBA_WITH_SENTENCEPIECE).
#pragma once

#if !__has_include(<sentencepiece_processor.h>)
#error "samba/text/sentencepiece_tokenizer.hpp needs SentencePiece (Debian: libsentencepiece-dev); link the samba::text CMake target"
#endif

#include <sentencepiece_processor.h>

#include <charconv>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "samba/core/error.hpp"
#include "samba/core/types.hpp"

namespace samba::text {

class SentencePieceTokenizer {
 public:
  /// Loads a SentencePiece model file (e.g. Llama-2's tokenizer.model).
  explicit SentencePieceTokenizer(const std::string& model_path) : path_(model_path) {
    std::error_code ec;
    const auto status = std::filesystem::status(model_path, ec);
    require(std::filesystem::exists(status), model_path, ": cannot open: no such file");
    require(std::filesystem::is_regular_file(status), model_path, ": cannot open: not a regular file");
    require(std::filesystem::file_size(model_path, ec) > 0 && !ec, model_path,
            ": not a SentencePiece model (the file is empty)");
    const auto loaded = processor_.Load(std::string_view(model_path));
    require(loaded.ok(), model_path, ": not a SentencePiece model (", loaded.ToString(), ")");
    require(processor_.GetPieceSize() > 0, model_path, ": not a SentencePiece model (it has no pieces)");
  }

  SentencePieceTokenizer(const SentencePieceTokenizer&) = delete;
  SentencePieceTokenizer& operator=(const SentencePieceTokenizer&) = delete;

  /// Token ids of `text`, preceded by bos_id() when `add_bos` and the model has one.
  std::vector<token_t> encode(std::string_view text, bool add_bos = true) const {
    std::vector<int> ids;
    const auto done = processor_.Encode(text, &ids);
    require(done.ok(), path_, ": cannot encode text: ", done.ToString());
    std::vector<token_t> out;
    out.reserve(ids.size() + 1);
    if (add_bos && bos_id() >= 0) out.push_back(bos_id());
    out.insert(out.end(), ids.begin(), ids.end());
    return out;
  }

  /// The text of `ids`; bos/eos and other control ids decode to nothing.
  std::string decode(std::span<const token_t> ids) const {
    const int vocab = processor_.GetPieceSize();
    std::vector<int> checked;
    checked.reserve(ids.size());
    for (std::size_t i = 0; i < ids.size(); ++i) {
      require(ids[i] >= 0 && ids[i] < vocab, path_, ": token id ", ids[i], " (position ", i,
              ") is outside the vocabulary [0, ", vocab, ")");
      checked.push_back(ids[i]);
    }
    std::string text;
    const auto done = processor_.Decode(checked, &text);
    require(done.ok(), path_, ": cannot decode ids: ", done.ToString());
    return text;
  }

  index_t vocab_size() const { return processor_.GetPieceSize(); }
  token_t bos_id() const { return processor_.bos_id(); }  // -1 when the model has none
  token_t eos_id() const { return processor_.eos_id(); }  // -1 when the model has none

  /// Whether `id` is a control piece (bos, eos, ...), which decodes to nothing.
  bool is_control(token_t id) const { return in_vocab(id) && processor_.IsControl(id); }

  /// The byte of a byte-fallback piece ("<0xE6>"); nullopt for every other id.
  std::optional<std::uint8_t> byte_value(token_t id) const {
    if (!in_vocab(id) || !processor_.IsByte(id)) return std::nullopt;
    const std::string& piece = processor_.IdToPiece(id);  // "<0xHH>"
    unsigned value = 0;
    if (piece.size() != 6 || std::from_chars(piece.data() + 3, piece.data() + 5, value, 16).ptr != piece.data() + 5)
      return std::nullopt;
    return static_cast<std::uint8_t>(value);
  }

  const std::string& path() const { return path_; }

 private:
  bool in_vocab(token_t id) const { return id >= 0 && id < processor_.GetPieceSize(); }

  std::string path_;
  sentencepiece::SentencePieceProcessor processor_;
};

/// Streaming detokenizer: push generated ids one at a time and get back the text that became
/// final. Everything push() returned, followed by flush(), equals tok.decode(all ids); no return
/// value ends inside a UTF-8 character (byte-fallback pieces are held until their character is
/// complete). Once some text has appeared, each push decodes only the few ids not yet turned into
/// text (at most 4 and one anchor piece), so long generations cost O(1) per id. Assumes a model without denormalization rules (Llama's and spm_train's
/// default), as decoding piece by piece then matches decoding the whole sequence.
/// The tokenizer must outlive the stream.
class TextStream {
 public:
  explicit TextStream(const SentencePieceTokenizer& tok) : tok_(&tok) {
    // A piece that decodes to visible text on its own. Decoded in front of the pending ids it
    // stands for the text already emitted: SentencePiece then keeps their leading spaces, exactly
    // as in the middle of a whole decode. The unknown piece (" ⁇ ") usually qualifies.
    for (token_t id = 0; id < tok.vocab_size(); ++id) {
      if (tok.byte_value(id)) continue;
      const std::string text = tok.decode(std::span<const token_t>(&id, 1));
      if (!text.empty()) {
        anchor_ = id;
        anchor_text_ = text;
        break;
      }
    }
    require(anchor_ >= 0, tok.path(), ": TextStream needs a piece that decodes to text, the model has none");
  }

  /// The text that `id` made final (often empty while a multi-byte character is incomplete).
  std::string push(token_t id) {
    require(id >= 0 && id < tok_->vocab_size(), tok_->path(), ": token id ", id,
            " is outside the vocabulary [0, ", tok_->vocab_size(), ")");
    // A control id decodes to nothing and, outside a byte sequence, changes nothing else either.
    if (tok_->is_control(id) && !incomplete_utf8_tail()) return {};
    pending_.push_back(id);
    if (incomplete_utf8_tail()) return {};
    return take_pending();
  }

  /// The remaining text (incomplete UTF-8 becomes U+FFFD, as in decode()); the stream then starts
  /// over as for a new sequence.
  std::string flush() {
    std::string text = take_pending();
    pending_.clear();
    started_ = false;
    return text;
  }

 private:
  // Decodes the pending ids. Before any text has appeared, they are all ids so far and decode
  // exactly as decode() does at the start of a sequence; after that, behind the anchor piece.
  std::string take_pending() {
    if (pending_.empty()) return {};
    if (!started_) {
      std::string text = tok_->decode(pending_);
      if (text.empty()) return {};  // e.g. a lone "▁" whose space decode() drops at the start
      started_ = true;
      pending_.clear();
      return text;
    }
    pending_.insert(pending_.begin(), anchor_);
    std::string text = tok_->decode(pending_);
    pending_.clear();
    require(text.compare(0, anchor_text_.size(), anchor_text_) == 0, tok_->path(),
            ": TextStream: the anchor piece decodes differently in context (the model has denormalization rules?)");
    return text.substr(anchor_text_.size());
  }

  // Whether the pending ids end in byte pieces that later bytes may complete to one character:
  // the last non-continuation byte among the final three opens a longer sequence.
  bool incomplete_utf8_tail() const {
    int seen = 0;
    for (auto it = pending_.rbegin(); it != pending_.rend() && seen < 3; ++it) {
      const auto byte = tok_->byte_value(*it);
      if (!byte) return false;
      ++seen;
      if ((*byte & 0xC0) == 0x80) continue;  // continuation byte: look further back
      const int length = *byte >= 0xF0 ? 4 : *byte >= 0xE0 ? 3 : *byte >= 0xC0 ? 2 : 1;
      return length > seen;
    }
    return false;
  }

  const SentencePieceTokenizer* tok_;
  token_t anchor_ = -1;
  std::string anchor_text_;
  std::vector<token_t> pending_;
  bool started_ = false;
};

}  // namespace samba::text
