// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "dtype.h"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace c10 {
class Error;
}
namespace caffe2::serialize {
class PyTorchStreamWriter;
}

namespace qs {

// What a PyTorch writer needs to know about one tensor before any data is written.
struct TorchTensorSpec
{
    std::string name;
    DType dtype = DType::F32;
    std::vector<std::int64_t> shape;
    std::string aliasOf; // share the storage of this earlier tensor (tied weights); no data of its own
};

// Writes a state dict as a torch.save zip file that Python's torch.load(weights_only=True)
// reads: data.pkl from pickleStateDict, one stored (uncompressed, 64-byte aligned) record per
// storage, written through libtorch's PyTorchStreamWriter. Tensors are written one call each,
// in any order; the file appears under its name only when finish() succeeds (temporary file
// and rename), and an unfinished writer removes its temporary file.
class TorchFileWriter
{
public:
    TorchFileWriter(std::filesystem::path path, std::vector<TorchTensorSpec> tensors, bool orderedDict = true);
    ~TorchFileWriter();

    TorchFileWriter(const TorchFileWriter&) = delete;
    TorchFileWriter& operator=(const TorchFileWriter&) = delete;

    // The whole contiguous data of tensor `name` (not for aliases).
    void write(const std::string& name, const void* data, std::uint64_t bytes);
    void finish();

private:
    struct Sink
    {
        int fd = -1;
        int error = 0;
        bool discard = false;
    };
    [[noreturn]] void fail(const c10::Error& e, const std::string& tensor) const;

    std::filesystem::path m_path;
    std::filesystem::path m_temp;
    std::vector<TorchTensorSpec> m_tensors;
    std::vector<bool> m_written;
    int m_fd = -1;
    std::shared_ptr<Sink> m_sink = std::make_shared<Sink>();
    std::unique_ptr<caffe2::serialize::PyTorchStreamWriter> m_zip;
    bool m_finished = false;
};

} // namespace qs
