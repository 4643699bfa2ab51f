// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

namespace qs {

// Where an error happened, so the message can name the file, the tensor and the byte offset.
struct ErrorContext
{
    std::string file;
    std::string tensor;
    std::optional<std::uint64_t> offset;
};

// Base of every error the core throws. what() is a complete, user-facing sentence that
// includes the context; reason() is the bare explanation without it.
class Error : public std::runtime_error
{
public:
    explicit Error(const std::string& reason, ErrorContext context = {});

    const std::string& reason() const noexcept { return m_reason; }
    const ErrorContext& context() const noexcept { return m_context; }

    // Formats a reason with its context: "file: tensor 'x': at byte N: reason".
    static std::string describe(const std::string& reason, const ErrorContext& context);

private:
    std::string m_reason;
    ErrorContext m_context;
};

// The input is malformed: a corrupt header, an impossible shape, an unsupported dtype.
class FormatError : public Error
{
public:
    using Error::Error;
};

// The operating system refused: a missing file, a full disk, a permission problem.
class IoError : public Error
{
public:
    using Error::Error;
    static IoError fromErrno(const std::string& action, const std::string& file, int errnum);
};

// The request itself is wrong: an unknown tensor name, an invalid option combination.
class UsageError : public Error
{
public:
    using Error::Error;
};

// The user cancelled the operation; whatever it was writing has been removed.
class CancelledError : public Error
{
public:
    CancelledError();
};

} // namespace qs
