#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Writes the seed corpora of the fuzz targets: small valid and near-valid inputs.

    /usr/bin/python3 tests/fuzz/make_corpus.py [OUTPUT_DIR]

OUTPUT_DIR defaults to tests/fuzz/corpus (the committed seeds). The torch seeds need Debian's
python3-torch (data.pkl records of tiny torch.save files); without torch they are skipped with a
message. The output is deterministic for a given Python and torch version.
"""

import collections
import io
import json
import os
import pickle
import pickletools
import re
import struct
import sys
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))


def write(folder, name, data):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


# --- safetensors -------------------------------------------------------------------------

DTYPE_SIZE = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "F8_E4M3": 1, "F8_E5M2": 1,
              "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}


def safetensors(tensors, metadata=None, pad=True):
    """tensors: list of (name, dtype, shape); laid out in order like the reference writer."""
    header = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    offset = 0
    data = b""
    for name, dtype, shape in tensors:
        n = DTYPE_SIZE[dtype]
        for d in shape:
            n *= d
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + n]}
        data += bytes((offset + i) % 251 for i in range(n))
        offset += n
    text = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + data


def raw_safetensors(header_text, data):
    return struct.pack("<Q", len(header_text)) + header_text + data


def safetensors_seeds(out):
    write(out, "single_f32.safetensors", safetensors([("weight", "F32", [2, 2])]))
    write(out, "all_dtypes_metadata.safetensors", safetensors(
        [("a.f64", "F64", [2]), ("b.f32", "F32", [2, 3]), ("c.f16", "F16", [3]), ("d.bf16", "BF16", [2, 2]),
         ("e.f8e4m3", "F8_E4M3", [2]), ("f.f8e5m2", "F8_E5M2", [1]), ("g.i64", "I64", [1]),
         ("h.i32", "I32", [2]), ("i.i16", "I16", [2]), ("j.i8", "I8", [3]), ("k.u8", "U8", [4]),
         ("l.bool", "BOOL", [2])],
        {"format": "pt", "quantscope": "seed"}))
    write(out, "empty_and_scalar.safetensors", safetensors(
        [("empty", "F32", [0, 4]), ("scalar", "F32", []), ("also_empty", "BF16", [3, 0]),
         ("model.layers.0.mlp.down_proj.weight", "BF16", [2, 3])]))
    write(out, "metadata_only.safetensors", safetensors([], {"total_size": "0"}))
    write(out, "unpadded_reverse_order.safetensors",
          raw_safetensors(b'{"z":{"dtype":"I8","shape":[2],"data_offsets":[4,6]},'
                          b'"y":{"shape":[2],"data_offsets":[0,4],"dtype":"F16"}}', bytes(6)))
    # Near-valid: each breaks one rule.
    write(out, "bad_duplicate_name.safetensors",
          raw_safetensors(b'{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},'
                          b'"w":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}', bytes(2)))
    write(out, "bad_gap_and_dtype.safetensors",
          raw_safetensors(b'{"a":{"dtype":"F4","shape":[2],"data_offsets":[0,1]},'
                          b'"b":{"dtype":"I32","shape":[1],"data_offsets":[2,6]},'
                          b'"__metadata__":{"k":"v"}}', bytes(6)))
    write(out, "bad_huge_shape.safetensors",
          raw_safetensors(b'{"a":{"dtype":"F64","shape":[4294967296,4294967296,18446744073709551615],'
                          b'"data_offsets":[0,18446744073709551615]}}', b""))


# --- pickles ----------------------------------------------------------------------------

def plain_pickle_seeds(out):
    od = collections.OrderedDict([("a", 1), ("b", [1, 2.5, None, True, False]), ("c", "text")])
    nested = {
        "model_args": {"n_layer": 2, "n_head": 2, "dropout": 0.0, "bias": False},
        "list": [1, (2, 3), (4,), (), {"x": b"bytes", "y": -70000}],
        "neg": -5, "int32": 2 ** 31 - 1, "int64": -2 ** 63, "big": 2 ** 70 + 1,
        "unicode": "\u00fcn\u00efc\u00f6de \u2603", "float": 1.5e-300, 7: "int key",
    }
    shared = [1, 2]
    memo = {"first": shared, "second": shared, "tuple": (shared, shared)}
    for proto in (2, 3, 4, 5):
        write(out, "ordereddict_p%d.pkl" % proto, pickle.dumps(od, protocol=proto))
        write(out, "nested_p%d.pkl" % proto, pickle.dumps(nested, protocol=proto))
    write(out, "memo_shared_p2.pkl", pickle.dumps(memo, protocol=2))
    write(out, "sets_p2.pkl", pickle.dumps({"s": {1, 2}, "f": frozenset(["a"]), "b": b"\x00\xff"}, protocol=2))
    write(out, "sets_p4.pkl", pickle.dumps({"s": {1, 2}, "f": frozenset(["a"]), "e": set()}, protocol=4))
    write(out, "bytearray_p5.pkl", pickle.dumps({"ba": bytearray(b"abc"), "b": b"xyz" * 90}, protocol=5))
    # Near-valid: a forbidden global, and a truncated stream.
    write(out, "bad_global_p2.pkl", b"\x80\x02cos\nsystem\nq\x00X\x04\x00\x00\x00trueq\x01\x85q\x02Rq\x03.")
    write(out, "bad_truncated_p4.pkl", pickle.dumps(nested, protocol=4)[:-7])


def numpy_pickle_seeds(out):
    """save_weights.py-style pickles of numpy arrays (the unpickler's numpy dialect)."""
    try:
        import numpy as np
    except ImportError:
        print("make_corpus: numpy not found; numpy seeds skipped", file=sys.stderr)
        return
    arrays = collections.OrderedDict([
        ("h.0.attn.c_attn_q.quantized_weight", np.arange(-6, 6, dtype=np.int8).reshape(3, 4)),
        ("h.0.attn.c_attn_q.weight_norm", np.array(0.05, np.float32)),
        ("h.0.attn.c_attn_q.weight_zero_point", np.array([3], np.int64)),
        ("h.0.attn.attn_act_input", np.asfortranarray(np.ones((2, 3), np.int8))),
        ("h.0.attn.attn_act_input_scale", np.array(0.5, np.float16)),
    ])
    for proto in (2, 4, 5):
        write(out, "numpy_arrays_p%d.pkl" % proto, pickle.dumps(arrays, protocol=proto))


def torch_pickle_seeds(out):
    try:
        import torch
    except ImportError:
        print("make_corpus.py: no torch for %s; skipping the torch.save seeds" % sys.executable, file=sys.stderr)
        return
    torch.manual_seed(0)

    def data_pkl(obj, **kwargs):
        buf = io.BytesIO()
        torch.save(obj, buf, **kwargs)
        with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as z:
            (name,) = [n for n in z.namelist() if n.endswith("/data.pkl")]
            return z.read(name)

    def legacy_object_pickle(obj):
        """The object pickle of a legacy (pre-zip) torch.save file: the 4th of its pickles."""
        buf = io.BytesIO()
        torch.save(obj, buf, _use_new_zipfile_serialization=False)
        data = buf.getvalue()
        start = 0
        for index in range(4):
            end = start + [pos for op, _, pos in pickletools.genops(data[start:]) if op.name == "STOP"][0] + 1
            if index < 3:
                start = end
        obj_pickle = data[start:end]
        # The storage keys are memory addresses (str(storage._cdata)): renumber them 0, 1, ... so
        # that the seed is deterministic. Protocol 2 writes them as BINUNICODE.
        keys = {}

        def renumber(m):
            key = m.group(2)
            if struct.unpack("<I", m.group(1))[0] != len(key):
                return m.group(0)
            new = str(keys.setdefault(key, len(keys))).encode()
            return b"X" + struct.pack("<I", len(new)) + new

        return re.sub(rb"X(.{4})([0-9]{6,})", renumber, obj_pickle, flags=re.DOTALL)

    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.LayerNorm(3))
    sd = model.state_dict()  # an OrderedDict with _metadata (BUILD)
    write(out, "torch_state_dict.pkl", data_pkl(sd))
    write(out, "torch_state_dict_p4.pkl", data_pkl(sd, pickle_protocol=4))
    write(out, "torch_dtypes.pkl", data_pkl({
        "f32": torch.ones(2, 2), "f16": torch.ones(3, dtype=torch.float16),
        "bf16": torch.ones(2, dtype=torch.bfloat16), "f64": torch.zeros(1, dtype=torch.float64),
        "i64": torch.arange(3), "i32": torch.arange(2, dtype=torch.int32),
        "i16": torch.arange(2, dtype=torch.int16), "i8": torch.arange(2, dtype=torch.int8),
        "u8": torch.arange(2, dtype=torch.uint8), "bool": torch.tensor([True, False])}))
    base = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    write(out, "torch_views_tied.pkl", data_pkl({
        "base": base, "transposed": base.t(), "row": base[1], "offset_slice": base[1:, 2:],
        "tied": base, "empty": torch.empty(0, 3), "scalar": torch.tensor(3.0)}))
    params = data_pkl({"w": torch.nn.Parameter(torch.ones(2, 2)), "b": torch.nn.Parameter(torch.zeros(2)),
                       "frozen": torch.nn.Parameter(torch.ones(1), requires_grad=False)})
    write(out, "torch_parameters.pkl", params)
    # Newer torch writes _rebuild_parameter_with_state for parameters with Python attributes.
    write(out, "torch_parameter_with_state.pkl",
          params.replace(b"_rebuild_parameter\n", b"_rebuild_parameter_with_state\n"))
    compiled = collections.OrderedDict(("_orig_mod." + k, v) for k, v in sd.items())
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(torch.ones(1, 4)).sum().backward()
    opt.step()
    write(out, "torch_nanogpt_ckpt.pkl", data_pkl({
        "model": compiled, "optimizer": opt.state_dict(),
        "model_args": {"n_layer": 1, "n_head": 1, "n_embd": 4, "block_size": 8, "bias": True, "vocab_size": 16},
        "iter_num": 10, "best_val_loss": torch.tensor(1.25), "config": {"dataset": "shakespeare_char"}}))
    write(out, "torch_lightning.pkl", data_pkl({"state_dict": sd, "epoch": 3, "global_step": 30,
                                                "hyper_parameters": {"lr": 0.001, "layers": [4, 3]}}))
    write(out, "torch_nested.pkl", data_pkl({"encoder": {"w": torch.ones(2)}, "decoder": {"w": torch.zeros(2)},
                                             "list": [torch.ones(1)], "step": 5}))
    write(out, "torch_legacy_object.pkl", legacy_object_pickle(sd))
    # Near-valid: a storage reference whose tensor reaches past the storage's end.
    write(out, "bad_torch_out_of_storage.pkl", data_pkl({"w": torch.ones(4)}).replace(b"K\x04\x85", b"K\x05\x85", 1))


