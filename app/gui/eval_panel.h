// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QString>

#include <cstdint>
#include <QWidget>

class QComboBox;
class QLabel;
class QLineEdit;
class QPushButton;
class QSpinBox;
class QTableWidget;

namespace qs::ui {
class DivergenceView;
}

namespace qs::app {

// The "Evaluate" tab: a data file (token ids, JSON lines or text), the window length, the
// scoring protocol, the windows to capture activations on, and a table of results: the float model's
// perplexity and, per run, the current scheme's fake-quantized model against it (KL
// divergence, top-1 agreement); runs on the same data and windows add rows, so schemes can be
// compared. The run itself is a job of the main window; this panel only collects the settings
// and shows the rows.
class EvalPanel : public QWidget
{
    Q_OBJECT
public:
    struct Row
    {
        QString model; // "float" or the scheme's name
        double perplexity = 0;
        qint64 tokens = 0;
        double change = 0; // relative to float
        double kl = 0;
        double top1 = 1;
        int kept = 0;
        double seconds = -1; // the run's time, when known
        std::uint64_t peakBytes = 0; // its peak memory, when known
    };

    explicit EvalPanel(QWidget* parent = nullptr);

    QString dataFile() const;
    void setDataFile(const QString& path);
    int seqLen() const;
    void setSeqLen(int tokens);
    // The model's positions: the window length is limited to them (and lowered to fit).
    void setMaxSeqLen(int positions);
    int maxWindows() const;
    // "" (automatic: overlap for decoders, masked for encoders), "overlap", "blocks", "masked".
    QString protocol() const;
    void setProtocol(const QString& name);
    int calibrationSeed() const;
    // Whether the float row of the current settings is shown (a new run then adds only its
    // scheme's row); `key` identifies the data, windows and protocol.
    bool hasFloatRow(const QString& key) const;
    void setResultsKey(const QString& key);
    void setRunEnabled(bool enabled);
    void setStatus(const QString& text);
    QString status() const; // what the last run said
    void addResult(const Row& row);
    void clearResults();
    QTableWidget* table() const { return m_table; }
    // The per-layer divergence of the last run with a scheme, under the table.
    ui::DivergenceView* divergence() const { return m_divergence; }
    // The results table as CSV (what the table shows); false with `error` on failure.
    bool exportCsv(const QString& path, QString* error) const;

    int samples() const; // Capture Activations' windows
    // The block runner's memory limit in bytes, 0 for automatic (what the machine can spare).
    // UsageError naming the field when the text is not a size.
    std::uint64_t memoryLimit() const;
    void setMemoryLimit(const QString& text);

Q_SIGNALS:
    void runRequested();
    void compareRequested();
    void captureRequested();

private:
    QLineEdit* m_file = nullptr;
    QPushButton* m_browse = nullptr;
    QSpinBox* m_seqLen = nullptr;
    QSpinBox* m_windows = nullptr;
    QPushButton* m_run = nullptr;
    QPushButton* m_capture = nullptr;
    QPushButton* m_compare = nullptr;
    QPushButton* m_csv = nullptr;
    QSpinBox* m_samples = nullptr;
    QSpinBox* m_seed = nullptr;
    QLineEdit* m_memory = nullptr;
    QComboBox* m_protocol = nullptr;
    QString m_resultsKey;
    QLabel* m_status = nullptr;
    QTableWidget* m_table = nullptr;
    ui::DivergenceView* m_divergence = nullptr;
};

} // namespace qs::app
