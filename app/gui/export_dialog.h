#pragma once

#include <QDialog>
#include <QStringList>

class QCheckBox;
class QComboBox;
class QDialogButtonBox;
class QLabel;
class QLineEdit;
class QPlainTextEdit;

namespace qs::app {

// Asks where and how to export: target format, destination folder, overwrite, and shows
// what will happen (modules quantized and kept, the keep list as it will be written).
class ExportDialog : public QDialog
{
    Q_OBJECT
public:
    ExportDialog(const QString& suggestedDestination, int quantizedCount, int keptCount,
        const QStringList& modulesToNotConvert, QWidget* parent = nullptr);

    QString destination() const;
    QString format() const; // "nxd"
    bool overwrite() const;

private:
    void browse();
    void validate();

    QComboBox* m_format = nullptr;
    QLineEdit* m_destination = nullptr;
    QCheckBox* m_overwrite = nullptr;
    QLabel* m_problem = nullptr;
    QDialogButtonBox* m_buttons = nullptr;
};

} // namespace qs::app