# --- llama2.c -----------------------------------------------------------------------------

def llama2c_floats(n, seed):
    return struct.pack("<%df" % n, *[((i * 7919 + seed) % 97 - 48) / 64.0 for i in range(n)])


def llama2c_checkpoint(version, dim, hidden, layers, heads, kv_heads, vocab, seq, shared=True):
    kv_dim = dim // heads * kv_heads
    head = dim // heads
    per_layer = {"att": dim, "ffn": dim, "wq": dim * dim, "wk": kv_dim * dim, "wv": kv_dim * dim,
                 "wo": dim * dim, "w1": hidden * dim, "w2": dim * hidden, "w3": hidden * dim}
    emb = vocab * dim
    if version == 0:
        header = struct.pack("<7i", dim, hidden, layers, heads, kv_heads, vocab if shared else -vocab, seq)
        n = (emb + layers * sum(per_layer.values()) + dim + 2 * seq * (head // 2))
    else:
        header = struct.pack("<Ii7iB", 0x616B3432, 1, dim, hidden, layers, heads, kv_heads, vocab, seq,
                             1 if shared else 0)
        header += bytes(256 - len(header))
        n = (emb + layers * sum(per_layer.values()) + dim)
    if not shared:
        n += emb
    return header + llama2c_floats(n, version)


def tokenizer(pieces, max_len=None, extra=b""):
    """pieces: list of (bytes, score)."""
    if max_len is None:
        max_len = max(len(p) for p, _ in pieces)
    out = struct.pack("<i", max_len)
    for piece, score in pieces:
        out += struct.pack("<fi", score, len(piece)) + piece
    return out + extra


def llama2c_seeds(out):
    ckpt, tok = b"\x00", lambda mode, vocab: bytes([mode]) + struct.pack("<H", vocab)
    spec = dict(dim=8, hidden=12, layers=2, heads=2, kv_heads=1, vocab=16, seq=4)
    write(out, "ckpt_legacy.bin", ckpt + llama2c_checkpoint(0, **spec))
    write(out, "ckpt_v1.bin", ckpt + llama2c_checkpoint(1, **spec))
    small = dict(dim=4, hidden=4, layers=1, heads=2, kv_heads=1, vocab=8, seq=2)
    write(out, "ckpt_legacy_unshared_small.bin", ckpt + llama2c_checkpoint(0, shared=False, **small))
    write(out, "ckpt_v1_unshared_small.bin", ckpt + llama2c_checkpoint(1, shared=False, **small))
    # Near-valid: the int8 export (version 2), and a legacy header whose file is one float short.
    write(out, "bad_ckpt_v2.bin", ckpt + struct.pack("<Ii7iB", 0x616B3432, 2, 8, 12, 2, 2, 1, 16, 4, 1) + bytes(219))
    write(out, "bad_ckpt_legacy_short.bin", ckpt + llama2c_checkpoint(0, **small)[:-4])

    specials = [(b"<unk>", 0.0), (b"\n<s>\n", 0.0), (b"\n</s>\n", 0.0)]
    # Vocabulary 16, like the checkpoint seeds: no byte fallback beyond <0x0C>.
    tiny = specials + [(b"<0x%02X>" % b, 0.0) for b in range(5)] + [
        (b" ", -1.0), (b"a", -2.0), (b"b", -3.0), (b"c", -4.0), (b" a", -5.0), (b"ab", -6.0), (b"abc", -7.0),
        (b" abc", -8.0)]
    assert len(tiny) == 16
    write(out, "tok16_bos.bin", tok(0x03, 16) + tokenizer(tiny, extra=b"abc cab a"))
    write(out, "tok16_plain.bin", tok(0x01, 16) + tokenizer(tiny, extra=b"\x01"))
    # Vocabulary 300 with the full byte fallback (ids 3..258), like tokenizer.py exports.
    merges = [b"  ", b"he", b"ll", b"lo", b" w", b"or", b"ld", b"hel", b"hell", b"hello", b" hello", b" wor",
              b" world", b"\xc3\xa9", b"\xf0\x9f\x99\x82", b"in", b"th", b" th", b"the", b" the", b"an", b"er",
              b"on", b"at", b"en", b"es", b"ed", b"it", b"is", b" a", b" s", b" t", b"ing", b" and", b"ou",
              b"ar", b"al", b"ic", b"le", b"ro", b"\xc3\xa9t"]
    vocab300 = specials + [(b"<0x%02X>" % b, 0.0) for b in range(256)] + [(m, -float(i)) for i, m in enumerate(merges)]
    assert len(vocab300) == 300
    write(out, "tok300_bos_eos.bin", tok(0x07, 300) + tokenizer(vocab300, extra="hello world \u00e9t\u00e9 \U0001F642\n".encode()))
    write(out, "tok300_eos_bytes.bin", tok(0x05, 300) + tokenizer(vocab300, extra=b"the\xff\xfe\xc3 and"))
    # Near-valid: a token longer than max_token_length, a negative length, a vocabulary larger than the file.
    write(out, "bad_tok_too_long.bin", tok(0x01, 16) + tokenizer(tiny, max_len=3))
    write(out, "bad_tok_negative.bin", tok(0x01, 4) + struct.pack("<ifi", 6, 0.0, -1))
    write(out, "bad_tok_truncated.bin", tok(0x03, 17) + tokenizer(tiny, extra=b"ab"))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "corpus")
    safetensors_seeds(os.path.join(out, "fuzz_safetensors_header"))
    plain_pickle_seeds(os.path.join(out, "fuzz_unpickler"))
    torch_pickle_seeds(os.path.join(out, "fuzz_unpickler"))
    numpy_pickle_seeds(os.path.join(out, "fuzz_unpickler"))
    llama2c_seeds(os.path.join(out, "fuzz_llama2c"))


if __name__ == "__main__":
    main()
