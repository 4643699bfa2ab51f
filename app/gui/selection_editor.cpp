// SPDX-License-Identifier: GPL-3.0-or-later
#include "selection_editor.h"

#include "error.h"
#include "io/atomic_file.h"
#include "model/module_tree.h"
#include "module_tree_model.h"
#include "rules_model.h"
#include "rules_panel.h"
#include "select/keep_list_io.h"
#include "select/selection_presets.h"

#include <QSettings>
#include <QUndoStack>

#include <nlohmann/json.hpp>

#include <cmath>

namespace qs::app {
namespace {

QString qstr(const std::string& s)
{
    return QString::fromStdString(s);
}

// Settings key of a model's rules (paths hold '/', which QSettings reads as groups).
QString settingsKey(const QString& modelPath)
{
    return QStringLiteral("selection/")
        + QString::fromLatin1(
            modelPath.toUtf8().toBase64(QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals));
}

// One step of the rule list's history: the lists before and after.
class SetRulesCommand : public QUndoCommand
{
public:
    SetRulesCommand(SelectionEditor* editor, std::vector<SelectionRule> before, std::vector<SelectionRule> after,
        const QString& text)
        : QUndoCommand(text)
        , m_editor(editor)
        , m_before(std::move(before))
        , m_after(std::move(after))
    { }
    void undo() override { m_editor->apply(m_before); }
    void redo() override { m_editor->apply(m_after); }

private:
    SelectionEditor* m_editor;
    std::vector<SelectionRule> m_before;
    std::vector<SelectionRule> m_after;
};

} // namespace

SelectionEditor::SelectionEditor(
    ui::ModuleTreeModel* tree, ui::RulesModel* rules, ui::RulesPanel* panel, QObject* parent)
    : QObject(parent)
    , m_treeModel(tree)
    , m_rulesModel(rules)
    , m_panel(panel)
    , m_undo(new QUndoStack(this))
{
    connect(
        m_treeModel, &ui::ModuleTreeModel::keepToggled, this, [this](int node, bool keep) { setKept({ node }, keep); });
    connect(m_rulesModel, &ui::RulesModel::rulesEdited, this,
        [this](const std::vector<SelectionRule>& edited) { setRules(edited, tr("Edit rule")); });
    connect(m_panel, &ui::RulesPanel::addRequested, this, &SelectionEditor::addRule);
    connect(m_panel, &ui::RulesPanel::removeRequested, this, [this](int row) {
        auto rules = m_rules;
        if (row >= 0 && row < static_cast<int>(rules.size())) {
            rules.erase(rules.begin() + row);
            setRules(rules, tr("Delete rule"));
        }
    });
    connect(m_panel, &ui::RulesPanel::moveRequested, this, [this](int row, int delta) {
        auto rules = m_rules;
        const int to = row + delta;
        if (row >= 0 && to >= 0 && to < static_cast<int>(rules.size())) {
            std::swap(rules[static_cast<std::size_t>(row)], rules[static_cast<std::size_t>(to)]);
            setRules(rules, tr("Move rule"));
        }
    });
    connect(m_panel, &ui::RulesPanel::presetRequested, this, [this](const QString& preset) {
        if (preset.startsWith(QStringLiteral("worst:")) || preset.startsWith(QStringLiteral("below:")))
            Q_EMIT measurementRequested(preset); // needs a job: the main window runs it
        else
            applyPreset(preset);
    });
    connect(m_panel, &ui::RulesPanel::ruleSelected, this, [this](int row) {
        std::set<int> matched;
        if (m_tree && row >= 0 && row < static_cast<int>(m_rules.size())) {
            try {
                const RuleMatcher matcher(m_rules[static_cast<std::size_t>(row)]);
                for (const int m : m_tree->quantizable()) {
                    if (matcher.matches(m_tree->node(m).path))
                        matched.insert(m);
                }
            } catch (const Error&) { }
        }
        m_treeModel->setHighlighted(matched);
    });
}

SelectionEditor::~SelectionEditor() = default;

void SelectionEditor::setModel(const ModuleTree* tree, const QString& modelPath)
{
    m_tree = tree;
    m_modelPath = modelPath;
    m_undo->clear();
    std::vector<SelectionRule> restored;
    const QString saved = QSettings().value(settingsKey(modelPath)).toString();
    if (!saved.isEmpty()) {
        try {
            restored = rulesFromJson(saved.toStdString());
        } catch (const Error&) {
            restored.clear(); // an unreadable session starts empty
        }
    }
    apply(restored);
}

QStringList SelectionEditor::keptModules() const
{
    return m_treeModel->keptModules();
}

std::map<std::string, QuantScheme> SelectionEditor::moduleSchemes() const
{
    return m_tree ? moduleSchemesOf(*m_tree, m_result) : std::map<std::string, QuantScheme> {};
}

void SelectionEditor::setRules(const std::vector<SelectionRule>& rules, const QString& description)
{
    if (rules == m_rules && rules.size() == m_rules.size()) {
        apply(m_rules); // e.g. a check box toggled back by a rule that changes nothing: resync
        return;
    }
    m_undo->push(new SetRulesCommand(this, m_rules, rules, description));
}

void SelectionEditor::addRule(const SelectionRule& rule)
{
    auto rules = m_rules;
    rules.push_back(rule);
    setRules(rules, tr("Add rule %1").arg(qstr(describeRule(rule, false))));
}

void SelectionEditor::setKept(const std::vector<int>& nodes, bool keep)
{
    if (!m_tree)
        return;
    // A check box is a Module rule for that path; an earlier rule for the same path is replaced.
    auto rules = m_rules;
    QStringList names;
    for (const int node : nodes) {
        const std::string& path = m_tree->node(node).path;
        rules.erase(std::remove_if(rules.begin(), rules.end(),
                        [&](const SelectionRule& r) { return r.syntax == RuleSyntax::Module && r.pattern == path; }),
            rules.end());
        // Only when the remaining rules do not already give every module below that status.
        const SelectionResult without = resolveSelection(*m_tree, rules);
        bool needed = false;
        for (const int m : m_tree->descendants(node)) {
            const ModuleDecision* d = without.decisionFor(m);
            needed = needed || (d && d->keep != keep);
        }
        if (const ModuleDecision* d = without.decisionFor(node))
            needed = needed || d->keep != keep;
        if (needed)
            rules.push_back({ RuleSyntax::Module, path, keep ? RuleAction::Keep : RuleAction::Quantize, {}, "tree" });
        names << qstr(path);
    }
    setRules(rules,
        (keep ? tr("Keep %1") : tr("Quantize %1"))
            .arg(names.size() == 1 ? names.front() : tr("%n modules", "", static_cast<int>(names.size()))));
}

void SelectionEditor::applyPreset(const QString& preset)
{
    if (!m_tree)
        return;
    auto rules = m_rules;
    for (auto& r : selectionPreset(*m_tree, preset.toStdString())) {
        if (std::find(rules.begin(), rules.end(), r) == rules.end())
            rules.push_back(std::move(r));
    }
    setRules(rules, tr("Preset %1").arg(preset));
}

void SelectionEditor::applyMeasured(const std::map<int, double>& sqnrDb, const QString& preset)
{
    if (!m_tree)
        return;
    const bool worst = preset.startsWith(QStringLiteral("worst:"));
    const QString value = preset.section(QLatin1Char(':'), 1);
    auto rules = m_rules;
    for (auto& r : keepWorstPreset(*m_tree, sqnrDb, worst ? NAN : value.toDouble(), worst ? value.toInt() : 0)) {
        if (std::find(rules.begin(), rules.end(), r) == rules.end())
            rules.push_back(std::move(r));
    }
    setRules(rules, worst ? tr("Keep the %1 worst modules").arg(value) : tr("Keep modules below %1 dB").arg(value));
}

void SelectionEditor::importFile(const QString& path)
{
    const KeepList list = readKeepList(path.toStdString());
    auto rules = m_rules;
    for (const auto& r : list.rules)
        rules.push_back(r);
    setRules(rules, tr("Import %1").arg(path));
}

void SelectionEditor::exportFile(const QString& path, const QString& format) const
{
    if (!m_tree)
        return;
    const std::set<int> kept = m_result.kept();
    std::string text;
    if (format == QStringLiteral("nxd")) {
        text = writeNxdKeepJson(nxdKeepNames(*m_tree, kept, m_rules), NxdJsonShape::Flat);
    } else if (format == QStringLiteral("compressed-tensors")) {
        nlohmann::ordered_json j;
        j["quantization_config"]["ignore"] = fullKeepNames(*m_tree, kept);
        text = j.dump(4) + "\n";
    } else if (format == QStringLiteral("recipe")) {
        text = writeRecipeYaml(fullKeepNames(*m_tree, kept),
            "{num_bits: 8, type: int, symmetric: true, strategy: channel}",
            "{num_bits: 8, type: int, symmetric: true, strategy: token, dynamic: true}");
    } else if (format == QStringLiteral("fms-mo")) {
        text = writeFmsMoQcfg(fullKeepNames(*m_tree, kept));
    } else {
        text = writeTextList(fullKeepNames(*m_tree, kept));
    }
    writeFileAtomically(path.toStdString(), text);
}

void SelectionEditor::apply(const std::vector<SelectionRule>& rules)
{
    m_rules = rules;
    if (!m_tree) {
        m_result = {};
        m_rulesModel->setRules(m_rules, {});
        return;
    }
    m_result = resolveSelection(*m_tree, m_rules, m_target);
    QStringList kept;
    std::vector<std::pair<int, std::pair<QString, QString>>> deciding;
    for (const auto& d : m_result.modules) {
        if (d.keep)
            kept << qstr(m_tree->node(d.module).path);
        if (d.rule >= 0) {
            const SelectionRule& r = m_rules[static_cast<std::size_t>(d.rule)];
            deciding.push_back({ d.module,
                { QStringLiteral("#%1 %2").arg(d.rule + 1).arg(qstr(describeRule(r, false))),
                    tr("Rule %1: %2").arg(d.rule + 1).arg(qstr(describeRule(r))) } });
        }
    }
    m_treeModel->setKeptModules(kept);
    m_treeModel->setDecidingRules(deciding);
    m_rulesModel->setRules(m_rules, m_result.matchCounts);
    QStringList warnings;
    for (const auto& w : m_result.warnings)
        warnings << qstr(w.message);
    m_panel->setWarnings(warnings);
    m_panel->setSummary(tr("%1 kept · %2 quantized")
                            .arg(kept.size())
                            .arg(static_cast<int>(m_result.modules.size()) - static_cast<int>(kept.size())));
    save();
    Q_EMIT changed();
}

void SelectionEditor::setTarget(KeepTarget target)
{
    m_target = target;
    apply(m_rules);
}

void SelectionEditor::save() const
{
    if (m_modelPath.isEmpty())
        return;
    QSettings settings;
    if (m_rules.empty())
        settings.remove(settingsKey(m_modelPath));
    else
        settings.setValue(settingsKey(m_modelPath), qstr(rulesToJson(m_rules)));
}

} // namespace qs::app
