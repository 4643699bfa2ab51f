// SPDX-License-Identifier: GPL-3.0-or-later
// Project files (.qsproj): every field round-trips; a newer schema version is refused with the
// version named; unknown and missing fields are errors naming them; a checkpoint moved together
// with its project is found beside it; and projectConversion resolves the rules as convert does.
#include "algo/algorithm_settings_json.h"
#include "demo/demo_model.h"
#include "error.h"
#include "io/checkpoint.h"
#include "model/module_tree.h"
#include "project/project.h"
#include "project/project_conversion.h"
#include "select/keep_list_io.h"
#include "select/selection.h"

#include <QTemporaryDir>
#include <QTest>

#include <fstream>

using namespace qs;
namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

namespace {

Project sample(const fs::path& checkpoint)
{
    Project p;
    p.checkpoint = checkpoint;
    p.rules = { { RuleSyntax::NxdPartial, "lm_head", RuleAction::Keep, {}, "--keep" },
        { RuleSyntax::Glob, "*layers.0.mlp*", RuleAction::Quantize, "vllm-w4a16", "a file" } };
    p.scheme = *findSchemePreset("vllm-w8a8-int8");
    p.scheme.groupSize = 0;
    p.algorithms.smoothQuant = 0.75;
    p.algorithms.smoothQuantMappings = { { { "q_proj", "k_proj" }, "input_layernorm" } };
    p.algorithms.gptq = true;
    p.algorithms.gptqDampening = 0.05;
    p.algorithms.rotation = "hadamard";
    p.algorithms.rotationSeed = 12345678901234ULL;
    p.calibration = ProjectCalibration { "/data/calibration.jsonl", 16, 256 };
    p.output.format = ExportFormat::CompressedTensors;
    p.output.destination = "/out/model-w8a8";
    p.output.overwrite = true;
    p.output.maxShardBytes = 5'000'000'000ULL;
    p.output.nxdKeepShape = 2;
    p.output.hdf5Gzip = 0;
    return p;
}

void refused(const Json& j, const fs::path& file, const std::string& words)
{
    try {
        projectFromJson(j, file);
        QFAIL(("accepted: " + j.dump()).c_str());
    } catch (const UsageError& e) {
        QVERIFY2(std::string(e.what()).find(words) != std::string::npos, e.what());
    }
}

} // namespace

class TestProject : public QObject
{
    Q_OBJECT

    QTemporaryDir m_dir;
    fs::path root() const { return fs::path(m_dir.path().toStdString()); }

private Q_SLOTS:
    void everyFieldRoundTrips()
    {
        const fs::path file = root() / "a.qsproj";
        const Project p = sample(root() / "model");
        writeProject(file, p);
        const Project q = readProject(file);
        QCOMPARE(q.checkpoint, p.checkpoint);
        QCOMPARE(rulesToJson(q.rules), rulesToJson(p.rules));
        QCOMPARE(schemeToJson(q.scheme).dump(), schemeToJson(p.scheme).dump());
        QCOMPARE(algorithmSettingsToJson(q.algorithms).dump(), algorithmSettingsToJson(p.algorithms).dump());
        QVERIFY(q.calibration);
        QCOMPARE(q.calibration->data, p.calibration->data);
        QCOMPARE(q.calibration->samples, 16);
        QCOMPARE(q.calibration->seqLen, 256);
        QVERIFY(q.output.format == ExportFormat::CompressedTensors);
        QCOMPARE(q.output.destination, p.output.destination);
        QVERIFY(q.output.overwrite);
        QCOMPARE(q.output.maxShardBytes, p.output.maxShardBytes);
        QCOMPARE(q.output.nxdKeepShape, 2);
        QCOMPARE(q.output.hdf5Gzip, 0);
        // and the file is what projectToJson says, the schema version first
        std::ifstream in(file);
        const Json j = Json::parse(in);
        QCOMPARE(j.begin().key(), std::string("quantscope_project"));
        QCOMPARE(j["quantscope_project"].get<int>(), Project::kSchemaVersion);
        QCOMPARE(j["checkpoint"]["relative"].get<std::string>(), std::string("model"));
    }

    void newerSchemaIsRefusedWithItsVersion()
    {
        const fs::path file = root() / "b.qsproj";
        Json j = projectToJson(sample(root() / "model"), file);
        j["quantscope_project"] = Project::kSchemaVersion + 1;
        refused(j, file, "schema version " + std::to_string(Project::kSchemaVersion + 1));
        refused(j, file, "reads version " + std::to_string(Project::kSchemaVersion));
        refused(Json { { "rules", Json::array() } }, file, "not a QuantScope project");
    }

