// SPDX-License-Identifier: GPL-3.0-or-later
// libFuzzer target: qs::parseSafetensorsHeader on a whole safetensors file.
//
// The input is the file. qs::Error is the only acceptable failure; anything else (another
// exception, a crash, a sanitizer report, a leak, a timeout) is a finding. A header that parses
// must satisfy what the header comment promises (data covered exactly, sizes consistent), and
// serializeSafetensorsHeader must write it back to a header that parses to the same catalog.
#include "error.h"
#include "fuzz_check.h"
#include "io/safetensors_format.h"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

namespace {

void checkHeader(const qs::SafetensorsHeader& header, std::uint64_t size)
{
    QS_FUZZ_CHECK(header.headerLength <= qs::kMaxSafetensorsHeader);
    QS_FUZZ_CHECK(header.dataStart() <= size);
    const std::uint64_t dataSize = size - header.dataStart();
    std::uint64_t expectedBegin = 0;
    std::set<std::string> names;
    for (const auto& t : header.tensors) {
        QS_FUZZ_CHECK(t.name != "__metadata__");
        QS_FUZZ_CHECK(names.insert(t.name).second);
        QS_FUZZ_CHECK(qs::dtypeFromName(qs::dtypeName(t.dtype)) == t.dtype);
        QS_FUZZ_CHECK(t.begin == expectedBegin);
        QS_FUZZ_CHECK(t.begin <= t.end && t.end <= dataSize);
        std::uint64_t bytes = qs::dtypeSize(t.dtype);
        for (const auto d : t.shape) {
            QS_FUZZ_CHECK(d >= 0);
            QS_FUZZ_CHECK(!__builtin_mul_overflow(bytes, static_cast<std::uint64_t>(d), &bytes));
        }
        QS_FUZZ_CHECK(bytes == t.end - t.begin);
        expectedBegin = t.end;
    }
    QS_FUZZ_CHECK(expectedBegin == dataSize);
}

// Writes the catalog back with the project's own writer and parses the result again.
void checkRoundTrip(const qs::SafetensorsHeader& header, std::uint64_t size)
{
    std::vector<qs::TensorSpec> specs;
    for (const auto& t : header.tensors)
        specs.push_back(qs::TensorSpec { t.name, t.dtype, t.shape });
    std::string file = qs::serializeSafetensorsHeader(specs, header.metadata);
    QS_FUZZ_CHECK(file.size() >= 8 && (file.size() - 8) % 8 == 0);
    const std::uint64_t dataSize = size - header.dataStart();
    file.append(static_cast<std::size_t>(dataSize), '\0');

    const auto again = qs::parseSafetensorsHeader(
        reinterpret_cast<const std::uint8_t*>(file.data()), file.size(), "roundtrip.safetensors");
    QS_FUZZ_CHECK(again.metadata == header.metadata);
    QS_FUZZ_CHECK(again.tensors.size() == header.tensors.size());
    for (std::size_t i = 0; i < header.tensors.size(); ++i) {
        const auto& a = header.tensors[i];
        const auto& b = again.tensors[i];
        QS_FUZZ_CHECK(a.name == b.name);
        QS_FUZZ_CHECK(a.dtype == b.dtype);
        QS_FUZZ_CHECK(a.shape == b.shape);
        QS_FUZZ_CHECK(a.begin == b.begin && a.end == b.end);
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    qs::SafetensorsHeader header;
    try {
        header = qs::parseSafetensorsHeader(data, size, "fuzz.safetensors");
    } catch (const qs::Error& e) {
        QS_FUZZ_CHECK(e.what()[0] != '\0');
        return 0;
    }
    checkHeader(header, size);
    try {
        checkRoundTrip(header, size);
    } catch (const qs::Error& e) { // the writer's output must parse: a finding
        std::fprintf(stderr, "round trip through serializeSafetensorsHeader failed: %s\n", e.what());
        std::abort();
    }
    return 0;
}
