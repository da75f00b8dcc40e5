import NIOCore

// Token body:
//
//     ringID (seq u64, representative u32) | tokenSeq u64 | seq u64 | aru u64 | hasAruID u8 (0/1) |
//     aruID u32 (0 when absent) | fcc u32 | backlog u32 | idleRotations u32 | recoveryPending u32 |
//     barrierSeq u64 | hasAruSetter u8 (0/1) | aruSetter u32 (0 when absent) | stableSeq u64 |
//     retransmitCount u16 | retransmitRequests u64 * count

extension PacketCodec {
    static let tokenFixedSize = 12 + 8 + 8 + 8 + 1 + 4 + 4 + 4 + 4 + 4 + 8 + 1 + 4 + 8 + 2

    static func writeToken(_ token: Token, into buffer: inout ByteBuffer) {
        precondition(token.retransmitRequests.count <= WireLimits.maxRetransmitRequests, "too many retransmit requests")
        buffer.writeRingID(token.ringID)
        buffer.writeInteger(token.tokenSeq)
        buffer.writeInteger(token.seq)
        buffer.writeInteger(token.aru)
        buffer.writeBool(token.aruID != nil)
        buffer.writeInteger(token.aruID?.rawValue ?? 0)
        buffer.writeInteger(token.fcc)
        buffer.writeInteger(token.backlog)
        buffer.writeInteger(token.idleRotations)
        buffer.writeInteger(token.recoveryPending)
        buffer.writeInteger(token.barrierSeq)
        buffer.writeBool(token.aruSetter != nil)
        buffer.writeInteger(token.aruSetter?.rawValue ?? 0)
        buffer.writeInteger(token.stableSeq)
        buffer.writeInteger(UInt16(token.retransmitRequests.count))
        for request in token.retransmitRequests {
            buffer.writeInteger(request)
        }
    }

    static func readToken(_ reader: inout WireReader) throws(WireError) -> Token {
        let ringID = try reader.readRingID("token.ringID")
        let tokenSeq = try reader.read(UInt64.self, "token.tokenSeq")
        let seq = try reader.read(UInt64.self, "token.seq")
        let aru = try reader.read(UInt64.self, "token.aru")
        let hasAruID = try reader.readBool("token.hasAruID")
        let rawAruID = try reader.read(UInt32.self, "token.aruID")
        guard hasAruID || rawAruID == 0 else {
            throw .invalidField("token.aruID", reason: "absent aruID must be written as 0")
        }
        let fcc = try reader.read(UInt32.self, "token.fcc")
        let backlog = try reader.read(UInt32.self, "token.backlog")
        let idleRotations = try reader.read(UInt32.self, "token.idleRotations")
        let recoveryPending = try reader.read(UInt32.self, "token.recoveryPending")
        let barrierSeq = try reader.read(UInt64.self, "token.barrierSeq")
        let hasAruSetter = try reader.readBool("token.hasAruSetter")
        let rawAruSetter = try reader.read(UInt32.self, "token.aruSetter")
        guard hasAruSetter || rawAruSetter == 0 else {
            throw .invalidField("token.aruSetter", reason: "absent aruSetter must be written as 0")
        }
        let stableSeq = try reader.read(UInt64.self, "token.stableSeq")
        let count = try reader.readCount(
            UInt16.self, "token.retransmitRequests", limit: WireLimits.maxRetransmitRequests, minimumEntrySize: 8
        )
        var requests: [UInt64] = []
        requests.reserveCapacity(count)
        for _ in 0..<count {
            requests.append(try reader.read(UInt64.self, "token.retransmitRequests"))
        }
        return Token(
            ringID: ringID, tokenSeq: tokenSeq, seq: seq, aru: aru, aruID: hasAruID ? NodeID(rawAruID) : nil,
            retransmitRequests: requests, fcc: fcc, backlog: backlog, idleRotations: idleRotations,
            recoveryPending: recoveryPending, barrierSeq: barrierSeq,
            aruSetter: hasAruSetter ? NodeID(rawAruSetter) : nil, stableSeq: stableSeq
        )
    }

    static func validateToken(_ token: Token) throws(WireError) {
        guard token.aru <= token.seq else {
            throw .invalidField("token.aru", reason: "aru \(token.aru) above seq \(token.seq)")
        }
        guard token.stableSeq <= token.aru else {
            throw .invalidField("token.stableSeq", reason: "stable \(token.stableSeq) above aru \(token.aru)")
        }
        guard token.barrierSeq <= token.seq else {
            throw .invalidField("token.barrierSeq", reason: "barrier \(token.barrierSeq) above seq \(token.seq)")
        }
        try checkLimit(token.retransmitRequests.count, "token.retransmitRequests", WireLimits.maxRetransmitRequests)
        for request in token.retransmitRequests where request == 0 || request > token.seq {
            throw .invalidField("token.retransmitRequests", reason: "request \(request) outside 1...\(token.seq)")
        }
    }
}
