// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QHash>
#include <QList>
#include <QString>

#include <memory>

namespace qs::app {

// The most recently used analyses of the open model, by key (tensor, scheme, bins): going
// back to a tensor shows it at once. Bounded by a number of entries; GUI thread only.
template <typename Value> class RecentCache
{
public:
    explicit RecentCache(int capacity = 48)
        : m_capacity(capacity)
    { }

    std::shared_ptr<const Value> find(const QString& key)
    {
        const auto it = m_values.constFind(key);
        if (it == m_values.constEnd())
            return nullptr;
        m_order.removeOne(key);
        m_order.append(key);
        return it.value();
    }

    void insert(const QString& key, std::shared_ptr<const Value> value)
    {
        m_order.removeOne(key);
        m_order.append(key);
        m_values.insert(key, std::move(value));
        while (m_order.size() > m_capacity)
            m_values.remove(m_order.takeFirst());
    }

    void clear()
    {
        m_values.clear();
        m_order.clear();
    }
    int size() const { return static_cast<int>(m_values.size()); }

private:
    int m_capacity;
    QHash<QString, std::shared_ptr<const Value>> m_values;
    QList<QString> m_order; // least recently used first
};

} // namespace qs::app
