// BoringSSL as swift-crypto builds it (symbols prefixed `CCryptoBoringSSL_`). swift-crypto's
// own AES.GCM API sets up a new cipher context on every call and returns its results in new
// `Data` values; a datagram sealer on the hot path wants neither. This file is the one place
// that reaches below swift-crypto's public API: `AESGCMTests` checks it against `AES.GCM`.
import CCryptoBoringSSL
import Crypto

/// One AES-256-GCM key, set up once (key schedule and GHASH tables) and then used to seal and
/// open straight between caller-owned buffers, without allocating. The context is only read
/// after `init`, and BoringSSL allows concurrent seal and open calls on it.
public final class AESGCMContext: @unchecked Sendable {
    public static let keySize = 32
    public static let nonceSize = 12
    public static let tagSize = 16

    private let context: UnsafeMutablePointer<EVP_AEAD_CTX>

    /// nil when `key` is not 32 bytes.
    public init?(key: SymmetricKey) {
        guard key.bitCount == Self.keySize * 8 else { return nil }
        let made = key.withUnsafeBytes { bytes in
            CCryptoBoringSSL_EVP_AEAD_CTX_new(
                CCryptoBoringSSL_EVP_aead_aes_256_gcm(), bytes.bindMemory(to: UInt8.self).baseAddress, bytes.count, Self.tagSize)
        }
        guard let made else { return nil }
        context = made
    }

    deinit { CCryptoBoringSSL_EVP_AEAD_CTX_free(context) }

    /// Encrypts `plaintext` into `out` and appends the tag: returns the bytes written
    /// (`plaintext.count + tagSize`), or nil when `out` is too small or `nonce` is not 12 bytes.
    /// `out` may start where `plaintext` starts (sealing in place), but may not overlap it otherwise.
    public func seal(
        _ plaintext: UnsafeRawBufferPointer, nonce: UnsafeRawBufferPointer, authenticating associated: UnsafeRawBufferPointer,
        into out: UnsafeMutableRawBufferPointer
    ) -> Int? {
        guard nonce.count == Self.nonceSize, out.count >= plaintext.count + Self.tagSize, let target = out.baseAddress else {
            return nil
        }
        var written = 0
        let ok = CCryptoBoringSSL_EVP_AEAD_CTX_seal(
            context, target.assumingMemoryBound(to: UInt8.self), &written, out.count,
            Self.bytes(nonce), nonce.count, Self.bytes(plaintext), plaintext.count, Self.bytes(associated), associated.count)
        return ok == 1 ? written : nil
    }

    /// Verifies `sealed` (ciphertext then tag) and decrypts it into `out`: returns the plaintext's
    /// length, or nil when the tag does not verify (then `out` holds zeros) or the sizes are wrong.
    /// `out` may start where `sealed` starts (opening in place), but may not overlap it otherwise.
    public func open(
        _ sealed: UnsafeRawBufferPointer, nonce: UnsafeRawBufferPointer, authenticating associated: UnsafeRawBufferPointer,
        into out: UnsafeMutableRawBufferPointer
    ) -> Int? {
        guard nonce.count == Self.nonceSize, sealed.count >= Self.tagSize, out.count >= sealed.count - Self.tagSize,
            let target = out.baseAddress
        else { return nil }
        var written = 0
        let ok = CCryptoBoringSSL_EVP_AEAD_CTX_open(
            context, target.assumingMemoryBound(to: UInt8.self), &written, out.count,
            Self.bytes(nonce), nonce.count, Self.bytes(sealed), sealed.count, Self.bytes(associated), associated.count)
        // A failed open leaves an error on BoringSSL's per-thread queue: cleared, so it cannot
        // surface in a later, unrelated call.
        if ok != 1 { CCryptoBoringSSL_ERR_clear_error() }
        return ok == 1 ? written : nil
    }

    /// BoringSSL takes a valid pointer even for zero bytes.
    private static func bytes(_ buffer: UnsafeRawBufferPointer) -> UnsafePointer<UInt8> {
        guard let base = buffer.baseAddress else { return emptyBytes }
        return base.assumingMemoryBound(to: UInt8.self)
    }

    nonisolated(unsafe) private static let emptyBytes: UnsafePointer<UInt8> = {
        let pointer = UnsafeMutablePointer<UInt8>.allocate(capacity: 1)
        pointer.initialize(to: 0)
        return UnsafePointer(pointer)
    }()
}
