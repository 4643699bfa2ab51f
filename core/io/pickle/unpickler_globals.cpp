// SPDX-License-Identifier: GPL-3.0-or-later
// The opcodes by which a pickle refers outside itself: globals (only the whitelisted ones of
// torch_globals.h, never imported or executed), their calls (REDUCE, NEWOBJ), BUILD and the
// persistent ids of torch storages.
#include "io/pickle/pickle_opcodes.h"
#include "io/pickle/torch_globals.h"
#include "io/pickle/unpickler_machine.h"

namespace qs::detail {

void Unpickler::objectOp(std::uint8_t op)
{
    using namespace pickle_op;
    switch (op) {
    case GLOBAL: {
        const std::string module = readLine();
        const std::string name = readLine();
        push(global(module, name));
        break;
    }
    case STACK_GLOBAL: {
        const Obj name = pop();
        const Obj module = pop();
        if (!module->isString() || !name->isString())
            fail("STACK_GLOBAL needs two strings");
        push(global(module->text, name->text));
        break;
    }
    case REDUCE: {
        const Obj args = pop();
        const Obj callable = pop();
        push(reduce(callable, args));
        break;
    }
    case NEWOBJ: {
        const Obj args = pop();
        const Obj cls = pop();
        if (cls->kind != PickleKind::Global || cls->text != "collections.OrderedDict")
            fail("NEWOBJ creates " + describePickleObject(cls) + ", which is not allowed");
        push(reduce(cls, args));
        break;
    }
    case BUILD: {
        const Obj state = pop();
        build(top(), state);
        break;
    }
    case BINPERSID:
        if (m_globals == PickleGlobals::NumpyArrays)
            fail("a persistent id (BINPERSID) in a pickle of numpy arrays: this is a torch.save stream, not a .pkl");
        push(persistentLoad(pop()));
        break;
    }
}

Obj Unpickler::global(const std::string& module, const std::string& name)
{
    const std::string full = module + "." + name;
    if (m_globals == PickleGlobals::NumpyArrays ? !isAllowedNumpyGlobal(module, name)
                                                : !isAllowedTorchGlobal(module, name))
        fail("refers to the global '" + full
            + (m_globals == PickleGlobals::NumpyArrays
                    ? "', which is not allowed: QuantScope reads only numpy arrays and plain containers from a .pkl "
                      "and never runs code from it"
                    : "', which is not allowed: QuantScope reads only tensors, storages and plain containers and "
                      "never runs code from a checkpoint"));
    return makeText(PickleKind::Global, full);
}

Obj Unpickler::persistentLoad(Obj pid)
{
    if (pid->kind != PickleKind::Tuple || pid->items.size() < 5 || !pid->items[0]->isString()
        || pid->items[0]->text != "storage")
        fail("persistent id " + describePickleObject(pid) + " is not a torch storage reference");
    const Obj cls = pid->items[1];
    const Obj key = pid->items[2];
    const Obj location = pid->items[3];
    const Obj numel = pid->items[4];
    DType dtype;
    if (cls->kind != PickleKind::Global || cls->text.rfind("torch.", 0) != 0
        || !storageClassDType(cls->text.substr(6), dtype))
        fail("persistent id names " + describePickleObject(cls) + " instead of a storage class");
    if (!key->isString() || !location->isString() || numel->kind != PickleKind::Int || numel->integer < 0)
        fail("malformed storage reference " + describePickleObject(pid));
    if (pid->items.size() > 5 && pid->items[5]->kind != PickleKind::None)
        fail("storage views (files written before PyTorch 1.0) are not supported");
    const auto slot = std::make_pair(key->text, dtype);
    const auto it = m_storages.find(slot);
    if (it != m_storages.end())
        return it->second;
    auto* s = make(PickleKind::Storage);
    s->storage = PickleStorage { key->text, dtype, numel->integer, location->text };
    m_storages.emplace(slot, s);
    return s;
}

Obj Unpickler::reduce(Obj callable, Obj args)
{
    if (callable->kind != PickleKind::Global)
        fail("REDUCE calls " + describePickleObject(callable) + ", which is not an allowed global");
    if (args->kind != PickleKind::Tuple)
        fail("REDUCE arguments are " + describePickleObject(args) + ", not a tuple");
    if (m_doc.objectCount() >= kMaxPickleObjects)
        fail("more than " + std::to_string(kMaxPickleObjects) + " objects; this is not a checkpoint");
    try {
        return m_globals == PickleGlobals::NumpyArrays ? callNumpyGlobal(m_doc, callable->text, args->items)
                                                       : callTorchGlobal(m_doc, callable->text, args->items);
    } catch (const PickleCallError& e) {
        fail(e.what());
    }
}

void Unpickler::build(Obj target, Obj state)
{
    if (target->kind == PickleKind::Dict && (state->kind == PickleKind::Dict || state->kind == PickleKind::None)) {
        const_cast<PickleObject*>(target)->state = state; // an OrderedDict's attributes (state_dict._metadata)
        return;
    }
    if (target->kind == PickleKind::Tensor)
        return; // a Parameter's extra Python attributes: nothing to keep
    if (target->kind == PickleKind::Array || target->kind == PickleKind::ArrayDType) {
        try {
            buildNumpyObject(const_cast<PickleObject*>(target), state);
        } catch (const PickleCallError& e) {
            fail(e.what());
        }
        return;
    }
    fail("BUILD on " + describePickleObject(target) + " is not supported");
}

} // namespace qs::detail
