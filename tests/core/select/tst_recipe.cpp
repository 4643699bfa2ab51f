// SPDX-License-Identifier: GPL-3.0-or-later
// llm-compressor recipes read as QuantScope plans: the seed document's SmoothQuant + GPTQ W8A8
// recipe, config_groups, actorder's aliases, the ignore list as compressed-tensors keep rules, and
// clear errors for what QuantScope cannot run (a modifier it does not implement, named; an unknown
// argument; targets other than Linear; a scheme without a preset).
#include "error.h"
#include "select/keep_list_io.h"
#include "select/recipe.h"

#include <QTest>

using namespace qs;

class TestRecipe : public QObject
{
    Q_OBJECT

    static void refused(const std::string& text, const std::string& words)
    {
        try {
            parseRecipe(text, "recipe.yaml");
            QFAIL(("accepted: " + text).c_str());
        } catch (const UsageError& e) {
            QVERIFY2(std::string(e.what()).find(words) != std::string::npos, e.what());
            QVERIFY2(std::string(e.what()).find("recipe.yaml") != std::string::npos, e.what());
        }
    }

private Q_SLOTS:
    void seedRecipe()
    {
        const Recipe r = parseRecipe("quant_stage:\n  quant_modifiers:\n    SmoothQuantModifier:\n"
                                     "      smoothing_strength: 0.8\n    GPTQModifier:\n      targets: Linear\n"
                                     "      scheme: W8A8\n      ignore: [\"lm_head\", \"re:.*mlp.down_proj\"]\n",
            "recipe.yaml");
        QCOMPARE(r.modifiers, (std::vector<std::string> { "SmoothQuantModifier", "GPTQModifier" }));
        QVERIFY(r.scheme && r.scheme->name == "vllm-w8a8-int8");
        QCOMPARE(*r.algorithms.smoothQuant, 0.8);
        QVERIFY(r.algorithms.smoothQuantMappings.empty()); // the family's defaults
        QVERIFY(r.algorithms.gptq);
        QCOMPARE(r.algorithms.gptqBlockSize, 128);
        QCOMPARE(r.algorithms.gptqDampening, 0.01);
        QCOMPARE(r.algorithms.gptqActOrder, std::string("static"));
        QCOMPARE(r.keep.size(), std::size_t(2));
        QCOMPARE(r.keep[1].pattern, std::string("re:.*mlp.down_proj"));
        QVERIFY(r.keep[1].syntax == RuleSyntax::CompressedTensors);
    }

    void configGroupsAndArguments()
    {
        const Recipe r = parseRecipe(
            "stage:\n  modifiers:\n    SmoothQuantModifier:\n      smoothing_strength: 0.5\n      mappings:\n"
            "        - [[\"re:.*q_proj\", \"re:.*k_proj\", \"re:.*v_proj\"], \"re:.*input_layernorm\"]\n"
            "    GPTQModifier:\n      block_size: 64\n      dampening_frac: 0.05\n      actorder: weight\n"
            "      config_groups:\n        group_0:\n          targets: [Linear]\n"
            "          weights: {num_bits: 4, type: int, symmetric: true, strategy: group, group_size: 64}\n",
            "recipe.yaml");
        QCOMPARE(r.algorithms.smoothQuantMappings.size(), std::size_t(1));
        QCOMPARE(r.algorithms.smoothQuantMappings[0].balance.size(), std::size_t(3));
        QCOMPARE(r.algorithms.smoothQuantMappings[0].smooth, std::string("re:.*input_layernorm"));
        QCOMPARE(r.algorithms.gptqBlockSize, 64);
        QCOMPARE(r.algorithms.gptqDampening, 0.05);
        QCOMPARE(r.algorithms.gptqActOrder, std::string("static"));
        QVERIFY(r.scheme);
        QCOMPARE(r.scheme->bits, 4);
        QVERIFY(r.scheme->granularity == Granularity::Group);
        QCOMPARE(r.scheme->groupSize, 64);
        QCOMPARE(r.scheme->activations, std::string("none"));

        const Recipe s = parseRecipe("QuantizationModifier:\n  config_groups:\n    g:\n      targets: [Linear]\n"
                                     "      weights: {num_bits: 8, type: int, symmetric: true, strategy: channel}\n"
                                     "      input_activations: {num_bits: 8, type: int, symmetric: true, "
                                     "strategy: tensor, dynamic: false}\n",
            "recipe.yaml");
        QVERIFY(!s.algorithms.any());
        QCOMPARE(s.scheme->activations, std::string("int8-tensor-static"));
        QCOMPARE(parseRecipe("GPTQModifier:\n  scheme: W4A16\n  actorder: dynamic\n", "r").algorithms.gptqActOrder,
            std::string("group"));
        QCOMPARE(parseRecipe("GPTQModifier:\n  scheme: W4A16\n  actorder: null\n", "r").algorithms.gptqActOrder,
            std::string("none"));
    }

