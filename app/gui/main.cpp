// quantscope: the desktop workbench.
#include "activation_panel.h"
#include "compare_panel.h"
#include "error.h"
#include "eval_panel.h"
#include "jobs/threads.h"
#include "main_window.h"
#include "module_details_panel.h"
#include "module_tree_model.h"
#include "scheme_panel.h"
#include "select/selection_presets.h"
#include "selection_editor.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QDir>
#include <QDockWidget>
#include <QFileInfo>
#include <QIcon>
#include <QTabWidget>
#include <QTimer>

#include <cstdio>

int main(int argc, char* argv[])
{
    QApplication app(argc, argv);
    qs::useIntraOpThreads();
    QApplication::setWindowIcon(QIcon(QStringLiteral(":/icons/quantscope.png")));
    QApplication::setApplicationName(QStringLiteral("QuantScope"));
    QApplication::setOrganizationName(QStringLiteral("QuantScope"));
    QApplication::setApplicationVersion(QStringLiteral(QUANTSCOPE_VERSION));

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("Choose which layers of an LLM checkpoint stay in full precision, "
                                                    "quantize the rest and export it."));
    parser.addHelpOption();
    parser.addVersionOption();
    parser.addPositionalArgument(QStringLiteral("checkpoint"),
        QStringLiteral("A checkpoint to open: safetensors, PyTorch .pt/.bin, llama2.c .bin, an index or a model "
                       "folder."));
    const QCommandLineOption demo(QStringLiteral("demo"), QStringLiteral("Open the built-in demo model."));
    const QCommandLineOption select(QStringLiteral("select"),
        QStringLiteral("Select this module (full dotted path) once the checkpoint is open."), QStringLiteral("module"));
    const QCommandLineOption screenshot(QStringLiteral("screenshot"),
        QStringLiteral("Save a PNG of the window once the first analysis is shown, then quit (for docs and checks)."),
        QStringLiteral("file.png"));
    const QCommandLineOption keep(QStringLiteral("keep"),
        QStringLiteral("Keep matching modules in full precision (NxD partial-name matching, as in quantscope-cli; "
                       "repeatable)."),
        QStringLiteral("pattern"));
    const QCommandLineOption scheme(QStringLiteral("scheme"),
        QStringLiteral("Show the quantization scheme panel with this preset selected (see quantscope-cli schemes)."),
        QStringLiteral("preset"));
    const QCommandLineOption preset(QStringLiteral("preset"),
        QStringLiteral("Apply a keep preset: lm-head, embeddings, attention, edge-mlps:N (repeatable)."),
        QStringLiteral("name"));
    const QCommandLineOption view(QStringLiteral("view"),
        QStringLiteral("Show this view: distribution, codes, heatmap, channels, layers (measures every layer), "
                       "compare (with --compare), evaluate or activations (run on --data)."),
        QStringLiteral("view"));
    const QCommandLineOption compare(QStringLiteral("compare"),
        QStringLiteral("Compare the open checkpoint with this one (the Compare tab)."), QStringLiteral("checkpoint"));
    const QCommandLineOption data(QStringLiteral("data"),
        QStringLiteral("Evaluation / calibration data for the Evaluate tab (token ids .json, .jsonl or text)."),
        QStringLiteral("file"));
    parser.addOptions({ demo, select, keep, preset, scheme, view, compare, data, screenshot });
    parser.process(app);

    qs::app::MainWindow window;
    window.show();
    if (parser.isSet(scheme)) {
        if (!window.schemePanel()->selectPreset(parser.value(scheme))) {
            std::fprintf(stderr, "quantscope: no scheme preset named '%s'\n", qPrintable(parser.value(scheme)));
            return 2;
        }
        window.schemeDock()->show();
    }

    // Keep rules from the command line replace the model's saved ones (for scripts and docs).
    const QStringList keepPatterns = parser.values(keep);
    const QStringList presets = parser.values(preset);
    if (!keepPatterns.isEmpty() || !presets.isEmpty()) {
        QObject::connect(&window, &qs::app::MainWindow::modelOpened, &window, [&window, keepPatterns, presets] {
            std::vector<qs::SelectionRule> rules;
            try {
                for (const auto& p : presets) {
                    for (auto& r : qs::selectionPreset(window.model()->tree, p.toStdString()))
                        rules.push_back(std::move(r));
                }
            } catch (const qs::Error& e) {
                std::fprintf(stderr, "quantscope: %s\n", e.what());
            }
            for (const auto& p : keepPatterns)
                rules.push_back({ qs::RuleSyntax::NxdPartial, p.toStdString(), qs::RuleAction::Keep, {}, "--keep" });
            window.selection()->setRules(rules, QStringLiteral("Command line"));
            for (const auto& w : window.selection()->result().warnings)
                std::fprintf(stderr, "quantscope: %s\n", w.message.c_str());
        });
    }

    const QString moduleToSelect = parser.value(select);
    if (!moduleToSelect.isEmpty()) {
        QObject::connect(&window, &qs::app::MainWindow::modelOpened, &window, [&window, moduleToSelect] {
            if (!window.selectModule(moduleToSelect))
                std::fprintf(stderr, "quantscope: no module named '%s'\n", qPrintable(moduleToSelect));
        });
    }

    const QString viewName = parser.value(view).toLower();
    const QStringList views { QString(), QStringLiteral("distribution"), QStringLiteral("codes"),
        QStringLiteral("heatmap"), QStringLiteral("channels"), QStringLiteral("layers"), QStringLiteral("compare"),
        QStringLiteral("evaluate"), QStringLiteral("activations") };
    if (!views.contains(viewName)) {
        std::fprintf(stderr, "quantscope: unknown view '%s'\n", qPrintable(viewName));
        return 2;
    }
    using Panel = qs::app::ModuleDetailsPanel;
    const int moduleTab = viewName == QLatin1String("codes") ? Panel::CodesTab
        : viewName == QLatin1String("heatmap")               ? Panel::HeatmapTab
        : viewName == QLatin1String("channels")              ? Panel::ChannelsTab
                                                             : Panel::DistributionTab;
    window.details()->tabs()->setCurrentIndex(moduleTab);
    const QString compareWith = parser.value(compare);
    const QString dataFile = parser.value(data);
    if (!dataFile.isEmpty())
        window.evalPanel()->setDataFile(QFileInfo(dataFile).absoluteFilePath());
    QObject::connect(&window, &qs::app::MainWindow::modelOpened, &window, [&window, viewName, compareWith] {
        if (!compareWith.isEmpty())
            window.compareWith(compareWith);
        if (viewName == QLatin1String("layers"))
            window.measureLayers();
        if (viewName == QLatin1String("evaluate")) {
            window.analysisTabs()->setCurrentWidget(window.evalPanel());
            window.evaluate();
        }
        if (viewName == QLatin1String("activations"))
            window.captureActivations();
    });

    const QString shotFile = parser.value(screenshot);
    if (!shotFile.isEmpty()) {
        auto save = [&window, shotFile] {
            static bool scheduled = false;
            if (scheduled)
                return;
            scheduled = true;
            // Let queued replots and layout settle before grabbing.
            QTimer::singleShot(400, &window, [&window, shotFile] {
                const bool ok = window.grab().save(shotFile);
                std::fprintf(
                    stderr, ok ? "quantscope: saved %s\n" : "quantscope: cannot write %s\n", qPrintable(shotFile));
                QApplication::exit(ok ? 0 : 1);
            });
        };
        auto ofModule = [moduleToSelect](const QString& tensor) {
            return moduleToSelect.isEmpty() || tensor.startsWith(moduleToSelect + QLatin1Char('.'));
        };
        if (viewName == QLatin1String("layers")) {
            QObject::connect(&window, &qs::app::MainWindow::layersMeasured, &window, save);
        } else if (viewName == QLatin1String("evaluate")) {
            QObject::connect(&window, &qs::app::MainWindow::evaluated, &window, save);
        } else if (viewName == QLatin1String("activations")) {
            QObject::connect(
                &window, &qs::app::MainWindow::activationsCaptured, &window, [&window, save, moduleToSelect] {
                    if (!moduleToSelect.isEmpty())
                        window.activationPanel()->showPoint(moduleToSelect);
                    save();
                });
        } else if (viewName == QLatin1String("compare")) {
            QObject::connect(window.comparePanel(), &qs::app::ComparePanel::compared, &window,
                [save, ofModule](const QString& tensor) {
                    if (ofModule(tensor))
                        save();
                });
        } else if (viewName == QLatin1String("heatmap")) {
            QObject::connect(window.details(), &Panel::heatmapShown, &window, [save, ofModule](const QString& tensor) {
                if (ofModule(tensor))
                    save();
            });
        } else {
            QObject::connect(window.details(), &Panel::analysisShown, &window, [save, ofModule](const QString& tensor) {
                if (ofModule(tensor))
                    save();
            });
        }
        QObject::connect(&window, &qs::app::MainWindow::jobFailed, &window, [] { QApplication::exit(1); });
        QTimer::singleShot(60000, &window, [] {
            std::fprintf(stderr, "quantscope: nothing to capture after 60 s\n");
            QApplication::exit(1);
        });
    }

    if (parser.isSet(demo))
        window.openDemo();
    else if (!parser.positionalArguments().isEmpty())
        window.openPath(parser.positionalArguments().constFirst());
    return QApplication::exec();
}
