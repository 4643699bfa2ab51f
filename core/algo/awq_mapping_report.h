// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// What AWQ's grid search chose for one mapping of one layer. Plain data.
#include <string>

namespace qs {

struct AwqMappingReport
{
    std::string smooth; // the smooth layer (norm or Linear) of one layer
    std::string parent; // the module whose output the search compared
    double ratio = 0; // the grid point chosen
    bool duo = false;
    double initialLoss = 0, bestLoss = 0; // the first grid point's loss and the winner's
};

} // namespace qs
