// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "io/pickle/pickle_object.h"

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace qs {

// What an object saved with torch.save means as a checkpoint: named tensors plus metadata.
//
// - A plain dict or OrderedDict of tensors (a state_dict, qmodel_for_aiu.pt): its tensors.
// - A nanoGPT ckpt.pt ({'model': state_dict, 'optimizer': ..., 'model_args': ..., 'config':
//   ...}): the tensors of 'model' with any torch.compile prefix `_orig_mod.` removed;
//   'optimizer' is skipped (counted in `notes`); other entries become metadata.
// - {'state_dict': ...} (Lightning and similar): the same, from 'state_dict'.
// - Otherwise nested dicts are flattened with dotted names, and non-tensor values become
//   metadata.
struct TorchStateEntry
{
    std::string name;
    const PickleObject* tensor = nullptr; // kind Tensor
};

struct TorchStateDict
{
    std::string layout; // "state_dict", "nanogpt", "checkpoint" (a dict with 'model'/'state_dict'), "nested"
    std::vector<TorchStateEntry> tensors; // in pickle order
    std::map<std::string, std::string> metadata; // JSON text of each non-tensor top-level value
    std::vector<std::string> notes;
};

// Reads the value of a one-element tensor found among metadata (nanoGPT's best_val_loss).
using ScalarReader = std::function<std::optional<double>(const PickleTensor&)>;

// Throws FormatError (naming `fileName` and the tensor) when the object holds no tensors,
// names collide, or a tensor's size, stride and offset reach outside its storage.
TorchStateDict interpretTorchObject(
    const PickleObject* root, const std::string& fileName, const ScalarReader& scalar = {});

} // namespace qs
