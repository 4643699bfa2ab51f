#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Interop check of a calibrated compressed-tensors export, from the other side (numpy only).

Converts the demo model with the llm-compressor W8A8 recipe of the seed document
(SmoothQuantModifier(smoothing_strength=0.8), then GPTQModifier(targets="Linear", scheme="W8A8",
ignore=["lm_head"])), once with dynamic per-token activations and once with static per-tensor
ones, and checks:
  - quantization_config as vLLM reads it: int-quantized, activations dynamic per token or static
    per tensor (observer minmax); ignore = ["lm_head"]; recipe.yaml names SmoothQuantModifier with
    its strength and mappings, then GPTQModifier with block_size, dampening_frac and actorder;
  - static: every quantized Linear has input_scale [1] in the model's dtype, positive, the same for
    q/k/v and for gate/up (they read the same input); dynamic: none;
  - SmoothQuant folded exactly: per layer, s = old norm weight / new norm weight, and every balance
    weight dequantized and divided by s (per input column) is the source weight within the int8
    quantization noise, while the undivided one is not;
  - the GPTQ'd codes are int8 in [-128, 127] and not all equal to rounding the smoothed weight;
  - GPTQ W4A16 with the group order: weight_g_idx int32 [K] per module, groups of 128 in the
    permuted order, the codes read through it near the source weight (and not without it);
  - NxD: GPTQ'd int8 codes and input_scale [1] float32 per module;
  - errors before any work, nothing written: calibration data shorter than one sample, GPTQ with
    fms-mo's SmoothQuant (AIU), the group order where no g_idx is written, --gptq or a static scheme
    without calibration data, an unimplemented recipe modifier, --recipe beside --scheme.
