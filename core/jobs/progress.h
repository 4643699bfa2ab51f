#pragma once

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

// How core code reports progress and learns about cancellation. The GUI adapts it to a
// QPromise, the CLI to a terminal line; core knows neither.
class Progress
{
public:
    virtual ~Progress() = default;
    virtual void report(const ProgressUpdate& update) = 0;
    virtual bool cancelled() const = 0;

    // Throws CancelledError when cancelled() is true.
    void checkCancelled() const;
};

class NullProgress final : public Progress
{
public:
    void report(const ProgressUpdate&) override { }
    bool cancelled() const override { return false; }
};

} // namespace qs
