// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <cstdint>

namespace qs {

// How far a reconstruction is from the original. Plain data.
struct ErrorMetrics
{
    std::int64_t count = 0;
    double mse = 0; // mean squared error
    double sqnrDb = 0; // 10 log10(sum x^2 / sum (x - x')^2); +inf when the error is zero
    double maxAbsError = 0;
    double cosine = 1; // cosine similarity of the original and the reconstruction
};

// Running sums from which ErrorMetrics are finished; mergeable across threads.
struct ErrorAccumulator
{
    std::int64_t count = 0;
    double signalEnergy = 0; // sum x^2
    double errorEnergy = 0; // sum (x - x')^2
    double reconstructedEnergy = 0; // sum x'^2
    double dot = 0; // sum x x'
    double maxAbsError = 0;

    void add(double original, double reconstructed)
    {
        const double e = original - reconstructed;
        ++count;
        signalEnergy += original * original;
        errorEnergy += e * e;
        reconstructedEnergy += reconstructed * reconstructed;
        dot += original * reconstructed;
        const double a = e < 0 ? -e : e;
        if (a > maxAbsError)
            maxAbsError = a;
    }
    void merge(const ErrorAccumulator& other);
    ErrorMetrics finish() const;
};

} // namespace qs
