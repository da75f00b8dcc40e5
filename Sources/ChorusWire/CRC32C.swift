internal import CChorusCRC
import NIOCore

/// CRC32C (Castagnoli), as used in the packet trailer.
///
/// `checksum` of `"123456789"` is `0xE3069283`. Results chain: pass a previous result as `seed`
/// to continue over more bytes.
public enum CRC32C {
    /// The CRC32C of `bytes`, continuing from `seed` (0 to start). Uses CPU instructions when present.
    public static func checksum(_ bytes: UnsafeRawBufferPointer, seed: UInt32 = 0) -> UInt32 {
        chorus_crc32c(seed, bytes.baseAddress, bytes.count)
    }

    /// The CRC32C of the readable bytes of `buffer`, continuing from `seed`.
    public static func checksum(_ buffer: ByteBuffer, seed: UInt32 = 0) -> UInt32 {
        buffer.withUnsafeReadableBytes { checksum($0, seed: seed) }
    }

    /// The CRC32C of `bytes`, continuing from `seed`.
    public static func checksum(_ bytes: some Collection<UInt8>, seed: UInt32 = 0) -> UInt32 {
        let result = bytes.withContiguousStorageIfAvailable { checksum(UnsafeRawBufferPointer($0), seed: seed) }
        return result ?? Array(bytes).withUnsafeBytes { checksum($0, seed: seed) }
    }

    /// The portable table implementation, bypassing the hardware path. For tests and benchmarks.
    public static func softwareChecksum(_ bytes: UnsafeRawBufferPointer, seed: UInt32 = 0) -> UInt32 {
        chorus_crc32c_sw(seed, bytes.baseAddress, bytes.count)
    }

    /// True when `checksum` uses CPU instructions on this machine.
    public static var isHardwareAccelerated: Bool { chorus_crc32c_hw_available() != 0 }
}