    void unknownAndMissingFieldsAreErrors_data()
    {
        QTest::addColumn<QString>("pointer");
        QTest::addColumn<QString>("words");
        QTest::newRow("top") << "/extra"
                             << "unknown field 'extra'";
        QTest::newRow("export") << "/export/extra"
                                << "unknown field 'extra'";
        QTest::newRow("checkpoint") << "/checkpoint/extra"
                                    << "unknown field 'extra'";
        QTest::newRow("calibration") << "/calibration/extra"
                                     << "unknown field 'extra'";
        QTest::newRow("algorithms") << "/algorithms/extra"
                                    << "unknown field 'extra'";
        QTest::newRow("scheme") << "/scheme/extra"
                                << "unknown scheme field 'extra'";
        QTest::newRow("rule") << "/rules/0/extra"
                              << "unknown field 'extra'";
    }

    void unknownAndMissingFieldsAreErrors()
    {
        QFETCH(QString, pointer);
        QFETCH(QString, words);
        const fs::path file = root() / "c.qsproj";
        Json j = projectToJson(sample(root() / "model"), file);
        j[Json::json_pointer(pointer.toStdString())] = "x";
        refused(j, file, words.toStdString());
        Json missing = projectToJson(sample(root() / "model"), file);
        missing["export"].erase("format");
        refused(missing, file, "lacks the field 'format'");
        Json wrongType = projectToJson(sample(root() / "model"), file);
        wrongType["export"]["overwrite"] = "yes";
        refused(wrongType, file, "export.overwrite");
        Json badPreset = projectToJson(sample(root() / "model"), file);
        badPreset["rules"][1]["scheme"] = "no-such-preset";
        refused(badPreset, file, "no-such-preset");
    }

    void unreadableFilesNameTheFile()
    {
        const fs::path file = root() / "broken.qsproj";
        std::ofstream(file) << "{ not json";
        QVERIFY_THROWS_EXCEPTION(FormatError, readProject(file));
        try {
            readProject(file);
        } catch (const Error& e) {
            QVERIFY2(std::string(e.what()).find("broken.qsproj") != std::string::npos, e.what());
        }
    }

    // A project moved together with its model finds the model beside it.
    void movedCheckpointIsFoundBesideTheProject()
    {
        const fs::path before = root() / "before";
        fs::create_directories(before / "model");
        writeProject(before / "p.qsproj", sample(before / "model"));
        const fs::path after = root() / "after";
        fs::rename(before, after);
        QCOMPARE(readProject(after / "p.qsproj").checkpoint, (after / "model").lexically_normal());
    }

    void conversionResolvesTheRules()
    {
        const fs::path demo = root() / "demo";
        writeDemoModel(demo);
        const Checkpoint c = Checkpoint::open(demo);
        const ModuleTree tree = ModuleTree::build(c.tensors(), c.modelType());
        Project p = sample(demo);
        p.algorithms = {};
        p.calibration.reset();
        const ProjectConversion conversion = projectConversion(p, tree);
        const SelectionResult selection = resolveSelection(tree, p.rules, KeepTarget::CompressedTensors);
        std::set<std::string> kept;
        for (int m : selection.kept())
            kept.insert(tree.node(m).path);
        QCOMPARE(conversion.options.keptModules, kept);
        QCOMPARE(conversion.options.modulesToNotConvert, nxdKeepNames(tree, selection.kept(), p.rules));
        QVERIFY(!conversion.options.moduleSchemes.empty());
        for (const auto& [path, scheme] : conversion.options.moduleSchemes) {
            QVERIFY2(path.find("layers.0.") != std::string::npos, path.c_str());
            QCOMPARE(scheme.name, std::string("vllm-w4a16"));
        }
        QVERIFY(conversion.calibration.data.empty());
        QCOMPARE(conversion.options.destination, p.output.destination);
        QCOMPARE(conversion.options.maxShardBytes, p.output.maxShardBytes);

        p.algorithms.gptq = true; // GPTQ without data is refused, not quietly rounded to nearest
        QVERIFY_THROWS_EXCEPTION(UsageError, projectConversion(p, tree));
        p.calibration = ProjectCalibration { "/data.json", 4, 32 };
        const ProjectConversion calibrated = projectConversion(p, tree);
        QCOMPARE(calibrated.calibration.data, fs::path("/data.json"));
        QCOMPARE(calibrated.calibration.samples, 4);
        QVERIFY(calibrated.calibration.algorithms.gptq);
        QCOMPARE(calibrated.calibration.quantized.size() + kept.size(), tree.quantizable().size());
    }
};

QTEST_GUILESS_MAIN(TestProject)
#include "tst_project.moc"
