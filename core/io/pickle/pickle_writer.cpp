// SPDX-License-Identifier: GPL-3.0-or-later
#include "io/pickle/pickle_writer.h"

#include "error.h"
#include "io/pickle/pickle_opcodes.h"

#include <algorithm>
#include <cstdint>

namespace qs {
namespace {

class PickleWriter
{
public:
    void op(std::uint8_t code) { m_out.push_back(static_cast<char>(code)); }
    void le(std::uint64_t v, int bytes)
    {
        for (int i = 0; i < bytes; ++i)
            m_out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
    }
    void integer(std::int64_t v)
    {
        using namespace pickle_op;
        if (v >= 0 && v < 256) {
            op(BININT1);
            le(static_cast<std::uint64_t>(v), 1);
        } else if (v >= 0 && v < 65536) {
            op(BININT2);
            le(static_cast<std::uint64_t>(v), 2);
        } else if (v >= INT32_MIN && v <= INT32_MAX) {
            op(BININT);
            le(static_cast<std::uint64_t>(static_cast<std::uint32_t>(static_cast<std::int32_t>(v))), 4);
        } else {
            op(LONG1); // minimal two's complement, like Python's encode_long
            int n = 8;
            while (n > 1) {
                const auto top = static_cast<std::int8_t>((static_cast<std::uint64_t>(v) >> (8 * (n - 1))) & 0xFF);
                const auto next = static_cast<std::int8_t>((static_cast<std::uint64_t>(v) >> (8 * (n - 2))) & 0xFF);
                if ((top == 0 && next >= 0) || (top == -1 && next < 0))
                    --n;
                else
                    break;
            }
            le(static_cast<std::uint64_t>(n), 1);
            le(static_cast<std::uint64_t>(v), n);
        }
    }
    void string(const std::string& s)
    {
        op(pickle_op::BINUNICODE);
        le(s.size(), 4);
        m_out += s;
    }
    void global(const char* module, const std::string& name)
    {
        op(pickle_op::GLOBAL);
        m_out += module;
        m_out += '\n';
        m_out += name;
        m_out += '\n';
    }
    void intTuple(const std::vector<std::int64_t>& values)
    {
        op(pickle_op::MARK);
        for (auto v : values)
            integer(v);
        op(pickle_op::TUPLE);
    }
    void emptyOrderedDict()
    {
        global("collections", "OrderedDict");
        op(pickle_op::EMPTY_TUPLE);
        op(pickle_op::REDUCE);
    }
    std::string take() { return std::move(m_out); }

private:
    std::string m_out;
};

} // namespace

std::string storageClassName(DType dtype)
{
    switch (dtype) {
    case DType::F64:
        return "DoubleStorage";
    case DType::F32:
        return "FloatStorage";
    case DType::F16:
        return "HalfStorage";
    case DType::BF16:
        return "BFloat16Storage";
    case DType::I64:
        return "LongStorage";
    case DType::I32:
        return "IntStorage";
    case DType::I16:
        return "ShortStorage";
    case DType::I8:
        return "CharStorage";
    case DType::U8:
        return "ByteStorage";
    case DType::BOOL:
        return "BoolStorage";
    case DType::F8_E4M3:
    case DType::F8_E5M2:
        break;
    }
    throw UsageError(std::string(dtypeName(dtype))
        + " tensors cannot be written to a PyTorch file by this version (no storage class in PyTorch 1.13); "
          "write safetensors instead");
}

std::string pickleStateDict(const std::vector<PickledTensorSpec>& tensors, bool ordered)
{
    using namespace pickle_op;
    PickleWriter w;
    w.op(PROTO);
    w.le(2, 1);
    if (ordered)
        w.emptyOrderedDict();
    else
        w.op(EMPTY_DICT);
    // SETITEMS in batches of 1000, as Python's pickler does.
    for (std::size_t begin = 0; begin < tensors.size(); begin += 1000) {
        w.op(MARK);
        for (std::size_t i = begin; i < std::min(tensors.size(), begin + 1000); ++i) {
            const auto& t = tensors[i];
            w.string(t.name);
            w.global("torch._utils", "_rebuild_tensor_v2");
            w.op(MARK);
            // persistent id: ('storage', torch.<Type>Storage, key, 'cpu', numel)
            w.op(MARK);
            w.string("storage");
            w.global("torch", storageClassName(t.dtype));
            w.string(t.storageKey);
            w.string("cpu");
            w.integer(t.storageNumel);
            w.op(TUPLE);
            w.op(BINPERSID);
            w.integer(t.storageOffset);
            w.intTuple(t.shape);
            std::vector<std::int64_t> strides = t.strides;
            if (strides.empty()) {
                strides.resize(t.shape.size());
                std::int64_t step = 1;
                for (std::size_t d = t.shape.size(); d-- > 0;) {
                    strides[d] = step;
                    step *= t.shape[d];
                }
            }
            w.intTuple(strides);
            w.op(NEWFALSE); // requires_grad
            w.emptyOrderedDict(); // backward hooks
            w.op(TUPLE);
            w.op(REDUCE);
        }
        w.op(SETITEMS);
    }
    w.op(STOP);
    return w.take();
}

} // namespace qs
