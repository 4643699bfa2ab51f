// SPDX-License-Identifier: GPL-3.0-or-later
// `quantscope-cli plot PATH --tensor NAME --kind histogram|codes|heatmap|channels -o FILE`:
// the GUI's analysis plots drawn offscreen to PNG, SVG or PDF, for scripts and reports.
#include "analysis_options.h"
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
#include "plot_images.h"
#include "stats/plot_targets.h"
#include "terminal_progress.h"
#include "quant/quant_scheme.h"
#include "scheme_option.h"
#include "stats/heatmap_sampler.h"
#include "stats/tensor_analysis.h"
#include "stats/tensor_comparison.h"

#include <QApplication>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>

namespace qs::cli {
namespace {

namespace fs = std::filesystem;

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
           "quantscope-cli plot PATH --all --kind histogram|heatmap -o FOLDER [--filter PATTERN] [--scheme PRESET]\n"
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
           "  --width, --height image size in pixels (default 1000 x 600)\n"
           "  --all             one PNG per weight and stored activation into FOLDER (created), named as\n"
           "                    the nanoGPT fork's visualize.py names them without its timestamp:\n"
           "                    <tensor>_histogram.png, or <tensor>_matrix.png for --kind heatmap (the first\n"
           "                    2-D slice: batch 0, head 0 of an activation); values are dequantized, with\n"
           "                    the stored codes and --scheme's re-quantization overlaid on histograms.\n"
           "                    Scales, zero points, _step counters and causal masks are left out.\n"
           "  --filter PATTERN  with --all: re:REGEX (searched), a glob with * or ?, or a substring\n";
}

// What `plot` draws: its options, checked before the model loads.
struct PlotRequest
{
    std::string path;
    std::string tensor;
    std::string kind; // histogram, codes, heatmap or channels
    std::string output;
    std::optional<QuantScheme> scheme;
    std::string field; // values, error, or empty
    std::string reduction; // absmax or mean
    std::string compare; // the other checkpoint of a histogram, or empty
    bool all = false; // every weight and stored activation into the folder `output`
    std::string filter; // with `all`
    int width = 0;
    int height = 0;
    int bins = 0;
    bool linear = false;
};

PlotRequest plotRequest(const std::vector<std::string>& raw)
{
    OptionSpec spec;
    spec.flags = { "--linear", "--all" };
    spec.values = { "--tensor", "--kind", "--output", "--scheme", "--width", "--height", "--bins", "--field",
        "--reduction", "--compare", "--filter" };
    spec.aliases = { { "-o", "--output" } };
    const Arguments args = parseArguments("plot", raw, spec);
    if (args.positional.size() != 1)
        throw UsageError("'plot' needs exactly one checkpoint path");
    PlotRequest r;
    r.path = args.positional.front();
    r.tensor = args.value("--tensor");
    r.kind = args.value("--kind");
    r.output = args.value("--output");
    r.all = args.has("--all");
    r.filter = args.value("--filter");
    if (r.all) {
        if (!r.tensor.empty() || !args.value("--compare").empty() || !args.value("--field").empty())
            throw UsageError("--all draws every tensor: it takes neither --tensor, --compare nor --field");
        if (r.kind != "histogram" && r.kind != "heatmap")
            throw UsageError("--all needs --kind histogram or --kind heatmap");
        if (r.output.empty())
            throw UsageError("--all needs -o FOLDER");
    } else {
        if (!r.filter.empty())
            throw UsageError("--filter goes with --all");
        if (r.tensor.empty() || r.kind.empty() || r.output.empty())
            throw UsageError("plot needs --tensor NAME, --kind histogram|codes|heatmap|channels and -o FILE");
        if (r.kind != "histogram" && r.kind != "codes" && r.kind != "heatmap" && r.kind != "channels")
            throw UsageError("--kind: '" + r.kind + "'; kinds: histogram, codes, heatmap, channels");
        const std::string suffix = suffixOf(r.output);
        if (suffix != "png" && suffix != "svg" && suffix != "pdf")
            throw UsageError("-o: '" + r.output + "' must end in .png, .svg or .pdf");
    }
    r.scheme = schemeOption(args);
    r.field = args.value("--field", r.kind == "channels" && !r.scheme ? "values" : "");
    if (!r.field.empty() && r.field != "values" && r.field != "error")
        throw UsageError("--field: '" + r.field + "'; fields: values, error");
    r.reduction = args.value("--reduction", "absmax");
    if (r.reduction != "absmax" && r.reduction != "mean")
        throw UsageError("--reduction: '" + r.reduction + "'; reductions: absmax, mean");
    if ((r.kind == "codes" || r.field == "error" || (r.kind == "channels" && r.field != "values")) && !r.scheme)
        throw UsageError("--kind " + r.kind + (r.field == "error" ? " --field error" : "")
            + " needs --scheme PRESET (the quantization to draw)");
    r.compare = args.value("--compare");
    if (!r.compare.empty() && r.kind != "histogram")
        throw UsageError("--compare draws two histograms: it goes with --kind histogram");
    r.width = static_cast<int>(args.integer("--width", 1000, 200, 10000));
    r.height = static_cast<int>(args.integer("--height", 600, 150, 10000));
    r.bins = static_cast<int>(args.integer("--bins", 200, 1, 100000));
    r.linear = args.has("--linear");
    return r;
}

// A view of the GUI, sized for the image, and the plot inside it that is saved.
struct PlotView
{
    std::unique_ptr<QWidget> widget;
    QCustomPlot* plot = nullptr;
};

template <typename View> View* addView(PlotView& out, const PlotRequest& r)
{
    auto* view = new View;
    out.widget.reset(view);
    view->resize(r.width, r.height);
    return view;
}

PlotView heatmapView(const Checkpoint& checkpoint, const ModuleTree& tree, const PlotRequest& r)
{
    HeatmapRequest request;
    request.outCols = std::max(16, r.width - 220);
    request.outRows = std::max(16, r.height - 140);
    request.reduction = r.reduction == "mean" ? HeatmapReduction::Mean : HeatmapReduction::AbsMax;
    request.field = r.field == "error" ? HeatmapField::Error : HeatmapField::Values;
    request.transposed = isTransposedWeight(tree, r.tensor);
    const Heatmap h = heatmapOfTensor(checkpoint, r.tensor, request, r.scheme ? *r.scheme : QuantScheme {});
    PlotView out;
    auto* view = addView<ui::HeatmapView>(out, r);
    view->setErrorAvailable(r.scheme.has_value());
    view->setReduction(request.reduction);
    view->setField(request.field);
    const QString title = q(r.tensor);
    view->setHeatmap(
        request.field == HeatmapField::Error ? title + QStringLiteral(" (error, %1)").arg(q(r.scheme->name)) : title,
        h);
    out.plot = view->plot();
    return out;
}

PlotView histogramView(const Checkpoint& checkpoint, const TensorAnalysis& a, const PlotRequest& r)
{
    PlotView out;
    auto* view = addView<ui::HistogramPlot>(out, r);
    view->setLogScale(!r.linear);
    const QString title = q(r.tensor);
    if (!r.compare.empty()) {
        const Checkpoint other = Checkpoint::open(r.compare);
        const std::string otherName = comparedTensorName(other, r.tensor);
        if (!other.find(otherName))
            throw UsageError("no tensor named '" + r.tensor + "' in " + r.compare);
        const TensorComparison c = compareTensors(checkpoint, r.tensor, other, otherName, r.bins);
        view->setHistograms(title, c.histogramA, &c.histogramB, q("A: " + r.path), q("B: " + r.compare));
    } else {
        view->setHistograms(title, a.original, a.quantized ? &a.dequantized : nullptr,
            a.storedQuantization.empty() ? QString() : q("dequantized (stored " + a.storedQuantization + ")"),
            q("dequantized (" + a.schemeName + ")"));
        if (!a.storedCodes.empty())
            view->setStoredHistogram(&a.storedDequantized, q("stored codes (" + a.storedScheme + ")"));
        view->setClipLines(a.clipLines);
    }
    out.plot = view->plot();
    return out;
}

// The histogram, code histogram or channel plot of the tensor's analysis.
PlotView analysisView(const Checkpoint& checkpoint, const ModuleTree& tree, const PlotRequest& r)
{
    const TensorAnalysis a = analyzeTensor(checkpoint, tree, r.tensor, analysisOptions(r.scheme, r.bins, true));
    if (r.kind == "histogram")
        return histogramView(checkpoint, a, r);
    const QString title = q(r.tensor);
    PlotView out;
    if (r.kind == "codes") {
        if (!a.quantized)
            throw UsageError("'" + r.tensor + "' is not a floating tensor that can be quantized");
        auto* view = addView<ui::CodeHistogramPlot>(out, r);
        view->setLogScale(!r.linear);
        view->setCodes(title + QStringLiteral(" (%1)").arg(q(a.schemeName)), a.codes);
        out.plot = view->plot();
    } else {
        auto* view = addView<ui::ChannelPlot>(out, r);
        view->setMode(r.field == "values" ? ui::ChannelPlot::Mode::Ranges : ui::ChannelPlot::Mode::CodeStd);
        view->setChannels(a.quantized ? title + QStringLiteral(" (%1)").arg(q(a.schemeName)) : title, a.channels);
        out.plot = view->plot();
    }
    return out;
}

// --all: one image per tensor of plotTargets() into the folder, with a progress line.
int runPlotAll(const Checkpoint& checkpoint, const ModuleTree& tree, const PlotRequest& r)
{
    const std::vector<std::string> targets = plotTargets(checkpoint, r.filter);
    if (targets.empty())
        throw UsageError("no tensor to draw" + (r.filter.empty() ? std::string() : " matches --filter '" + r.filter + "'"));
    std::error_code ec;
    fs::create_directories(r.output, ec);
    if (ec || !fs::is_directory(r.output))
        throw IoError("cannot create the folder: " + ec.message(), ErrorContext { r.output, {}, {} });
    TerminalProgress progress;
    ProgressUpdate update;
    update.stepsTotal = static_cast<std::int64_t>(targets.size());
    for (const std::string& tensor : targets) {
        progress.checkCancelled();
        update.current = tensor;
        progress.report(update);
        const QString path = q((fs::path(r.output) / plotFileName(tensor, r.kind)).string());
        QString error;
        bool saved = false;
        if (r.kind == "heatmap") {
            HeatmapRequest request;
            request.outCols = std::max(16, r.width - 220);
            request.outRows = std::max(16, r.height - 140);
            request.reduction = r.reduction == "mean" ? HeatmapReduction::Mean : HeatmapReduction::AbsMax;
            request.transposed = isTransposedWeight(tree, tensor);
            const Heatmap h = heatmapOfFirstSlice(checkpoint, tensor, request);
            const TensorInfo& info = checkpoint.info(tensor);
            const QString title = q(tensor + firstSliceNote(info.shape));
            saved = ui::saveMatrixImage(path, title, h, r.width, r.height, &error);
        } else {
            const AnalysisOptions options = analysisOptions(r.scheme, r.bins, false); // weights only
            const TensorAnalysis a = analyzeTensor(checkpoint, tree, tensor, options);
            saved = ui::saveHistogramImage(path, a, r.width, r.height, &error);
        }
        if (!saved)
            throw IoError(error.toStdString(), ErrorContext { path.toStdString(), tensor, {} });
        checkpoint.release(tensor);
        ++update.stepsDone;
    }
    progress.finish();
    std::printf("wrote %zu %s images to %s\n", targets.size(), r.kind == "heatmap" ? "matrix" : "histogram",
        r.output.c_str());
    return 0;
}

int runPlot(const std::vector<std::string>& raw)
{
    const PlotRequest r = plotRequest(raw);

    // A plot needs a QApplication but no display.
    if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM"))
        qputenv("QT_QPA_PLATFORM", "offscreen");
    int argc = 1;
    char name[] = "quantscope-cli";
    char* argv[] = { name, nullptr };
    QApplication app(argc, argv);

    const Checkpoint checkpoint = Checkpoint::open(r.path);
    const ModuleTree tree = ModuleTree::build(checkpoint.tensors(), checkpoint.modelType());
    if (r.all)
        return runPlotAll(checkpoint, tree, r);
    if (!checkpoint.find(r.tensor))
        throw UsageError("no tensor named '" + r.tensor + "' in " + r.path);
    const PlotView view = r.kind == "heatmap" ? heatmapView(checkpoint, tree, r) : analysisView(checkpoint, tree, r);
    QString error;
    if (!ui::savePlot(view.plot, q(r.output), r.width, r.height, &error))
        throw IoError(error.toStdString(), ErrorContext { r.output, r.tensor, {} });
    std::printf(
        "wrote %s (%s of %s, %d x %d)\n", r.output.c_str(), r.kind.c_str(), r.tensor.c_str(), r.width, r.height);
    return 0;
}

} // namespace

extern const Command plotCommand { "plot", "draw a histogram, code histogram, heatmap or channel plot to PNG/SVG/PDF",
    plotUsage, runPlot };

} // namespace qs::cli
