import ChorusWire
import NIOCore

/// Pruning: a site with no member in a message's groups gets a stand-in (its place in the order,
/// its sender and number, no body) instead of the message.
///
/// - Every site keeps, per site of the configuration, the groups its sessions may be members of
///   (`interests`): every group one of them joined (a join, or a state announcement naming it)
///   while the site ran. It only grows; each site's proposal carries its own, so a new
///   configuration starts with every member's exact set.
/// - A site numbers an item that adds a group to its own set past its lease, as it does a change
///   of its daemons: above the highest timestamp it promised plus `daemonChangeLease`.
/// - Numbering a client message at timestamp t, a site prunes it for another site S when every
///   other site's lease covers t (`promised + lease > t`) and no group of the message is in S's
///   set as taken here. Then no member of S was in those groups at t: S's sessions join only through
///   items of its own stream; those taken here are in the set; any other that adds a group comes
///   after S's promise plus the lease, so after t. The decision goes with the message (`pruned`),
///   so every daemon of the sending site, and any representative that resends it, sends alike.
/// - Not while the group layer runs a state exchange, or one may begin before the message's place
///   (a daemon change taken, not delivered; one not taken comes after every site's lease):
///   messages held by an exchange go to the members it ends with.
/// - Where a site departs, a member moving on that lacks one of its messages gets it from the
///   lowest member that holds its body, if it needs the body and one does (`supplier`).
extension SiteOrder {
    /// The membership item `payload` is (a join, leave, announcement, list or drop), decoded once
    /// for the rules below; nil for client data and anything else.
    static func membershipItem(_ payload: ByteBuffer) -> GroupMessage? {
        guard !WideAreaMessageCodec.isWideArea(payload), !GroupMessageCodec.isClientData(payload) else { return nil }
        return try? GroupMessageCodec.decode(payload)
    }

    /// The groups a join or state announcement of `origin` adds to its set (none for anything else).
    func newInterests(_ message: GroupMessage?, of origin: SiteID) -> [String] {
        guard let message, !interestedInAll.contains(origin) else { return [] }
        let known = interests[origin] ?? []
        switch message {
        case .join(_, let group):
            return known.contains(group) ? [] : [group]
        case .state(_, _, let sessions, _, _):
            return Array(Set(sessions.flatMap(\.groups)).subtracting(known))
        default:
            return []
        }
    }

    /// An `interestsDropped` item of `origin` takes its groups out of its set.
    mutating func dropInterests(_ message: GroupMessage?, of origin: SiteID) {
        guard case .interestsDropped(let listed, let groups)? = message, listed == origin else { return }
        interests[origin]?.subtract(groups)
        droppedInterests[origin, default: []].formUnion(groups)
    }

    /// Follows this site's own item `payload` in `ownMembers`; the groups of its interests it
    /// leaves without any session of the site.
    mutating func followOwnMembers(_ message: GroupMessage?) -> [String] {
        guard let message else { return [] }
        var left: Set<String> = []
        func add(_ session: SessionID, _ groups: some Sequence<String>) {
            for group in groups where ownMembers[session, default: []].insert(group).inserted { ownGroupCounts[group, default: 0] += 1 }
        }
        func remove(_ session: SessionID, _ groups: some Sequence<String>) {
            for group in groups where ownMembers[session]?.remove(group) != nil {
                ownGroupCounts[group, default: 1] -= 1
                if ownGroupCounts[group] == 0 {
                    ownGroupCounts[group] = nil
                    left.insert(group)
                }
            }
            if ownMembers[session]?.isEmpty == true { ownMembers[session] = nil }
        }
        switch message {
        case .join(let session, let group): add(session, [group])
        case .leave(let session, let group):
            remove(session, [group])
            if options.brokenRules.dropInterestsWithMembers { left.insert(group) }
        case .disconnect(let session): remove(session, ownMembers[session] ?? [])
        case .state(_, _, let sessions, _, _): for entry in sessions { add(entry.session, entry.groups) }
        case .siteDaemons(_, let daemons):
            let listed = Set(daemons)
            for session in ownMembers.keys where !listed.contains(session.daemon) { remove(session, ownMembers[session] ?? []) }
        case .data, .interestsDropped: break
        }
        // Only while the order and the group layer are settled (an exchange may bring sessions
        // back; a change of daemons taken and not delivered may begin one).
        guard !left.isEmpty, options.pruneBodies, !remote.isEmpty, groupsSettled, daemonChanges.isEmpty, case .operational = phase
        else { return [] }
        return left.filter { interests[site]?.contains($0) ?? false }.sorted()
    }