    // AWQModifier as llm-compressor 0.13 writes it (a transform before the quantizing modifier), and
    // as earlier versions did (carrying the scheme itself).
    void readsAwq()
    {
        const Recipe r = parseRecipe("stage:\n  modifiers:\n    AWQModifier:\n      duo_scaling: both\n      n_grid: 10\n"
                                     "      mappings:\n        - smooth_layer: re:.*post_attention_layernorm$\n"
                                     "          balance_layers: [re:.*gate_proj$, re:.*up_proj$]\n"
                                     "    QuantizationModifier:\n      scheme: W4A16_ASYM\n      ignore: [lm_head]\n",
            "awq.yaml");
        QVERIFY(r.algorithms.awq && !r.algorithms.gptq);
        QCOMPARE(r.algorithms.awqDuoScaling, std::string("both"));
        QCOMPARE(r.algorithms.awqGrid, 10);
        QCOMPARE(r.algorithms.awqMappings.size(), std::size_t(1));
        QCOMPARE(r.algorithms.awqMappings[0].smooth, std::string("re:.*post_attention_layernorm$"));
        QCOMPARE(r.algorithms.awqMappings[0].balance.size(), std::size_t(2));
        QVERIFY(r.scheme && !r.scheme->symmetric && r.scheme->bits == 4 && r.scheme->groupSize == 128);
        QCOMPARE(r.keep.size(), std::size_t(1));
        const Recipe old = parseRecipe("AWQModifier:\n  ignore: [lm_head]\n  scheme: W4A16\n  targets: [Linear]\n",
            "r");
        QVERIFY(old.algorithms.awq && old.scheme && old.scheme->bits == 4);
        QCOMPARE(old.algorithms.awqDuoScaling, std::string("true"));
        QCOMPARE(old.keep.size(), std::size_t(1));
        // What the export writes back reads as the same plan.
        const std::string yaml = writeRecipeYaml({ "lm_head" },
            "{num_bits: 4, type: int, symmetric: false, strategy: group, group_size: 128}", "", r.algorithms);
        const Recipe again = parseRecipe(yaml, "written");
        QVERIFY2(again.algorithms.awq && again.algorithms.awqDuoScaling == "both" && again.algorithms.awqGrid == 10
                && again.algorithms.awqMappings.size() == 1,
            yaml.c_str());
    }

    // SpinQuantModifier's fixed rotations (llm-compressor) read as QuantScope's fused rotations.
    void readsSpinQuant()
    {
        const Recipe r = parseRecipe("SpinQuantModifier:\n  rotations: [R1, R2]\n  transform_type: hadamard\n"
                                     "QuantizationModifier:\n  scheme: W8A8\n",
            "r");
        QCOMPARE(r.algorithms.rotation, std::string("hadamard"));
        QVERIFY(r.algorithms.rotationR2 && !r.algorithms.any()); // no calibration data needed
        QCOMPARE(parseRecipe("SpinQuantModifier:\n  rotations: [R1]\n  transform_type: random-matrix\n"
                             "QuantizationModifier:\n  scheme: W8A8\n",
                     "r")
                     .algorithms.rotation,
            std::string("random"));
        refused("SpinQuantModifier:\n  rotations: [R1, R4]\nQuantizationModifier:\n  scheme: W8A8\n", "R4");
        // learnable: true is SpinQuant proper (llm-compressor cannot learn; QuantScope does).
        const Recipe learned = parseRecipe(
            "SpinQuantModifier:\n  learnable: true\nQuantizationModifier:\n  scheme: W8A8\n", "r");
        QVERIFY(learned.algorithms.spinQuant && learned.algorithms.rotation == "hadamard");
        QVERIFY(learned.algorithms.needsData() && !learned.algorithms.any());
        QVERIFY(parseRecipe(writeRecipeYaml({}, "{num_bits: 8, type: int, symmetric: true, strategy: channel}", "",
                                learned.algorithms),
            "written")
                    .algorithms.spinQuant);
        const std::string yaml = writeRecipeYaml({}, "{num_bits: 8, type: int, symmetric: true, strategy: channel}", "",
            r.algorithms);
        QCOMPARE(parseRecipe(yaml, "written").algorithms.rotation, std::string("hadamard"));
    }

    void refusesWhatItCannotRun()
    {
        refused("stage:\n  modifiers:\n    QuIPModifier:\n      rotations: [v, u]\n", "QuIPModifier is not implemented");
        refused("AWQModifier:\n  duo_scaling: sometimes\nQuantizationModifier:\n  scheme: W4A16\n", "duo_scaling");
        refused("AWQModifier:\n  mappings: [[\"re:.*q_proj\"], \"re:.*input_layernorm\"]\n", "smooth_layer");
        refused("SmoothQuantModifier: {}\nAWQModifier: {}\nQuantizationModifier:\n  scheme: W4A16\n", "both");
        refused("GPTQModifier:\n  scheme: W8A8\n  sequential_update: true\n", "sequential_update");
        refused("GPTQModifier:\n  scheme: W8A8\n  targets: [Embedding]\n", "Embedding");
        refused("QuantizationModifier:\n  scheme: NVFP4\n", "NVFP4");
        refused("GPTQModifier:\n  scheme: W8A8\nQuantizationModifier:\n  scheme: W8A8\n", "more than one");
        refused("just: text\n", "no modifiers");
        refused("GPTQModifier: [\n", "invalid YAML");
        refused("SmoothQuantModifier:\n  mappings: [[\"re:.*q_proj\"]]\n", "mapping");
    }
};

QTEST_GUILESS_MAIN(TestRecipe)
#include "tst_recipe.moc"
