// samba/eval/passkey.hpp: the passkey retrieval task (Mohtashami & Jaggi, "Landmark Attention",
// 2023; the Samba paper's section 4): filler sentences repeated, a sentence holding a random
// key at some depth, and a question at the end whose answer is the key. The task's wording comes
// from a model directory's passkey.json (written by tools/train/train_passkey.py), so that a
// prompt is built exactly as in training; prompts of millions of tokens are produced a piece at a
// time (PasskeyPrompt), never held whole. Text becomes tokens through the ASCII tokenizer (id =
// byte value) that tokenizer.json names.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "samba/core/error.hpp"
#include "samba/core/types.hpp"

namespace samba::eval {

/// The task's wording: prompt = filler sentences (cycling in order), the key sentence after a
/// fraction `depth` of the filler, more filler, then the question; the answer is the key's digits.
struct PasskeyTask {
  std::vector<std::string> filler{"The grass is green. ", "The sky is blue. ", "The sun is yellow. ", "Here we go. ",
                                  "There and back again. "};
  std::string key_sentence = "The pass key is {key}. Remember it. {key} is the pass key. ";  // {key}: the digits
  std::string question = "What is the pass key? The pass key is ";
  int digits = 5;

  /// The key sentence with `key` in place of every {key}.
  std::string key_text(const std::string& key) const {
    std::string out = key_sentence;
    for (std::size_t at = out.find("{key}"); at != std::string::npos; at = out.find("{key}", at + key.size()))
      out.replace(at, 5, key);
    return out;
  }
};

/// The JSON object in `path`; `why` says in the error what the file is for.
inline nlohmann::json read_json_object(const std::string& path, const char* why) {
  std::ifstream in(path);
  require(in.good(), path, ": cannot open (", why, ")");
  nlohmann::json j;
  try {
    in >> j;
  } catch (const std::exception& e) {
    fail(path, ": not valid JSON: ", e.what());
  }
  require(j.is_object(), path, ": expected a JSON object");
  return j;
}

/// Reads `path` (passkey.json: filler, key, question, digits, tokenizer "ascii"); throws Error
/// naming the file and the field that is missing or malformed.
inline PasskeyTask load_passkey_task(const std::string& path) {
  const nlohmann::json j = read_json_object(path, "a passkey model directory holds passkey.json");
  auto text = [&](const char* field) {
    require(j.contains(field) && j[field].is_string() && !j[field].get<std::string>().empty(), path, ": field '", field,
            "' must be a non-empty string");
    return j[field].get<std::string>();
  };
  PasskeyTask task;
  require(j.contains("filler") && j["filler"].is_array() && !j["filler"].empty(), path, ": field 'filler' must be a non-empty list of strings");
  task.filler.clear();
  for (const auto& s : j["filler"]) {
    require(s.is_string() && !s.get<std::string>().empty(), path, ": every 'filler' entry must be a non-empty string");
    task.filler.push_back(s.get<std::string>());
  }
  task.key_sentence = text("key");
  require(task.key_sentence.find("{key}") != std::string::npos, path, ": field 'key' must contain {key}");
  task.question = text("question");
  require(j.contains("digits") && j["digits"].is_number_integer() && j["digits"].get<int>() >= 1 && j["digits"].get<int>() <= 18, path,
          ": field 'digits' must be an integer in 1..18");
  task.digits = j["digits"].get<int>();
  if (j.contains("tokenizer"))
    require(j["tokenizer"] == "ascii", path, ": tokenizer '", j["tokenizer"].dump(), "' is not supported (only \"ascii\")");
  return task;
}

/// Throws unless `dir`/tokenizer.json names the ASCII tokenizer ({"type": "ascii"}).
inline void require_ascii_tokenizer(const std::string& dir) {
  const std::string path = dir + "/tokenizer.json";
  const nlohmann::json j = read_json_object(path, "a passkey model directory holds an ASCII tokenizer.json, as tools/train writes");
  require(j.value("type", std::string()) == "ascii", path, ": tokenizer type must be \"ascii\"");
}

/// ASCII text -> token ids (id = byte value); throws for bytes outside 1..vocab_size-1.
inline std::vector<token_t> ascii_tokens(const std::string& text, index_t vocab_size) {
  std::vector<token_t> ids;
  ids.reserve(text.size());
  for (unsigned char ch : text) {
    require(ch >= 1 && ch < vocab_size, "ASCII tokenizer: byte ", static_cast<int>(ch), " is outside the vocabulary of ", vocab_size);
    ids.push_back(static_cast<token_t>(ch));
  }
  return ids;
}

/// One prompt of the task, produced a piece at a time: about `context` tokens of whole filler
/// sentences with the key sentence after round(depth * filler budget) characters of them, then the
/// question. Equals tools/train/passkey_task.py's make_prompt character for character.
class PasskeyPrompt {
 public:
  PasskeyPrompt(const PasskeyTask& task, long long context, double depth, std::string key)
      : task_(task), key_text_(task.key_text(key)), key_(std::move(key)) {
    require(depth >= 0.0 && depth <= 1.0, "passkey: depth ", depth, " is outside [0, 1]");
    budget_ = std::max<long long>(0, context - static_cast<long long>(key_text_.size()) - static_cast<long long>(task.question.size()));
    before_ = static_cast<long long>(std::floor(depth * static_cast<double>(budget_) + 0.5));
    long long used = 0, i = 0;  // the length of the whole prompt, as next() will produce it
    while (used + sentence(i) <= before_) used += sentence(i++);
    key_at_ = used;
    while (used + sentence(i) <= budget_) used += sentence(i++);
    filler_ = used;
  }

