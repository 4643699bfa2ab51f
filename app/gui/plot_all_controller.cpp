// SPDX-License-Identifier: GPL-3.0-or-later
#include "plot_all_controller.h"

#include "error.h"
#include "job_controller.h"
#include "jobs/progress.h"
#include "plot_images.h"
#include "stats/heatmap_sampler.h"
#include "stats/plot_targets.h"
#include "stats/tensor_analysis.h"

#include <QComboBox>
#include <QDialog>
#include <QDialogButtonBox>
#include <QDir>
#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLineEdit>
#include <QMutex>
#include <QPushButton>
#include <QSemaphore>

#include <filesystem>
#include <memory>

namespace qs::app {
namespace {

constexpr int kWidth = 1000;
constexpr int kHeight = 600;
constexpr int kInFlight = 4; // images measured but not yet drawn

// What the worker and the GUI thread share while images are drawn.
struct Drawing
{
    QSemaphore slots { kInFlight };
    QMutex mutex;
    QString error;
    int written = 0;
};

// Takes a drawing slot, polling for cancellation so that a closing window never waits forever.
void takeSlot(Drawing& d, Progress& progress, int count = 1)
{
    while (!d.slots.tryAcquire(count, 100))
        progress.checkCancelled();
}

void throwIfFailed(Drawing& d)
{
    const QMutexLocker lock(&d.mutex);
    if (!d.error.isEmpty())
        throw IoError(d.error.toStdString());
}

} // namespace

PlotAllController::PlotAllController(JobContext context, QWidget* dialogParent, QObject* parent)
    : QObject(parent)
    , m_context(std::move(context))
    , m_dialogParent(dialogParent)
{ }

void PlotAllController::showDialog()
{
    if (!m_context.model())
        return;
    QDialog dialog(m_dialogParent);
    dialog.setWindowTitle(tr("Export All Plots"));
    auto* folder = new QLineEdit(&dialog);
    folder->setText(QDir::home().filePath(QStringLiteral("quantscope-plots")));
    auto* browse = new QPushButton(tr("Browse…"), &dialog);
    connect(browse, &QPushButton::clicked, &dialog, [&dialog, folder] {
        const QString dir = QFileDialog::getExistingDirectory(&dialog, tr("Folder for the images"), folder->text());
        if (!dir.isEmpty())
            folder->setText(dir);
    });
    auto* folderRow = new QHBoxLayout;
    folderRow->addWidget(folder, 1);
    folderRow->addWidget(browse);
    auto* kind = new QComboBox(&dialog);
    kind->addItem(tr("Histograms (<tensor>_histogram.png)"), QStringLiteral("histogram"));
    kind->addItem(tr("Matrix heatmaps (<tensor>_matrix.png)"), QStringLiteral("heatmap"));
    auto* filter = new QLineEdit(&dialog);
    filter->setPlaceholderText(tr("all tensors; or a substring, a glob (*, ?) or re:REGEX"));
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, &dialog);
    buttons->button(QDialogButtonBox::Ok)->setText(tr("Export"));
    connect(buttons, &QDialogButtonBox::accepted, &dialog, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, &dialog, &QDialog::reject);
    auto* form = new QFormLayout(&dialog);
    form->addRow(tr("Folder:"), folderRow);
    form->addRow(tr("Images:"), kind);
    form->addRow(tr("Tensors:"), filter);
    form->addRow(buttons);
    dialog.resize(560, dialog.sizeHint().height());
    if (dialog.exec() == QDialog::Accepted)
        exportAll(folder->text(), kind->currentData().toString(), filter->text());
}

void PlotAllController::exportAll(const QString& folder, const QString& kind, const QString& filter)
{
    const LoadedModelPtr model = m_context.model();
    if (!model)
        return;
    if (folder.isEmpty()) {
        Q_EMIT error(tr("Export All Plots"), tr("Choose a folder for the images."));
        return;
    }
    const QuantScheme scheme = m_context.scheme();
    auto drawing = std::make_shared<Drawing>();
    const std::filesystem::path dir(folder.toStdString());
    const std::string kindName = kind.toStdString();
    const std::string pattern = filter.toStdString();
    m_context.jobs->start(
        tr("Exporting all plots"),
        [this, model, drawing, dir, kindName, pattern, scheme](Progress& progress) {
            const std::vector<std::string> targets = plotTargets(model->checkpoint, pattern);
            if (targets.empty())
                throw UsageError("no tensor to draw" + (pattern.empty() ? std::string() : " matches '" + pattern + "'"));
            std::error_code ec;
            std::filesystem::create_directories(dir, ec);
            if (ec || !std::filesystem::is_directory(dir))
                throw IoError("cannot create the folder: " + ec.message(), ErrorContext { dir.string(), {}, {} });
            ProgressUpdate update;
            update.stepsTotal = static_cast<std::int64_t>(targets.size());
            AnalysisOptions options;
            options.scheme = scheme;
            options.cancel = progress.token();
            for (const std::string& tensor : targets) {
                update.current = tensor;
                progress.report(update);
                takeSlot(*drawing, progress);
                throwIfFailed(*drawing);
                const QString path = QString::fromStdString((dir / plotFileName(tensor, kindName)).string());
                std::function<bool(QString*)> draw;
                if (kindName == "heatmap") {
                    HeatmapRequest request;
                    request.outCols = kWidth - 220;
                    request.outRows = kHeight - 140;
                    request.transposed = isTransposedWeight(model->tree, tensor);
                    auto h = std::make_shared<Heatmap>(heatmapOfFirstSlice(model->checkpoint, tensor, request));
                    const QString title = QString::fromStdString(
                        tensor + firstSliceNote(model->checkpoint.info(tensor).shape));
                    draw = [path, title, h](QString* e) { return ui::saveMatrixImage(path, title, *h, kWidth, kHeight, e); };
                } else {
                    auto a = std::make_shared<TensorAnalysis>(analyzeTensor(model->checkpoint, model->tree, tensor, options));
                    draw = [path, a](QString* e) { return ui::saveHistogramImage(path, *a, kWidth, kHeight, e); };
                }
                model->checkpoint.release(tensor);
                QMetaObject::invokeMethod(
                    this,
                    [drawing, draw] {
                        QString e;
                        const bool ok = draw(&e);
                        {
                            const QMutexLocker lock(&drawing->mutex);
                            if (ok)
                                ++drawing->written;
                            else if (drawing->error.isEmpty())
                                drawing->error = e;
                        }
                        drawing->slots.release();
                    },
                    Qt::QueuedConnection);
                ++update.stepsDone;
            }
            takeSlot(*drawing, progress, kInFlight); // every image drawn
            drawing->slots.release(kInFlight);
            throwIfFailed(*drawing);
        },
        [this, drawing, folder] { Q_EMIT exported(drawing->written, folder); });
}

} // namespace qs::app
