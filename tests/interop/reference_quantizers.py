#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Each consumer's quantization formula, written with Debian's PyTorch as the upstream
projects write it, applied to the same input as QuantScope's kernels (see
../shared/reference/ for the sources of every formula).

usage: reference_quantizers.py INPUT.f32 ROWS COLS OUTDIR
Writes OUTDIR/<case>.codes (int8) and OUTDIR/<case>.scale (float32) for every case.
"""
import os
import sys

import torch


def nxd_int8_channel(w):
    # NxD: PerChannelAbsMaxObserver + torch.quantize_per_channel (scale floor FLT_EPSILON).
    scale = torch.clamp(w.abs().amax(1) / 127.0, min=torch.finfo(torch.float32).eps)
    q = torch.quantize_per_channel(w, scale.double(), torch.zeros_like(scale, dtype=torch.long), 0, torch.qint8)
    return q.int_repr(), scale


def nxd_int8_tensor(w):
    # NxD per_tensor_symmetric: torch's MinMaxObserver(qint8, per_tensor_symmetric).
    observer = torch.ao.quantization.MinMaxObserver(dtype=torch.qint8, qscheme=torch.per_tensor_symmetric)
    observer(w)
    scale, _ = observer.calculate_qparams()
    q = torch.quantize_per_tensor(w, float(scale), 0, torch.qint8)
    return q.int_repr(), scale.reshape([])


def ct_int_symmetric(w, bits, group=None, half=False):
    # compressed-tensors calculate_qparams + quantize: clamp, then round half to even.
    # half=True: w holds fp16 values as float32 and every op is rounded to fp16, as a torch
    # with CPU fp16 kernels computes it (Debian's torch 1.13 lacks clamp for Half).
    qmin, qmax = -2 ** (bits - 1), 2 ** (bits - 1) - 1
    rnd = (lambda t: t.half().float()) if half else (lambda t: t)
    eps = torch.finfo(torch.float16 if half else w.dtype).eps
    rows, cols = w.shape
    g = group or cols
    out, scales = [], []
    for start in range(0, cols, g):
        part = w[:, start:start + g]
        mn = torch.clamp(part.amin(1, keepdim=True), max=0)
        mx = torch.clamp(part.amax(1, keepdim=True), min=0)
        # In the weight's dtype, as llm-compressor computes it (bf16 / fp16 models too); a zero
        # scale becomes that dtype's epsilon.
        scale = rnd(torch.maximum(mn.abs(), mx.abs()) / ((qmax - qmin) / 2))
        scale = torch.where(scale == 0, torch.full_like(scale, eps), scale)
        out.append(torch.round(torch.clamp(rnd(part / scale), qmin, qmax)))
        scales.append(scale)
    return torch.cat(out, 1).to(torch.int8), torch.cat(scales, 1)


def ct_int_asymmetric(w, bits, group):
    qmin, qmax = -2 ** (bits - 1), 2 ** (bits - 1) - 1
    rows, cols = w.shape
    out, scales, zps = [], [], []
    for start in range(0, cols, group):
        part = w[:, start:start + group]
        mn = torch.clamp(part.amin(1, keepdim=True), max=0)
        mx = torch.clamp(part.amax(1, keepdim=True), min=0)
        scale = (mx - mn) / (qmax - qmin)
        scale = torch.where(scale == 0, torch.full_like(scale, torch.finfo(w.dtype).eps), scale)
        zp = torch.round(torch.clamp(qmin - mn / scale, qmin, qmax))
        out.append(torch.round(torch.clamp(part / scale + zp, qmin, qmax)))
        scales.append(scale)
        zps.append(zp)
    return torch.cat(out, 1).to(torch.int8), torch.cat(scales, 1), torch.cat(zps, 1)


def ct_int8_percentile(w, q):
    # symmetric int8 with the clip at a percentile of |w| per row (torch.quantile), CT's 127.5
    clip = torch.quantile(w.abs(), q, dim=1, keepdim=True)
    scale = clip / 127.5
    return torch.round(torch.clamp(w / scale, -128, 127)).to(torch.int8), scale


def fms_mo_int8(w):
    # fms-mo save_for_aiu, maxperCh: clip = abs-max per row; clamp(127 / clip * W, -127, 127).round()
    clip = w.abs().amax(1)
    q = torch.clamp(127 / clip.unsqueeze(1) * w, -127, 127).round()
    return q.to(torch.int8), clip / 127


def fms_mo_sawb(w):
    # recompute_weight_with_sawb, per channel: trigger, SAWB clip, per-row guard.
    codes, _ = fms_mo_int8(w)
    clip_max = w.abs().amax(1)
    if not (codes.float().std(dim=-1) < 20).any():
        return codes, clip_max / 127
    clip = 31.76 * w.square().mean(1).sqrt() - 35.04 * w.abs().mean(1)
    scale = clip * 2 / 254
    sawb = torch.quantize_per_channel(w, scale.double(), torch.zeros_like(scale), 0, torch.qint8)
    sawb = sawb.int_repr().clamp(-127, 127)
    cv = clip.to(torch.float16)
    use = cv < clip_max
    codes = torch.where(use.unsqueeze(1), sawb, codes)
    stored = torch.where(use, cv.float(), clip_max)
    return codes, stored / 127


def nanogpt_symmetric(w, bits=8):
    bit_max = 2 ** (bits - 1) - 1
    scale = w.abs().max() / bit_max
    return torch.clamp(torch.round(w / scale), -bit_max - 1, bit_max).to(torch.int8), scale.reshape([])


def nanogpt_affine(w, bits=8):
    bit_min = -2 ** (bits - 1)
    bit_max = 2 ** (bits - 1) - 1
    scale = (w.max() - w.min()) / (2 ** bits - 1)
    zp = -torch.round(w.min() / scale) + bit_min
    return torch.clamp(torch.round(w / scale) + zp, bit_min, bit_max).to(torch.int8), scale.reshape([])


def nanogpt_ternary(w):
    scale = torch.clamp(w.abs().mean(), min=1e-5)
    return torch.clamp(torch.round(w / scale), -1, 1).to(torch.int8), scale.reshape([])


def main():
    path, rows, cols, outdir = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    w = torch.frombuffer(bytearray(open(path, "rb").read()), dtype=torch.float32).reshape(rows, cols)
    wb, wh = w.to(torch.bfloat16), w.to(torch.float16)
    cases = {
        "nxd-int8": nxd_int8_channel(w),
        "nxd-int8-bf16": nxd_int8_channel(wb.float()),  # NxD converts the weight to float32 first
        "vllm-w8a8-int8-bf16": ct_int_symmetric(wb, 8),
        "vllm-w4a16-g32-f16": ct_int_symmetric(wh.float(), 4, 32, half=True),
        "ct-int4-asym-g24-bf16": ct_int_asymmetric(wb, 4, 24)[:2],
        "nxd-int8-tensor": nxd_int8_tensor(w),
        "vllm-w8a8-int8": ct_int_symmetric(w, 8),
        "vllm-w4a16-g32": ct_int_symmetric(w, 4, 32),
        "ct-int4-asym-g24": ct_int_asymmetric(w, 4, 24)[:2],
        "aiu-int8-plain": fms_mo_int8(w),
        "ct-int8-p99": ct_int8_percentile(w, 0.99),
        "aiu-int8": fms_mo_sawb(w),
        "nanogpt-symmetric": nanogpt_symmetric(w),
        "nanogpt-affine": nanogpt_affine(w),
        "nanogpt-ternary": nanogpt_ternary(w),
    }
    os.makedirs(outdir, exist_ok=True)
    for name, (codes, scale) in cases.items():
        open(os.path.join(outdir, name + ".codes"), "wb").write(codes.contiguous().numpy().tobytes())
        open(os.path.join(outdir, name + ".scale"), "wb").write(scale.float().contiguous().numpy().tobytes())
    for bits, (codes, _) in ((4, cases["vllm-w4a16-g32"]), (8, cases["vllm-w8a8-int8"])):
        packed = pack_to_int32(codes, bits)
        open(os.path.join(outdir, "packed%d.i32" % bits), "wb").write(packed.contiguous().numpy().tobytes())
    for name, weight in (("ct-int4-asym-g24", w), ("ct-int4-asym-g24-bf16", wb)):
        _, _, zp = ct_int_asymmetric(weight, 4, 24)
        open(os.path.join(outdir, name + ".zp"), "wb").write(zp.float().contiguous().numpy().tobytes())



def pack_to_int32(codes, bits):
    """compressed-tensors pack_to_int32, written from its description: offset 2^(bits-1),
    element c at bit c*bits of the row's little-endian stream, zero padding to whole words."""
    rows, cols = codes.shape
    per_word = 32 // bits
    words = (cols + per_word - 1) // per_word
    u = (codes.to(torch.int64) + 2 ** (bits - 1)) & (2 ** bits - 1)
    padded = torch.zeros(rows, words * per_word, dtype=torch.int64)
    padded[:, :cols] = u
    shifts = torch.arange(per_word, dtype=torch.int64) * bits
    packed = (padded.reshape(rows, words, per_word) << shifts).sum(2)
    return ((packed + 2 ** 31) % 2 ** 32 - 2 ** 31).to(torch.int32)  # as signed int32 words


if __name__ == "__main__":
    main()
