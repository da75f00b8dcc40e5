import NIOCore

/// Configurations of sites: proposals, installs and the membership part of a snapshot. Every
/// count is bounded before it sizes anything; site lists are strictly ascending.
extension WideAreaMessageCodec {
    /// Frozen messages or relayed ones in one snapshot, at most.
    static let maxMembershipMessages = 1 << 22

    static func proposalSize(_ proposal: SiteProposal) -> Int {
        4 + 8 + 12 + 8 + 8 + 20 + 2 + 4 * proposal.sites.count + 2 + 12 * proposal.received.count + 1 + interestsSize(proposal.interests)
            + siteSeqsSize(proposal.standIns)
    }

    /// Seqs listed per site in `SiteSeqs`, at most.
    static let maxSiteSeqs = 1 << 20

    static func siteSeqsSize(_ list: [SiteSeqs]) -> Int { list.reduce(2) { $0 + 8 + 8 * $1.seqs.count } }

    static func writeSiteSeqs(_ list: [SiteSeqs], into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt16(list.count))
        for entry in list {
            buffer.writeInteger(entry.site.rawValue)
            buffer.writeInteger(UInt32(entry.seqs.count))
            for seq in entry.seqs { buffer.writeInteger(seq) }
        }
    }

    static func readSiteSeqs(_ reader: inout WireReader, _ field: String) throws(WireError) -> [SiteSeqs] {
        let count = try reader.readCount(UInt16.self, field, limit: WireLimits.maxSites, minimumEntrySize: 8)
        var list: [SiteSeqs] = []
        list.reserveCapacity(count)
        for _ in 0..<count {
            let site = SiteID(try reader.read(UInt32.self, "\(field).site"))
            let seqCount = try reader.readCount(UInt32.self, "\(field).seqs", limit: maxSiteSeqs, minimumEntrySize: 8)
            var seqs: [UInt64] = []
            seqs.reserveCapacity(seqCount)
            for _ in 0..<seqCount { seqs.append(try reader.read(UInt64.self, "\(field).seq")) }
            list.append(SiteSeqs(site: site, seqs: seqs))
        }
        return list
    }

    /// Sites strictly ascending, each with at least one seq, strictly ascending.
    static func validateSiteSeqs(_ list: [SiteSeqs], _ field: String) throws(WireError) {
        guard list.count <= WireLimits.maxSites else { throw .tooMany(field, count: list.count, limit: WireLimits.maxSites) }
        try PacketCodec.checkStrictlyAscending(list.lazy.map(\.site), "\(field).site")
        for entry in list {
            guard !entry.seqs.isEmpty, entry.seqs.count <= maxSiteSeqs else {
                throw .invalidField(field, reason: "\(entry.seqs.count) seqs for \(entry.site)")
            }
            try PacketCodec.checkStrictlyAscending(entry.seqs, "\(field).seq")
        }
    }

    /// Groups in one site's interests, at most.
    static let maxInterests = 1 << 20

    static func interestsSize(_ groups: [String]) -> Int { groups.reduce(4) { $0 + 1 + $1.utf8.count } }

    static func writeInterests(_ groups: [String], into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt32(groups.count))
        for group in groups { buffer.writeShortString(group) }
    }

    static func readInterests(_ reader: inout WireReader, _ field: String) throws(WireError) -> [String] {
        let count = try reader.readCount(UInt32.self, field, limit: maxInterests, minimumEntrySize: 2)
        var groups: [String] = []
        groups.reserveCapacity(count)
        for _ in 0..<count { groups.append(try reader.readShortString(field)) }
        return groups
    }

    /// Valid group names, strictly ascending (one encoding per set).
    static func validateInterests(_ groups: [String], _ field: String) throws(WireError) {
        guard groups.count <= maxInterests else { throw .tooMany(field, count: groups.count, limit: maxInterests) }
        try GroupMessageCodec.checkGroupNames(groups, field)
        for index in groups.indices.dropFirst() where !(groups[index - 1] < groups[index]) {
            throw .invalidField(field, reason: "groups not strictly ascending")
        }
    }

    static func installSize(_ install: SiteInstall) -> Int {
        12 + 2 + install.proposals.reduce(0) { $0 + 4 + proposalSize($1) }
    }

    static func membershipSize(_ state: WideAreaMembershipState) -> Int {
        12 + 2 + 4 * state.configuration.sites.count + 8 + 1 + 2 + 4 * state.proposing.count + 1
            + (state.lastInstall.map { 4 + installSize($0) } ?? 0)
            + 2 + state.proposals.reduce(0) { $0 + 4 + proposalSize($1) } + 2 + 12 * state.consumed.count
            + 4 + state.frozen.reduce(0) { $0 + 9 + $1.payload.readableBytes }
            + 4 + state.relay.reduce(0) { $0 + 4 + encodedSize(.data($1)) } + 2 + 4 * state.finishing.count
            + 2 + 4 * state.confirmed.count + 20 + 8
            + 2 + 4 * state.pending.count + 2 + state.siteDaemons.reduce(0) { $0 + 6 + 4 * $1.daemons.count } + 8
            + 8 + 1 + 2 + 4 * state.exchange.announced.count + 2 + 4 * state.exchange.started.count
            + 2 + 8 * state.exchange.firstSessions.count
            + 4 + state.exchange.held.reduce(0) { $0 + 1 + 20 + 4 + $1.payload.readableBytes }
            + 2 + state.unreliableSeen.reduce(0) { $0 + 4 + 4 + 8 * $1.ids.count }
    }

    /// Unreliable message ids remembered per site, at most.
    static let maxRecentUnreliable = 1 << 16

    // MARK: Writing

    static func writeConfigurationID(_ id: SiteConfigurationID, into buffer: inout ByteBuffer) {
        buffer.writeInteger(id.seq)
        buffer.writeInteger(id.coordinator.rawValue)
    }

    static func writeSites(_ sites: [SiteID], into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt16(sites.count))
        for site in sites { buffer.writeInteger(site.rawValue) }
    }

    static func writeProposal(_ proposal: SiteProposal, into buffer: inout ByteBuffer) {
        buffer.writeInteger(proposal.origin.rawValue)
        buffer.writeInteger(proposal.attempt)
        writeConfigurationID(proposal.configuration, into: &buffer)
        buffer.writeInteger(proposal.cutSeq)
        buffer.writeInteger(proposal.clock)
        writePosition(proposal.delivered, into: &buffer)
        writeSites(proposal.sites, into: &buffer)
        writeReceived(proposal.received, into: &buffer)
        buffer.writeInteger(UInt8(proposal.interestsAll ? 1 : 0))
        writeInterests(proposal.interests, into: &buffer)
        writeSiteSeqs(proposal.standIns, into: &buffer)
    }

    static func writeReceived(_ list: [SiteProgress.Received], into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt16(list.count))
        for entry in list {
            buffer.writeInteger(entry.site.rawValue)
            buffer.writeInteger(entry.received)
        }
    }

    static func writeInstall(_ install: SiteInstall, into buffer: inout ByteBuffer) {
        writeConfigurationID(install.id, into: &buffer)
        buffer.writeInteger(UInt16(install.proposals.count))
        for proposal in install.proposals {
            buffer.writeInteger(UInt32(proposalSize(proposal)))
            writeProposal(proposal, into: &buffer)
        }
    }

    static func writeMembership(_ state: WideAreaMembershipState, into buffer: inout ByteBuffer) {
        writeConfigurationID(state.configuration.id, into: &buffer)
        writeSites(state.configuration.sites, into: &buffer)
        buffer.writeInteger(state.attempt)
        buffer.writeInteger(state.phase)
        writeSites(state.proposing, into: &buffer)
        if let install = state.lastInstall {
            buffer.writeInteger(UInt8(1))
            buffer.writeInteger(UInt32(installSize(install)))
            writeInstall(install, into: &buffer)
        } else {
            buffer.writeInteger(UInt8(0))
        }
        buffer.writeInteger(UInt16(state.proposals.count))
        for proposal in state.proposals {
            buffer.writeInteger(UInt32(proposalSize(proposal)))
            writeProposal(proposal, into: &buffer)
        }
        writeReceived(state.consumed, into: &buffer)
        buffer.writeInteger(UInt32(state.frozen.count))
        for message in state.frozen {
            buffer.writeInteger(message.service.rawValue)
            buffer.writeInteger(message.sender.rawValue)
            buffer.writeInteger(UInt32(message.payload.readableBytes))
            buffer.writeImmutableBuffer(message.payload)
        }
        buffer.writeInteger(UInt32(state.relay.count))
        for data in state.relay {
            buffer.writeInteger(UInt32(encodedSize(.data(data))))
            encode(.data(data), into: &buffer)
        }
        writeSites(state.finishing, into: &buffer)
        writeSites(state.confirmed, into: &buffer)
        writePosition(state.delivered, into: &buffer)
        buffer.writeInteger(state.highestSeq)
        writeNodes(state.pending, into: &buffer)
        buffer.writeInteger(UInt16(state.siteDaemons.count))
        for entry in state.siteDaemons {
            buffer.writeInteger(entry.site.rawValue)
            writeNodes(entry.daemons, into: &buffer)
        }
        buffer.writeInteger(state.ordinal)
        buffer.writeInteger(state.exchange.epoch)
        buffer.writeInteger(UInt8(state.exchange.running ? 1 : 0))
        writeNodes(state.exchange.announced, into: &buffer)
        writeNodes(state.exchange.started, into: &buffer)
        precondition(
            state.exchange.firstSessions.count == state.exchange.announced.count + state.exchange.started.count,
            "one first session number per announcing daemon")
        buffer.writeInteger(UInt16(state.exchange.firstSessions.count))
        for first in state.exchange.firstSessions { buffer.writeInteger(first) }
        buffer.writeInteger(UInt32(state.exchange.held.count))
        for held in state.exchange.held {
            buffer.writeInteger(held.service.rawValue)
            writePosition(held.position, into: &buffer)
            buffer.writeInteger(UInt32(held.payload.readableBytes))
            buffer.writeImmutableBuffer(held.payload)
        }
        buffer.writeInteger(UInt16(state.unreliableSeen.count))
        for entry in state.unreliableSeen {
            buffer.writeInteger(entry.site.rawValue)
            buffer.writeInteger(UInt32(entry.ids.count))
            for id in entry.ids { buffer.writeInteger(id) }
        }
    }

    static func writeNodes(_ nodes: [NodeID], into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt16(nodes.count))
        for node in nodes { buffer.writeInteger(node.rawValue) }
    }

    /// A strictly ascending list of at most `WireLimits.maxMembers` daemons.
    static func readNodes(_ reader: inout WireReader, _ field: String) throws(WireError) -> [NodeID] {
        let count = try reader.readCount(UInt16.self, field, limit: WireLimits.maxMembers, minimumEntrySize: 4)
        var nodes: [NodeID] = []
        nodes.reserveCapacity(count)
        for _ in 0..<count { nodes.append(try reader.readNodeID(field)) }
        try PacketCodec.checkStrictlyAscending(nodes.lazy.map { $0 }, field)
        return nodes
    }

    static func writePosition(_ position: WideAreaPosition?, into buffer: inout ByteBuffer) {
        buffer.writeInteger(position?.lamport ?? 0)
        buffer.writeInteger(position?.origin.rawValue ?? 0)
        buffer.writeInteger(position?.seq ?? 0)
    }

    static func readPosition(_ reader: inout WireReader, _ field: String) throws(WireError) -> WideAreaPosition? {
        let lamport = try reader.read(UInt64.self, "\(field).lamport")
        let origin = try reader.read(UInt32.self, "\(field).origin")
        let seq = try reader.read(UInt64.self, "\(field).seq")
        if lamport == 0, origin == 0, seq == 0 { return nil }
        return WideAreaPosition(lamport: lamport, origin: SiteID(origin), seq: seq)
    }

    // MARK: Reading

    static func readConfigurationID(_ reader: inout WireReader, _ field: String) throws(WireError) -> SiteConfigurationID {
        let seq = try reader.read(UInt64.self, "\(field).seq")
        let coordinator = SiteID(try reader.read(UInt32.self, "\(field).coordinator"))
        return SiteConfigurationID(seq: seq, coordinator: coordinator)
    }

    static func readSites(_ reader: inout WireReader, _ field: String) throws(WireError) -> [SiteID] {
        let count = try reader.readCount(UInt16.self, field, limit: WireLimits.maxSites, minimumEntrySize: 4)
        var sites: [SiteID] = []
        sites.reserveCapacity(count)
        for _ in 0..<count { sites.append(SiteID(try reader.read(UInt32.self, field))) }
        return sites
    }

    static func readReceived(_ reader: inout WireReader, _ field: String) throws(WireError) -> [SiteProgress.Received] {
        let count = try reader.readCount(UInt16.self, field, limit: WireLimits.maxSites, minimumEntrySize: 12)
        var list: [SiteProgress.Received] = []
        list.reserveCapacity(count)
        for _ in 0..<count {
            let site = SiteID(try reader.read(UInt32.self, "\(field).site"))
            list.append(SiteProgress.Received(site: site, received: try reader.read(UInt64.self, "\(field).received")))
        }
        return list
    }

    static func readProposal(_ reader: inout WireReader) throws(WireError) -> SiteProposal {
        let origin = SiteID(try reader.read(UInt32.self, "proposal.origin"))
        let attempt = try reader.read(UInt64.self, "proposal.attempt")
        let configuration = try readConfigurationID(&reader, "proposal.configuration")
        let cutSeq = try reader.read(UInt64.self, "proposal.cutSeq")
        let clock = try reader.read(UInt64.self, "proposal.clock")
        let delivered = try readPosition(&reader, "proposal.delivered")
        let sites = try readSites(&reader, "proposal.sites")
        let received = try readReceived(&reader, "proposal.received")
        var proposal = SiteProposal(
            origin: origin, attempt: attempt, configuration: configuration, cutSeq: cutSeq, clock: clock, delivered: delivered,
            sites: sites, received: received)
        let all = try reader.read(UInt8.self, "proposal.interestsAll")
        guard all <= 1 else { throw .invalidField("proposal.interestsAll", reason: "not 0 or 1") }
        proposal.interestsAll = all == 1
        proposal.interests = try readInterests(&reader, "proposal.interests")
        proposal.standIns = try readSiteSeqs(&reader, "proposal.standIns")
        return proposal
    }

    /// A length-prefixed proposal that must fill its length exactly.
    static func readSizedProposal(_ reader: inout WireReader, _ field: String) throws(WireError) -> SiteProposal {
        let length = Int(try reader.read(UInt32.self, "\(field).length"))
        var inner = WireReader(try reader.readSlice(length, field))
        let proposal = try readProposal(&inner)
        try inner.expectEnd(field)
        return proposal
    }

    static func readInstall(_ reader: inout WireReader) throws(WireError) -> SiteInstall {
        let id = try readConfigurationID(&reader, "install.id")
        let count = try reader.readCount(UInt16.self, "install.proposals", limit: WireLimits.maxSites, minimumEntrySize: 4 + 64)
        var proposals: [SiteProposal] = []
        proposals.reserveCapacity(count)
        for _ in 0..<count { proposals.append(try readSizedProposal(&reader, "install.proposal")) }
        return SiteInstall(id: id, proposals: proposals)
    }

    static func readMembership(_ reader: inout WireReader) throws(WireError) -> WideAreaMembershipState {
        let id = try readConfigurationID(&reader, "membership.configuration")
        let sites = try readSites(&reader, "membership.sites")
        let attempt = try reader.read(UInt64.self, "membership.attempt")
        let phase = try reader.read(UInt8.self, "membership.phase")
        let proposing = try readSites(&reader, "membership.proposing")
        var lastInstall: SiteInstall?
        switch try reader.read(UInt8.self, "membership.installed") {
        case 0: break
        case 1:
            let length = Int(try reader.read(UInt32.self, "membership.install.length"))
            var inner = WireReader(try reader.readSlice(length, "membership.install"))
            lastInstall = try readInstall(&inner)
            try inner.expectEnd("membership.install")
        case let other: throw .invalidField("membership.installed", reason: "\(other) is neither 0 nor 1")
        }
        let count = try reader.readCount(UInt16.self, "membership.proposals", limit: WireLimits.maxSites, minimumEntrySize: 4 + 64)
        var proposals: [SiteProposal] = []
        proposals.reserveCapacity(count)
        for _ in 0..<count { proposals.append(try readSizedProposal(&reader, "membership.proposal")) }
        let consumed = try readReceived(&reader, "membership.consumed")
        let frozenCount = try reader.readCount(UInt32.self, "membership.frozen", limit: maxMembershipMessages, minimumEntrySize: 9)
        var frozen: [WideAreaMembershipState.FrozenMessage] = []
        frozen.reserveCapacity(frozenCount)
        for _ in 0..<frozenCount {
            let serviceByte = try reader.read(UInt8.self, "membership.frozen.service")
            guard let service = Service(rawValue: serviceByte) else {
                throw .invalidField("membership.frozen.service", reason: "no service \(serviceByte)")
            }
            let sender = try reader.readNodeID("membership.frozen.sender")
            let length = Int(try reader.read(UInt32.self, "membership.frozen.length"))
            frozen.append(.init(service: service, sender: sender, payload: try reader.readSlice(length, "membership.frozen.payload")))
        }
        let relay = try readDataList(&reader, "membership.relay")
        let finishing = try readSites(&reader, "membership.finishing")
        let confirmed = try readSites(&reader, "membership.confirmed")
        let delivered = try readPosition(&reader, "membership.delivered")
        let highestSeq = try reader.read(UInt64.self, "membership.highestSeq")
        let pending = try readNodes(&reader, "membership.pending")
        let siteCount = try reader.readCount(UInt16.self, "membership.siteDaemons", limit: WireLimits.maxSites, minimumEntrySize: 6)
        var siteDaemons: [WideAreaMembershipState.SiteDaemons] = []
        siteDaemons.reserveCapacity(siteCount)
        for _ in 0..<siteCount {
            let site = SiteID(try reader.read(UInt32.self, "membership.siteDaemons.site"))
            siteDaemons.append(.init(site: site, daemons: try readNodes(&reader, "membership.siteDaemons.daemons")))
        }
        try PacketCodec.checkStrictlyAscending(siteDaemons.lazy.map(\.site), "membership.siteDaemons")
        let ordinal = try reader.read(UInt64.self, "membership.ordinal")
        var exchange = WideAreaMembershipState.ViewsExchange()
        exchange.epoch = try reader.read(UInt64.self, "membership.exchange.epoch")
        switch try reader.read(UInt8.self, "membership.exchange.running") {
        case 0: break
        case 1: exchange.running = true
        case let other: throw .invalidField("membership.exchange.running", reason: "\(other) is neither 0 nor 1")
        }
        exchange.announced = try readNodes(&reader, "membership.exchange.announced")
        exchange.started = try readNodes(&reader, "membership.exchange.started")
        let firstCount = try reader.readCount(
            UInt16.self, "membership.exchange.firstSessions", limit: 2 * WireLimits.maxMembers, minimumEntrySize: 8)
        guard firstCount == exchange.announced.count + exchange.started.count else {
            throw .invalidField(
                "membership.exchange.firstSessions",
                reason: "\(firstCount) entries for \(exchange.announced.count + exchange.started.count) announcing daemons")
        }
        for _ in 0..<firstCount { exchange.firstSessions.append(try reader.read(UInt64.self, "membership.exchange.firstSessions")) }
        let heldCount = try reader.readCount(UInt32.self, "membership.exchange.held", limit: maxMembershipMessages, minimumEntrySize: 25)
        exchange.held.reserveCapacity(heldCount)
        for _ in 0..<heldCount {
            let serviceByte = try reader.read(UInt8.self, "membership.exchange.held.service")
            guard let service = Service(rawValue: serviceByte) else {
                throw .invalidField("membership.exchange.held.service", reason: "no service \(serviceByte)")
            }
            let position = try readPosition(&reader, "membership.exchange.held.position")
            let length = Int(try reader.read(UInt32.self, "membership.exchange.held.length"))
            exchange.held.append(
                .init(service: service, position: position, payload: try reader.readSlice(length, "membership.exchange.held.payload")))
        }
        let seenCount = try reader.readCount(UInt16.self, "membership.unreliableSeen", limit: WireLimits.maxSites, minimumEntrySize: 8)
        var unreliableSeen: [WideAreaMembershipState.RecentUnreliable] = []
        unreliableSeen.reserveCapacity(seenCount)
        for _ in 0..<seenCount {
            let site = SiteID(try reader.read(UInt32.self, "membership.unreliableSeen.site"))
            let count = try reader.readCount(
                UInt32.self, "membership.unreliableSeen.ids", limit: maxRecentUnreliable, minimumEntrySize: 8)
            var ids: [UInt64] = []
            ids.reserveCapacity(count)
            for _ in 0..<count { ids.append(try reader.read(UInt64.self, "membership.unreliableSeen.id")) }
            unreliableSeen.append(.init(site: site, ids: ids))
        }
        try PacketCodec.checkStrictlyAscending(unreliableSeen.lazy.map(\.site), "membership.unreliableSeen")
        return WideAreaMembershipState(
            configuration: SiteConfiguration(id: id, sites: sites), attempt: attempt, phase: phase, proposing: proposing,
            lastInstall: lastInstall, proposals: proposals, consumed: consumed, frozen: frozen, relay: relay, finishing: finishing,
            confirmed: confirmed, delivered: delivered, highestSeq: highestSeq, pending: pending, siteDaemons: siteDaemons,
            ordinal: ordinal, exchange: exchange, unreliableSeen: unreliableSeen)
    }

    // MARK: Validation

    static func validateSites(_ sites: [SiteID], _ field: String) throws(WireError) {
        guard sites.count <= WireLimits.maxSites else { throw .tooMany(field, count: sites.count, limit: WireLimits.maxSites) }
        try PacketCodec.checkStrictlyAscending(sites.lazy.map { $0 }, field)
    }

    /// The origin among the sites it proposes; site lists ascending; its own received entry is its cut.
    static func validateProposal(_ proposal: SiteProposal) throws(WireError) {
        try validateSites(proposal.sites, "proposal.sites")
        guard proposal.sites.contains(proposal.origin) else {
            throw .invalidField("proposal.sites", reason: "the origin \(proposal.origin) does not propose itself")
        }
        guard proposal.received.count <= WireLimits.maxSites else {
            throw .tooMany("proposal.received", count: proposal.received.count, limit: WireLimits.maxSites)
        }
        try PacketCodec.checkStrictlyAscending(proposal.received.lazy.map(\.site), "proposal.received")
        guard proposal.received(of: proposal.origin) == proposal.cutSeq else {
            throw .invalidField("proposal.received", reason: "the origin's own entry is not its cut \(proposal.cutSeq)")
        }
        try validateInterests(proposal.interests, "proposal.interests")
        guard !proposal.interestsAll || proposal.interests.isEmpty else {
            throw .invalidField("proposal.interests", reason: "listed while every group is")
        }
        try validateSiteSeqs(proposal.standIns, "proposal.standIns")
    }

    /// One proposal per member, ascending, each proposing exactly the members; the coordinator
    /// the lowest of them.
    static func validateInstall(_ install: SiteInstall) throws(WireError) {
        guard !install.proposals.isEmpty, install.proposals.count <= WireLimits.maxSites else {
            throw .tooMany("install.proposals", count: install.proposals.count, limit: WireLimits.maxSites)
        }
        let members = install.proposals.map(\.origin)
        try PacketCodec.checkStrictlyAscending(members.lazy.map { $0 }, "install.proposals")
        for proposal in install.proposals {
            try validateProposal(proposal)
            guard proposal.sites == members else {
                throw .invalidField("install.proposals", reason: "\(proposal.origin) proposed other sites than the install's")
            }
        }
        guard install.id.coordinator == members[0] else {
            throw .invalidField("install.id", reason: "coordinator \(install.id.coordinator) is not the lowest member \(members[0])")
        }
    }

    static func validateMembership(_ state: WideAreaMembershipState) throws(WireError) {
        try validateSites(state.configuration.sites, "membership.sites")
        try validateSites(state.proposing, "membership.proposing")
        try validateSites(state.finishing, "membership.finishing")
        try validateSites(state.confirmed, "membership.confirmed")
        guard state.phase <= 2 else { throw .invalidField("membership.phase", reason: "no phase \(state.phase)") }
        guard state.phase != 2 || state.lastInstall != nil else {
            throw .invalidField("membership.phase", reason: "closing without the install it closes towards")
        }
        if let install = state.lastInstall { try validateInstall(install) }
        guard state.proposals.count <= WireLimits.maxSites else {
            throw .tooMany("membership.proposals", count: state.proposals.count, limit: WireLimits.maxSites)
        }
        try PacketCodec.checkStrictlyAscending(state.proposals.lazy.map(\.origin), "membership.proposals")
        for proposal in state.proposals { try validateProposal(proposal) }
        guard state.consumed.count <= WireLimits.maxSites else {
            throw .tooMany("membership.consumed", count: state.consumed.count, limit: WireLimits.maxSites)
        }
        try PacketCodec.checkStrictlyAscending(state.consumed.lazy.map(\.site), "membership.consumed")
        guard state.frozen.count <= maxMembershipMessages, state.relay.count <= maxMembershipMessages else {
            throw .tooMany("membership.messages", count: max(state.frozen.count, state.relay.count), limit: maxMembershipMessages)
        }
        for data in state.relay { try validate(.data(data)) }
    }
}