"""
import json
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import interop_common  # noqa: E402
import safetensors_numpy as st  # noqa: E402
from interop_common import fail  # noqa: E402


def convert(cli, src, out, extra):
    cmd = [cli, "convert", src, "-o", out, "--format", "compressed-tensors", "--scheme", "vllm-w8a8-int8",
           "--keep", "lm_head", "--smoothquant", "0.8", "--gptq", "--json"] + extra
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"{' '.join(cmd)}: {r.stderr.strip()}")
    return json.loads(r.stdout)


def tensors(path):
    _, t = st.read(os.path.join(path, "model.safetensors"))
    return {name: st.to_numpy(*entry).astype(np.float32) for name, entry in t.items()}, t


def check_export(src, out, static, report):
    with open(os.path.join(out, "config.json")) as f:
        q = json.load(f)["quantization_config"]
    g = q["config_groups"]["group_0"]
    a = g["input_activations"]
    if q["format"] != "int-quantized" or q["ignore"] != ["lm_head"]:
        fail(f"{out}: format {q['format']}, ignore {q['ignore']}")
    if static and (a["dynamic"] or a["strategy"] != "tensor" or a["observer"] != "minmax"):
        fail(f"{out}: static activations written as {a}")
    if not static and (not a["dynamic"] or a["strategy"] != "token"):
        fail(f"{out}: dynamic activations written as {a}")
    with open(os.path.join(out, "recipe.yaml")) as f:
        recipe = f.read()
    for needle in ("SmoothQuantModifier:", "smoothing_strength: 0.8", '"re:.*input_layernorm"', "GPTQModifier:",
                   "block_size: 128", "dampening_frac: 0.01", "actorder: static"):
        if needle not in recipe:
            fail(f"{out}/recipe.yaml lacks {needle!r}:\n{recipe}")
    if recipe.index("SmoothQuantModifier") > recipe.index("GPTQModifier"):
        fail("recipe.yaml: SmoothQuant must come before GPTQ")
    if report["calibration"]["algorithms"][:2] != ["smoothquant", "gptq"]:
        fail(f"calibration report: {report['calibration']}")
    if not any("gptq_loss" in t for t in report["tensors"]):
        fail("convert --json reports no gptq_loss")

    before, _ = tensors(src)
    after, raw = tensors(out)
    layers = sorted({n.split(".")[2] for n in before if n.startswith("model.layers.")}, key=int)
    checked = 0
    for i in layers:
        p = f"model.layers.{i}."
        groups = [("input_layernorm", ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"]),
                  ("post_attention_layernorm", ["mlp.gate_proj", "mlp.up_proj"])]
        for norm, balance in groups:
            old, new = before[p + norm + ".weight"], after[p + norm + ".weight"]
            if np.allclose(old, new):
                fail(f"{p}{norm} was not smoothed")
            s = old / new
            scales = []
            for b in balance:
                m = p + b
                codes = after[m + ".weight"]
                if raw[m + ".weight"][0] != "I8" or codes.min() < -128 or codes.max() > 127:
                    fail(f"{m}: codes are not int8")
                scale = after[m + ".weight_scale"]
                deq = codes * scale
                w = before[m + ".weight"]
                folded = np.abs(deq / s[None, :] - w).max() / np.abs(w).max()
                unfolded = np.abs(deq - w).max() / np.abs(w).max()
                if folded > 0.05 or unfolded < 5 * folded:
                    fail(f"{m}: dequantized / s is {folded:.3g} from the source (undivided {unfolded:.3g})")
                rtn = np.clip(np.round((w * s[None, :]) / scale), -128, 127)
                if np.array_equal(rtn, codes):
                    fail(f"{m}: the codes are plain rounding, not GPTQ's")
                if static:
                    name = m + ".input_scale"
                    if name not in raw or raw[name][0] != raw[p + norm + ".weight"][0] or raw[name][1] != (1,):
                        fail(f"{name}: {raw.get(name, ('missing',))[:2]}")
                    scales.append(float(after[name][0]))
                elif m + ".input_scale" in raw:
                    fail(f"{m}: input_scale written for dynamic activations")
                checked += 1
            if static and (min(scales) <= 0 or max(scales) != min(scales)):
                fail(f"{p}{norm}: the modules reading it have input scales {scales}")
        if static:
            for m in ("self_attn.o_proj", "mlp.down_proj"):
                if p + m + ".input_scale" not in raw:
                    fail(f"{p}{m}: no input_scale")
    return checked


def check_group_order(args, src, calibration):
    """GPTQ W4A16 with actorder group: weight_g_idx int32 [K] per module, groups of 128 columns in the
    permuted order, and codes * scale[:, g_idx] close to the source weight."""
    out = os.path.join(args.workdir, "w4a16-group")
    r = subprocess.run([args.cli, "convert", src, "-o", out, "--format", "compressed-tensors", "--scheme", "vllm-w4a16",
                        "--keep", "lm_head", "--gptq", "--gptq-actorder", "group"] + calibration,
                       capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"convert --gptq-actorder group: {r.stderr.strip()}")
    with open(os.path.join(out, "config.json")) as f:
        w = json.load(f)["quantization_config"]["config_groups"]["group_0"]["weights"]
    if w["actorder"] != "group" or w["strategy"] != "group":
        fail(f"group order written as {w}")
    before, _ = tensors(src)
    _, raw = st.read(os.path.join(out, "model.safetensors"))
    checked = 0
    for name, (dtype, shape, data) in raw.items():
        if not name.endswith(".weight_packed"):
            continue
        m = name[:-len(".weight_packed")]
        n, k = (int(x) for x in st.to_numpy(*raw[m + ".weight_shape"]))
        g_dtype, g_shape, _ = raw[m + ".weight_g_idx"]
        g = st.to_numpy(*raw[m + ".weight_g_idx"]).astype(np.int64)
        if g_dtype != "I32" or g_shape != (k,):
            fail(f"{m}.weight_g_idx: {g_dtype} {g_shape}")
        counts = np.bincount(g, minlength=-(-k // 128))
        if sorted(counts.tolist(), reverse=True)[:-1] != [128] * (len(counts) - 1) or counts.min() < 1:
            fail(f"{m}: group sizes {counts.tolist()}")
        if np.array_equal(g, np.arange(k) // 128):
            fail(f"{m}: g_idx is the storage order")
        codes = interop_common.unpack(st.to_numpy(dtype, shape, data), 4, k).astype(np.float32)
        scale = st.to_numpy(*raw[m + ".weight_scale"]).astype(np.float32)
        deq = codes * scale[:, g]
        ref = before[m + ".weight"]
        rel = np.linalg.norm(deq - ref) / np.linalg.norm(ref)
        # Read without g_idx (groups in storage order) the codes mean something else.
        ignored = np.linalg.norm(codes * scale[:, np.arange(k) // 128] - ref) / np.linalg.norm(ref)
        if rel > 0.5 or not rel < 0.8 * ignored:
            fail(f"{m}: the dequantized weight is {rel:.3f} from the source ({ignored:.3f} without g_idx)")
        checked += 1
    if checked != 28:
        fail(f"{checked} pack-quantized modules with g_idx")
    print(f"OK: GPTQ W4A16 group order: weight_g_idx on {checked} modules, codes * scale[:, g_idx] near the source")


def refused(cli, src, out, extra, words):
    r = subprocess.run([cli, "convert", src, "-o", out] + extra, capture_output=True, text=True)
    if r.returncode != 2 or words not in r.stderr or os.path.exists(out):
        fail(f"{extra}: exit {r.returncode}, {r.stderr.strip()!r}, output {'written' if os.path.exists(out) else 'absent'}")


def check_awq(args, src, calibration):
    """AWQ then round to nearest, W4A16, as llm-compressor's AWQ example: the norms carry 1/s, the
    balance layers W s, so that norm * dequantized weight stays the source's up to int4 rounding;
    recipe.yaml names AWQModifier before the QuantizationModifier; eval reports it."""
    out = os.path.join(args.workdir, "awq")
    r = subprocess.run([args.cli, "convert", src, "-o", out, "--format", "compressed-tensors", "--scheme", "vllm-w4a16",
                        "--keep", "lm_head", "--awq", "--json"] + calibration, capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"convert --awq: {r.stderr.strip()}")
    c = json.loads(r.stdout)["calibration"]
    if c["algorithms"] != ["awq"] or len(c["awq"]) < 12 or any(m["best_loss"] > m["initial_loss"] for m in c["awq"]):
        fail(f"convert --awq reports {c['algorithms']}, {len(c.get('awq', []))} mappings")
    recipe = open(os.path.join(out, "recipe.yaml")).read()
    if recipe.find("AWQModifier") < 0 or recipe.find("AWQModifier") > recipe.find("QuantizationModifier"):
        fail(f"recipe.yaml: {recipe}")
    before, _ = tensors(src)
    _, raw = st.read(os.path.join(out, "model.safetensors"))
    # The grid's first point (ratio 0 without duo scaling) is the identity: such a norm stays.
    identity = {m["smooth_layer"]: m["ratio"] == 0 and not m["duo_scaling"] for m in c["awq"]}
    if all(identity.values()):
        fail("every AWQ mapping chose the identity")
    for layer in range(4):
        p = f"model.layers.{layer}."
        norm_src = before[p + "post_attention_layernorm.weight"]
        norm = st.to_numpy(*raw[p + "post_attention_layernorm.weight"]).astype(np.float32)
        if np.allclose(norm, norm_src, rtol=1e-2, atol=0) != identity[p + "post_attention_layernorm"]:
            fail(f"{p}post_attention_layernorm: rescaled {not np.allclose(norm, norm_src)}, AWQ chose "
                 f"{'the identity' if identity[p + 'post_attention_layernorm'] else 'scales'}")
        for module in ("mlp.gate_proj", "mlp.up_proj"):
            m = p + module
            n, k = (int(x) for x in st.to_numpy(*raw[m + ".weight_shape"]))
            codes = interop_common.unpack(st.to_numpy(*raw[m + ".weight_packed"]), 4, k).astype(np.float32)
            scale = st.to_numpy(*raw[m + ".weight_scale"]).astype(np.float32)
            effective = codes * scale[:, np.arange(k) // 128] * norm[None, :]
            reference = before[m + ".weight"] * norm_src[None, :]
            rel = np.linalg.norm(effective - reference) / np.linalg.norm(reference)
            if rel > 0.25:
                fail(f"{m}: norm * dequantized weight is {rel:.3f} from the source's")
    r = subprocess.run([args.cli, "eval", src, "--data", calibration[1], "--seq-len", "64", "--max-windows", "4",
                        "--scheme", "vllm-w4a16", "--awq", "--json"] + calibration, capture_output=True, text=True)
    if r.returncode != 0 or json.loads(r.stdout)["algorithms"] != ["awq"]:
        fail(f"eval --awq: {r.stderr.strip()}")
    # llm-awq's clip search on top: the clipped layers' group scales only shrink (and some do), q/k
    # are not clipped; GPTQ beside it is refused.
    clipped = os.path.join(args.workdir, "awq-clip")
    r = subprocess.run([args.cli, "convert", src, "-o", clipped, "--format", "compressed-tensors", "--scheme",
                        "vllm-w4a16", "--keep", "lm_head", "--awq", "--awq-clip"] + calibration,
                       capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"convert --awq --awq-clip: {r.stderr.strip()}")
    _, clip_raw = st.read(os.path.join(clipped, "model.safetensors"))
    shrunk = 0
    for layer in range(4):
        for module in ("self_attn.q_proj", "self_attn.k_proj", "mlp.down_proj", "mlp.gate_proj"):
            m = f"model.layers.{layer}.{module}.weight_scale"
            plain, clip = (st.to_numpy(*x[m]).astype(np.float32) for x in (raw, clip_raw))
            if module.startswith("self_attn.q") or module.startswith("self_attn.k"):
                if not np.array_equal(plain, clip):
                    fail(f"{m}: the clip search changed q/k")
                continue
            if (clip > plain * (1 + 1e-6)).any():
                fail(f"{m}: a clipped group's scale grew")
            shrunk += int((clip < plain * (1 - 1e-6)).sum())
    if shrunk == 0:
        fail("the clip search shrank no group")
    r = subprocess.run([args.cli, "convert", src, "-o", os.path.join(args.workdir, "never"), "--format",
                        "compressed-tensors", "--scheme", "vllm-w4a16", "--awq", "--awq-clip", "--gptq"] + calibration,
                       capture_output=True, text=True)
    if r.returncode != 2 or "round to nearest" not in r.stderr:
        fail(f"--awq-clip with --gptq: {r.returncode} {r.stderr.strip()}")
    print(f"OK: AWQ W4A16: {len(c['awq'])} mappings rescaled, norm * weight kept, AWQModifier in recipe.yaml; "
          f"the clip search shrank {shrunk} group scales")


def check_rotation(args, src, data):
    """--rotate hadamard fuses R1/R2 into the weights: the export is a plain Llama checkpoint (an
    NxD int8 one keeps the source's float perplexity), and compressed-tensors' recipe.yaml names
    SpinQuantModifier."""
    out = os.path.join(args.workdir, "rotated")
    r = subprocess.run([args.cli, "convert", src, "-o", out, "--format", "compressed-tensors", "--scheme", "vllm-w8a16",
                        "--keep", "lm_head", "--rotate", "hadamard", "--rotate-seed", "3", "--json"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"convert --rotate: {r.stderr.strip()}")
    rot = json.loads(r.stdout)["rotation"]
    if rot["r1"] != "hadamard 256" or rot["folded_norms"] != 9:
        fail(f"convert --rotate reports {rot}")
    recipe = open(os.path.join(out, "recipe.yaml")).read()
    if "SpinQuantModifier" not in recipe or recipe.find("SpinQuantModifier") > recipe.find("QuantizationModifier"):
        fail(f"recipe.yaml: {recipe}")

    def perplexity(model, extra=()):
        e = subprocess.run([args.cli, "eval", model, "--data", data, "--seq-len", "64", "--max-windows", "4", "--json",
                            *extra], capture_output=True, text=True)
        if e.returncode != 0:
            fail(f"eval {model}: {e.stderr.strip()}")
        j = json.loads(e.stdout)
        return j.get("perplexity_float", j["perplexity"])

    # NxD's int8 weights the runtime reads back (dequantized) for the perplexity.
    nxd = os.path.join(args.workdir, "rotated-nxd")
    r = subprocess.run([args.cli, "convert", src, "-o", nxd, "--format", "nxd", "--keep", "lm_head",
                        "--rotate", "hadamard", "--rotate-seed", "3"], capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"convert --rotate --format nxd: {r.stderr.strip()}")
    source, exported = perplexity(src), perplexity(nxd)
    if abs(exported - source) > 0.02 * source:
        fail(f"the rotated int8 export's perplexity {exported:.3f} against the source's {source:.3f}")
    rotated = perplexity(src, ("--rotate", "random"))
    if abs(rotated - source) > 1e-3 * source:
        fail(f"eval --rotate random: float perplexity {rotated:.4f} against {source:.4f}")
    print(f"OK: rotated export (R1 {rot['r1']}, R2 {rot['r2']}): perplexity {exported:.3f}, source {source:.3f}")

    # SpinQuant learns R1/R2 on the calibration data, then the export is the same plain checkpoint:
    # the NxD int8 export keeps the source's float perplexity; without data it is refused.
    learned = os.path.join(args.workdir, "spinquant-nxd")
    r = subprocess.run([args.cli, "convert", src, "-o", learned, "--format", "nxd", "--keep", "lm_head",
                        "--spinquant", "--spinquant-steps", "3", "--calibration-data", data,
                        "--calibration-samples", "3", "--calibration-seq-len", "32", "--json"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"convert --spinquant: {r.stderr.strip()}")
    j = json.loads(r.stdout)
    sq = j.get("spinquant", {})
    expected = "hadamard 256" if sq.get("kept_start") else "learned 256"  # the start when learning ended above it
    if j["rotation"]["r1"] != expected or len(sq.get("losses", [])) != 3 or sq.get("samples") != 3:
        fail(f"convert --spinquant reports {j.get('rotation')} {sq}")
    exported = perplexity(learned)
    if abs(exported - source) > 0.02 * source:
        fail(f"the SpinQuant int8 export's perplexity {exported:.3f} against the source's {source:.3f}")
    r = subprocess.run([args.cli, "convert", src, "-o", os.path.join(args.workdir, "never"), "--format", "nxd",
                        "--spinquant"], capture_output=True, text=True)
    if r.returncode != 2 or "--calibration-data" not in r.stderr:
        fail(f"convert --spinquant without data: {r.returncode} {r.stderr.strip()}")
    print(f"OK: SpinQuant export (loss {sq['initial_loss']:.4f} -> {sq['final_loss']:.4f}): perplexity "
          f"{exported:.3f}, source {source:.3f}")


def check_compare_recipes(args, src, data, calibration):
    """compare-recipes: one row per recipe with the eval fields, the best by KL, a recipe that
    cannot run with the scheme reported in its row, an unknown step refused."""
    base = [args.cli, "compare-recipes", src, "--data", data, "--seq-len", "64", "--max-windows", "2"] + calibration
    r = subprocess.run(base + ["--scheme", "vllm-w4a16", "--recipes", "rtn,awq,hadamard+gptq", "--json"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"compare-recipes: {r.stderr.strip()}")
    j = json.loads(r.stdout)
    names = [x["name"] for x in j["recipes"]]
    if names != ["rtn", "awq", "hadamard+gptq"] or j["best"] not in names:
        fail(f"compare-recipes: {names}, best {j.get('best')}")
    for x in j["recipes"]:
        if any(k not in x for k in ("perplexity", "kl_divergence", "top1_agreement", "seconds", "peak_rss_bytes")):
            fail(f"compare-recipes row {x}")
    if j["recipes"][2]["algorithms"] != ["rotation", "gptq"]:
        fail(f"hadamard+gptq ran {j['recipes'][2]['algorithms']}")
    r = subprocess.run(base + ["--scheme", "vllm-w8a8-int8", "--recipes", "rtn,awq", "--json"],
                       capture_output=True, text=True)
    rows = json.loads(r.stdout)["recipes"] if r.returncode == 0 else []
    if len(rows) != 2 or "weight-only" not in rows[1].get("error", ""):
        fail(f"compare-recipes with AWQ on W8A8: {r.returncode} {rows} {r.stderr.strip()}")
    r = subprocess.run(base + ["--scheme", "vllm-w4a16", "--recipes", "rtn,quip"], capture_output=True, text=True)
    if r.returncode != 2 or "unknown step 'quip'" not in r.stderr:
        fail(f"compare-recipes with an unknown step: {r.returncode} {r.stderr.strip()}")
    print(f"OK: compare-recipes: {', '.join(names)}; best {j['best']}")


def main():
    args, src = interop_common.setup()
    rng = np.random.default_rng(3)
    data = os.path.join(args.workdir, "calibration.json")
    with open(data, "w") as f:
        json.dump([int(x) for x in rng.integers(0, 512, 1200)], f)
    calibration = ["--calibration-data", data, "--calibration-samples", "8", "--calibration-seq-len", "128"]
    for static in (False, True):
        out = os.path.join(args.workdir, "static" if static else "dynamic")
        extra = calibration + (["--activations", "int8-tensor-static"] if static else [])
        report = convert(args.cli, src, out, extra)
        n = check_export(src, out, static, report)
        print(f"OK: W8A8 {'static' if static else 'dynamic'} SmoothQuant + GPTQ: {n} balance layers folded exactly"
              + (", input scales shared" if static else ""))
    # The same recipe as an llm-compressor YAML gives the same checkpoint, byte for byte.
    recipe = os.path.join(args.workdir, "recipe.yaml")
    with open(recipe, "w") as f:
        f.write("quant_stage:\n  quant_modifiers:\n    SmoothQuantModifier:\n      smoothing_strength: 0.8\n"
                "    GPTQModifier:\n      targets: [\"Linear\"]\n      scheme: \"W8A8\"\n      ignore: [\"lm_head\"]\n")
    from_recipe = os.path.join(args.workdir, "from_recipe")
    r = subprocess.run([args.cli, "convert", src, "-o", from_recipe, "--format", "compressed-tensors", "--recipe", recipe]
                       + calibration, capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"convert --recipe: {r.stderr.strip()}")
    for name in ("model.safetensors", "recipe.yaml"):
        with open(os.path.join(from_recipe, name), "rb") as a, open(os.path.join(args.workdir, "dynamic", name), "rb") as b:
            if a.read() != b.read():
                fail(f"convert --recipe wrote another {name} than the same options")
    print("OK: the seed recipe as YAML (--recipe) gives the same checkpoint and recipe.yaml")
    r = subprocess.run([args.cli, "eval", src, "--data", data, "--seq-len", "64", "--max-windows", "4", "--recipe",
                        recipe, "--calibration-samples", "4", "--json"], capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"eval --recipe: {r.stderr.strip()}")
    e = json.loads(r.stdout)
    if e["algorithms"] != ["smoothquant", "gptq"] or e["smoothquant"]["alpha"] != 0.8 or e["kept"] != ["lm_head"] \
            or e["smoothquant"]["balance_layers"] != 20 or not any("gptq_loss" in m for m in e["modules"]):
        fail(f"eval --recipe reports {e['algorithms']}, {e.get('smoothquant')}, kept {e['kept']}")
    print(f"OK: eval --recipe: perplexity {e['perplexity']:.2f} against float {e['perplexity_float']:.2f}")
    awq = os.path.join(args.workdir, "awq.yaml")
    with open(awq, "w") as f:
        f.write("stage:\n  modifiers:\n    QuIPModifier:\n      rotations: [v, u]\n")
    # NxD: GPTQ'd int8 codes with float32 scales, and the static input scale NxD Inference reads.
    nxd = os.path.join(args.workdir, "nxd")
    r = subprocess.run([args.cli, "convert", src, "-o", nxd, "--format", "nxd", "--gptq", "--activations",
                        "int8-tensor-static", "--keep", "lm_head"] + calibration, capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"convert --format nxd --gptq: {r.stderr.strip()}")
    _, out = st.read(os.path.join(nxd, "model.safetensors"))
    scales = [n for n in out if n.endswith(".input_scale")]
    if len(scales) != 28 or any(out[n][0] != "F32" or out[n][1] != (1,) for n in scales):
        fail(f"nxd input_scale: {len(scales)} tensors, {[out[n][:2] for n in scales[:3]]}")
    q = st.to_numpy(*out["model.layers.0.self_attn.q_proj.input_scale"])[0]
    k = st.to_numpy(*out["model.layers.0.self_attn.k_proj.input_scale"])[0]
    if not (q > 0 and q == k) or out["model.layers.0.self_attn.q_proj.weight"][0] != "I8":
        fail(f"nxd: q/k input scales {q}, {k}")
    print(f"OK: NxD GPTQ int8 with static input_scale [1] float32 on {len(scales)} modules")
    check_group_order(args, src, calibration)
    check_awq(args, src, calibration)
    check_rotation(args, src, data)
    check_compare_recipes(args, src, data, calibration)
    short = os.path.join(args.workdir, "short.json")
    with open(short, "w") as f:
        json.dump([1, 2, 3], f)
    bad = os.path.join(args.workdir, "bad")
    refused(args.cli, src, bad, ["--format", "compressed-tensors", "--gptq", "--calibration-data", short],
            "fewer than one sample")
    refused(args.cli, src, bad, ["--format", "aiu", "--smoothquant", "0.65", "--gptq", "--calibration-data", data],
            "drop --gptq")
    refused(args.cli, src, bad, ["--format", "nxd", "--gptq", "--gptq-actorder", "group", "--calibration-data", data],
            "g_idx")
    refused(args.cli, src, bad, ["--format", "compressed-tensors", "--gptq"], "--calibration-data")
    refused(args.cli, src, bad, ["--format", "compressed-tensors", "--activations", "int8-tensor-static"],
            "--calibration-data")
    refused(args.cli, src, bad, ["--format", "compressed-tensors", "--recipe", awq, "--calibration-data", data],
            "QuIPModifier is not implemented")
    refused(args.cli, src, bad, ["--format", "compressed-tensors", "--recipe", recipe, "--scheme", "vllm-w4a16"],
            "drop --scheme")
    for extra, words in ((["--calibration-data", short], "needs one sample of 64 tokens"),
                         (["--calibration-seq-len", "4096"], "exceed the model's 512 positions")):
        r = subprocess.run([args.cli, "eval", src, "--data", data, "--seq-len", "64", "--max-windows", "2",
                            "--scheme", "vllm-w4a16", "--gptq"] + extra, capture_output=True, text=True)
        if r.returncode != 2 or words not in r.stderr:
            fail(f"eval --gptq {extra}: exit {r.returncode}, {r.stderr.strip()!r}")
    refused(args.cli, src, bad, ["--format", "compressed-tensors", "--gptq", "--calibration-data", data,
                                 "--calibration-seq-len", "4096"], "exceed the model's 512 positions")
    print("OK: bad calibration input refused before any work, nothing written")


if __name__ == "__main__":
    main()
