// SPDX-License-Identifier: GPL-3.0-or-later
#include "io/atomic_file.h"

#include "error.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <random>

namespace qs {
namespace fs = std::filesystem;
namespace {

// This machine's name with anything but letters and digits replaced, so that it can stand in a
// file name between two '-'.
std::string hostTag()
{
    char name[256] = {};
    if (::gethostname(name, sizeof name - 1) != 0 || name[0] == 0)
        return "localhost";
    std::string tag(name);
    for (char& c : tag) {
        if (!std::isalnum(static_cast<unsigned char>(c)))
            c = '_';
    }
    return tag;
}

// PID-HOST-RANDOM
std::string uniqueSuffix()
{
    std::random_device rd;
    return std::to_string(::getpid()) + "-" + hostTag() + "-" + std::to_string(rd() & 0xffffff);
}

// Whether `suffix` (after ".partial-") names a process of this host that no longer runs. Older
// staging folders were PID-RANDOM, without the host: those count as this host's.
bool isDeadLocalOwner(const std::string& suffix)
{
    const std::size_t first = suffix.find('-');
    const std::size_t last = suffix.rfind('-');
    if (first == std::string::npos || first == 0)
        return false;
    const std::string pidText = suffix.substr(0, first);
    if (!std::all_of(pidText.begin(), pidText.end(), [](char c) { return c >= '0' && c <= '9'; }) || pidText.size() > 9)
        return false;
    if (last != first && suffix.substr(first + 1, last - first - 1) != hostTag())
        return false;
    const auto pid = static_cast<pid_t>(std::stol(pidText));
    return pid > 0 && ::kill(pid, 0) != 0 && errno == ESRCH;
}

// Removes `.NAME.partial-*` folders in `parent` left by killed conversions of this host.
std::vector<fs::path> removeStaleStaging(const fs::path& parent, const std::string& name)
{
    std::vector<fs::path> stale;
    const std::string prefix = "." + name + ".partial-";
    std::error_code ec;
    for (fs::directory_iterator it(parent, ec), end; !ec && it != end; it.increment(ec)) {
        const std::string entry = it->path().filename().string();
        std::error_code typeError;
        if (entry.compare(0, prefix.size(), prefix) == 0 && it->is_directory(typeError)
            && isDeadLocalOwner(entry.substr(prefix.size())))
            stale.push_back(it->path());
    }
    std::vector<fs::path> removed;
    for (const auto& dir : stale) {
        std::error_code removeError;
        fs::remove_all(dir, removeError);
        if (!removeError)
            removed.push_back(dir);
    }
    return removed;
}

void syncDirectory(const fs::path& dir)
{
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        ::fsync(fd);
        ::close(fd);
    }
}

fs::path normalized(const fs::path& p)
{
    std::error_code ec;
    auto abs = fs::weakly_canonical(fs::absolute(p), ec);
    return ec ? fs::absolute(p).lexically_normal() : abs;
}

} // namespace

void writeFileAtomically(const fs::path& path, const std::string& content)
{
    const fs::path tmp = path.parent_path() / ("." + path.filename().string() + ".tmp-" + uniqueSuffix());
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        throw IoError::fromErrno("creating a temporary file", tmp.string(), errno);
    const char* p = content.data();
    std::size_t left = content.size();
    while (left > 0) {
        const ssize_t n = ::write(fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            const int err = errno;
            ::close(fd);
            ::unlink(tmp.c_str());
            throw IoError::fromErrno("writing", path.string(), err);
        }
        p += n;
        left -= static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0 || ::close(fd) != 0) {
        const int err = errno;
        ::unlink(tmp.c_str());
        throw IoError::fromErrno("flushing", path.string(), err);
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        const int err = errno;
        ::unlink(tmp.c_str());
        throw IoError::fromErrno("renaming into place", path.string(), err);
    }
}

AtomicOutputDir::AtomicOutputDir(const fs::path& destination, bool overwrite)
    : m_destination(normalized(destination))
    , m_overwrite(overwrite)
{
    if (m_destination.filename().empty())
        throw UsageError("the destination must name a folder", ErrorContext { destination.string(), {}, {} });
    std::error_code ec;
    if (fs::exists(m_destination, ec) && !overwrite)
        throw UsageError("the destination already exists (choose another folder or allow overwriting)",
            ErrorContext { m_destination.string(), {}, {} });
    const fs::path parent = m_destination.parent_path();
    fs::create_directories(parent, ec);
    if (ec)
        throw IoError("cannot create the parent folder: " + ec.message(), ErrorContext { parent.string(), {}, {} });
    m_removedStale = removeStaleStaging(parent, m_destination.filename().string());
    m_staging = parent / ("." + m_destination.filename().string() + ".partial-" + uniqueSuffix());
    if (!fs::create_directory(m_staging, ec) || ec)
        throw IoError("cannot create the staging folder: " + (ec ? ec.message() : std::string("it already exists")),
            ErrorContext { m_staging.string(), {}, {} });
}

AtomicOutputDir::~AtomicOutputDir()
{
    if (!m_committed) {
        std::error_code ignored;
        fs::remove_all(m_staging, ignored);
    }
}

void AtomicOutputDir::commit()
{
    std::error_code ec;
    fs::path backup;
    if (fs::exists(m_destination, ec)) {
        if (!m_overwrite)
            throw UsageError(
                "the destination appeared while the job ran", ErrorContext { m_destination.string(), {}, {} });
        backup = m_destination.parent_path() / ("." + m_destination.filename().string() + ".old-" + uniqueSuffix());
        fs::rename(m_destination, backup, ec);
        if (ec)
            throw IoError("cannot move the old destination aside: " + ec.message(),
                ErrorContext { m_destination.string(), {}, {} });
    }
    syncDirectory(m_staging);
    fs::rename(m_staging, m_destination, ec);
    if (ec) {
        const std::string reason = ec.message();
        if (!backup.empty())
            fs::rename(backup, m_destination, ec);
        throw IoError(
            "cannot rename the finished output into place: " + reason, ErrorContext { m_destination.string(), {}, {} });
    }
    m_committed = true;
    syncDirectory(m_destination.parent_path());
    if (!backup.empty())
        fs::remove_all(backup, ec);
}

void ensureDoesNotTouchInput(const fs::path& source, const fs::path& destination)
{
    const fs::path src = normalized(source);
    const fs::path dst = normalized(destination);
    auto isWithin = [](const fs::path& inner, const fs::path& outer) {
        auto i = inner.begin();
        for (auto o = outer.begin(); o != outer.end(); ++o, ++i) {
            if (i == inner.end() || *i != *o)
                return false;
        }
        return true;
    };
    if (isWithin(src, dst))
        throw UsageError("the destination " + dst.string() + " would replace the input checkpoint " + src.string(),
            ErrorContext { dst.string(), {}, {} });
}

} // namespace qs
