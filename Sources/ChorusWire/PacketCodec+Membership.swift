import NIOCore

// Join body:
//
//     sender u32 | ringID (seq u64, representative u32) | maxRingSeq u64 |
//     procCount u16 | procSet u32 * procCount | failCount u16 | failSet u32 * failCount
//
// Commit body:
//
//     ringID | rotation u8 | position u16 | memberCount u16 | member * memberCount
//     member = id u32 | oldRingID | myAru u64 | highSeq u64 | stableSeq u64 | filled u8 (0/1) |
//              committedCount u16 | committedSenders u32 * committedCount
//
// Leave and wake bodies:
//
//     sender u32 | ringID

extension PacketCodec {
    static let joinFixedSize = 4 + 12 + 8 + 2 + 2
    static let commitFixedSize = 12 + 1 + 2 + 2
    /// A member entry without its committed senders.
    static let commitMemberSize = 4 + 12 + 8 + 8 + 8 + 1 + 2
    static let senderAndRingSize = 4 + 12

    // MARK: Join

    static func writeJoin(_ join: JoinMessage, into buffer: inout ByteBuffer) {
        buffer.writeInteger(join.sender.rawValue)
        buffer.writeRingID(join.ringID)
        buffer.writeInteger(join.maxRingSeq)
        writeNodeList(join.procSet, into: &buffer)
        writeNodeList(join.failSet, into: &buffer)
    }

    static func readJoin(_ reader: inout WireReader) throws(WireError) -> JoinMessage {
        let sender = try reader.readNodeID("join.sender")
        let ringID = try reader.readRingID("join.ringID")
        let maxRingSeq = try reader.read(UInt64.self, "join.maxRingSeq")
        let procSet = try readNodeList(&reader, "join.procSet")
        let failSet = try readNodeList(&reader, "join.failSet")
        return JoinMessage(sender: sender, ringID: ringID, maxRingSeq: maxRingSeq, procSet: procSet, failSet: failSet)
    }

    static func validateJoin(_ join: JoinMessage) throws(WireError) {
        try checkLimit(join.procSet.count, "join.procSet", WireLimits.maxMembers)
        try checkLimit(join.failSet.count, "join.failSet", WireLimits.maxMembers)
        try checkStrictlyAscending(join.procSet, "join.procSet")
        try checkStrictlyAscending(join.failSet, "join.failSet")
        guard join.maxRingSeq >= join.ringID.seq else {
            throw .invalidField("join.maxRingSeq", reason: "\(join.maxRingSeq) below own ring seq \(join.ringID.seq)")
        }
    }

    static func writeNodeList(_ ids: [NodeID], into buffer: inout ByteBuffer) {
        precondition(ids.count <= WireLimits.maxMembers, "too many members")
        buffer.writeInteger(UInt16(ids.count))
        for id in ids {
            buffer.writeInteger(id.rawValue)
        }
    }

    static func readNodeList(_ reader: inout WireReader, _ field: String) throws(WireError) -> [NodeID] {
        let count = try reader.readCount(UInt16.self, field, limit: WireLimits.maxMembers, minimumEntrySize: 4)
        var ids: [NodeID] = []
        ids.reserveCapacity(count)
        for _ in 0..<count {
            ids.append(try reader.readNodeID(field))
        }
        return ids
    }

    // MARK: Commit

    static func writeCommit(_ commit: CommitToken, into buffer: inout ByteBuffer) {
        precondition(commit.members.count <= WireLimits.maxMembers, "too many members")
        precondition(commit.memberInfo.count == commit.members.count, "one memberInfo per member")
        buffer.writeRingID(commit.ringID)
        buffer.writeInteger(commit.rotation)
        buffer.writeInteger(commit.position)
        buffer.writeInteger(UInt16(commit.members.count))
        for (member, info) in zip(commit.members, commit.memberInfo) {
            buffer.writeInteger(member.rawValue)
            buffer.writeRingID(info.oldRingID)
            buffer.writeInteger(info.myAru)
            buffer.writeInteger(info.highSeq)
            buffer.writeInteger(info.stableSeq)
            buffer.writeBool(info.filled)
            writeNodeList(info.committedSenders, into: &buffer)
        }
    }

    static func readCommit(_ reader: inout WireReader) throws(WireError) -> CommitToken {
        let ringID = try reader.readRingID("commit.ringID")
        let rotation = try reader.read(UInt8.self, "commit.rotation")
        let position = try reader.read(UInt16.self, "commit.position")
        let count = try reader.readCount(
            UInt16.self, "commit.members", limit: WireLimits.maxMembers, minimumEntrySize: commitMemberSize
        )
        var members: [NodeID] = []
        var infos: [CommitMemberInfo] = []
        members.reserveCapacity(count)
        infos.reserveCapacity(count)
        for _ in 0..<count {
            members.append(try reader.readNodeID("commit.members"))
            let oldRingID = try reader.readRingID("commit.memberInfo.oldRingID")
            let myAru = try reader.read(UInt64.self, "commit.memberInfo.myAru")
            let highSeq = try reader.read(UInt64.self, "commit.memberInfo.highSeq")
            let stableSeq = try reader.read(UInt64.self, "commit.memberInfo.stableSeq")
            let filled = try reader.readBool("commit.memberInfo.filled")
            let committed = try readNodeList(&reader, "commit.memberInfo.committedSenders")
            infos.append(
                CommitMemberInfo(
                    oldRingID: oldRingID, myAru: myAru, highSeq: highSeq, stableSeq: stableSeq, filled: filled,
                    committedSenders: committed)
            )
        }
        return CommitToken(ringID: ringID, members: members, memberInfo: infos, rotation: rotation, position: position)
    }

    static func validateCommit(_ commit: CommitToken) throws(WireError) {
        guard !commit.members.isEmpty else { throw .invalidField("commit.members", reason: "empty") }
        try checkLimit(commit.members.count, "commit.members", WireLimits.maxMembers)
        try checkStrictlyAscending(commit.members, "commit.members")
        guard commit.memberInfo.count == commit.members.count else {
            throw .lengthMismatch(field: "commit.memberInfo", declared: commit.members.count, actual: commit.memberInfo.count)
        }
        for info in commit.memberInfo {
            try checkLimit(info.committedSenders.count, "commit.memberInfo.committedSenders", WireLimits.maxMembers)
            try checkStrictlyAscending(info.committedSenders, "commit.memberInfo.committedSenders")
        }
        guard commit.rotation == 1 || commit.rotation == 2 else {
            throw .invalidField("commit.rotation", reason: "\(commit.rotation) is neither 1 nor 2")
        }
        guard Int(commit.position) < commit.members.count else {
            throw .invalidField("commit.position", reason: "\(commit.position) outside \(commit.members.count) members")
        }
    }

    // MARK: Leave, wake

    static func writeSenderAndRing(sender: NodeID, ringID: RingID, into buffer: inout ByteBuffer) {
        buffer.writeInteger(sender.rawValue)
        buffer.writeRingID(ringID)
    }

    static func readSenderAndRing(_ reader: inout WireReader) throws(WireError) -> (NodeID, RingID) {
        let sender = try reader.readNodeID("sender")
        let ringID = try reader.readRingID("ringID")
        return (sender, ringID)
    }
}
