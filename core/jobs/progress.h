// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

namespace qs {

struct ProgressUpdate
{
    std::int64_t stepsDone = 0; // e.g. tensors
    std::int64_t stepsTotal = 0;
    std::uint64_t bytesDone = 0;
    std::uint64_t bytesTotal = 0;
    std::string current; // what is being worked on, e.g. a tensor name

    // Bytes when known, otherwise steps; in [0, 1].
    double fraction() const;
};

class CancelToken;

// How core code reports progress and learns about cancellation. The GUI adapts it to a
// QPromise, the CLI to a terminal line; core knows neither. report() is called from the
// job's own thread; cancelled() from any thread (the workers of a job poll it through a
// CancelToken between rows), so implementations keep it thread-safe and cheap.
class Progress
{
public:
    virtual ~Progress() = default;
    virtual void report(const ProgressUpdate& update) = 0;
    virtual bool cancelled() const = 0;

    // Throws CancelledError when cancelled() is true.
    void checkCancelled() const;
    // What a long loop polls: this Progress's cancellation, without its reporting.
    CancelToken token() const;
};

// The one way a long loop learns that its job was cancelled: a copyable view of a Progress,
// polled between rows or blocks from any thread. A default token is never cancelled. The
// Progress must outlive every copy (it is the job's, and the loops run inside the job).
class CancelToken
{
public:
    CancelToken() = default;
    explicit CancelToken(const Progress& progress)
        : m_progress(&progress)
    { }

    bool cancelled() const { return m_progress != nullptr && m_progress->cancelled(); }
    // Throws CancelledError when cancelled.
    void throwIfCancelled() const;

private:
    const Progress* m_progress = nullptr;
};

inline CancelToken Progress::token() const
{
    return CancelToken(*this);
}

class NullProgress final : public Progress
{
public:
    void report(const ProgressUpdate&) override { }
    bool cancelled() const override { return false; }
};

// A cancellation that its owner triggers: cancelled() once cancel() was called (from any
// thread) or when the optional parent is cancelled. Reports go nowhere. For work that a newer
// request supersedes (the GUI's latest-only views) and for a pool that stops its own tasks
// when one of them fails (the conversion job).
class CancelFlag final : public Progress
{
public:
    explicit CancelFlag(const Progress* parent = nullptr)
        : m_parent(parent)
    { }

    void cancel() { m_flag.store(true, std::memory_order_relaxed); }
    void report(const ProgressUpdate&) override { }
    bool cancelled() const override
    {
        return m_flag.load(std::memory_order_relaxed) || (m_parent != nullptr && m_parent->cancelled());
    }

private:
    const Progress* m_parent = nullptr;
    std::atomic<bool> m_flag { false };
};

} // namespace qs
