// SPDX-License-Identifier: GPL-3.0-or-later
// Keep-full-precision selection: the matching rules of each consumer, resolution order and
// warnings, the NxD document's 4-layer Llama example, presets, and round trips of every
// keep-list format.
#include "error.h"
#include "model/module_tree.h"
#include "select/keep_list_io.h"
#include "select/nxd_keep_list.h"
#include "select/selection.h"
#include "select/selection_presets.h"
#include "test_support.h"

#include <QTest>

using namespace qs;

namespace {

ModuleTree llama(int layers)
{
    return ModuleTree::build(test::llamaTensorInfos(layers, 4), "llama");
}

SelectionRule keep(RuleSyntax syntax, const std::string& pattern)
{
    return { syntax, pattern, RuleAction::Keep, {}, {} };
}

std::set<std::string> keptPaths(const ModuleTree& tree, const SelectionResult& r)
{
    std::set<std::string> out;
    for (int m : r.kept())
        out.insert(tree.node(m).path);
    return out;
}

std::vector<SelectionRule> rulesOf(RuleSyntax syntax, const std::vector<std::string>& patterns)
{
    std::vector<SelectionRule> rules;
    for (const auto& p : patterns)
        rules.push_back(keep(syntax, p));
    return rules;
}

bool hasWarning(const SelectionResult& r, const std::string& kind)
{
    for (const auto& w : r.warnings) {
        if (w.kind == kind)
            return true;
    }
    return false;
}

// The two lists of ../shared/sources/004 (Neuron custom quantization): NxD partial names for
// NxD's own quantizer, and full names for an llm-compressor `ignore`.
const std::vector<std::string> kDocPartial
    = { "lm_head", "layers.0.self_attn", "layers.1.self_attn", "layers.2.self_attn", "layers.1.mlp" };
std::vector<std::string> docFullNames()
{
    std::vector<std::string> names { "lm_head" };
    for (int l : { 0, 3 }) {
        for (const char* p : { "down_proj", "gate_proj", "up_proj" })
            names.push_back("model.layers." + std::to_string(l) + ".mlp." + p);
    }
    for (int l = 0; l < 4; ++l) {
        for (const char* p : { "k_proj", "o_proj", "q_proj", "v_proj" })
            names.push_back("model.layers." + std::to_string(l) + ".self_attn." + p);
    }
    return names;
}

} // namespace

