// SPDX-License-Identifier: GPL-3.0-or-later
#include "scheme_option.h"

#include "error.h"

namespace qs::cli {

std::optional<QuantScheme> schemeOption(const Arguments& args)
{
    const std::string name = args.value("--scheme");
    if (name.empty())
        return std::nullopt;
    auto scheme = findSchemePreset(name);
    if (!scheme)
        throw UsageError("--scheme: unknown preset '" + name + "' (see 'quantscope-cli schemes')");
    return scheme;
}

} // namespace qs::cli
