// tests/test_safetensors.cpp: the reader accepts what the writer writes (F32, BF16, F16, I64, I32)
// and refuses every kind of malformed file with an Error that names the problem.
#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <samba/samba.hpp>

#include "test_support.hpp"

using namespace samba;

namespace {

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("samba_test_" + std::to_string(::getpid()) + "_" + name)).string();
}

/// Writes a file made of the 8-byte length, `header` and `data` (length may be overridden).
std::string write_raw(const std::string& name, const std::string& header, const std::string& data,
                      std::uint64_t length_field = UINT64_MAX) {
  const std::string path = temp_path(name);
  std::ofstream out(path, std::ios::binary);
  std::uint64_t n = length_field == UINT64_MAX ? header.size() : length_field;
  for (int i = 0; i < 8; ++i) out.put(static_cast<char>(n >> (8 * i)));
  out << header << data;
  return path;
}

void check_refused(const std::string& path, const std::string& fragment) {
  INFO(path);
  CHECK_THROWS_WITH(io::SafetensorsFile(path), Catch::Contains(fragment));
}

}  // namespace

TEST_CASE("safetensors round trip with conversions", "[safetensors]") {
  Tensor<float> f({2, 3});
  for (index_t i = 0; i < 6; ++i) f.data[i] = 0.5f * static_cast<float>(i) - 1.0f;
  std::vector<std::uint16_t> bf(6), hf(6);
  for (int i = 0; i < 6; ++i) bf[i] = f32_to_bf16(f.data[i]);
  // binary16 of -1, -0.5, 0, 0.5, 1, 1.5
  const std::uint16_t halves[6] = {0xBC00, 0xB800, 0x0000, 0x3800, 0x3C00, 0x3E00};
  std::memcpy(hf.data(), halves, sizeof halves);
  Tensor<std::int32_t> ids({1, 4});
  ids.data = {3, 1, 4, 1};
  const std::string path = temp_path("roundtrip.safetensors");
  io::write_safetensors(path, {io::tensor_to_write("f", DType::f32, f),
                               {"b", DType::bf16, {2, 3}, std::as_bytes(std::span<const std::uint16_t>(bf))},
                               {"h", DType::f16, {2, 3}, std::as_bytes(std::span<const std::uint16_t>(hf))},
                               io::tensor_to_write("ids", DType::i32, ids)});
  const io::SafetensorsFile file(path);
  CHECK(file.read_f32("f").data == f.data);
  CHECK(file.read_f32("b").data == f.data);  // these values are exact in bf16
  CHECK(file.read_f32("h").data == f.data);
  CHECK(file.read_i64("ids").data == std::vector<std::int64_t>{3, 1, 4, 1});
  std::vector<float> wrong(6);
  CHECK_THROWS_WITH(file.read_f32_into("f", {3, 2}, wrong), Catch::Contains("has shape [2, 3], expected [3, 2]"));
  CHECK_THROWS_WITH(file.read_f32("missing"), Catch::Contains("tensor 'missing' is missing"));
  CHECK_THROWS_WITH(file.read_i64("f"), Catch::Contains("expected I64 or I32"));
  std::filesystem::remove(path);
}

TEST_CASE("f16 and bf16 conversions cover special values", "[safetensors]") {
  CHECK(f16_to_f32(0x0001) == std::ldexp(1.0f, -24));  // smallest subnormal
  CHECK(f16_to_f32(0x7BFF) == 65504.0f);               // largest normal
  CHECK(std::isinf(f16_to_f32(0x7C00)));
  CHECK(std::isnan(f16_to_f32(0x7E00)));
  CHECK(bf16_to_f32(f32_to_bf16(1.0f + 1.0f / 256)) == 1.0f);  // ties to even
  CHECK(std::isnan(bf16_to_f32(f32_to_bf16(NAN))));
}

TEST_CASE("malformed safetensors files are refused with a clear error", "[safetensors]") {
  const std::string ok_entry = R"("w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  const std::string data(8, '\0');
  check_refused(temp_path("does_not_exist"), "cannot open");
  {
    const std::string path = temp_path("short");
    std::ofstream(path, std::ios::binary) << "abc";
    check_refused(path, "too short");
  }
  check_refused(write_raw("len", "{" + ok_entry + "}", data, 1u << 30), "exceeds the file size");
  check_refused(write_raw("json", "{\"w\":", data), "not valid JSON");
  check_refused(write_raw("array", "[1,2]", data), "not a JSON object");
  check_refused(write_raw("dtype", R"({"w":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}})", data), "unknown dtype 'Q4'");
  check_refused(write_raw("nodtype", R"({"w":{"shape":[2],"data_offsets":[0,8]}})", data), "dtype");
  check_refused(write_raw("shape", R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", data), "non-negative");
  check_refused(write_raw("huge", R"({"w":{"dtype":"F32","shape":[1099511627776,1099511627776],"data_offsets":[0,8]}})", data),
                "absurdly large");
  check_refused(write_raw("past", R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", data), "outside the data section");
  check_refused(write_raw("reversed", R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", data), "outside the data section");
  check_refused(write_raw("count", R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", data), "expected 12");
  check_refused(write_raw("overlap",
                          R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                          data),
                "overlap");
  check_refused(write_raw("offsets", R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", data), "data_offsets");
  check_refused(write_raw("meta", R"({"__metadata__":{"a":1}})", data), "__metadata__");
  check_refused(write_raw("meta_value", R"({"__metadata__":{"a":"x","b":1}})", data), "value of 'b' is not a string");
  check_refused(write_raw("entry", R"({"w":5})", data), "header entry is not an object");
  check_refused(write_raw("rank", R"({"w":{"dtype":"F32","shape":[1,1,1,1,1,1,1,1,2],"data_offsets":[0,8]}})", data), "rank 9 is too large");
}

TEST_CASE("a tensor of a type weights are not stored in is refused when read as weights", "[safetensors]") {
  const std::string data(16, '\0');
  for (const char* dtype : {"F64", "I64", "U8"}) {
    INFO(dtype);
    const std::size_t bytes = std::string(dtype) == "U8" ? 2 : 16;
    const std::string path = write_raw(std::string("dtype_") + dtype,
                                       std::string(R"({"w":{"dtype":")") + dtype + R"(","shape":[2],"data_offsets":[0,)" +
                                           std::to_string(bytes) + "]}}",
                                       data.substr(0, bytes));
    const io::SafetensorsFile f(path);  // a valid file: the type is refused where weights are read
    CHECK_THROWS_WITH(f.read_f32("w"), Catch::Contains("has dtype " + std::string(dtype) + "; expected F32, BF16 or F16"));
    std::filesystem::remove(path);
  }
}

TEST_CASE("a truncated checkpoint is refused, never read past its end", "[safetensors]") {
  const std::string src = std::string(SAMBA_UNSEEN_DIR) + "/samba3_untied_v200_f32/model.safetensors";
  std::ifstream in(src, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  REQUIRE(bytes.size() > 1000);
  for (std::size_t keep : {std::size_t{4}, std::size_t{100}, bytes.size() / 2, bytes.size() - 1}) {
    const std::string path = temp_path("truncated.safetensors");
    std::ofstream(path, std::ios::binary) << bytes.substr(0, keep);
    INFO("kept " << keep << " bytes");
    CHECK_THROWS_AS(io::SafetensorsFile(path), Error);
    std::filesystem::remove(path);
  }
}
