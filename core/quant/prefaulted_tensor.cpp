// SPDX-License-Identifier: GPL-3.0-or-later
#include "quant/prefaulted_tensor.h"

#include <ATen/ATen.h>

#include <sys/mman.h>

#include <algorithm>
#include <mutex>
#include <vector>

namespace qs {
namespace {

constexpr std::size_t kMinimum = 4u << 20; // smaller tensors come from at::empty
constexpr std::size_t kCacheBytes = 256u << 20; // mappings kept for reuse, at most

// Mappings released by tensors, kept (pages and all) for the next tensor of the same size:
// the layers of a model repeat a handful of shapes, so a conversion reuses them all the time.
class MappingCache
{
public:
    void* take(std::size_t bytes)
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        for (std::size_t i = 0; i < m_free.size(); ++i) {
            if (m_free[i].second == bytes) {
                void* p = m_free[i].first;
                m_total -= bytes;
                m_free.erase(m_free.begin() + static_cast<std::ptrdiff_t>(i));
                return p;
            }
        }
        return nullptr;
    }

    void give(void* p, std::size_t bytes)
    {
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            if (bytes <= m_limit) {
                while (!m_free.empty() && m_total + bytes > m_limit) { // drop the oldest
                    ::munmap(m_free.front().first, m_free.front().second);
                    m_total -= m_free.front().second;
                    m_free.erase(m_free.begin());
                }
                m_free.emplace_back(p, bytes);
                m_total += bytes;
                return;
            }
        }
        ::munmap(p, bytes);
    }

    void clear()
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        for (const auto& [p, bytes] : m_free)
            ::munmap(p, bytes);
        m_free.clear();
        m_total = 0;
    }

    std::size_t setLimit(std::size_t bytes)
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        const std::size_t old = m_limit;
        m_limit = std::max(bytes, kCacheBytes);
        while (!m_free.empty() && m_total > m_limit) {
            ::munmap(m_free.front().first, m_free.front().second);
            m_total -= m_free.front().second;
            m_free.erase(m_free.begin());
        }
        return old;
    }

private:
    std::mutex m_mutex;
    std::vector<std::pair<void*, std::size_t>> m_free;
    std::size_t m_total = 0;
    std::size_t m_limit = kCacheBytes;
};

MappingCache& cache()
{
    static MappingCache* c = new MappingCache; // never destroyed: tensors may outlive statics
    return *c;
}

} // namespace

at::Tensor emptyPrefaulted(at::IntArrayRef sizes, at::ScalarType type)
{
    std::int64_t numel = 1;
    for (const auto s : sizes)
        numel *= s;
    const std::size_t bytes = static_cast<std::size_t>(numel) * c10::elementSize(type);
    if (bytes < kMinimum)
        return at::empty(sizes, type);
    void* p = cache().take(bytes);
    if (!p) {
        p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            return at::empty(sizes, type);
#ifdef MADV_HUGEPAGE
        ::madvise(p, bytes, MADV_HUGEPAGE);
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 // Linux 5.14
#endif
        ::madvise(p, bytes, MADV_POPULATE_WRITE); // a hint: without it the pages fault in one by one
    }
    return at::from_blob(
        p, sizes, [bytes](void* data) { cache().give(data, bytes); }, at::TensorOptions().dtype(type));
}

std::size_t setPrefaultedCacheLimit(std::size_t bytes)
{
    return cache().setLimit(bytes);
}

void releaseCachedOutputs()
{
    cache().clear();
}

} // namespace qs
