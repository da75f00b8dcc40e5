import NIOCore

/// Encodes and decodes `WideAreaMessage`s. The ring's and the hop protocol's CRCs already cover
/// them; `decode` checks every field, bounds every count before it allocates, never traps, and
/// refuses trailing bytes. Encoding is canonical.
public enum WideAreaMessageCodec {
    /// The first byte of every wide-area message (a group message starts with its version, 3).
    public static let marker: UInt8 = 0xA7

    enum Kind: UInt8 {
        case tick = 1
        case data = 2
        case heartbeat = 3
        case stateRequest = 4
        case state = 5
        case propose = 6
        case proposal = 7
        case install = 8
        /// Data with the sites given a stand-in (`WideAreaData.pruned`).
        case prunedData = 9
    }

    /// Data messages in one snapshot, at most (what waits and what other sites have not taken).
    public static let maxSnapshotMessages = 1 << 22

    /// Whether a ring payload is a wide-area message rather than a group message.
    @inlinable
    public static func isWideArea(_ payload: ByteBuffer) -> Bool {
        payload.getInteger(at: payload.readerIndex, as: UInt8.self) == marker
    }

    public static func encodedSize(_ message: WideAreaMessage) -> Int {
        switch message {
        case .tick: 2 + 8
        case .data(let data): 2 + 4 + 8 + 8 + 12 + 1 + 4 + (data.pruned.isEmpty ? 0 : 2 + 4 * data.pruned.count) + data.payload.readableBytes
        case .heartbeat(let beat): 2 + 4 + 12 + 8 + 8 + 2 + 20 * beat.progress.count
        case .stateRequest: 2 + 4 + 8
        case .state(let snapshot):
            2 + 4 + 4 + 8 + 8 + 2 + 28 * snapshot.sites.count + 2
                + snapshot.reports.reduce(0) { $0 + 6 + 20 * $1.progress.count } + 4 + 4
                + (snapshot.waiting + snapshot.outbox).reduce(0) { $0 + 4 + encodedSize(.data($1)) }
                + membershipSize(snapshot.membership)
                + snapshot.interests.reduce(2) { $0 + 4 + 1 + 4 + interestsSize($1.groups) + interestsSize($1.dropped) }
                + siteSeqsSize(snapshot.standIns)
                + snapshot.ownMembers.reduce(4) { $0 + GroupMessageCodec.sessionSize($1.session) + GroupMessageCodec.groupsSize($1.groups) }
        case .propose(let sites): 2 + 2 + 4 * sites.count
        case .proposal(let proposal): 2 + proposalSize(proposal)
        case .install(let install): 2 + installSize(install)
        }
    }

    /// Appends `message`, which must satisfy `validate` (a violation traps: a programmer error).
    public static func encode(_ message: WideAreaMessage, into buffer: inout ByteBuffer) {
        precondition((try? validate(message)) != nil, "encoding an invalid wide-area message")
        buffer.reserveCapacity(minimumWritableBytes: encodedSize(message))
        buffer.writeInteger(marker)
        switch message {
        case .tick(let stamp):
            buffer.writeInteger(Kind.tick.rawValue)
            buffer.writeInteger(stamp)
        case .data(let data):
            buffer.writeInteger(data.pruned.isEmpty ? Kind.data.rawValue : Kind.prunedData.rawValue)
            buffer.writeInteger(data.origin.rawValue)
            buffer.writeInteger(data.seq)
            buffer.writeInteger(data.lamport)
            writeConfigurationID(data.configuration, into: &buffer)
            buffer.writeInteger(data.service.rawValue)
            buffer.writeInteger(data.sender.rawValue)
            if !data.pruned.isEmpty { writeSites(data.pruned, into: &buffer) }
            buffer.writeImmutableBuffer(data.payload)
        case .heartbeat(let beat):
            buffer.writeInteger(Kind.heartbeat.rawValue)
            buffer.writeInteger(beat.origin.rawValue)
            writeConfigurationID(beat.configuration, into: &buffer)
            buffer.writeInteger(beat.lamport)
            buffer.writeInteger(beat.lastSeq)
            writeProgress(beat.progress, into: &buffer)
        case .stateRequest(let requester, let stamp):
            buffer.writeInteger(Kind.stateRequest.rawValue)
            buffer.writeInteger(requester.rawValue)
            buffer.writeInteger(stamp)
        case .state(let snapshot):
            buffer.writeInteger(Kind.state.rawValue)
            buffer.writeInteger(snapshot.requester.rawValue)
            buffer.writeInteger(snapshot.takenAt.rawValue)
            buffer.writeInteger(snapshot.clock)
            buffer.writeInteger(snapshot.localSeq)
            buffer.writeInteger(UInt16(snapshot.sites.count))
            for entry in snapshot.sites {
                buffer.writeInteger(entry.site.rawValue)
                buffer.writeInteger(entry.received)
                buffer.writeInteger(entry.promised)
                buffer.writeInteger(entry.held)
            }
            buffer.writeInteger(UInt16(snapshot.reports.count))
            for report in snapshot.reports {
                buffer.writeInteger(report.reporter.rawValue)
                writeProgress(report.progress, into: &buffer)
            }
            for list in [snapshot.waiting, snapshot.outbox] {
                buffer.writeInteger(UInt32(list.count))
                for data in list {
                    buffer.writeInteger(UInt32(encodedSize(.data(data))))
                    encode(.data(data), into: &buffer)
                }
            }
            writeMembership(snapshot.membership, into: &buffer)
            buffer.writeInteger(UInt16(snapshot.interests.count))
            for entry in snapshot.interests {
                buffer.writeInteger(entry.site.rawValue)
                buffer.writeInteger(UInt8((entry.all ? 1 : 0) | (entry.overflowed ? 2 : 0)))
                buffer.writeInteger(entry.leases)
                writeInterests(entry.groups, into: &buffer)
                writeInterests(entry.dropped, into: &buffer)
            }
            writeSiteSeqs(snapshot.standIns, into: &buffer)
            buffer.writeInteger(UInt32(snapshot.ownMembers.count))
            for entry in snapshot.ownMembers {
                GroupMessageCodec.writeSession(entry.session, into: &buffer)
                GroupMessageCodec.writeGroups(entry.groups, limit: WireLimits.maxGroupsPerSession, into: &buffer)
            }
        case .propose(let sites):
            buffer.writeInteger(Kind.propose.rawValue)
            writeSites(sites, into: &buffer)
        case .proposal(let proposal):
            buffer.writeInteger(Kind.proposal.rawValue)
            writeProposal(proposal, into: &buffer)
        case .install(let install):
            buffer.writeInteger(Kind.install.rawValue)
            writeInstall(install, into: &buffer)
        }
    }

