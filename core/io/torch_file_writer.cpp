// SPDX-License-Identifier: GPL-3.0-or-later
#include "io/torch_file_writer.h"

#include "error.h"
#include "io/pickle/pickle_writer.h"

#include <c10/util/Exception.h>

#include <caffe2/serialize/inline_container.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <random>

namespace qs {
namespace {

std::uint64_t byteSize(const TorchTensorSpec& t)
{
    std::uint64_t n = dtypeSize(t.dtype);
    for (auto d : t.shape) {
        if (d < 0)
            throw UsageError("negative dimension", ErrorContext { {}, t.name, {} });
        n *= static_cast<std::uint64_t>(d);
    }
    return n;
}

} // namespace

[[noreturn]] void TorchFileWriter::fail(const c10::Error& e, const std::string& tensor) const
{
    if (m_sink->error)
        throw IoError::fromErrno("writing", m_temp.string(), m_sink->error);
    throw IoError(std::string("writing the PyTorch archive failed: ") + e.what_without_backtrace(),
        ErrorContext { m_path.string(), tensor, {} });
}

TorchFileWriter::TorchFileWriter(std::filesystem::path path, std::vector<TorchTensorSpec> tensors, bool orderedDict)
    : m_path(std::move(path))
    , m_tensors(std::move(tensors))
    , m_written(m_tensors.size(), false)
{
    std::map<std::string, std::size_t> index;
    std::vector<PickledTensorSpec> pickled;
    for (std::size_t i = 0; i < m_tensors.size(); ++i) {
        const auto& t = m_tensors[i];
        if (!index.emplace(t.name, i).second)
            throw UsageError("two tensors have this name", ErrorContext { m_path.string(), t.name, {} });
        PickledTensorSpec p { t.name, t.dtype, t.shape, std::to_string(i), 0, 0, {} };
        if (!t.aliasOf.empty()) {
            const auto it = index.find(t.aliasOf);
            if (it == index.end() || !m_tensors[it->second].aliasOf.empty() || m_tensors[it->second].dtype != t.dtype
                || byteSize(m_tensors[it->second]) < byteSize(t))
                throw UsageError("aliasOf must name an earlier tensor of the same dtype and at least the same size",
                    ErrorContext { m_path.string(), t.name, {} });
            p.storageKey = std::to_string(it->second);
            p.storageNumel = static_cast<std::int64_t>(byteSize(m_tensors[it->second]) / dtypeSize(t.dtype));
            m_written[i] = true;
        } else {
            p.storageNumel = static_cast<std::int64_t>(byteSize(t) / dtypeSize(t.dtype));
        }
        pickled.push_back(std::move(p));
    }
    const std::string pkl = pickleStateDict(pickled, orderedDict);

    std::random_device rd;
    m_temp = m_path;
    m_temp += ".tmp-" + std::to_string(rd());
    m_fd = ::open(m_temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (m_fd < 0)
        throw IoError::fromErrno("creating the file", m_temp.string(), errno);
    // The sink never throws: miniz calls it from C code. A failed write returns a short count,
    // which PyTorchStreamWriter reports as an error; `discard` lets an abandoned archive
    // finalise harmlessly in its destructor.
    auto state = m_sink;
    state->fd = m_fd;
    auto sink = [state](const void* data, size_t size) -> size_t {
        if (state->discard)
            return size;
        const auto* p = static_cast<const char*>(data);
        size_t left = size;
        while (left > 0) {
            const ssize_t n = ::write(state->fd, p, left);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                state->error = n < 0 ? errno : ENOSPC;
                return size - left;
            }
            p += n;
            left -= static_cast<size_t>(n);
        }
        return size;
    };
    try {
        m_zip = std::make_unique<caffe2::serialize::PyTorchStreamWriter>(sink);
        m_zip->writeRecord("data.pkl", pkl.data(), pkl.size());
        m_zip->writeRecord("byteorder", "little", 6);
    } catch (const c10::Error& e) {
        fail(e, {});
    }
}

TorchFileWriter::~TorchFileWriter()
{
    if (!m_finished) {
        m_sink->discard = true;
        m_zip.reset(); // finalises into the discarding sink; the file is removed anyway
        if (m_fd >= 0)
            ::close(m_fd);
        ::unlink(m_temp.c_str());
    }
}

void TorchFileWriter::write(const std::string& name, const void* data, std::uint64_t bytes)
{
    for (std::size_t i = 0; i < m_tensors.size(); ++i) {
        if (m_tensors[i].name != name)
            continue;
        if (m_written[i])
            throw UsageError(
                "written twice (or an alias, which has no data)", ErrorContext { m_path.string(), name, {} });
        if (bytes != byteSize(m_tensors[i]))
            throw UsageError(
                "expected " + std::to_string(byteSize(m_tensors[i])) + " bytes, got " + std::to_string(bytes),
                ErrorContext { m_path.string(), name, {} });
        try {
            m_zip->writeRecord("data/" + std::to_string(i), data, bytes);
        } catch (const c10::Error& e) {
            fail(e, name);
        }
        m_written[i] = true;
        return;
    }
    throw UsageError("not one of the tensors of this file", ErrorContext { m_path.string(), name, {} });
}

void TorchFileWriter::finish()
{
    for (std::size_t i = 0; i < m_tensors.size(); ++i) {
        if (!m_written[i])
            throw UsageError("was never written", ErrorContext { m_path.string(), m_tensors[i].name, {} });
    }
    try {
        m_zip->writeEndOfFile();
    } catch (const c10::Error& e) {
        fail(e, {});
    }
    if (::fsync(m_fd) != 0)
        throw IoError::fromErrno("flushing", m_temp.string(), errno);
    if (::close(m_fd) != 0) {
        m_fd = -1;
        throw IoError::fromErrno("closing", m_temp.string(), errno);
    }
    m_fd = -1;
    if (::rename(m_temp.c_str(), m_path.c_str()) != 0)
        throw IoError::fromErrno("renaming into place", m_path.string(), errno);
    m_finished = true;
}

} // namespace qs
