// cli/tokenizer_support.hpp: the tool's tokenizer: SentencePiece when this build has it, else a
// stand-in whose constructor says how to get it (raw token ids always work).
#pragma once

#include <samba/config.hpp>
#include <samba/core/error.hpp>
#include <samba/model/model.hpp>
#include <string>
#include <string_view>

#if SAMBA_HAVE_SENTENCEPIECE
#include <samba/text/sentencepiece_tokenizer.hpp>
#endif

namespace samba::cli {

#if SAMBA_HAVE_SENTENCEPIECE
using Tokenizer = text::SentencePieceTokenizer;
using TextStream = text::TextStream;
inline std::string tokenizer_option_help() { return "SentencePiece model file (e.g. Llama-2's tokenizer.model) for text in and out"; }
#else
class Tokenizer {
 public:
  explicit Tokenizer(const std::string&) {
    fail("--tokenizer: this build of samba has no SentencePiece support (install libsentencepiece-dev and "
         "reconfigure); token ids work without it");
  }
  std::vector<token_t> encode(std::string_view, bool /*add_bos*/ = true) const { return {}; }
  std::string decode(std::span<const token_t>) const { return {}; }
  index_t vocab_size() const { return 0; }
  token_t eos_id() const { return -1; }
};
class TextStream {
 public:
  explicit TextStream(const Tokenizer&) {}
  std::string push(token_t) { return {}; }
  std::string flush() { return {}; }
};
inline std::string tokenizer_option_help() { return "SentencePiece model file (not available: this build has no SentencePiece)"; }
#endif

}  // namespace samba::cli
