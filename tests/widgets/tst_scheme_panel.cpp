// SPDX-License-Identifier: GPL-3.0-or-later
// The scheme panel: presets, field edits, and invalid combinations reported, not emitted.
#include "scheme_panel.h"

#include <QCheckBox>
#include <QComboBox>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTest>

using namespace qs;
using qs::ui::SchemePanel;

Q_DECLARE_METATYPE(qs::QuantScheme)

class TestSchemePanel : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void presetsAndEdits()
    {
        SchemePanel panel;
        QCOMPARE(panel.scheme().name, std::string("nxd-int8"));
        auto* preset = panel.findChildren<QComboBox*>().first();
        QCOMPARE(preset->count(), static_cast<int>(schemePresets().size()));

        QSignalSpy changed(&panel, &SchemePanel::schemeChanged);
        QVERIFY(panel.selectPreset(QStringLiteral("vllm-w4a16")));
        QCOMPARE(changed.count(), 1);
        QCOMPARE(panel.scheme().groupSize, 128);
        QCOMPARE(preset->currentText(), QStringLiteral("vllm-w4a16"));
        QVERIFY(!panel.selectPreset(QStringLiteral("no-such-preset")));

        // Editing a field: the scheme follows and is named as modified.
        QSpinBox* bits = nullptr;
        for (auto* spin : panel.findChildren<QSpinBox*>()) {
            if (spin->value() == 4 && spin->maximum() == 8)
                bits = spin;
        }
        QVERIFY(bits);
        bits->setValue(3);
        QCOMPARE(panel.scheme().bits, 3);
        QCOMPARE(panel.scheme().name, std::string("vllm-w4a16 (modified)"));
        QCOMPARE(changed.count(), 2);
        QVERIFY(panel.problem().isEmpty());
    }

    void invalidCombinationsAreReported()
    {
        SchemePanel panel;
        panel.selectPreset(QStringLiteral("nxd-int8"));
        QSignalSpy changed(&panel, &SchemePanel::schemeChanged);
        // nxd quantizes symmetrically: unticking "symmetric" is refused with the reason
        auto boxes = panel.findChildren<QCheckBox*>();
        QCheckBox* symmetric = nullptr;
        for (auto* b : boxes) {
            if (b->text().startsWith(QStringLiteral("symmetric")))
                symmetric = b;
        }
        QVERIFY(symmetric);
        symmetric->setChecked(false);
        QCOMPARE(changed.count(), 0);
        QVERIFY2(panel.problem().contains(QStringLiteral("quantizes symmetrically")), qPrintable(panel.problem()));
        QVERIFY(panel.scheme().symmetric); // the last valid scheme stays in force
        symmetric->setChecked(true);
        QVERIFY(panel.problem().isEmpty());
        QCOMPARE(changed.count(), 1);
    }

    // The compressed-tensors weight-dtype option: on for the vllm presets, editable, and dropped
    // (not refused) when another convention is chosen.
    void weightDtypeMathFollowsTheConvention()
    {
        SchemePanel panel;
        QVERIFY(panel.selectPreset(QStringLiteral("vllm-w8a8-int8")));
        QVERIFY(panel.scheme().weightDtypeMath);
        QCheckBox* box = nullptr;
        for (auto* b : panel.findChildren<QCheckBox*>()) {
            if (b->text().startsWith(QStringLiteral("weight-dtype math")))
                box = b;
        }
        QVERIFY(box);
        QVERIFY(box->isEnabled() && box->isChecked());
        box->setChecked(false);
        QVERIFY(!panel.scheme().weightDtypeMath);
        box->setChecked(true);
        QComboBox* convention = nullptr;
        for (auto* c : panel.findChildren<QComboBox*>()) {
            if (c->findText(QStringLiteral("compressed-tensors")) >= 0)
                convention = c;
        }
        QVERIFY(convention);
        convention->setCurrentIndex(convention->findText(QStringLiteral("nxd")));
        QVERIFY2(panel.problem().isEmpty(), qPrintable(panel.problem()));
        QVERIFY(!panel.scheme().weightDtypeMath);
        QVERIFY(!box->isEnabled());
    }
};

QTEST_MAIN(TestSchemePanel)
#include "tst_scheme_panel.moc"
