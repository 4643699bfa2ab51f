// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <string>
#include <vector>

namespace qs::cli {

// Each command gets the arguments after its name and returns the process exit code. Errors
// are thrown as qs::Error subclasses; main() turns them into messages and exit codes.
int runDemo(const std::vector<std::string>& args);
int runInspect(const std::vector<std::string>& args);
int runConvert(const std::vector<std::string>& args);
int runSchemes(const std::vector<std::string>& args);
int runSelect(const std::vector<std::string>& args);
int runStats(const std::vector<std::string>& args);
int runPlot(const std::vector<std::string>& args);
int runEval(const std::vector<std::string>& args);
int runCalibrate(const std::vector<std::string>& args);
int runTokenize(const std::vector<std::string>& args);

// Usage text of one command, or of the whole tool for an empty name.
std::string usage(const std::string& command = {});

} // namespace qs::cli
