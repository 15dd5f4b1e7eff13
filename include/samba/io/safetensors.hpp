// samba/io/safetensors.hpp: a validating, memory-mapped safetensors reader and a small writer.
// Format: u64 little-endian header length N, N bytes of JSON {name: {dtype, shape, data_offsets}},
// then the data section; offsets are relative to the data section.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "samba/core/dtype.hpp"
#include "samba/core/error.hpp"
#include "samba/core/tensor.hpp"
#include "samba/core/types.hpp"
#include "samba/io/mapped_file.hpp"

namespace samba::io {

struct TensorInfo {
  std::string name;
  DType dtype = DType::f32;
  Shape shape;
  std::size_t begin = 0;  // byte offset in the data section
  std::size_t end = 0;    // one past the last byte
};

/// Limits that keep a hostile header from exhausting memory before any data is read.
inline constexpr std::uint64_t max_header_bytes = 100u << 20;
inline constexpr index_t max_tensor_rank = 8;

class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::string& path) : file_(path) { parse_header(); }

  const std::string& path() const { return file_.path(); }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  bool contains(const std::string& name) const { return index_.count(name) != 0; }

  const TensorInfo& info(const std::string& name) const {
    auto it = index_.find(name);
    if (it == index_.end()) fail(path(), ": tensor '", name, "' is missing");
    return tensors_[it->second];
  }

  /// Raw bytes of a tensor (not necessarily aligned: copy with memcpy).
  std::span<const std::byte> raw(const TensorInfo& t) const { return data_.subspan(t.begin, t.end - t.begin); }

  /// Reads a floating tensor (F32, BF16, F16) as float32, checking its shape.
  void read_f32_into(const std::string& name, const Shape& expected, std::span<float> out) const {
    const TensorInfo& t = info(name);
    if (t.shape != expected)
      fail(path(), ": tensor '", name, "' has shape ", to_string(t.shape), ", expected ", to_string(expected));
    if (static_cast<index_t>(out.size()) != element_count(expected))
      fail(path(), ": internal: destination of '", name, "' has the wrong size");
    convert_to_f32(t, out);
  }

  /// Reads a floating tensor into float or bf16 storage of the expected shape (BF16 -> bf16 is a
  /// bit copy; anything else goes through float32, rounding to nearest even for bf16).
  template <class T>
  void read_into(const std::string& name, const Shape& expected, std::span<T> out) const {
    if constexpr (std::is_same_v<T, float>) {
      read_f32_into(name, expected, out);
    } else {
      static_assert(std::is_same_v<T, bf16>, "read_into: storage must be float or bf16");
      static_assert(sizeof(bf16) == 2);
      const TensorInfo& t = info(name);
      if (t.dtype == DType::bf16 && t.shape == expected && out.size() == static_cast<std::size_t>(element_count(expected))) {
        std::memcpy(out.data(), raw(t).data(), out.size() * 2);
        return;
      }
      std::vector<float> f(out.size());
      read_f32_into(name, expected, f);
      for (std::size_t i = 0; i < f.size(); ++i) out[i] = bf16{f32_to_bf16(f[i])};
    }
  }

  Tensor<float> read_f32(const std::string& name) const {
    const TensorInfo& t = info(name);
    Tensor<float> out(t.shape);
    convert_to_f32(t, out.data);
    return out;
  }

  /// Reads an integer tensor (I64 or I32) as int64.
  Tensor<std::int64_t> read_i64(const std::string& name) const {
    const TensorInfo& t = info(name);
    Tensor<std::int64_t> out(t.shape);
    const auto bytes = raw(t);
    const auto n = out.data.size();
    if (t.dtype == DType::i64) {
      std::memcpy(out.data.data(), bytes.data(), n * 8);
    } else if (t.dtype == DType::i32) {
      for (std::size_t i = 0; i < n; ++i) {
        std::int32_t v;
        std::memcpy(&v, bytes.data() + 4 * i, 4);
        out.data[i] = v;
      }
    } else {
      fail(path(), ": tensor '", name, "' has dtype ", dtype_name(t.dtype), "; expected I64 or I32");
    }
    return out;
  }

 private:
  void convert_to_f32(const TensorInfo& t, std::span<float> out) const {
    const auto bytes = raw(t);
    const std::size_t n = out.size();
    switch (t.dtype) {
      case DType::f32:
        std::memcpy(out.data(), bytes.data(), n * 4);
        return;
      case DType::bf16:
      case DType::f16:
        for (std::size_t i = 0; i < n; ++i) {
          std::uint16_t v;
          std::memcpy(&v, bytes.data() + 2 * i, 2);
          out[i] = t.dtype == DType::bf16 ? bf16_to_f32(v) : f16_to_f32(v);
        }
        return;
      default:
        fail(path(), ": tensor '", t.name, "' has dtype ", dtype_name(t.dtype), "; expected F32, BF16 or F16");
    }
  }

  void parse_header() {
    const auto bytes = file_.bytes();
    if (bytes.size() < 8) fail(path(), ": too short for a safetensors file (", bytes.size(), " bytes)");
    std::uint64_t header_len = 0;
    for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | std::to_integer<std::uint64_t>(bytes[i]);
    if (header_len > max_header_bytes || header_len > bytes.size() - 8)
      fail(path(), ": header length ", header_len, " exceeds the file size (", bytes.size(), " bytes)");
    data_ = bytes.subspan(8 + header_len);

    nlohmann::json header;
    try {
      header = nlohmann::json::parse(reinterpret_cast<const char*>(bytes.data() + 8),
                                     reinterpret_cast<const char*>(bytes.data() + 8 + header_len));
    } catch (const nlohmann::json::exception& e) {
      fail(path(), ": header is not valid JSON: ", e.what());
    }
    if (!header.is_object()) fail(path(), ": header is not a JSON object");

    for (const auto& [name, entry] : header.items()) {
      if (name == "__metadata__") {
        parse_metadata(entry);
        continue;
      }
      tensors_.push_back(parse_entry(name, entry));
      index_[name] = tensors_.size() - 1;
    }
    check_overlaps();
  }

  void parse_metadata(const nlohmann::json& entry) {
    if (!entry.is_object()) fail(path(), ": __metadata__ is not an object");
    for (const auto& [k, v] : entry.items()) {
      if (!v.is_string()) fail(path(), ": __metadata__ value of '", k, "' is not a string");
      metadata_[k] = v.get<std::string>();
    }
  }

  TensorInfo parse_entry(const std::string& name, const nlohmann::json& entry) const {
    const std::string where = path() + ": tensor '" + name + "'";
    if (!entry.is_object()) fail(where, ": header entry is not an object");
    TensorInfo t;
    t.name = name;
    const auto dtype = entry.find("dtype");
    if (dtype == entry.end() || !dtype->is_string()) fail(where, ": missing or non-string dtype");
    if (!parse_dtype(dtype->get<std::string>(), t.dtype))
      fail(where, ": unknown dtype '", dtype->get<std::string>(), "'");

    const auto shape = entry.find("shape");
    if (shape == entry.end() || !shape->is_array()) fail(where, ": missing or non-array shape");
    if (static_cast<index_t>(shape->size()) > max_tensor_rank) fail(where, ": rank ", shape->size(), " is too large");
    std::uint64_t count = 1;
    for (const auto& d : *shape) {
      if (!d.is_number_unsigned()) fail(where, ": shape entries must be non-negative integers");
      const auto v = d.get<std::uint64_t>();
      if (v > (std::uint64_t{1} << 40) || (v != 0 && count > (std::uint64_t{1} << 50) / v))
        fail(where, ": shape ", shape->dump(), " is absurdly large");
      count *= v;
      t.shape.push_back(static_cast<index_t>(v));
    }

    const auto offsets = entry.find("data_offsets");
    if (offsets == entry.end() || !offsets->is_array() || offsets->size() != 2 || !(*offsets)[0].is_number_unsigned() ||
        !(*offsets)[1].is_number_unsigned())
      fail(where, ": data_offsets must be two non-negative integers");
    const auto begin = (*offsets)[0].get<std::uint64_t>();
    const auto end = (*offsets)[1].get<std::uint64_t>();
    if (begin > end || end > data_.size())
      fail(where, ": data_offsets [", begin, ", ", end, "] lie outside the data section (", data_.size(), " bytes)");
    if (end - begin != count * dtype_size(t.dtype))
      fail(where, ": ", end - begin, " bytes of data for shape ", to_string(t.shape), " of ", dtype_name(t.dtype),
           " (expected ", count * dtype_size(t.dtype), ")");
    t.begin = static_cast<std::size_t>(begin);
    t.end = static_cast<std::size_t>(end);
    return t;
  }

  void check_overlaps() const {
    std::vector<const TensorInfo*> order;
    for (const auto& t : tensors_)
      if (t.end > t.begin) order.push_back(&t);
    std::sort(order.begin(), order.end(), [](auto* a, auto* b) { return a->begin < b->begin; });
    for (std::size_t i = 1; i < order.size(); ++i)
      if (order[i]->begin < order[i - 1]->end)
        fail(path(), ": tensors '", order[i - 1]->name, "' and '", order[i]->name, "' overlap");
  }

  MappedFile file_;
  std::span<const std::byte> data_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, std::size_t> index_;
  std::map<std::string, std::string> metadata_;
};

