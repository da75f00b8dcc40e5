import ChorusWire

extension GroupLayer {
    /// The local sessions that receive `data`: the open local members of its target groups (a
    /// private name: that session), each once, sorted, without the sender if it asked for
    /// self-discard.
    ///
    /// The common case, one group and no self-discard to apply, returns the group's cached array
    /// (shared, no allocation); so does a multigroup message whose local members are all in one
    /// of its groups.
    @inline(__always) func recipients(for data: ClientData) -> [SessionID] {
        let discarded: SessionID? = data.selfDiscard && data.sender.daemon == me ? data.sender : nil
        if data.groups.count == 1 {
            return without(discarded, localTargets(data.groups[0]))
        }
        var found: [SessionID] = []
        var needsMerge = false
        for name in data.groups {
            let targets = localTargets(name)
            if targets.isEmpty { continue }
            if found.isEmpty {
                found = targets
            } else if targets != found {
                needsMerge = true
                break
            }
        }
        guard needsMerge else { return without(discarded, found) }
        var merged: [SessionID] = []
        for name in data.groups { merged.append(contentsOf: localTargets(name)) }
        merged.sort()
        var unique: [SessionID] = []
        unique.reserveCapacity(merged.count)
        for session in merged where unique.last != session && session != discarded {
            unique.append(session)
        }
        return unique
    }

    /// The open local sessions a single target name reaches.
    private func localTargets(_ name: String) -> [SessionID] {
        GroupNames.isPrivate(name) ? sessions.privateRecipients(name) : state.localMembers(of: name)
    }

    private func without(_ session: SessionID?, _ sessions: [SessionID]) -> [SessionID] {
        guard let session, sessions.sortedContains(session) else { return sessions }
        return sessions.filter { $0 != session }
    }
}