    /// None of this site's sessions is in `groups` any more (as its own stream says, the same at
    /// every daemon of the site): it numbers `interestsDropped`, and other sites prune for it
    /// again. Truthful at its place: a later session of the site joins only through an item
    /// numbered after it, which takes the lease again.
    mutating func numberInterestsDropped(_ groups: [String], now: Instant, into actions: inout [SiteOrderAction]) {
        guard let ringID, let lowest = members.min() else { return }
        counters.interestsDropped += groups.count
        let payload = GroupMessageCodec.encode(.interestsDropped(site: site, groups: Array(groups.prefix(WireLimits.maxGroupsPerMessage))))
        takeLocal(RingDelivery(ringID: ringID, sender: lowest, service: .agreed, payload: payload), now: now, into: &actions)
    }

    /// This site's sessions and their groups, for a snapshot.
    var ownMemberList: [SessionMemberships] {
        ownMembers.keys.sorted().map { SessionMemberships(session: $0, groups: ownMembers[$0]!.sorted()) }
    }

    mutating func applyOwnMembers(_ list: [SessionMemberships]) {
        ownMembers = [:]
        ownGroupCounts = [:]
        for entry in list where !entry.groups.isEmpty {
            ownMembers[entry.session] = Set(entry.groups)
            for group in entry.groups { ownGroupCounts[group, default: 0] += 1 }
        }
    }

    /// `origin` numbered an item (a join, an announcement) adding `groups` to its set, past its
    /// lease: beyond `maxInterestLeases` of them in this configuration, or `maxInterestGroups`
    /// groups, it is interested in every group (its later joins need no lease). Every daemon of
    /// every site counts alike from the stream.
    mutating func noteInterests(_ groups: [String], of origin: SiteID) {
        interests[origin, default: []].formUnion(groups)
        interestLeases[origin, default: 0] += 1
        if interests[origin]!.count > options.maxInterestGroups {
            interestsOverflowed.insert(origin)
            interests[origin] = []
        }
        if interestLeases[origin]! > options.maxInterestLeases || interestsOverflowed.contains(origin) {
            interestedInAll.insert(origin)
        }
    }

    /// A configuration begins: every member's groups as its proposal gives them, and no lease
    /// taken yet in it.
    mutating func enterInterests(_ install: SiteInstall) {
        interestLeases = [:]
        droppedInterests = [:]
        for proposal in install.proposals where proposal.origin != site {
            interests[proposal.origin] = Set(proposal.interests)
            if proposal.interestsAll { interestsOverflowed.insert(proposal.origin) } else { interestsOverflowed.remove(proposal.origin) }
        }
        interests = interests.filter { install.configuration.sites.contains($0.key) || $0.key == site }
        interestsOverflowed = interestsOverflowed.filter { install.configuration.sites.contains($0) || $0 == site }
        interestedInAll = interestsOverflowed
    }

    /// This site's groups as a proposal gives them.
    func proposeInterests(_ proposal: inout SiteProposal) {
        proposal.interestsAll = interestsOverflowed.contains(site)
        proposal.interests = proposal.interestsAll ? [] : (interests[site] ?? []).sorted()
        proposal.standIns = standInsList
    }

