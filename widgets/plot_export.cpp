// SPDX-License-Identifier: GPL-3.0-or-later
#include "plot_export.h"

#include "qcustomplot_include.h"

#include <QBoxLayout>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QMessageBox>
#include <QRandomGenerator>
#include <QRegularExpression>
#include <QSaveFile>
#include <QStandardPaths>
#include <QSvgGenerator>
#include <QToolButton>

namespace qs::ui {
namespace {

void setError(QString* error, const QString& message)
{
    if (error)
        *error = message;
}

// The text of the first title element in the plot's layout, if any.
QString plotTitle(QCustomPlot* plot)
{
    const auto elements = plot->plotLayout()->elements(true);
    for (auto* element : elements) {
        if (auto* text = qobject_cast<QCPTextElement*>(element); text && !text->text().isEmpty())
            return text->text();
    }
    return QString();
}

bool saveSvg(QCustomPlot* plot, const QString& path, int width, int height, QString* error)
{
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly)) {
        setError(error, QObject::tr("Cannot write %1: %2").arg(QDir::toNativeSeparators(path), file.errorString()));
        return false;
    }
    QSvgGenerator generator;
    generator.setOutputDevice(&file);
    generator.setSize(QSize(width, height));
    generator.setViewBox(QRect(0, 0, width, height));
    const QString title = plotTitle(plot);
    generator.setTitle(title.isEmpty() ? QFileInfo(path).completeBaseName() : title);
    generator.setDescription(QStringLiteral("QuantScope plot"));
    QCPPainter painter;
    if (!painter.begin(&generator)) {
        file.cancelWriting();
        setError(error, QObject::tr("Cannot start drawing the SVG file %1").arg(QDir::toNativeSeparators(path)));
        return false;
    }
    painter.setMode(QCPPainter::pmVectorized);
    painter.setMode(QCPPainter::pmNoCaching);
    plot->toPainter(&painter, width, height);
    painter.end();
    if (!file.commit()) {
        setError(error, QObject::tr("Cannot write %1: %2").arg(QDir::toNativeSeparators(path), file.errorString()));
        return false;
    }
    return true;
}

// PNG and PDF: QCustomPlot writes the file itself, so it goes to an unused name next to the
// target (created like any new file, so with the user's umask) and is renamed into place when
// complete; a failure removes it.
bool saveViaTemporary(
    QCustomPlot* plot, const QString& path, const QString& suffix, int width, int height, QString* error)
{
    const QFileInfo target(path);
    QString temporaryName;
    for (int attempt = 0; attempt < 16 && temporaryName.isEmpty(); ++attempt) {
        const QString candidate
            = target.absoluteDir().filePath(QStringLiteral(".%1.%2.part.%3")
                                                .arg(target.completeBaseName())
                                                .arg(QRandomGenerator::global()->generate(), 8, 16, QLatin1Char('0'))
                                                .arg(suffix));
        if (!QFileInfo::exists(candidate))
            temporaryName = candidate;
    }
    bool written = false;
    if (!temporaryName.isEmpty() && suffix == QLatin1String("png")) {
        written = plot->savePng(temporaryName, width, height);
    } else if (!temporaryName.isEmpty()) {
        const QString title = plotTitle(plot);
        written = plot->savePdf(temporaryName, width, height, QCP::epAllowCosmetic, QStringLiteral("QuantScope"),
            title.isEmpty() ? target.completeBaseName() : title);
    }
    auto fail = [&](const QString& message) {
        if (!temporaryName.isEmpty())
            QFile::remove(temporaryName);
        setError(error, message);
        return false;
    };
    if (!written || QFileInfo(temporaryName).size() == 0)
        return fail(QObject::tr("Cannot write %1").arg(QDir::toNativeSeparators(path)));
    if (QFileInfo::exists(path) && !QFile::remove(path))
        return fail(QObject::tr("Cannot replace %1").arg(QDir::toNativeSeparators(path)));
    if (!QFile::rename(temporaryName, path))
        return fail(QObject::tr("Cannot rename the finished file to %1").arg(QDir::toNativeSeparators(path)));
    return true;
}

} // namespace

QString plotFileFilter()
{
    return QObject::tr("PNG image (*.png);;SVG drawing (*.svg);;PDF document (*.pdf)");
}

bool savePlot(QCustomPlot* plot, const QString& path, int width, int height, QString* error)
{
    if (!plot) {
        setError(error, QObject::tr("There is no plot to save"));
        return false;
    }
    const QString suffix = QFileInfo(path).suffix().toLower();
    if (suffix != QLatin1String("png") && suffix != QLatin1String("svg") && suffix != QLatin1String("pdf")) {
        setError(error,
            suffix.isEmpty() ? QObject::tr("The file name %1 has no suffix: use .png, .svg or .pdf")
                                   .arg(QDir::toNativeSeparators(path))
                             : QObject::tr("Cannot save a plot as \".%1\": use .png, .svg or .pdf").arg(suffix));
        return false;
    }
    if (width <= 0 || height <= 0) {
        width = plot->width();
        height = plot->height();
    }
    if (width <= 0 || height <= 0) {
        setError(error, QObject::tr("The plot has no size to save"));
        return false;
    }
    if (suffix == QLatin1String("svg"))
        return saveSvg(plot, path, width, height, error);
    return saveViaTemporary(plot, path, suffix, width, height, error);
}

QString plotFileBaseName(const QString& title)
{
    QString name = title.trimmed();
    name.replace(QRegularExpression(QStringLiteral("[^A-Za-z0-9._-]+")), QStringLiteral("_"));
    while (name.startsWith(QLatin1Char('.')) || name.startsWith(QLatin1Char('_')))
        name.remove(0, 1);
    while (name.endsWith(QLatin1Char('_')))
        name.chop(1);
    return name.isEmpty() ? QStringLiteral("plot") : name.left(120);
}

QToolButton* addExportButton(QBoxLayout* layout, QCustomPlot* plot, std::function<QString()> suggestedTitle)
{
    auto* button = new QToolButton(plot->parentWidget());
    button->setText(QObject::tr("Export…"));
    button->setToolTip(QObject::tr("Save this plot as a PNG image, an SVG drawing or a PDF document"));
    layout->addWidget(button);
    QObject::connect(button, &QToolButton::clicked, plot, [button, plot, suggestedTitle = std::move(suggestedTitle)] {
        QString folder = button->property("qsLastFolder").toString();
        if (folder.isEmpty())
            folder = QStandardPaths::writableLocation(QStandardPaths::PicturesLocation);
        if (folder.isEmpty())
            folder = QDir::homePath();
        const QString base = plotFileBaseName(suggestedTitle ? suggestedTitle() : QString());
        QString filter;
        QString path = QFileDialog::getSaveFileName(button->window(), QObject::tr("Export plot"),
            QDir(folder).filePath(base + QStringLiteral(".png")), plotFileFilter(), &filter);
        if (path.isEmpty())
            return;
        if (QFileInfo(path).suffix().isEmpty()) {
            const QRegularExpressionMatch m = QRegularExpression(QStringLiteral("\\*(\\.\\w+)")).match(filter);
            path += m.hasMatch() ? m.captured(1) : QStringLiteral(".png");
        }
        button->setProperty("qsLastFolder", QFileInfo(path).absolutePath());
        QString error;
        if (!savePlot(plot, path, 0, 0, &error))
            QMessageBox::warning(button->window(), QObject::tr("Export plot"), error);
    });
    return button;
}

} // namespace qs::ui
