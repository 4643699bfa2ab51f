// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// What every exporter's prepare()/commit() needs: the report line of a tensor, quantizer
// options from the job's control, errors that name the tensor, and tensor writes. Included by
// the exporters' .cpp files only (it pulls in libtorch).
#include "error.h"
#include "export/exporter.h"
#include "io/checkpoint.h"
#include "io/sharded_safetensors_writer.h"
#include "quant/calibrated_tensors.h"
#include "quant/scheme_quantizer.h"
#include "text.h"

#include <ATen/core/Tensor.h>

#include <memory>
#include <string>
#include <utility>

namespace qs {

// A PreparedTensor whose report line names the input.
inline PreparedTensor preparedFor(const PlannedTensor& tensor)
{
    PreparedTensor prepared;
    prepared.result.name = tensor.input.name;
    prepared.result.bytesIn = tensor.input.bytes;
    return prepared;
}

// A tensor that stays as it is, byte for byte whatever its dtype (fp8 and other types libtorch
// cannot hold included), in a payload with a `raw` member (Checkpoint::RawBytes).
template <typename Payload> PreparedTensor preparedRaw(const PlannedTensor& tensor, const Checkpoint& source)
{
    PreparedTensor prepared = preparedFor(tensor);
    auto payload = std::make_shared<Payload>();
    payload->raw = source.raw(tensor.input.name);
    prepared.result.bytesOut = payload->raw.size;
    prepared.payload = payload;
    return prepared;
}

// The quantizer options for one tensor of a conversion: no histogram (exports do not need it),
// the job's threading and cancel flag.
inline QuantizeOptions quantizeOptionsFor(const PrepareControl& control)
{
    QuantizeOptions options;
    options.codeHistogram = false;
    options.parallel = control.parallel;
    options.cancel = control.cancel;
    return options;
}

// The weight as a Linear's [out, in] (a Conv1D's stored [in, out] transposed): as stored, or as
// float32 with `asFloat`.
inline at::Tensor linearWeight(const PlannedTensor& tensor, const Checkpoint& source, bool asFloat = true)
{
    const at::Tensor w = asFloat ? source.loadFloat(tensor.input.name) : source.load(tensor.input.name);
    return tensor.transposed ? w.t().contiguous() : w;
}

// A weight's codes (always [out, in]): those a calibration chose (GPTQ), else the scheme's rounding of the source's
// values (as stored, or as float32 with `asFloat`).
inline SchemeQuantized quantizeForExport(const PlannedTensor& tensor, const Checkpoint& source,
    const QuantScheme& scheme, const ExportOptions& options, const PrepareControl& control, bool asFloat = false)
{
    if (options.calibrated) {
        if (auto q = options.calibrated->quantized(tensor.input.name))
            return std::move(*q);
    }
    return quantizeWithScheme(linearWeight(tensor, source, asFloat), scheme, quantizeOptionsFor(control));
}

// Runs `work`; an Error becomes a FormatError that names the tensor and its file (a cancel
// passes through unchanged).
template <typename Work> auto namingTensor(const PlannedTensor& tensor, Work&& work)
{
    try {
        return std::forward<Work>(work)();
    } catch (const CancelledError&) {
        throw;
    } catch (const Error& e) {
        throw FormatError(e.reason(), ErrorContext { tensor.input.source, tensor.input.name, {} });
    }
}

// "<module>.weight" -> "<module>".
inline std::string moduleOf(const std::string& weightName)
{
    return endsWith(weightName, ".weight") ? weightName.substr(0, weightName.size() - 7) : weightName;
}

// Writes a tensor's bytes (contiguous) under `name`.
inline void writeTensor(ShardedSafetensorsWriter& writer, const std::string& name, const at::Tensor& t)
{
    const at::Tensor c = t.contiguous();
    writer.write(name, c.data_ptr(), static_cast<std::uint64_t>(c.numel()) * c.element_size());
}

} // namespace qs
