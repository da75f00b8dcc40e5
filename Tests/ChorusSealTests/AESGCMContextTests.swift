@testable import ChorusSeal
import Crypto
import Foundation
import NIOCore
import Testing

/// `AESGCMContext` reaches below swift-crypto's public API: these check it against `AES.GCM`,
/// both ways, at the sizes datagrams have.
struct AESGCMContextTests {
    static let sizes = [0, 1, 15, 16, 17, 100, 1000, 1472, 8948, 65_000]

    static func random(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8.random(in: 0...255) } }

    @Test(arguments: sizes) func whatItSealsOpensWithSwiftCrypto(size: Int) throws {
        let key = SymmetricKey(size: .bits256)
        let context = try #require(AESGCMContext(key: key))
        let message = Self.random(size)
        let nonce = Self.random(12)
        let associated = Self.random(24)
        var out = [UInt8](repeating: 0, count: size + 16)
        let written = message.withUnsafeBytes { m in
            nonce.withUnsafeBytes { n in
                associated.withUnsafeBytes { a in out.withUnsafeMutableBytes { context.seal(m, nonce: n, authenticating: a, into: $0) } }
            }
        }
        #expect(written == size + 16)
        let box = try AES.GCM.SealedBox(combined: nonce + out)
        #expect(try AES.GCM.open(box, using: key, authenticating: associated) == Data(message))
    }

    @Test(arguments: sizes) func whatSwiftCryptoSealsItOpensAndATamperedByteItRefuses(size: Int) throws {
        let key = SymmetricKey(size: .bits256)
        let context = try #require(AESGCMContext(key: key))
        let message = Self.random(size)
        let associated = Self.random(24)
        let box = try AES.GCM.seal(message, using: key, authenticating: associated)
        let nonce = Array(box.nonce)
        let sealed = Array(box.ciphertext) + Array(box.tag)
        func open(_ sealed: [UInt8], _ associated: [UInt8]) -> [UInt8]? {
            var out = [UInt8](repeating: 0xFF, count: size)
            let count = sealed.withUnsafeBytes { s in
                nonce.withUnsafeBytes { n in
                    associated.withUnsafeBytes { a in out.withUnsafeMutableBytes { context.open(s, nonce: n, authenticating: a, into: $0) } }
                }
            }
            return count.map { Array(out[..<$0]) }
        }
        #expect(open(sealed, associated) == message)
        var forged = sealed
        forged[size / 2] ^= 0x80
        #expect(open(forged, associated) == nil)
        var otherData = associated
        otherData[0] ^= 1
        #expect(open(sealed, otherData) == nil)
        #expect(open(Array(sealed.dropLast()), associated) == nil)
    }

    @Test func aKeyOfTheWrongSizeIsRefused() {
        #expect(AESGCMContext(key: SymmetricKey(size: .bits128)) == nil)
    }

    /// The sealed layout is plain AES-256-GCM under the derived key: nonce at 24, the header's
    /// first 24 bytes authenticated. Anyone with the format and the key can open it.
    @Test func aSealedDatagramIsStandardAESGCMUnderTheDerivedKey() throws {
        let configured = SymmetricKey(size: .bits256)
        var sealer = DatagramSealer(me: 7, incarnation: 42, keys: SealKeys([3: configured]), members: [7])
        let packet = ByteBufferAllocator().buffer(bytes: Self.random(3000))
        let datagram = sealer.seal(packet, channel: .hop, allocator: ByteBufferAllocator())
        let bytes = Array(datagram.readableBytesView)
        let box = try AES.GCM.SealedBox(combined: bytes[SealFormat.associatedSize...])
        let key = DatagramSealer.derivedKey(configured, sender: 7, incarnation: 42)
        let opened = try AES.GCM.open(box, using: key, authenticating: bytes[..<SealFormat.associatedSize])
        #expect(opened == Data(packet.readableBytesView))
    }
}
