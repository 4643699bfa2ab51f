// SPDX-License-Identifier: GPL-3.0-or-later
// quantscope: the desktop workbench.
#include "activation_panel.h"
#include "compare_panel.h"
#include "suggest_panel.h"
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
#include <functional>
#include <memory>
#include <optional>
#include <string_view>

namespace {

using qs::app::MainWindow;
using Panel = qs::app::ModuleDetailsPanel;

// What the command line asks for.
struct Options
{
    bool demo = false;
    QString checkpoint; // the first positional argument, if any
    std::optional<QString> scheme;
    QStringList keepPatterns;
    QStringList presets;
    QString module; // --select
    QString view; // lower case; empty: the module's distribution
    QString compareWith;
    QString dataFile;
    QString screenshot;
};

bool isKnownView(const QString& view)
{
    const QStringList views { QString(), QStringLiteral("distribution"), QStringLiteral("codes"),
        QStringLiteral("heatmap"), QStringLiteral("channels"), QStringLiteral("layers"), QStringLiteral("compare"),
        QStringLiteral("evaluate"), QStringLiteral("activations"), QStringLiteral("suggest") };
    return views.contains(view);
}

Options parseOptions(const QCoreApplication& app)
{
    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("Choose which layers of an LLM checkpoint stay in full precision, "
                                                    "quantize the rest and export it."));
    parser.addHelpOption();
    parser.addVersionOption();
    parser.addPositionalArgument(QStringLiteral("checkpoint"),
        QStringLiteral("A checkpoint to open: safetensors, PyTorch .pt/.bin, the nanoGPT fork's .pkl, llama2.c .bin, "
                       "an index or a model folder; or a project (.qsproj) saved with File > Save Project."));
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
                       "compare (with --compare), evaluate, activations or suggest (run on --data)."),
        QStringLiteral("view"));
    const QCommandLineOption compare(QStringLiteral("compare"),
        QStringLiteral("Compare the open checkpoint with this one (the Compare tab)."), QStringLiteral("checkpoint"));
    const QCommandLineOption data(QStringLiteral("data"),
        QStringLiteral("Evaluation / calibration data for the Evaluate tab (token ids .json, .jsonl or text)."),
        QStringLiteral("file"));
    parser.addOptions({ demo, select, keep, preset, scheme, view, compare, data, screenshot });
    parser.process(app);

    Options options;
    options.demo = parser.isSet(demo);
    if (!parser.positionalArguments().isEmpty())
        options.checkpoint = parser.positionalArguments().constFirst();
    if (parser.isSet(scheme))
        options.scheme = parser.value(scheme);
    options.keepPatterns = parser.values(keep);
    options.presets = parser.values(preset);
    options.module = parser.value(select);
    options.view = parser.value(view).toLower();
    options.compareWith = parser.value(compare);
    options.dataFile = parser.value(data);
    options.screenshot = parser.value(screenshot);
    return options;
}

