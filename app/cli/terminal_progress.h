// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "jobs/progress.h"

#include <chrono>

namespace qs::cli {

// Core's Progress on a terminal: one line on stderr, redrawn at most ten times a second,
// and only when stderr is a terminal (batch logs stay clean). Ctrl+C cancels.
class TerminalProgress final : public Progress
{
public:
    TerminalProgress();
    ~TerminalProgress() override;

    void report(const ProgressUpdate& update) override;
    bool cancelled() const override;
    void finish(); // ends the line

private:
    bool m_enabled = false;
    bool m_drawn = false;
    std::chrono::steady_clock::time_point m_last {};
};

} // namespace qs::cli
