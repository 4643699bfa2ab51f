// SPDX-License-Identifier: GPL-3.0-or-later
// `quantscope-cli plot PATH --tensor NAME --kind histogram|codes|heatmap|channels -o FILE`:
// the GUI's analysis plots drawn offscreen to PNG, SVG or PDF, for scripts and reports.
#include "arguments.h"
#include "channel_plot.h"
#include "code_histogram_plot.h"
#include "commands.h"
#include "error.h"
#include "heatmap_view.h"
#include "histogram_plot.h"
#include "io/checkpoint.h"
#include "model/module_tree.h"
#include "plot_export.h"
#include "quant/quant_scheme.h"
#include "scheme_option.h"
#include "stats/heatmap_sampler.h"
#include "stats/tensor_analysis.h"
#include "stats/tensor_comparison.h"

#include <QApplication>

#include <cstdio>
#include <optional>

namespace qs::cli {
namespace {

QString q(const std::string& s)
{
    return QString::fromStdString(s);
}

std::string suffixOf(const std::string& path)
{
    const auto dot = path.rfind('.');
    std::string s = dot == std::string::npos ? std::string() : path.substr(dot + 1);
    for (char& c : s)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

std::string plotUsage()
{
    return "quantscope-cli plot PATH --tensor NAME --kind KIND -o FILE.png|svg|pdf [--scheme PRESET]\n"
           "                    [--width W] [--height H] [--bins N] [--linear] [--field values|error]\n"
           "                    [--reduction absmax|mean] [--compare OTHER]\n"
           "  Draw one of the GUI's analysis plots to a file (no display needed).\n"
           "  --kind histogram  float values, and the dequantized ones with --scheme (log counts unless\n"
           "                    --linear); with --compare, the same tensor of OTHER overlaid\n"
           "  --kind codes      how often each int/fp8 code is used, saturation marked (needs --scheme)\n"
           "  --kind heatmap    the weight matrix reduced to the image (block abs-max or mean); --field\n"
           "                    error draws float minus dequantized (needs --scheme)\n"
           "  --kind channels   per output channel: the std of the int codes against the threshold 20\n"
           "                    (needs --scheme), or min/max/mean ranges with --field values\n"
           "  --width, --height image size in pixels (default 1000 x 600)\n";
}

int runPlot(const std::vector<std::string>& raw)
{
    OptionSpec spec;
    spec.flags = { "--linear" };
    spec.values = { "--tensor", "--kind", "--output", "--scheme", "--width", "--height", "--bins", "--field",
        "--reduction", "--compare" };
    spec.aliases = { { "-o", "--output" } };
    const Arguments args = parseArguments("plot", raw, spec);
    if (args.positional.size() != 1)
        throw UsageError("'plot' needs exactly one checkpoint path");
    const std::string tensor = args.value("--tensor");
    const std::string kind = args.value("--kind");
    const std::string output = args.value("--output");
    if (tensor.empty() || kind.empty() || output.empty())
        throw UsageError("plot needs --tensor NAME, --kind histogram|codes|heatmap|channels and -o FILE");
    if (kind != "histogram" && kind != "codes" && kind != "heatmap" && kind != "channels")
        throw UsageError("--kind: '" + kind + "'; kinds: histogram, codes, heatmap, channels");
    const std::string suffix = suffixOf(output);
    if (suffix != "png" && suffix != "svg" && suffix != "pdf")
        throw UsageError("-o: '" + output + "' must end in .png, .svg or .pdf");
    const std::optional<QuantScheme> scheme = schemeOption(args);
    const std::string field = args.value("--field", kind == "channels" && !scheme ? "values" : "");
    if (!field.empty() && field != "values" && field != "error")
        throw UsageError("--field: '" + field + "'; fields: values, error");
    const std::string reduction = args.value("--reduction", "absmax");
    if (reduction != "absmax" && reduction != "mean")
        throw UsageError("--reduction: '" + reduction + "'; reductions: absmax, mean");
    if ((kind == "codes" || field == "error" || (kind == "channels" && field != "values")) && !scheme)
        throw UsageError("--kind " + kind + (field == "error" ? " --field error" : "")
            + " needs --scheme PRESET (the quantization to draw)");
    if (!args.value("--compare").empty() && kind != "histogram")
        throw UsageError("--compare draws two histograms: it goes with --kind histogram");
    const int width = static_cast<int>(args.integer("--width", 1000, 200, 10000));
    const int height = static_cast<int>(args.integer("--height", 600, 150, 10000));
    const int bins = static_cast<int>(args.integer("--bins", 200, 1, 100000));

    // A plot needs a QApplication but no display.
    if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM"))
        qputenv("QT_QPA_PLATFORM", "offscreen");
    int argc = 1;
    char name[] = "quantscope-cli";
    char* argv[] = { name, nullptr };
    QApplication app(argc, argv);

    const Checkpoint checkpoint = Checkpoint::open(args.positional.front());
    const ModuleTree tree = ModuleTree::build(checkpoint.tensors(), checkpoint.modelType());
    if (!checkpoint.find(tensor))
        throw UsageError("no tensor named '" + tensor + "' in " + args.positional.front());
    const TensorInfo info = checkpoint.info(tensor);
    const QString title = q(tensor);

    QCustomPlot* plot = nullptr;
    std::unique_ptr<QWidget> widget;
    if (kind == "heatmap") {
        HeatmapRequest request;
        request.outCols = std::max(16, width - 220);
        request.outRows = std::max(16, height - 140);
        request.reduction = reduction == "mean" ? HeatmapReduction::Mean : HeatmapReduction::AbsMax;
        request.field = field == "error" ? HeatmapField::Error : HeatmapField::Values;
        const Heatmap h = heatmapOfTensor(checkpoint, tensor, request, scheme ? *scheme : QuantScheme {});
        auto* view = new ui::HeatmapView;
        widget.reset(view);
        view->setErrorAvailable(scheme.has_value());
        view->setReduction(request.reduction);
        view->setField(request.field);
        view->resize(width, height);
        view->setHeatmap(
            request.field == HeatmapField::Error ? title + QStringLiteral(" (error, %1)").arg(q(scheme->name)) : title,
            h);
        plot = view->plot();
    } else {
        AnalysisOptions options;
        options.bins = bins;
        options.quantize = scheme.has_value();
        options.quantizeAny = true;
        if (scheme)
            options.scheme = *scheme;
        const TensorAnalysis a = analyzeTensor(checkpoint, tree, tensor, options);
        if (kind == "histogram") {
            auto* view = new ui::HistogramPlot;
            widget.reset(view);
            view->resize(width, height);
            view->setLogScale(!args.has("--linear"));
            if (!args.value("--compare").empty()) {
                const Checkpoint other = Checkpoint::open(args.value("--compare"));
                std::string otherName = tensor;
                if (!other.find(otherName) && other.find(tensor + "_packed"))
                    otherName = tensor + "_packed";
                if (!other.find(otherName))
                    throw UsageError("no tensor named '" + tensor + "' in " + args.value("--compare"));
                const TensorComparison c = compareTensors(checkpoint, tensor, other, otherName, bins);
                view->setHistograms(title, c.histogramA, &c.histogramB, q("A: " + args.positional.front()),
                    q("B: " + args.value("--compare")));
            } else {
                view->setHistograms(title, a.original, a.quantized ? &a.dequantized : nullptr,
                    a.storedQuantization.empty() ? QString() : q("dequantized (stored " + a.storedQuantization + ")"),
                    q("dequantized (" + a.schemeName + ")"));
                view->setClipLines(a.clipLines);
            }
            plot = view->plot();
        } else if (kind == "codes") {
            if (!a.quantized)
                throw UsageError("'" + tensor + "' is not a floating tensor that can be quantized");
            auto* view = new ui::CodeHistogramPlot;
            widget.reset(view);
            view->resize(width, height);
            view->setLogScale(!args.has("--linear"));
            view->setCodes(title + QStringLiteral(" (%1)").arg(q(a.schemeName)), a.codes);
            plot = view->plot();
        } else {
            auto* view = new ui::ChannelPlot;
            widget.reset(view);
            view->resize(width, height);
            view->setMode(field == "values" ? ui::ChannelPlot::Mode::Ranges : ui::ChannelPlot::Mode::CodeStd);
            view->setChannels(a.quantized ? title + QStringLiteral(" (%1)").arg(q(a.schemeName)) : title, a.channels);
            plot = view->plot();
        }
    }
    QString error;
    if (!ui::savePlot(plot, q(output), width, height, &error))
        throw IoError(error.toStdString(), ErrorContext { output, info.name, {} });
    std::printf("wrote %s (%s of %s, %d x %d)\n", output.c_str(), kind.c_str(), tensor.c_str(), width, height);
    return 0;
}

} // namespace

extern const Command plotCommand { "plot", "draw a histogram, code histogram, heatmap or channel plot to PNG/SVG/PDF",
    plotUsage, runPlot };

} // namespace qs::cli
