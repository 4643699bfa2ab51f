// SPDX-License-Identifier: GPL-3.0-or-later
#include "csv_export.h"

#include <QAbstractItemModel>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QStandardPaths>
#include <QWidget>
#include <QObject>
#include <QSaveFile>

namespace qs::ui {
namespace {

QString cellText(const QVariant& value)
{
    switch (value.typeId()) {
    case QMetaType::Double:
        return QString::number(value.toDouble(), 'g', 10);
    case QMetaType::Float:
        return QString::number(static_cast<double>(value.toFloat()), 'g', 10);
    case QMetaType::Bool:
        return value.toBool() ? QStringLiteral("true") : QStringLiteral("false");
    default:
        return value.isValid() ? value.toString() : QString();
    }
}

} // namespace

QString askForCsvFile(QWidget* parent, const QString& title, const QString& fileName)
{
    QString folder = parent->property("qsLastFolder").toString();
    if (folder.isEmpty())
        folder = QStandardPaths::writableLocation(QStandardPaths::DocumentsLocation);
    if (folder.isEmpty())
        folder = QDir::homePath();
    QString path = QFileDialog::getSaveFileName(parent, title, QDir(folder).filePath(fileName), csvFileFilter());
    if (path.isEmpty())
        return {};
    if (QFileInfo(path).suffix().isEmpty())
        path += QStringLiteral(".csv");
    parent->setProperty("qsLastFolder", QFileInfo(path).absolutePath());
    return path;
}

QString csvFileFilter()
{
    return QObject::tr("CSV table (*.csv)");
}

QString csvField(const QString& text)
{
    if (!text.contains(QLatin1Char(',')) && !text.contains(QLatin1Char('"')) && !text.contains(QLatin1Char('\r'))
        && !text.contains(QLatin1Char('\n')))
        return text;
    QString quoted = text;
    quoted.replace(QStringLiteral("\""), QStringLiteral("\"\""));
    return QLatin1Char('"') + quoted + QLatin1Char('"');
}

bool saveTableAsCsv(const QAbstractItemModel* model, const QString& path, QString* error, int role)
{
    auto fail = [&](const QString& message) {
        if (error)
            *error = message;
        return false;
    };
    if (!model)
        return fail(QObject::tr("There is no table to save"));
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly))
        return fail(QObject::tr("Cannot write %1: %2").arg(QDir::toNativeSeparators(path), file.errorString()));

    const int columns = model->columnCount();
    const int rows = model->rowCount();
    const QString lineEnd = QStringLiteral("\r\n");
    QStringList fields;
    fields.reserve(columns);
    for (int c = 0; c < columns; ++c)
        fields << csvField(model->headerData(c, Qt::Horizontal, Qt::DisplayRole).toString());
    QString block = fields.join(QLatin1Char(',')) + lineEnd;
    for (int r = 0; r < rows; ++r) {
        fields.clear();
        for (int c = 0; c < columns; ++c)
            fields << csvField(cellText(model->data(model->index(r, c), role)));
        block += fields.join(QLatin1Char(',')) + lineEnd;
        if (block.size() > (1 << 16) || r + 1 == rows) {
            file.write(block.toUtf8());
            block.clear();
        }
    }
    if (!block.isEmpty())
        file.write(block.toUtf8());
    if (!file.commit())
        return fail(QObject::tr("Cannot write %1: %2").arg(QDir::toNativeSeparators(path), file.errorString()));
    return true;
}

} // namespace qs::ui
