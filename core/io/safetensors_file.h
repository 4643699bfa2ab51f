// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "io/mapped_file.h"
#include "io/safetensors_format.h"
#include "io/tensor_info.h"

#include <filesystem>
#include <memory>
#include <vector>

namespace qs {

// One safetensors file, mapped and validated. Opening reads only the header; tensor bytes
// are paged in when a view is first touched.
class SafetensorsFile
{
public:
    static std::shared_ptr<const SafetensorsFile> open(const std::filesystem::path& path);

    const std::filesystem::path& path() const { return m_mapping->path(); }
    const SafetensorsHeader& header() const { return m_header; }
    const std::vector<TensorInfo>& tensors() const { return m_tensors; }
    const std::shared_ptr<const MappedFile>& mapping() const { return m_mapping; }

private:
    std::shared_ptr<const MappedFile> m_mapping;
    SafetensorsHeader m_header;
    std::vector<TensorInfo> m_tensors; // in data order, offsets absolute
};

} // namespace qs
