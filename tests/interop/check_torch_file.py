#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Checks a .pt file written by QuantScope with Debian's torch.load(weights_only=True).

usage: check_torch_file.py FILE EXPECTED_JSON EXPECTED_BIN
EXPECTED_JSON: {"ordered": bool, "tensors": [{"name", "dtype", "shape", "offset", "bytes"}],
                "aliases": {name: name_it_shares_storage_with}}
Exits 0 when every tensor has the expected type, shape and bytes, else prints why and exits 1.
"""
import collections
import json
import sys

import torch

DTYPES = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8,
    "U8": torch.uint8, "BOOL": torch.bool,
}


def raw_bytes(t):
    t = t.contiguous()
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16)
    return t.numpy().tobytes()


def main():
    path, expected_json, expected_bin = sys.argv[1:4]
    expected = json.load(open(expected_json))
    blob = open(expected_bin, "rb").read()
    sd = torch.load(path, weights_only=True)
    errors = []
    want_type = collections.OrderedDict if expected["ordered"] else dict
    if type(sd) is not want_type:
        errors.append("loaded a %s, expected %s" % (type(sd).__name__, want_type.__name__))
    names = [e["name"] for e in expected["tensors"]]
    if list(sd.keys()) != names:
        errors.append("keys %s != expected %s" % (list(sd.keys()), names))
    for e in expected["tensors"]:
        t = sd.get(e["name"])
        if t is None:
            continue
        if t.dtype != DTYPES[e["dtype"]] or list(t.shape) != e["shape"]:
            errors.append("%s: %s %s, expected %s %s" % (e["name"], t.dtype, list(t.shape), e["dtype"], e["shape"]))
            continue
        if raw_bytes(t) != blob[e["offset"]:e["offset"] + e["bytes"]]:
            errors.append("%s: values differ" % e["name"])
    for name, target in expected.get("aliases", {}).items():
        if sd[name].data_ptr() != sd[target].data_ptr():
            errors.append("%s does not share storage with %s" % (name, target))
    for e in errors:
        print(e)
    print("checked %d tensors: %s" % (len(names), "FAILED" if errors else "ok"))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