    /// The sites this site's client message `payload`, numbered at the current clock, is pruned
    /// for, and its stand-in (nil: none).
    mutating func pruning(_ payload: ByteBuffer, service: Service) -> (sites: [SiteID], standIn: ByteBuffer?) {
        // Not while a state exchange runs or may begin before this message's place (a change of
        // daemons taken and not delivered): the exchange's members get the messages it holds.
        guard options.pruneBodies, groupsSettled, daemonChanges.isEmpty else { return ([], nil) }
        // Every other site's lease covers this timestamp: no daemon change not taken here, which
        // could begin an exchange, and no group new to a site, comes before it.
        guard remote.allSatisfy({ (promised[$0] ?? 0) + options.daemonChangeLease > clock }) else { return ([], nil) }
        let covered = remote.filter { interests[$0] != nil && !interestedInAll.contains($0) }
        guard !covered.isEmpty, let data = GroupMessageCodec.decodeData(payload, names: &groupNames),
            !data.groups.contains(where: { $0.hasPrefix("#") })  // a private group: its site is not tracked
        else { return ([], nil) }
        // A reliable or fifo message may go ahead of leaves before it: nor for groups dropped lately.
        let ahead = service < .causal
        let sites = covered.filter { other in
            !data.groups.contains { interests[other]!.contains($0) || (ahead && droppedInterests[other]?.contains($0) == true) }
        }
        guard !sites.isEmpty else { return ([], nil) }
        return (sites, GroupMessageCodec.encode(.data(data.standIn)))
    }

    /// The stand-in for this site's `data` (pruned for some site): the body without its payload.
    func standIn(for data: WideAreaData) -> ByteBuffer? {
        guard !data.pruned.isEmpty, case .data(let client)? = try? GroupMessageCodec.decode(data.payload) else { return nil }
        return GroupMessageCodec.encode(.data(client.standIn))
    }

    /// Sends this site's `data` to `sites`: the body where it is not pruned, the stand-in where it
    /// is (`again`: a resend, not counted among the stand-ins sent).
    mutating func originateData(
        _ data: WideAreaData, standIn: ByteBuffer?, to sites: [SiteID], again: Bool = false, into actions: inout [SiteOrderAction]
    ) {
        counters.originated += 1
        guard let standIn, !data.pruned.isEmpty else {
            actions.append(.originate(WideAreaMessageCodec.encode(.data(data)), to: sites))
            return
        }
        let bodies = sites.filter { !data.pruned.contains($0) }
        let standIns = sites.filter { data.pruned.contains($0) }
        if !bodies.isEmpty { actions.append(.originate(WideAreaMessageCodec.encode(.data(data)), to: bodies)) }
        guard !standIns.isEmpty else { return }
        var copy = data
        copy.payload = standIn
        actions.append(.originate(WideAreaMessageCodec.encode(.data(copy)), to: standIns))
        guard !again else { return }
        counters.standInsSent += standIns.count
        counters.bytesSpared += standIns.count * max(0, data.payload.readableBytes - standIn.readableBytes)
    }

    /// Which member moving on sends `member` the departed site's `data` (`first`: the lowest
    /// that took the departed site's whole stream; `bodies`: the members that took `data` with
    /// its body by their proposals, lowest first): where `member` needs the body and `first` has
    /// only a stand-in, the lowest that holds the body; if none does, no member moving on
    /// delivered it to a session, and the stand-in does for `member` too.
    static func supplier(of data: WideAreaData, to member: SiteID, first: SiteID, bodies: [SiteID]) -> SiteID {
        guard !data.pruned.contains(member), !bodies.contains(first) else { return first }
        return bodies.first { $0 != member } ?? first
    }

