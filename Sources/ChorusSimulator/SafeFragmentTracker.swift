import ChorusVerify
import ChorusWire
import NIOCore

/// Ground truth for safe messages cut into fragments: a daemon holds such a message once it has
/// received every fragment, which may come in any order, more than once, or inside recovery packets.
///
/// A message's fragments are consecutive `senderIndex` values of one sender on one ring, from a
/// `.first` (whose body starts with the group envelope, so it names the message) to a `.last`.
struct SafeFragmentTracker {
    private struct Key: Hashable {
        var process: ProcessID
        var ring: RingID
        var sender: NodeID
        var index: UInt64
    }

    private struct Piece {
        var kind: FragmentKind
        /// For a `.first` fragment: the message it starts, read from the envelope.
        var message: MessageID?
    }

    private var pieces: [Key: Piece] = [:]
    /// First fragments of messages already reported complete.
    private var reported = Set<Key>()

    /// Notes one received safe fragment; returns the message it completes at `process`, if any.
    mutating func receive(_ packet: DataPacket, at process: ProcessID) -> MessageID? {
        let key = Key(process: process, ring: packet.ringID, sender: packet.sender, index: packet.senderIndex)
        guard pieces[key] == nil else { return nil }
        pieces[key] = Piece(kind: packet.fragment, message: packet.fragment == .first ? Self.messageID(packet.body) : nil)
        // Walk back to the first fragment and on to the last; any hole means not yet complete.
        var first = key
        while let piece = pieces[first], piece.kind != .first {
            guard first.index > 1 else { return nil }
            first.index -= 1
        }
        guard let message = pieces[first]?.message else { return nil }
        var last = key
        while let piece = pieces[last], piece.kind != .last { last.index += 1 }
        guard pieces[last] != nil, reported.insert(first).inserted else { return nil }
        // Done with these pieces; a late duplicate of one finds the message reported already.
        for index in first.index...last.index {
            pieces[Key(process: key.process, ring: key.ring, sender: key.sender, index: index)] = nil
        }
        return message
    }

    /// The message a first fragment starts (its envelope's sender and sequence number).
    private static func messageID(_ body: ByteBuffer) -> MessageID? {
        guard let (sender, seq) = GroupMessageCodec.dataSenderAndSeq(body) else { return nil }
        let (daemon, local) = (sender.daemon.rawValue, sender.local)
        return MessageID(session: SessionKey(daemon: daemon, local: local), seq: seq)
    }
}
