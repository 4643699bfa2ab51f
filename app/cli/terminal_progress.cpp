// SPDX-License-Identifier: GPL-3.0-or-later
#include "terminal_progress.h"

#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <string>

namespace qs::cli {
namespace {

// The one piece of process-wide state: what SIGINT sets. A signal handler can touch nothing else.
volatile std::sig_atomic_t g_interrupted = 0;

extern "C" void onInterrupt(int)
{
    g_interrupted = 1;
}

} // namespace

TerminalProgress::TerminalProgress()
    : m_enabled(::isatty(STDERR_FILENO) != 0)
{
    std::signal(SIGINT, onInterrupt);
}

TerminalProgress::~TerminalProgress()
{
    finish();
    std::signal(SIGINT, SIG_DFL);
}

void TerminalProgress::report(const ProgressUpdate& update)
{
    if (!m_enabled)
        return;
    const auto now = std::chrono::steady_clock::now();
    const bool last = update.stepsTotal > 0 && update.stepsDone == update.stepsTotal;
    if (m_drawn && !last && now - m_last < std::chrono::milliseconds(100))
        return;
    m_last = now;
    std::string current = update.current;
    if (current.size() > 60)
        current = "…" + current.substr(current.size() - 59);
    std::fprintf(stderr, "\r\033[K[%3d%%] %lld/%lld %s", static_cast<int>(update.fraction() * 100.0),
        static_cast<long long>(update.stepsDone), static_cast<long long>(update.stepsTotal), current.c_str());
    std::fflush(stderr);
    m_drawn = true;
}

bool TerminalProgress::cancelled() const
{
    return g_interrupted != 0;
}

void TerminalProgress::finish()
{
    if (m_drawn) {
        std::fprintf(stderr, "\r\033[K");
        std::fflush(stderr);
        m_drawn = false;
    }
}

} // namespace qs::cli