/// One tensor to write: its bytes must be element_count(shape) * dtype_size(dtype) long.
struct TensorToWrite {
  std::string name;
  DType dtype;
  Shape shape;
  std::span<const std::byte> bytes;
};

template <class T>
TensorToWrite tensor_to_write(std::string name, DType dtype, const Tensor<T>& t) {
  return {std::move(name), dtype, t.shape, std::as_bytes(std::span<const T>(t.data))};
}

/// Writes a safetensors file (header padded with spaces to a multiple of 8 bytes).
inline void write_safetensors(const std::string& path, const std::vector<TensorToWrite>& tensors) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  std::size_t offset = 0;
  for (const auto& t : tensors) {
    require(static_cast<std::size_t>(element_count(t.shape)) * dtype_size(t.dtype) == t.bytes.size(),
            path, ": tensor '", t.name, "' has ", t.bytes.size(), " bytes for shape ", to_string(t.shape));
    header[t.name] = {{"dtype", dtype_name(t.dtype)}, {"shape", t.shape}, {"data_offsets", {offset, offset + t.bytes.size()}}};
    offset += t.bytes.size();
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) fail(path, ": cannot open for writing");
  std::uint64_t n = text.size();
  unsigned char len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(n >> (8 * i));
  out.write(reinterpret_cast<const char*>(len), 8);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  for (const auto& t : tensors) out.write(reinterpret_cast<const char*>(t.bytes.data()), static_cast<std::streamsize>(t.bytes.size()));
  if (!out.flush()) fail(path, ": write failed");
}

}  // namespace samba::io
