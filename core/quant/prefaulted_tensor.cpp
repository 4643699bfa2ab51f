#include "quant/prefaulted_tensor.h"

#include <ATen/ATen.h>

#include <sys/mman.h>

namespace qs {

at::Tensor emptyPrefaulted(at::IntArrayRef sizes, at::ScalarType type)
{
    constexpr std::size_t kMinimum = 4u << 20;
    std::int64_t numel = 1;
    for (const auto s : sizes)
        numel *= s;
    const std::size_t bytes = static_cast<std::size_t>(numel) * c10::elementSize(type);
    if (bytes < kMinimum)
        return at::empty(sizes, type);
    void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return at::empty(sizes, type);
#ifdef MADV_HUGEPAGE
    ::madvise(p, bytes, MADV_HUGEPAGE);
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 // Linux 5.14
#endif
    ::madvise(p, bytes, MADV_POPULATE_WRITE); // a hint: without it the pages fault in one by one
    return at::from_blob(
        p, sizes, [bytes](void* data) { ::munmap(data, bytes); }, at::TensorOptions().dtype(type));
}

} // namespace qs
