// SPDX-License-Identifier: GPL-3.0-or-later
// Precompiled header of quantscope_core's libtorch translation units (see CMakeLists.txt).
#pragma once

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>