  /// The tokens the prompt has in all, and where the key sentence starts.
  long long size() const { return filler_ + static_cast<long long>(key_text_.size() + task_.question.size()); }
  long long key_position() const { return key_at_; }
  const std::string& key() const { return key_; }
  bool done() const { return produced_ == size(); }

  /// The next (at most) `count` characters of the prompt.
  std::string next(long long count) {
    std::string out;
    while (static_cast<long long>(out.size()) < count && !done()) {
      const std::string& piece = current_piece();
      const long long take = std::min<long long>(count - static_cast<long long>(out.size()),
                                                 static_cast<long long>(piece.size()) - offset_);
      out.append(piece, static_cast<std::size_t>(offset_), static_cast<std::size_t>(take));
      offset_ += take, produced_ += take;
      if (offset_ == static_cast<long long>(piece.size())) advance();
    }
    return out;
  }

 private:
  enum class Part { before, key, after, question };
  long long sentence(long long i) const { return static_cast<long long>(task_.filler[static_cast<std::size_t>(i) % task_.filler.size()].size()); }
  const std::string& current_piece() {
    while (true) {
      if (part_ == Part::before && filler_done_ + sentence(sentence_) > key_at_) part_ = Part::key;
      else if (part_ == Part::after && filler_done_ + sentence(sentence_) > filler_) part_ = Part::question;
      else break;
    }
    switch (part_) {
      case Part::key: return key_text_;
      case Part::question: return task_.question;
      default: return task_.filler[static_cast<std::size_t>(sentence_) % task_.filler.size()];
    }
  }
  void advance() {
    offset_ = 0;
    if (part_ == Part::key) part_ = Part::after;
    else if (part_ == Part::before || part_ == Part::after) filler_done_ += sentence(sentence_++);
  }

  const PasskeyTask& task_;
  std::string key_text_, key_;
  long long budget_ = 0, before_ = 0, key_at_ = 0, filler_ = 0;
  Part part_ = Part::before;
  long long sentence_ = 0, filler_done_ = 0, offset_ = 0, produced_ = 0;
};

}  // namespace samba::eval
