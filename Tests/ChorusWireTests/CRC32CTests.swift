import ChorusWire
import NIOCore
import Testing

@Suite("CRC32C")
struct CRC32CTests {
    /// Known answers: the check value, and the iSCSI vectors of RFC 3720 B.4.
    static let vectors: [(String, [UInt8], UInt32)] = [
        ("empty", [], 0x0000_0000),
        ("123456789", Array("123456789".utf8), 0xE306_9283),
        ("32 zeros", [UInt8](repeating: 0, count: 32), 0x8A91_36AA),
        ("32 0xFF", [UInt8](repeating: 0xFF, count: 32), 0x62A8_AB43),
        ("0...31", (0..<32).map { UInt8($0) }, 0x46DD_794E),
        ("31...0", (0..<32).reversed().map { UInt8($0) }, 0x113F_DB5C),
    ]

    @Test(arguments: 0..<vectors.count)
    func knownAnswers(index: Int) {
        let (name, bytes, expected) = Self.vectors[index]
        let hardware = bytes.withUnsafeBytes { CRC32C.checksum($0) }
        let software = bytes.withUnsafeBytes { CRC32C.softwareChecksum($0) }
        #expect(hardware == expected, "\(name)")
        #expect(software == expected, "\(name)")
        #expect(CRC32C.checksum(ByteBuffer(bytes: bytes)) == expected, "\(name)")
        #expect(CRC32C.checksum(bytes) == expected, "\(name)")
    }

    @Test func chainingEqualsOneShot() {
        let bytes = Array("The quick brown fox jumps over the lazy dog".utf8)
        let whole = CRC32C.checksum(bytes)
        for split in 0...bytes.count {
            let first = CRC32C.checksum(bytes[..<split])
            #expect(CRC32C.checksum(bytes[split...], seed: first) == whole, "split at \(split)")
            let softFirst = bytes[..<split].withUnsafeBytes { CRC32C.softwareChecksum($0) }
            #expect(bytes[split...].withUnsafeBytes { CRC32C.softwareChecksum($0, seed: softFirst) } == whole)
        }
    }

    @Test func hardwareAgreesWithTableOnRandomBuffers() {
        // On a machine without CRC instructions both calls take the table path and this is trivial.
        let seed: UInt64 = 0xC4C3_2C00
        var rng = SplitMix64(seed: seed)
        let storage = rng.bytes(2048 + 16)
        storage.withUnsafeBytes { all in
            for length in Array(0...300) + [511, 512, 513, 1023, 1024, 1500, 2048] {
                for alignment in 0..<16 {
                    let slice = UnsafeRawBufferPointer(rebasing: all[alignment..<(alignment + length)])
                    let crcSeed = UInt32.random(in: 0...UInt32.max, using: &rng)
                    let hardware = CRC32C.checksum(slice, seed: crcSeed)
                    let software = CRC32C.softwareChecksum(slice, seed: crcSeed)
                    #expect(hardware == software, "length \(length) alignment \(alignment) seed \(seed)")
                }
            }
        }
    }

    @Test func reportsAcceleration() {
        #if arch(x86_64) || arch(arm64)
        // Informational: the x86_64 and arm64 CI machines are expected to have CRC instructions.
        print("CRC32C hardware acceleration: \(CRC32C.isHardwareAccelerated)")
        #endif
    }
}
