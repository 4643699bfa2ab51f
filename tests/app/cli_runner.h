// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QFile>
#include <QObject>
#include <QProcess>
#include <QString>
#include <QStringList>
#include <QTemporaryDir>
#include <QTest>

// One run of quantscope-cli (QS_CLI_PATH): its exit code (-2 when it crashed, -1 when it did
// not finish within two minutes) and what it printed.
struct CliRun
{
    int exitCode = -1;
    QString out;
    QString err;
};

inline CliRun runCli(const QStringList& args)
{
    QProcess p;
    p.start(QStringLiteral(QS_CLI_PATH), args);
    if (!p.waitForFinished(120000))
        return {};
    return { p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -2, QString::fromUtf8(p.readAllStandardOutput()),
        QString::fromUtf8(p.readAllStandardError()) };
}

// What the CLI test suites share: run() and the demo model written by `quantscope-cli demo`
// into a temporary folder (call writeDemo() from initTestCase).
class CliTest : public QObject
{
protected:
    using Run = CliRun;
    static Run run(const QStringList& args) { return runCli(args); }

    void writeDemo()
    {
        m_demo = m_dir.filePath(QStringLiteral("demo"));
        const Run r = run({ QStringLiteral("demo"), QStringLiteral("-o"), m_demo });
        QCOMPARE(r.exitCode, 0);
        QVERIFY(QFile::exists(m_demo + QStringLiteral("/model.safetensors")));
    }

    QTemporaryDir m_dir;
    QString m_demo;
};
