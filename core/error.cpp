// SPDX-License-Identifier: GPL-3.0-or-later
#include "error.h"

#include <cstring>

namespace qs {

Error::Error(const std::string& reason, ErrorContext context)
    : std::runtime_error(describe(reason, context))
    , m_reason(reason)
    , m_context(std::move(context))
{ }

std::string Error::describe(const std::string& reason, const ErrorContext& context)
{
    std::string message;
    if (!context.file.empty())
        message += context.file + ": ";
    if (!context.tensor.empty())
        message += "tensor '" + context.tensor + "': ";
    if (context.offset)
        message += "at byte " + std::to_string(*context.offset) + ": ";
    return message + reason;
}

IoError IoError::fromErrno(const std::string& action, const std::string& file, int errnum)
{
    return IoError(action + " failed: " + std::strerror(errnum), ErrorContext { file, {}, {} });
}

CancelledError::CancelledError()
    : Error("cancelled by the user")
{ }

} // namespace qs
