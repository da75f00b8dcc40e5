import ChorusWire
import NIOCore

/// Edits encoded packets in place, to build malformed inputs the encoder refuses to write.
enum ByteSurgery {
    static func put<T: FixedWidthInteger>(_ value: T, at offset: Int, in bytes: inout [UInt8]) {
        let size = MemoryLayout<T>.size
        for index in 0..<size {
            bytes[offset + index] = UInt8(truncatingIfNeeded: value >> ((size - 1 - index) * 8))
        }
    }

    /// Rewrites the packet's bodyLength to match its size and recomputes the CRC trailer, so that
    /// decoding gets past the framing and into the fields. No-op for inputs shorter than the framing.
    static func fixFraming(_ bytes: inout [UInt8]) {
        guard bytes.count >= PacketCodec.overhead else { return }
        put(UInt32(bytes.count - PacketCodec.overhead), at: 4, in: &bytes)
        fixCRC(&bytes)
    }

    static func fixCRC(_ bytes: inout [UInt8]) {
        guard bytes.count >= PacketCodec.trailerSize else { return }
        let crc = CRC32C.checksum(bytes[..<(bytes.count - 4)])
        put(crc, at: bytes.count - 4, in: &bytes)
    }

    static func decode(_ bytes: [UInt8]) -> Result<Packet, WireError> {
        do throws(WireError) {
            return .success(try PacketCodec.decode(ByteBuffer(bytes: bytes)))
        } catch {
            return .failure(error)
        }
    }

    static func decodeGroup(_ bytes: [UInt8]) -> Result<GroupMessage, WireError> {
        do throws(WireError) {
            return .success(try GroupMessageCodec.decode(ByteBuffer(bytes: bytes)))
        } catch {
            return .failure(error)
        }
    }

    /// Encodes `packet`, applies `patch` to the bytes (body offsets start at 8, before the trailer),
    /// fixes length and CRC, and returns the decode error (nil if it decoded).
    static func error(
        _ packet: Packet, fixing: Bool = true, _ patch: (inout [UInt8]) -> Void
    ) -> WireError? {
        var bytes = PacketCodec.encode(packet).bytes
        // Work on header + body; the trailer is re-appended.
        bytes.removeLast(PacketCodec.trailerSize)
        patch(&bytes)
        bytes.append(contentsOf: [0, 0, 0, 0])
        if fixing { fixFraming(&bytes) }
        if case .failure(let error) = decode(bytes) { return error }
        return nil
    }
}
