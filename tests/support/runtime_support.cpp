// SPDX-License-Identifier: GPL-3.0-or-later
#include "runtime_support.h"

#include <ATen/ATen.h>

#include <random>

namespace qs::test {

std::vector<float> values(const at::Tensor& t)
{
    const at::Tensor f = t.to(at::kFloat).contiguous();
    return { f.data_ptr<float>(), f.data_ptr<float>() + f.numel() };
}

std::vector<std::int64_t> shapeOf(const at::Tensor& t)
{
    return { t.sizes().begin(), t.sizes().end() };
}

std::vector<std::int64_t> randomIds(std::size_t n, std::int64_t vocab, unsigned seed)
{
    std::mt19937 rng(seed);
    std::vector<std::int64_t> ids(n);
    for (auto& id : ids)
        id = static_cast<std::int64_t>(rng() % static_cast<unsigned>(vocab));
    return ids;
}

std::vector<std::vector<std::int64_t>> randomWindows(int count, std::size_t length, unsigned seed, std::int64_t vocab)
{
    std::vector<std::vector<std::int64_t>> out;
    for (int i = 0; i < count; ++i)
        out.push_back(randomIds(length, vocab, seed + static_cast<unsigned>(i)));
    return out;
}

double relativeDifference(const at::Tensor& a, const at::Tensor& b)
{
    return (a - b).abs().max().item<double>() / b.abs().max().item<double>();
}

std::vector<at::Tensor> runnerLogits(BlockRunner& runner, const std::vector<std::vector<std::int64_t>>& sequences,
    std::int64_t vocab, Progress& progress)
{
    std::vector<std::vector<std::int64_t>> rows;
    std::vector<at::Tensor> out;
    for (const auto& s : sequences) {
        std::vector<std::int64_t> all(s.size());
        for (std::size_t i = 0; i < s.size(); ++i)
            all[i] = static_cast<std::int64_t>(i);
        rows.push_back(std::move(all));
        out.push_back(at::empty({ static_cast<std::int64_t>(s.size()), vocab }, at::kFloat));
    }
    runner.runHead(rows,
        [&](std::size_t s, std::int64_t begin, const std::vector<at::Tensor>& logits) {
            out[s].slice(1, begin, begin + logits[0].size(1)).copy_(logits[0]);
        },
        progress);
    return out;
}

double ownError(const EvaluationReport& report, const std::string& module)
{
    for (const ModuleDivergence& m : report.modules) {
        if (m.module == module)
            return m.ownRelativeMse;
    }
    return -1.0;
}

} // namespace qs::test