class TestSelection : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void matchingSemantics_data()
    {
        QTest::addColumn<QString>("syntax");
        QTest::addColumn<QString>("pattern");
        QTest::addColumn<QString>("path");
        QTest::addColumn<bool>("matches");
        auto row = [](const char* s, const char* p, const char* path, bool m) {
            QTest::addRow("%s %s ~ %s", s, p, path) << s << p << path << m;
        };
        row("module", "model.layers.1", "model.layers.1.mlp.up_proj", true);
        row("module", "model.layers.1", "model.layers.10.mlp.up_proj", false);
        row("module", "model.layers.1.mlp.up_proj", "model.layers.1.mlp.up_proj", true);
        row("nxd", "layers.1", "model.layers.10.mlp.up_proj", true); // substring, as NxD
        row("nxd", "layers.1.", "model.layers.10.mlp.up_proj", false);
        row("nxd", "lm_head", "lm_head", true);
        row("nxd", "mlp", "model.layers.3.mlp.down_proj", true);
        row("compressed-tensors", "lm_head", "lm_head", true);
        row("compressed-tensors", "lm_head", "model.lm_head", false); // exact names only
        row("compressed-tensors", "re:.*lm_head", "language_model.lm_head", true);
        row("compressed-tensors", "re:model.layers.1", "model.layers.10.mlp.up_proj", true); // re.match: start only
        row("compressed-tensors", "re:layers", "model.layers.0.mlp.up_proj", false); // anchored at the start
        row("compressed-tensors", "re:.*mlp.gate$", "model.layers.0.mlp.gate", true);
        row("compressed-tensors", "re:.*mlp.gate$", "model.layers.0.mlp.gate_proj", false);
        row("compressed-tensors", "Linear", "model.layers.0.mlp.up_proj", true); // the class name
        row("fms-mo", "model.layers.0.mlp.up_proj", "model.layers.0.mlp.up_proj", true);
        row("fms-mo", "layers.0.mlp.up_proj", "model.layers.0.mlp.up_proj", false);
        row("glob", "*.mlp.*", "model.layers.0.mlp.up_proj", true);
        row("glob", "model.layers.?.mlp.*", "model.layers.10.mlp.up_proj", false);
        row("glob", "model.layers.1?.mlp.*", "model.layers.10.mlp.up_proj", true);
    }

    void matchingSemantics()
    {
        QFETCH(QString, syntax);
        QFETCH(QString, pattern);
        QFETCH(QString, path);
        QFETCH(bool, matches);
        const auto s = ruleSyntaxFromName(syntax.toStdString());
        QVERIFY(s);
        const RuleMatcher m(keep(*s, pattern.toStdString()));
        QCOMPARE(m.matches(path.toStdString()), matches);
    }

    // The NxD document's 4-layer Llama: each list keeps what it says; the compact NxD names of
    // the full-name list, and the full names of the partial list, resolve to the same modules
    // as the list they were derived from. (The document's two lists are different selections:
    // the partial one keeps attention of layers 0-2 and the MLP of layer 1, the full one the
    // attention of every layer and the MLPs of layers 0 and 3.)
    void nxdDocumentExample()
    {
        const ModuleTree tree = llama(4);
        const auto partial = resolveSelection(tree, rulesOf(RuleSyntax::NxdPartial, kDocPartial), KeepTarget::Nxd);
        QCOMPARE(partial.kept().size(), 1u + 3 * 4 + 3);
        QVERIFY(keptPaths(tree, partial).count("model.layers.2.self_attn.o_proj"));
        QVERIFY(!keptPaths(tree, partial).count("model.layers.3.self_attn.q_proj"));
        QVERIFY(partial.warnings.empty());

        const auto full = resolveSelection(tree, rulesOf(RuleSyntax::CompressedTensors, docFullNames()));
        QCOMPARE(full.kept().size(), 1u + 6 + 16);
        QVERIFY(full.warnings.empty());

        const auto compact = nxdKeepNames(tree, full.kept(), {});
        QCOMPARE(compact,
            (std::vector<std::string> { "lm_head", "layers.0.mlp", "layers.0.self_attn", "layers.1.self_attn",
                "layers.2.self_attn", "layers.3.mlp", "layers.3.self_attn" }));
        // Full names written as NxD patterns would not match Neuron's names (no "model."): compacted.
        QCOMPARE(nxdKeepNames(tree, full.kept(), rulesOf(RuleSyntax::NxdPartial, docFullNames())), compact);
        QCOMPARE(resolveSelection(tree, rulesOf(RuleSyntax::NxdPartial, compact)).kept(), full.kept());
        const auto fullOfPartial = fullKeepNames(tree, partial.kept());
        QCOMPARE(resolveSelection(tree, rulesOf(RuleSyntax::FmsMoExact, fullOfPartial)).kept(), partial.kept());
        // The patterns as written survive an export when they resolve to the same modules.
        QCOMPARE(nxdKeepNames(tree, partial.kept(), rulesOf(RuleSyntax::NxdPartial, kDocPartial)), kDocPartial);
    }

    void substringAmbiguityIsReported()
    {
        const ModuleTree tree = llama(12);
        const auto r = resolveSelection(tree, { keep(RuleSyntax::NxdPartial, "layers.1") });
        QCOMPARE(r.kept().size(), 3u * 7); // layers 1, 10 and 11
        QVERIFY(hasWarning(r, "broad-substring"));
        const auto& w = r.warnings.front();
        QCOMPARE(w.modules.size(), 14u);
        QVERIFY(QString::fromStdString(w.message).contains(QStringLiteral("model.layers.10")));
        QVERIFY(!hasWarning(resolveSelection(tree, { keep(RuleSyntax::NxdPartial, "layers.1.") }), "broad-substring"));
        QVERIFY(
            !hasWarning(resolveSelection(tree, { keep(RuleSyntax::NxdPartial, "layers.1.mlp") }), "broad-substring"));
    }

    void lastMatchingRuleDecides()
    {
        const ModuleTree tree = llama(2);
        std::vector<SelectionRule> rules { keep(RuleSyntax::Module, "model.layers.0"),
            { RuleSyntax::Module, "model.layers.0.mlp.up_proj", RuleAction::Quantize, "nxd-fp8", "exception" } };
        const auto r = resolveSelection(tree, rules);
        QCOMPARE(r.kept().size(), 6u);
        const ModuleDecision* up = r.decisionFor(tree.find("model.layers.0.mlp.up_proj"));
        QVERIFY(up && !up->keep && up->rule == 1 && up->scheme == "nxd-fp8");
        const ModuleDecision* down = r.decisionFor(tree.find("model.layers.0.mlp.down_proj"));
        QVERIFY(down && down->keep && down->rule == 0);
        const ModuleDecision* other = r.decisionFor(tree.find("model.layers.1.mlp.up_proj"));
        QVERIFY(other && !other->keep && other->rule == -1);
        QCOMPARE(r.matchCounts, (std::vector<int> { 7, 1 }));
        QVERIFY(hasWarning(r, "mixed-fused-group")); // gate_proj kept, up_proj quantized
    }

    void warnings()
    {
        const ModuleTree tree = llama(2);
        const auto none = resolveSelection(tree, { keep(RuleSyntax::FmsMoExact, "layers.0.mlp") });
        QVERIFY(hasWarning(none, "unmatched"));
        const auto invalid = resolveSelection(tree, { keep(RuleSyntax::CompressedTensors, "re:([") });
        QVERIFY(hasWarning(invalid, "invalid-rule"));
        QVERIFY(invalid.kept().empty());
        // vLLM fuses q/k/v: keeping one of them is refused there; NxD cannot keep it at all.
        const auto q
            = resolveSelection(tree, { keep(RuleSyntax::Module, "model.layers.0.self_attn.q_proj") }, KeepTarget::Nxd);
        QVERIFY(hasWarning(q, "mixed-fused-group"));
        QVERIFY(hasWarning(q, "target-cannot-keep"));
        const auto qkv = resolveSelection(tree,
            rulesOf(RuleSyntax::Module,
                { "model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.k_proj",
                    "model.layers.0.self_attn.v_proj" }),
            KeepTarget::Nxd);
        QVERIFY(!hasWarning(qkv, "mixed-fused-group"));
        QVERIFY(hasWarning(qkv, "target-cannot-keep")); // o_proj quantized: no "layers.0.self_attn" entry
        const auto block
            = resolveSelection(tree, { keep(RuleSyntax::Module, "model.layers.0.self_attn") }, KeepTarget::Nxd);
        QVERIFY(block.warnings.empty());
    }

    void presets()
    {
        const ModuleTree tree = llama(4);
        QCOMPARE(keepLmHeadPreset(tree).size(), 1u);
        QCOMPARE(keepLmHeadPreset(tree).front().pattern, std::string("lm_head"));
        QCOMPARE(keepAttentionPreset(tree).size(), 4u);
        const auto edges = keepEdgeMlpsPreset(tree, 1);
        QCOMPARE(edges.size(), 2u);
        QCOMPARE(edges.front().pattern, std::string("model.layers.0.mlp"));
        QCOMPARE(edges.back().pattern, std::string("model.layers.3.mlp"));
        QCOMPARE(keepEdgeMlpsPreset(tree, 5).size(), 4u);
        QCOMPARE(selectionPreset(tree, "edge-mlps:2").size(), 4u);
        QVERIFY_THROWS_EXCEPTION(UsageError, selectionPreset(tree, "edge-mlps:x"));
        QVERIFY_THROWS_EXCEPTION(UsageError, selectionPreset(tree, "nope"));
        QCOMPARE(keepEmbeddingsPreset(tree).size(), 1u);
        std::map<int, double> sqnr;
        int i = 0;
        for (int m : tree.quantizable())
            sqnr[m] = 40.0 + i++;
        QCOMPARE(keepWorstPreset(tree, sqnr, NAN, 3).size(), 3u);
        QCOMPARE(keepWorstPreset(tree, sqnr, 42.5, 0).size(), 3u); // 40, 41, 42
        QCOMPARE(keepWorstPreset(tree, sqnr, NAN, 3).front().pattern, tree.node(tree.quantizable().front()).path);
    }

    void nxdJsonShapesRoundTrip()
    {
        const std::vector<std::string> names = kDocPartial;
        const std::vector<std::string> draft { "lm_head", "fc" };
        for (const auto shape : { NxdJsonShape::Flat, NxdJsonShape::UnderModel, NxdJsonShape::WithDraft }) {
            const KeepList k = parseKeepList(writeNxdKeepJson(names, shape, draft), "m.json");
            QCOMPARE(k.format, KeepListFormat::NxdJson);
            QCOMPARE(k.rules, rulesOf(RuleSyntax::NxdPartial, names));
            QCOMPARE(k.draftRules.size(), shape == NxdJsonShape::WithDraft ? 2u : 0u);
        }
        // "model" wins over a top-level list, as in NxD's inference_demo.
        const KeepList both = parseKeepList(
            R"({"modules_to_not_convert": ["a"], "model": {"modules_to_not_convert": ["b"]}})", "m.json");
        QCOMPARE(both.rules.front().pattern, std::string("b"));
        QVERIFY_THROWS_EXCEPTION(FormatError, parseKeepList(R"({"model": {}})", "m.json"));
        QVERIFY_THROWS_EXCEPTION(FormatError, parseKeepList(R"({"modules_to_not_convert": [1]})", "m.json"));
        QVERIFY_THROWS_EXCEPTION(FormatError, parseKeepList(R"({"something": []})", "m.json"));
        QVERIFY_THROWS_EXCEPTION(FormatError, parseKeepList("{not json", "m.json"));
    }

    void otherFormatsRoundTrip()
    {
        const ModuleTree tree = llama(4);
        const auto kept = resolveSelection(tree, rulesOf(RuleSyntax::NxdPartial, kDocPartial)).kept();
        const auto full = fullKeepNames(tree, kept);
        QCOMPARE(full.size(), kept.size());

        const KeepList fms = parseKeepList(writeFmsMoQcfg(full), "qcfg.json");
        QCOMPARE(fms.format, KeepListFormat::FmsMoQcfg);
        QCOMPARE(resolveSelection(tree, fms.rules).kept(), kept);

        const KeepList text = parseKeepList(writeTextList(full) + "# a comment\n\n", "keep.txt");
        QCOMPARE(text.format, KeepListFormat::Text);
        QCOMPARE(resolveSelection(tree, text.rules).kept(), kept);

        const std::string config = R"({"model_type": "llama", "quantization_config": {"quant_method":
            "compressed-tensors", "ignore": ["lm_head", "re:model.layers.1.mlp.*"]}})";
        const KeepList ct = parseKeepList(config, "config.json");
        QCOMPARE(ct.format, KeepListFormat::CompressedTensorsConfig);
        QCOMPARE(resolveSelection(tree, ct.rules).kept().size(), 4u);

        // The recipe YAML parses back to the same rules.
        const std::string yaml = writeRecipeYaml(full, "{num_bits: 8, type: int, symmetric: true, strategy: channel}",
            "{num_bits: 8, type: int, symmetric: true, strategy: token, dynamic: true}");
        const KeepList recipe = parseKeepList(yaml, "recipe.yaml");
        QCOMPARE(recipe.format, KeepListFormat::Recipe);
        QCOMPARE(recipe.rules, rulesOf(RuleSyntax::CompressedTensors, full));
        QVERIFY(recipe.notes.size() == 1 && recipe.notes.front().find("Linear") != std::string::npos);
        QVERIFY(QString::fromStdString(yaml).contains(QStringLiteral("strategy: channel")));
    }

    // A recipe as llm-compressor's examples write them: stages, several modifiers, regexes.
    void handWrittenRecipe()
    {
        const std::string yaml = R"(
sparsity_stage:
  run_type: oneshot
  sparsity_modifiers:
    SparseGPTModifier:
      sparsity: 0.5
quant_stage:
  quant_modifiers:
    SmoothQuantModifier:
      smoothing_strength: 0.8
    GPTQModifier:
      ignore: ["lm_head", "re:.*mlp.gate$"]
      scheme: W8A8
      targets: Linear
)";
        const KeepList k = parseKeepList(yaml, "recipe.yaml");
        QCOMPARE(k.rules.size(), 2u);
        QCOMPARE(k.rules[1].pattern, std::string("re:.*mlp.gate$"));
        QCOMPARE(k.rules[1].syntax, RuleSyntax::CompressedTensors);
        QVERIFY_THROWS_EXCEPTION(FormatError, parseKeepList("a: [unclosed\nModifier: 1", "r.yaml"));
        QVERIFY_THROWS_EXCEPTION(FormatError, parseKeepList("SomeModifier: {}\n", "r.yaml"));
    }
};

QTEST_GUILESS_MAIN(TestSelection)
#include "tst_selection.moc"
