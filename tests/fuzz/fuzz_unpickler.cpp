// SPDX-License-Identifier: GPL-3.0-or-later
// libFuzzer target: qs::unpickle, then qs::interpretTorchObject on what it produced.
//
// The input is one pickle stream (a data.pkl record of a torch.save zip, or any pickle; bytes
// after STOP are ignored, as in legacy files that hold several pickles). qs::Error is the only
// acceptable failure; anything else (another exception, a crash, a sanitizer report, a leak, a
// timeout) is a finding. Results are checked against what the headers promise.
#include "error.h"
#include "fuzz_check.h"
#include "io/pickle/pickle_object.h"
#include "io/pickle/torch_state_dict.h"
#include "io/pickle/unpickler.h"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <string>

namespace {

const std::string kFile = "fuzz.pkl";

void checkStateDict(const qs::TorchStateDict& sd)
{
    QS_FUZZ_CHECK(!sd.tensors.empty());
    QS_FUZZ_CHECK(
        sd.layout == "state_dict" || sd.layout == "nanogpt" || sd.layout == "checkpoint" || sd.layout == "nested");
    std::set<std::string> names;
    for (const auto& entry : sd.tensors) {
        QS_FUZZ_CHECK(names.insert(entry.name).second);
        QS_FUZZ_CHECK(entry.tensor && entry.tensor->kind == qs::PickleKind::Tensor);
        const qs::PickleTensor& t = entry.tensor->tensor;
        QS_FUZZ_CHECK(t.storage && t.storage->kind == qs::PickleKind::Storage);
        QS_FUZZ_CHECK(t.shape.size() == t.strides.size());
        QS_FUZZ_CHECK(t.storageOffset >= 0 && t.storage->storage.numel >= 0);
        // interpretTorchObject promises every element lies inside the storage.
        bool empty = false, overflow = false;
        std::uint64_t last = static_cast<std::uint64_t>(t.storageOffset);
        for (std::size_t i = 0; i < t.shape.size(); ++i) {
            QS_FUZZ_CHECK(t.shape[i] >= 0 && t.strides[i] >= 0);
            empty = empty || t.shape[i] == 0;
            std::uint64_t step = 0;
            if (t.shape[i] > 0)
                overflow = overflow
                    || __builtin_mul_overflow(
                        static_cast<std::uint64_t>(t.shape[i] - 1), static_cast<std::uint64_t>(t.strides[i]), &step)
                    || __builtin_add_overflow(last, step, &last);
        }
        QS_FUZZ_CHECK(empty || (!overflow && last < static_cast<std::uint64_t>(t.storage->storage.numel)));
        QS_FUZZ_CHECK(!qs::describePickleObject(entry.tensor).empty());
    }
    for (const auto& [key, json] : sd.metadata)
        QS_FUZZ_CHECK(nlohmann::json::accept(json)); // metadata values are JSON text
}

// The numpy-array dialect (a .pkl of save_weights.py): every array it defines lies inside the
// data and holds exactly shape x itemsize bytes.
void checkNumpyDialect(const std::uint8_t* data, std::size_t size)
{
    qs::PickleDocument doc;
    try {
        qs::unpickle(data, size, doc, kFile, qs::PickleGlobals::NumpyArrays);
    } catch (const qs::Error& e) {
        QS_FUZZ_CHECK(e.what()[0] != '\0');
        return;
    }
    const qs::PickleObject* root = doc.root();
    if (root->kind != qs::PickleKind::Dict)
        return;
    for (const auto& [key, value] : root->entries) {
        if (value->kind != qs::PickleKind::Array || !value->array.defined)
            continue;
        const qs::PickleArray& a = value->array;
        QS_FUZZ_CHECK(a.offset <= size && a.bytes <= size - a.offset);
        std::uint64_t n = qs::dtypeSize(a.dtype);
        for (const std::int64_t d : a.shape) {
            QS_FUZZ_CHECK(d >= 0);
            QS_FUZZ_CHECK(!__builtin_mul_overflow(n, static_cast<std::uint64_t>(d), &n));
        }
        QS_FUZZ_CHECK(n == a.bytes);
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    checkNumpyDialect(data, size);
    qs::PickleDocument doc;
    try {
        const auto result = qs::unpickle(data, size, doc, kFile);
        QS_FUZZ_CHECK(result.consumed > 0 && result.consumed <= size);
        QS_FUZZ_CHECK(data[result.consumed - 1] == '.'); // STOP
        QS_FUZZ_CHECK(doc.root() != nullptr);
        QS_FUZZ_CHECK(doc.objectCount() <= qs::kMaxPickleObjects);
    } catch (const qs::Error& e) {
        QS_FUZZ_CHECK(e.what()[0] != '\0');
        return 0;
    }
    QS_FUZZ_CHECK(!qs::describePickleObject(doc.root()).empty());

    // The real reader passes a callback that reads one-element tensors (best_val_loss); this one
    // answers without touching data so that the metadata path is exercised.
    const qs::ScalarReader scalar = [](const qs::PickleTensor& t) -> std::optional<double> {
        if (t.storageOffset % 2)
            return std::nullopt;
        return static_cast<double>(t.storageOffset);
    };
    try {
        checkStateDict(qs::interpretTorchObject(doc.root(), kFile, scalar));
    } catch (const qs::Error& e) {
        QS_FUZZ_CHECK(e.what()[0] != '\0');
    }
    return 0;
}
