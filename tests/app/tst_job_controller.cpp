// SPDX-License-Identifier: GPL-3.0-or-later
// JobController: success, failure with the core's message, cancellation and the refusal of a
// second job, all delivered on the GUI thread without blocking it.
#include "error.h"
#include "job_controller.h"
#include "jobs/progress.h"

#include <QSignalSpy>
#include <QTest>
#include <QThread>

#include <atomic>

using namespace qs;
using qs::app::JobController;

class TestJobController : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void success()
    {
        JobController jobs;
        QSignalSpy succeeded(&jobs, &JobController::succeeded);
        QSignalSpy progress(&jobs, &JobController::progressChanged);
        bool ranOnGuiThread = false;
        QVERIFY(jobs.start(
            QStringLiteral("count"),
            [](Progress& p) {
                for (int i = 1; i <= 4; ++i) {
                    ProgressUpdate u;
                    u.stepsDone = i;
                    u.stepsTotal = 4;
                    u.current = "step";
                    p.report(u);
                    QThread::msleep(30);
                }
            },
            [&] { ranOnGuiThread = QThread::currentThread() == qApp->thread(); }));
        QVERIFY(jobs.isBusy());
        QVERIFY(!jobs.start(QStringLiteral("second"), [](Progress&) {})); // one at a time
        QTRY_COMPARE_WITH_TIMEOUT(succeeded.count(), 1, 5000);
        QVERIFY(ranOnGuiThread);
        QVERIFY(!jobs.isBusy());
        QVERIFY(progress.count() >= 1);
    }

    // A second start while a job runs starts nothing and is reported once, by the controller
    // itself, with the sentence the user sees; the running job is not disturbed.
    void aSecondStartIsRefusedOnce()
    {
        JobController jobs;
        QSignalSpy refused(&jobs, &JobController::refused);
        QSignalSpy started(&jobs, &JobController::started);
        QSignalSpy succeeded(&jobs, &JobController::succeeded);
        QSignalSpy failed(&jobs, &JobController::failed);
        std::atomic<bool> release { false };
        QVERIFY(jobs.start(QStringLiteral("Measuring layers"), [&release](Progress&) {
            while (!release.load())
                QThread::msleep(5);
        }));
        bool secondRan = false;
        QVERIFY(!jobs.start(
            QStringLiteral("Exporting to x"), [&secondRan](Progress&) { secondRan = true; }, [] {}));
        QCOMPARE(refused.count(), 1);
        QCOMPARE(refused.at(0).at(0).toString(), QStringLiteral("Busy"));
        QCOMPARE(refused.at(0).at(1).toString(),
            QStringLiteral("Wait for \"Measuring layers\" to finish or cancel it first."));
        QCOMPARE(started.count(), 1);
        QCOMPARE(jobs.title(), QStringLiteral("Measuring layers"));
        release = true;
        QTRY_COMPARE_WITH_TIMEOUT(succeeded.count(), 1, 5000);
        QCOMPARE(succeeded.at(0).at(0).toString(), QStringLiteral("Measuring layers"));
        QCOMPARE(refused.count(), 1);
        QCOMPARE(failed.count(), 0);
        QVERIFY(!secondRan);
        // Once idle, the next start is accepted and nothing more is refused.
        QVERIFY(jobs.start(QStringLiteral("third"), [](Progress&) {}));
        QTRY_COMPARE_WITH_TIMEOUT(succeeded.count(), 2, 5000);
        QCOMPARE(refused.count(), 1);
    }

    void failureCarriesTheMessage()
    {
        JobController jobs;
        QSignalSpy failed(&jobs, &JobController::failed);
        bool called = false;
        jobs.start(
            QStringLiteral("broken"),
            [](Progress&) {
                throw FormatError("header is not valid JSON", ErrorContext { "/tmp/x.safetensors", {}, {} });
            },
            [&] { called = true; });
        QTRY_COMPARE_WITH_TIMEOUT(failed.count(), 1, 5000);
        QCOMPARE(failed.at(0).at(0).toString(), QStringLiteral("broken"));
        QCOMPARE(failed.at(0).at(1).toString(), QStringLiteral("/tmp/x.safetensors: header is not valid JSON"));
        QVERIFY(!called);
    }

    void cancelStopsTheWork()
    {
        JobController jobs;
        QSignalSpy cancelled(&jobs, &JobController::cancelled);
        QSignalSpy succeeded(&jobs, &JobController::succeeded);
        std::atomic<bool> running { false };
        jobs.start(QStringLiteral("forever"), [&running](Progress& p) {
            running = true;
            for (;;) {
                p.checkCancelled();
                QThread::msleep(5);
            }
        });
        QTRY_VERIFY_WITH_TIMEOUT(running.load(), 5000);
        jobs.cancel();
        QTRY_COMPARE_WITH_TIMEOUT(cancelled.count(), 1, 5000);
        QCOMPARE(succeeded.count(), 0);
        QVERIFY(!jobs.isBusy());
    }
};

QTEST_MAIN(TestJobController)
#include "tst_job_controller.moc"
