// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QString>
#include <Qt>

class QAbstractItemModel;
class QWidget;

namespace qs::ui {

// Asks for a CSV file to write, starting from `fileName` in the folder this widget last used
// (remembered on it), with ".csv" added when the name has no suffix; empty when cancelled.
QString askForCsvFile(QWidget* parent, const QString& title, const QString& fileName);

// "CSV table (*.csv)" for QFileDialog.
QString csvFileFilter();

// One CSV field (RFC 4180): quoted when it holds a comma, a quote, CR or LF, with quotes doubled.
QString csvField(const QString& text);

// Writes the top-level rows of `model` as CSV (RFC 4180, UTF-8, CRLF line ends): a header row
// from headerData(Horizontal, DisplayRole), then one line per row with the data of `role`.
// Floating-point values are written with 10 significant digits ("inf"/"nan" for non-finite),
// booleans as true/false. Atomic (QSaveFile). On failure returns false and, when `error` is
// given, says why.
bool saveTableAsCsv(const QAbstractItemModel* model, const QString& path, QString* error, int role = Qt::EditRole);

} // namespace qs::ui
