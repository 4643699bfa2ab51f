#include "stats/module_errors.h"

#include "error.h"
#include "io/checkpoint.h"
#include "jobs/progress.h"
#include "model/module_tree.h"
#include "quant/scheme_quantizer.h"

#include <ATen/ATen.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace qs {

std::map<int, double> measureModuleSqnr(
    const Checkpoint& checkpoint, const ModuleTree& tree, const QuantScheme& scheme, Progress& progress)
{
    std::map<int, double> out;
    ProgressUpdate update;
    update.stepsTotal = static_cast<std::int64_t>(tree.quantizable().size());
    std::atomic<bool> cancel { false };
    std::atomic<bool> done { false };
    std::thread watcher([&] { // turns Progress::cancelled() into the quantizer's flag
        while (!done) {
            if (progress.cancelled())
                cancel = true;
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    });
    struct Join
    {
        std::atomic<bool>& done;
        std::thread& t;
        ~Join()
        {
            done = true;
            t.join();
        }
    } join { done, watcher };
    QuantizeOptions options;
    options.codeHistogram = false;
    options.cancel = &cancel;
    for (const int m : tree.quantizable()) {
        progress.checkCancelled();
        const std::string weight = tree.node(m).path + ".weight";
        update.current = weight;
        progress.report(update);
        if (checkpoint.find(weight) == nullptr)
            continue;
        try {
            out[m] = quantizeWithScheme(checkpoint.load(weight), scheme, options).error.sqnrDb;
        } catch (const CancelledError&) {
            throw;
        } catch (const Error& e) {
            const TensorInfo* info = checkpoint.find(weight);
            throw FormatError(e.reason(), ErrorContext { info ? info->source : std::string(), weight, {} });
        }
        checkpoint.release(weight);
        ++update.stepsDone;
    }
    progress.report(update);
    return out;
}

} // namespace qs
