// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// QuaRot-style rotations fused into a Llama-group checkpoint (the offline rotations of QuaRot and
// SpinQuant, the Hadamard transform of llm-compressor's SpinQuantModifier): every norm's weight
// is folded into the Linear modules that read it (the norm's weight becomes 1, so that the norm
// commutes with a rotation), then R1 rotates the residual stream (the embeddings E R1; q/k/v,
// gate/up and the head read x R1: W R1; o and down write into it: R1^T W) and R2 rotates each
// attention head's values (v's rows per head R2^T, o's columns per head R2). The float model's
// function does not change; outliers are spread over the channels, which helps the quantization
// after. The tensors are rotated one at a time into a CalibratedTensors file, so memory holds one
// tensor and its rotation. The online Hadamard on the down projection's input is an option (the
// runtime applies its input side).
#include "algo/hadamard.h"
#include "io/checkpoint.h"
#include "models/model_config.h"
#include "jobs/progress.h"
#include "quant/calibrated_tensors.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace qs {

// Rotations learned for one model (SpinQuant, runtime/spinquant.h): R1 [hidden, hidden] and, when
// learned too, R2 [headDim, headDim] per layer.
struct LearnedRotations
{
    at::Tensor r1;
    std::vector<at::Tensor> r2; // empty: none learned
};

struct RotationSettings
{
    RotationKind kind = RotationKind::Hadamard;
    std::uint64_t seed = 0;
    bool r2 = true; // also rotate each head between v and o
    // QuaRot's online Hadamard on the down projection's input (R4): its weight is W H here, and the
    // runtime rotates the input (ModelBlocks::setInputRotation with onlineDownRotation). No export
    // format carries it; eval simulates it.
    bool online = false;
    // Learned rotations instead of the kind's R1 and R2 (the seed still draws R4).
    std::shared_ptr<const LearnedRotations> learned;
    // A model whose head is its input embedding (tie_word_embeddings) gets a separate head,
    // lm_head.weight, and the config tie_word_embeddings: false (llm-compressor unties first too;
    // an export writes the patched config.json, ConversionOptions::configPatch). Off: such a
    // model is refused.
    bool untie = false;
};

// The rotation of the down projection's input for these settings (the same one every time).
Rotation onlineDownRotation(const ModelConfig& config, const RotationSettings& settings);

struct RotationReport
{
    std::string r1, r2, r4; // "hadamard 2048", "random 5632", or empty
    int rotatedTensors = 0;
    int foldedNorms = 0;
    bool untied = false; // lm_head.weight was added
    double seconds = 0;
};

// UsageError before any work for a family other than the Llama group or, unless `untie`, tied input
// and output embeddings (the head's fold would change the embeddings); FormatError naming a tensor the
// layout needs and the checkpoint lacks.
RotationReport rotateCheckpoint(
    const Checkpoint& checkpoint, const RotationSettings& settings, CalibratedTensors& out, Progress& progress);

} // namespace qs