    /// The members of `sites` that took `data` with its body by their proposals in `install`
    /// (not pruned for it, taken, and not held as a stand-in since an earlier closing), ascending.
    static func bodyHolders(of data: WideAreaData, among sites: [SiteID], install: SiteInstall) -> [SiteID] {
        sites.filter { member in
            guard !data.pruned.contains(member), let proposal = install.proposal(of: member),
                (proposal.received(of: data.origin) ?? 0) >= data.seq
            else { return false }
            return !(proposal.standIns.first { $0.site == data.origin }?.seqs.contains(data.seq) ?? false)
        }
    }

    /// This site's stand-ins held for bodies, as a proposal or snapshot gives them.
    var standInsList: [SiteSeqs] {
        standInsHeld.keys.sorted().compactMap { origin in
            let seqs = standInsHeld[origin]!.sorted()
            return seqs.isEmpty ? nil : SiteSeqs(site: origin, seqs: seqs)
        }
    }

    /// Whether this site takes `data` now, in the form every member moving on agrees on: a pruned
    /// message of a site that is departing is taken only as the members moving on will hold it.
    /// While proposing, not at all from a site not proposed (its stream ends at the most the
    /// proposals report; what is taken since would not count in `supplier`). While closing, as
    /// its supplier holds it: the body if a member that took it by its proposal holds the body,
    /// else the stand-in (a body that comes anyway, a late copy of the departed site's, is cut
    /// down to it: no member moving on gives it to a session then).
    /// `standInForBody`: taken as a stand-in though not pruned for this site (the caller records
    /// it in `standInsHeld` once the data is taken).
    mutating func prunedFormAgreed(_ data: inout WideAreaData, standInForBody: inout Bool) -> Bool {
        guard !data.pruned.isEmpty else { return true }
        switch phase {
        case .operational:
            return true
        case .proposing(let proposed):
            guard proposed.contains(data.origin) else {
                counters.prunedWhileAgreeing += 1
                return false
            }
            return true
        case .closing(let closing):
            guard !closing.transitional.contains(data.origin), !data.pruned.contains(site) else { return true }
            let bodyHeld = !Self.bodyHolders(of: data, among: closing.transitional, install: closing.install).isEmpty
            guard let client = GroupMessageCodec.decodeData(data.payload, names: &groupNames) else { return true }
            if bodyHeld, client.isStandIn {
                counters.prunedWhileAgreeing += 1  // the body comes from the member that holds it
                return false
            }
            if !bodyHeld {
                if !client.isStandIn { data.payload = GroupMessageCodec.encode(.data(client.standIn)) }
                standInForBody = true
            }
            return true
        }
    }

    /// The groups each site of the configuration may have members in, for a snapshot.
    var interestList: [WideAreaSnapshot.SiteInterests] {
        interests.keys.sorted().map { other in
            var entry = WideAreaSnapshot.SiteInterests(site: other, groups: interests[other]!.sorted())
            entry.all = interestedInAll.contains(other)
            entry.overflowed = interestsOverflowed.contains(other)
            entry.leases = UInt32(clamping: interestLeases[other] ?? 0)
            entry.dropped = (droppedInterests[other] ?? []).sorted()
            return entry
        }
    }

    /// Takes the interests a snapshot carries.
    mutating func applyInterests(_ list: [WideAreaSnapshot.SiteInterests]) {
        let kept = list.filter { $0.site == site || configuration.sites.contains($0.site) }
        interests = Dictionary(kept.map { ($0.site, Set($0.groups)) }, uniquingKeysWith: { $1 })
        if interests[site] == nil { interests[site] = [] }
        interestedInAll = Set(kept.filter(\.all).map(\.site))
        interestsOverflowed = Set(kept.filter(\.overflowed).map(\.site))
        interestLeases = Dictionary(kept.map { ($0.site, Int($0.leases)) }, uniquingKeysWith: { $1 })
        droppedInterests = Dictionary(kept.filter { !$0.dropped.isEmpty }.map { ($0.site, Set($0.dropped)) }, uniquingKeysWith: { $1 })
    }
}