    private static func writeProgress(_ progress: [SiteProgress], into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt16(progress.count))
        for entry in progress {
            buffer.writeInteger(entry.site.rawValue)
            buffer.writeInteger(entry.received)
            buffer.writeInteger(entry.held)
        }
    }

    private static func readProgress(_ reader: inout WireReader) throws(WireError) -> [SiteProgress] {
        let count = try reader.readCount(UInt16.self, "progress.count", limit: WireLimits.maxSites, minimumEntrySize: 20)
        var progress: [SiteProgress] = []
        progress.reserveCapacity(count)
        for _ in 0..<count {
            let site = SiteID(try reader.read(UInt32.self, "progress.site"))
            let received = try reader.read(UInt64.self, "progress.received")
            let held = try reader.read(UInt64.self, "progress.held")
            progress.append(SiteProgress(site: site, received: received, held: held))
        }
        return progress
    }

    static func readDataList(_ reader: inout WireReader, _ field: String) throws(WireError) -> [WideAreaData] {
        let count = try reader.readCount(UInt32.self, field, limit: maxSnapshotMessages, minimumEntrySize: 4 + 29)
        var list: [WideAreaData] = []
        list.reserveCapacity(count)
        for _ in 0..<count {
            let length = Int(try reader.read(UInt32.self, "\(field).length"))
            guard case .data(let data) = try decode(try reader.readSlice(length, "\(field).message")) else {
                throw .invalidField(field, reason: "a snapshot entry that is not data")
            }
            list.append(data)
        }
        return list
    }

    public static func encode(_ message: WideAreaMessage) -> ByteBuffer {
        var buffer = ByteBuffer()
        encode(message, into: &buffer)
        return buffer
    }

    /// Decodes one message from all readable bytes of `buffer`.
    public static func decode(_ buffer: ByteBuffer) throws(WireError) -> WideAreaMessage {
        var reader = WireReader(buffer)
        let first = try reader.read(UInt8.self, "wideArea.marker")
        guard first == marker else { throw .unsupportedVersion(first) }
        let kindByte = try reader.read(UInt8.self, "wideArea.kind")
        guard let kind = Kind(rawValue: kindByte) else { throw .unknownType(kindByte) }
        let message: WideAreaMessage
        switch kind {
        case .tick:
            message = .tick(stamp: try reader.read(UInt64.self, "tick.stamp"))
        case .data, .prunedData:
            let origin = SiteID(try reader.read(UInt32.self, "data.origin"))
            let seq = try reader.read(UInt64.self, "data.seq")
            let lamport = try reader.read(UInt64.self, "data.lamport")
            let configuration = try readConfigurationID(&reader, "data.configuration")
            let serviceByte = try reader.read(UInt8.self, "data.service")
            guard let service = Service(rawValue: serviceByte) else {
                throw .invalidField("data.service", reason: "no service \(serviceByte)")
            }
            let sender = try reader.readNodeID("data.sender")
            let pruned = kind == .prunedData ? try readSites(&reader, "data.pruned") : []
            if kind == .prunedData, pruned.isEmpty {
                throw .invalidField("data.pruned", reason: "pruned data names at least one site")
            }
            let payload = try reader.readSlice(reader.remaining, "data.payload")
            var data = WideAreaData(
                origin: origin, seq: seq, lamport: lamport, configuration: configuration, service: service, sender: sender,
                payload: payload)
            data.pruned = pruned
            message = .data(data)
        case .heartbeat:
            let origin = SiteID(try reader.read(UInt32.self, "heartbeat.origin"))
            let configuration = try readConfigurationID(&reader, "heartbeat.configuration")
            let lamport = try reader.read(UInt64.self, "heartbeat.lamport")
            let lastSeq = try reader.read(UInt64.self, "heartbeat.lastSeq")
            let progress = try readProgress(&reader)
            message = .heartbeat(
                WideAreaHeartbeat(origin: origin, configuration: configuration, lamport: lamport, lastSeq: lastSeq, progress: progress))
        case .stateRequest:
            let requester = try reader.readNodeID("stateRequest.requester")
            message = .stateRequest(requester: requester, stamp: try reader.read(UInt64.self, "stateRequest.stamp"))
        case .state:
            let requester = try reader.readNodeID("state.requester")
            let takenAt = try reader.readNodeID("state.takenAt")
            let clock = try reader.read(UInt64.self, "state.clock")
            let localSeq = try reader.read(UInt64.self, "state.localSeq")
            let count = try reader.readCount(UInt16.self, "state.sites", limit: WireLimits.maxSites, minimumEntrySize: 28)
            var sites: [WideAreaSnapshot.SiteState] = []
            sites.reserveCapacity(count)
            for _ in 0..<count {
                let site = SiteID(try reader.read(UInt32.self, "state.site"))
                let received = try reader.read(UInt64.self, "state.received")
                let promised = try reader.read(UInt64.self, "state.promised")
                let held = try reader.read(UInt64.self, "state.held")
                sites.append(.init(site: site, received: received, promised: promised, held: held))
            }
            let reporters = try reader.readCount(UInt16.self, "state.reports", limit: WireLimits.maxSites, minimumEntrySize: 6)
            var reports: [WideAreaSnapshot.SiteReport] = []
            reports.reserveCapacity(reporters)
            for _ in 0..<reporters {
                let reporter = SiteID(try reader.read(UInt32.self, "state.reporter"))
                reports.append(.init(reporter: reporter, progress: try readProgress(&reader)))
            }
            let waiting = try readDataList(&reader, "state.waiting")
            let outbox = try readDataList(&reader, "state.outbox")
            let membership = try readMembership(&reader)
            let interestCount = try reader.readCount(UInt16.self, "state.interests", limit: WireLimits.maxSites, minimumEntrySize: 17)
            var interests: [WideAreaSnapshot.SiteInterests] = []
            interests.reserveCapacity(interestCount)
            for _ in 0..<interestCount {
                let site = SiteID(try reader.read(UInt32.self, "state.interests.site"))
                let flags = try reader.read(UInt8.self, "state.interests.flags")
                guard flags & ~3 == 0 else { throw .invalidField("state.interests.flags", reason: "unknown flag bits") }
                let leases = try reader.read(UInt32.self, "state.interests.leases")
                var entry = WideAreaSnapshot.SiteInterests(site: site, groups: try readInterests(&reader, "state.interests.groups"))
                entry.all = flags & 1 != 0
                entry.overflowed = flags & 2 != 0
                entry.leases = leases
                entry.dropped = try readInterests(&reader, "state.interests.dropped")
                interests.append(entry)
            }
            var snapshot = WideAreaSnapshot(
                requester: requester, takenAt: takenAt, clock: clock, localSeq: localSeq, sites: sites, reports: reports, waiting: waiting,
                outbox: outbox, membership: membership)
            snapshot.interests = interests
            snapshot.standIns = try readSiteSeqs(&reader, "state.standIns")
            let memberCount = try reader.readCount(UInt32.self, "state.ownMembers", limit: maxSnapshotMessages, minimumEntrySize: 15)
            snapshot.ownMembers.reserveCapacity(memberCount)
            for _ in 0..<memberCount {
                let session = try GroupMessageCodec.readSession(&reader, "state.ownMembers.session")
                let groups = try GroupMessageCodec.readGroups(&reader, "state.ownMembers.groups", limit: WireLimits.maxGroupsPerSession)
                snapshot.ownMembers.append(SessionMemberships(session: session, groups: groups))
            }
            message = .state(snapshot)
        case .propose:
            message = .propose(sites: try readSites(&reader, "propose.sites"))
        case .proposal:
            message = .proposal(try readProposal(&reader))
        case .install:
            message = .install(try readInstall(&reader))
        }
        try reader.expectEnd("wide-area message")
        try validate(message)
        return message
    }

    /// Data: `seq >= 1` and `lamport >= 1`, but for unreliable data, which takes no place in the
    /// order: seq 0 (its `lamport` is an id its origin's representative gives it, for receivers to
    /// drop a second copy). Heartbeat: progress sites strictly ascending, at most
    /// `WireLimits.maxSites`, each `held <= received`.
    public static func validate(_ message: WideAreaMessage) throws(WireError) {
        switch message {
        case .tick:
            break
        case .data(let data):
            if data.service == .unreliable {
                guard data.seq == 0 else {
                    throw .invalidField("data.seq", reason: "unreliable data has no place in the order (seq 0)")
                }
            } else {
                guard data.seq >= 1 else { throw .invalidField("data.seq", reason: "seqs start at 1") }
                guard data.lamport >= 1 else { throw .invalidField("data.lamport", reason: "timestamps start at 1") }
            }
            try validateSites(data.pruned, "data.pruned")
            guard data.pruned.isEmpty || (data.service != .unreliable && !data.pruned.contains(data.origin)) else {
                throw .invalidField("data.pruned", reason: "only ordered data of other sites is pruned")
            }
        case .heartbeat(let beat):
            guard beat.progress.count <= WireLimits.maxSites else {
                throw .tooMany("heartbeat.progress", count: beat.progress.count, limit: WireLimits.maxSites)
            }
            try validateProgress(beat.progress)
        case .stateRequest:
            break
        case .state(let snapshot):
            guard snapshot.sites.count <= WireLimits.maxSites, snapshot.reports.count <= WireLimits.maxSites else {
                throw .tooMany("state.sites", count: max(snapshot.sites.count, snapshot.reports.count), limit: WireLimits.maxSites)
            }
            guard snapshot.waiting.count <= maxSnapshotMessages, snapshot.outbox.count <= maxSnapshotMessages else {
                throw .tooMany("state.messages", count: max(snapshot.waiting.count, snapshot.outbox.count), limit: maxSnapshotMessages)
            }
            try PacketCodec.checkStrictlyAscending(snapshot.sites.lazy.map(\.site), "state.site")
            try PacketCodec.checkStrictlyAscending(snapshot.reports.lazy.map(\.reporter), "state.reporter")
            for report in snapshot.reports { try validateProgress(report.progress) }
            for data in snapshot.waiting + snapshot.outbox { try validate(.data(data)) }
            try validateMembership(snapshot.membership)
            guard snapshot.interests.count <= WireLimits.maxSites else {
                throw .tooMany("state.interests", count: snapshot.interests.count, limit: WireLimits.maxSites)
            }
            try PacketCodec.checkStrictlyAscending(snapshot.interests.lazy.map(\.site), "state.interests.site")
            for entry in snapshot.interests {
                try validateInterests(entry.groups, "state.interests.groups")
                try validateInterests(entry.dropped, "state.interests.dropped")
                guard !entry.overflowed || (entry.all && entry.groups.isEmpty) else {
                    throw .invalidField("state.interests", reason: "an overflowed site is interested in every group and lists none")
                }
            }
            try validateSiteSeqs(snapshot.standIns, "state.standIns")
            guard snapshot.ownMembers.count <= maxSnapshotMessages else {
                throw .tooMany("state.ownMembers", count: snapshot.ownMembers.count, limit: maxSnapshotMessages)
            }
            try PacketCodec.checkStrictlyAscending(snapshot.ownMembers.lazy.map(\.session), "state.ownMembers.session")
            for entry in snapshot.ownMembers {
                guard entry.groups.count <= WireLimits.maxGroupsPerSession else {
                    throw .tooMany("state.ownMembers.groups", count: entry.groups.count, limit: WireLimits.maxGroupsPerSession)
                }
                try GroupMessageCodec.checkGroupNames(entry.groups, "state.ownMembers.groups")
            }
        case .propose(let sites):
            try validateSites(sites, "propose.sites")
        case .proposal(let proposal):
            try validateProposal(proposal)
        case .install(let install):
            try validateInstall(install)
        }
    }

    private static func validateProgress(_ progress: [SiteProgress]) throws(WireError) {
        guard progress.count <= WireLimits.maxSites else {
            throw .tooMany("progress", count: progress.count, limit: WireLimits.maxSites)
        }
        try PacketCodec.checkStrictlyAscending(progress.lazy.map(\.site), "progress.site")
        for entry in progress where entry.held > entry.received {
            throw .invalidField("progress.held", reason: "\(entry.held) above received \(entry.received) for \(entry.site)")
        }
    }
}
