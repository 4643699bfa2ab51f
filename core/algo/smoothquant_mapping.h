// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <string>
#include <vector>

namespace qs {

// One SmoothQuant mapping as llm-compressor writes it: the balance layers (the Linear modules
// that read the smooth layer's output) and the smooth layer (a norm). Targets are exact module
// paths or "re:" + a regex matched from the start of the path (Python's re.match).
struct SmoothQuantMapping
{
    std::vector<std::string> balance;
    std::string smooth;
};

} // namespace qs
