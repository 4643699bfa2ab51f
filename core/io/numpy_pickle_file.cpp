// SPDX-License-Identifier: GPL-3.0-or-later
// A pickled dict of numpy arrays, as the nanoGPT quantization fork writes it
// (quantization/save_weights.py, sample.py --quantization_data_file): each array becomes a
// tensor viewing its bytes inside the mapped .pkl, nothing is copied.
#include "error.h"
#include "io/data_file.h"
#include "io/pickle/unpickler.h"
#include "text.h"

#include <set>

namespace qs {
namespace {

// save_weights.py keeps exactly these keys (its filter); a file of only such keys is its output.
bool isSaveWeightsKey(const std::string& k)
{
    if (k.find("mlp_act") != std::string::npos || k.find("attn_act") != std::string::npos)
        return true;
    for (const char* suffix : { "quantized_bias", "bias_norm", "zero_point", "quantized_weight", "weight_norm" }) {
        if (endsWith(k, suffix))
            return true;
    }
    return false;
}

std::vector<std::int64_t> columnMajorStrides(const std::vector<std::int64_t>& shape)
{
    std::vector<std::int64_t> strides(shape.size());
    std::int64_t s = 1;
    for (std::size_t i = 0; i < shape.size(); ++i) {
        strides[i] = s;
        s *= std::max<std::int64_t>(shape[i], 1);
    }
    return strides;
}

} // namespace

DataFileContents openNumpyPickle(const std::shared_ptr<const MappedFile>& mapping)
{
    const std::string file = mapping->path().string();
    PickleDocument doc;
    unpickle(mapping->data(), mapping->size(), doc, file, PickleGlobals::NumpyArrays);
    const PickleObject* root = doc.root();
    if (root->kind != PickleKind::Dict)
        throw FormatError("the pickle holds " + describePickleObject(root)
                + ", not a dict of numpy arrays (what the nanoGPT fork's save_weights.py writes)",
            ErrorContext { file, {}, {} });
    DataFileContents out;
    out.format = "numpy-pickle";
    out.mapping = mapping;
    static const std::string kCompiled = "_orig_mod.";
    std::set<std::string> names;
    bool stripped = false;
    bool allSaveWeights = true;
    for (const auto& [key, value] : root->entries) {
        if (!key->isString())
            throw FormatError("a key of the dict is " + describePickleObject(key) + ", not a tensor name",
                ErrorContext { file, {}, {} });
        std::string name = key->text;
        if (name.rfind(kCompiled, 0) == 0) {
            name = name.substr(kCompiled.size());
            stripped = true;
        }
        if (value->kind != PickleKind::Array || !value->array.defined) {
            out.notes.push_back("'" + key->text + "' is " + describePickleObject(value) + ", not an array: skipped");
            continue;
        }
        if (!names.insert(name).second)
            throw FormatError("two arrays are named alike", ErrorContext { file, name, {} });
        const PickleArray& a = value->array;
        TensorInfo info;
        info.name = name;
        info.dtype = a.dtype;
        info.shape = a.shape;
        info.source = file;
        info.offset = a.offset;
        info.bytes = a.bytes;
        if (a.fortran && a.shape.size() > 1 && info.numel() > 1)
            info.strides = columnMajorStrides(a.shape);
        allSaveWeights = allSaveWeights && isSaveWeightsKey(name);
        out.tensors.push_back(std::move(info));
    }
    if (out.tensors.empty())
        throw FormatError("the pickled dict holds no numpy arrays (" + std::to_string(root->entries.size())
                + " entries): it is not a save_weights.py file",
            ErrorContext { file, {}, {} });
    out.layout = allSaveWeights ? "save_weights" : "state_dict";
    if (stripped)
        out.notes.push_back("the torch.compile prefix '_orig_mod.' was removed from tensor names");
    if (allSaveWeights)
        out.notes.push_back("nanoGPT fork save_weights.py arrays: integer codes, scales and zero points only (the "
                            "float weights are not in this file)");
    return out;
}

} // namespace qs