// Keep rules from the command line replace the model's saved ones (for scripts and docs).
void applyKeepRulesOnOpen(MainWindow& window, const QStringList& keepPatterns, const QStringList& presets)
{
    if (keepPatterns.isEmpty() && presets.isEmpty())
        return;
    QObject::connect(&window, &MainWindow::modelOpened, &window, [&window, keepPatterns, presets] {
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

void selectModuleOnOpen(MainWindow& window, const QString& module)
{
    if (module.isEmpty())
        return;
    QObject::connect(&window, &MainWindow::modelOpened, &window, [&window, module] {
        if (!window.selectModule(module))
            std::fprintf(stderr, "quantscope: no module named '%s'\n", qPrintable(module));
    });
}

// The module view to show, the Evaluate tab's data, and what runs once the model is open.
void showViewOnOpen(MainWindow& window, const Options& options)
{
    const QString& view = options.view;
    const int moduleTab = view == QLatin1String("codes") ? Panel::CodesTab
        : view == QLatin1String("heatmap")               ? Panel::HeatmapTab
        : view == QLatin1String("channels")              ? Panel::ChannelsTab
                                                         : Panel::DistributionTab;
    window.details()->tabs()->setCurrentIndex(moduleTab);
    if (!options.dataFile.isEmpty())
        window.evalPanel()->setDataFile(QFileInfo(options.dataFile).absoluteFilePath());
    QObject::connect(&window, &MainWindow::modelOpened, &window, [&window, view, compareWith = options.compareWith] {
        if (!compareWith.isEmpty())
            window.compareWith(compareWith);
        if (view == QLatin1String("layers"))
            window.measureLayers();
        if (view == QLatin1String("evaluate")) {
            window.analysisTabs()->setCurrentWidget(window.evalPanel());
            window.evaluate();
        }
        // A checkpoint that stores its own activations (the nanoGPT fork) shows those instead.
        if (view == QLatin1String("activations") && window.model()->checkpoint.quantization().activations.empty())
            window.captureActivations();
        if (view == QLatin1String("suggest")) {
            window.analysisTabs()->setCurrentWidget(window.suggestPanel());
            window.suggest();
        }
    });
}

// Saves the window to `file` once, a moment after the first call, then quits.
std::function<void()> screenshotSaver(MainWindow& window, const QString& file)
{
    auto scheduled = std::make_shared<bool>(false);
    return [&window, file, scheduled] {
        if (*scheduled)
            return;
        *scheduled = true;
        // Let queued replots and layout settle before grabbing.
        QTimer::singleShot(400, &window, [&window, file] {
            const bool ok = window.grab().save(file);
            std::fprintf(stderr, ok ? "quantscope: saved %s\n" : "quantscope: cannot write %s\n", qPrintable(file));
            QApplication::exit(ok ? 0 : 1);
        });
    };
}

// Calls `save` once the view the screenshot is for shows its result (for the selected module).
void saveWhenShown(MainWindow& window, const Options& options, const std::function<void()>& save)
{
    const QString& view = options.view;
    auto ofModule = [module = options.module](const QString& tensor) {
        return module.isEmpty() || tensor.startsWith(module + QLatin1Char('.'));
    };
    auto whenOfModule = [save, ofModule](const QString& tensor) {
        if (ofModule(tensor))
            save();
    };
    if (view == QLatin1String("layers")) {
        QObject::connect(&window, &MainWindow::layersMeasured, &window, save);
    } else if (view == QLatin1String("evaluate")) {
        QObject::connect(&window, &MainWindow::evaluated, &window, save);
    } else if (view == QLatin1String("suggest")) {
        QObject::connect(&window, &MainWindow::suggested, &window, save);
    } else if (view == QLatin1String("activations")) {
        const auto shown = [&window, save, module = options.module] {
            window.analysisTabs()->setCurrentWidget(window.activationPanel());
            if (!module.isEmpty())
                window.activationPanel()->showPoint(module);
            save();
        };
        QObject::connect(&window, &MainWindow::activationsCaptured, &window, shown);
        QObject::connect(&window, &MainWindow::storedActivationsShown, &window, shown);
    } else if (view == QLatin1String("compare")) {
        QObject::connect(window.comparePanel(), &qs::app::ComparePanel::compared, &window, whenOfModule);
    } else if (view == QLatin1String("heatmap")) {
        QObject::connect(window.details(), &Panel::heatmapShown, &window, whenOfModule);
    } else {
        QObject::connect(window.details(), &Panel::analysisShown, &window, whenOfModule);
    }
}

// The screenshot mode: save the window once the chosen view is shown; fail on an error or
// when nothing was shown after a minute.
void takeScreenshotWhenShown(MainWindow& window, const Options& options)
{
    saveWhenShown(window, options, screenshotSaver(window, options.screenshot));
    QObject::connect(&window, &MainWindow::jobFailed, &window, [] { QApplication::exit(1); });
    QTimer::singleShot(60000, &window, [] {
        std::fprintf(stderr, "quantscope: nothing to capture after 60 s\n");
        QApplication::exit(1);
    });
}

// --help and --version answer without a display (a terminal over ssh, help2man at build time):
// they need no QApplication, whose platform plugin aborts when there is no X server.
bool asksForHelpOrVersion(int argc, char* argv[])
{
    for (int i = 1; i < argc; ++i) {
        const std::string_view a(argv[i]);
        if (a == "--")
            break;
        if (a == "-h" || a == "--help" || a == "-?" || a == "--help-all" || a == "-v" || a == "--version")
            return true;
    }
    return false;
}

// The package's names: settings in ~/.config/quantscope/, the cache in ~/.cache/quantscope/.
void setApplicationNames()
{
    QCoreApplication::setApplicationName(QStringLiteral("quantscope"));
    QCoreApplication::setOrganizationName(QStringLiteral("quantscope"));
    QCoreApplication::setApplicationVersion(QStringLiteral(QUANTSCOPE_VERSION));
}

} // namespace

int main(int argc, char* argv[])
{
    if (asksForHelpOrVersion(argc, argv)) {
        QCoreApplication core(argc, argv);
        setApplicationNames();
        parseOptions(core); // prints the help or the version and exits
        return 0;
    }
    QApplication app(argc, argv);
    qs::useIntraOpThreads();
    setApplicationNames();
    QGuiApplication::setApplicationDisplayName(QStringLiteral("QuantScope"));
    QGuiApplication::setDesktopFileName(QStringLiteral("io.github.quantscope.QuantScope"));
    QApplication::setWindowIcon(QIcon(QStringLiteral(":/icons/quantscope.png")));
    const Options options = parseOptions(app);

    MainWindow window;
    window.show();
    if (options.scheme) {
        if (!window.schemePanel()->selectPreset(*options.scheme)) {
            std::fprintf(stderr, "quantscope: no scheme preset named '%s'\n", qPrintable(*options.scheme));
            return 2;
        }
        window.schemeDock()->show();
    }
    applyKeepRulesOnOpen(window, options.keepPatterns, options.presets);
    selectModuleOnOpen(window, options.module);
    if (!isKnownView(options.view)) {
        std::fprintf(stderr, "quantscope: unknown view '%s'\n", qPrintable(options.view));
        return 2;
    }
    showViewOnOpen(window, options);
    if (!options.screenshot.isEmpty())
        takeScreenshotWhenShown(window, options);

    if (options.demo)
        window.openDemo();
    else if (!options.checkpoint.isEmpty())
        window.openPath(options.checkpoint);
    return QApplication::exec();
}
