// SPDX-License-Identifier: GPL-3.0-or-later
#include "io/safetensors_file.h"

namespace qs {

std::shared_ptr<const SafetensorsFile> SafetensorsFile::open(const std::filesystem::path& path)
{
    auto file = std::make_shared<SafetensorsFile>();
    file->m_mapping = MappedFile::open(path);
    file->m_header = parseSafetensorsHeader(file->m_mapping->data(), file->m_mapping->size(), path.string());
    file->m_tensors.reserve(file->m_header.tensors.size());
    for (const auto& e : file->m_header.tensors) {
        TensorInfo info;
        info.name = e.name;
        info.dtype = e.dtype;
        info.shape = e.shape;
        info.bytes = e.end - e.begin;
        info.source = path.string();
        info.offset = file->m_header.dataStart() + e.begin;
        file->m_tensors.push_back(std::move(info));
    }
    return file;
}

} // namespace qs
