import ChorusFuzzTargets
import ChorusProtocol
import ChorusWire
import Foundation
import NIOCore
import Testing

/// Replays every committed fuzz input (seeds, and the inputs that once crashed a decoder, named
/// `crash-…`) through its target, as libFuzzer ran them: none may trap. docs/fuzzing.md says how
/// the corpora were made and how to fuzz further.
@Suite struct FuzzCorpusTests {
    static let corpus = Bundle.module.resourceURL!.appendingPathComponent("Corpus")

    static func inputs(_ target: FuzzTarget) -> [URL] {
        let folder = corpus.appendingPathComponent(target.rawValue)
        return ((try? FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)) ?? []).sorted { $0.path < $1.path }
    }

    @Test(arguments: FuzzTarget.allCases)
    func everyCommittedInputRunsWithoutATrap(_ target: FuzzTarget) throws {
        let inputs = Self.inputs(target)
        #expect(inputs.count >= 3, "the corpus of \(target.rawValue) has \(inputs.count) inputs")
        for input in inputs {
            let data = try Data(contentsOf: input)
            data.withUnsafeBytes { target.run($0) }
        }
    }

    /// The ring and hop targets reach past the checksum: a packet whose CRC a mutation broke
    /// decodes once the target makes the checksum right (else the fuzzer would stop at the CRC).
    @Test func theChecksumIsMadeRightSoMutationsReachTheFields() throws {
        let seed = try #require(Self.inputs(.ring).first { $0.lastPathComponent.hasPrefix("seed-") })
        var bytes = ByteBuffer(bytes: Array(try Data(contentsOf: seed)))
        #expect((try? PacketCodec.decode(bytes)) != nil)
        let last = bytes.writerIndex - 1
        bytes.setInteger(bytes.getInteger(at: last, as: UInt8.self)! ^ 0xFF, at: last)
        #expect((try? PacketCodec.decode(bytes)) == nil)
        #expect((try? PacketCodec.decode(FuzzTarget.withChecksum(bytes))) != nil)
    }

    /// Writes the seeds of the targets whose inputs are not wire packets (the wire ones come from
    /// ChorusWireTests' `FuzzSeedWriter`). Skipped unless CHORUS_WRITE_FUZZ_SEEDS is set.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["CHORUS_WRITE_FUZZ_SEEDS"] != nil, "CHORUS_WRITE_FUZZ_SEEDS is not set"))
    func writeSeeds() throws {
        let directory = URL(fileURLWithPath: ProcessInfo.processInfo.environment["CHORUS_WRITE_FUZZ_SEEDS"]!)
        func write(_ bytes: [UInt8], _ target: FuzzTarget, _ name: String) throws {
            let folder = directory.appendingPathComponent(target.rawValue)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try Data(bytes).write(to: folder.appendingPathComponent("seed-\(name)"))
        }
        func frames(_ requests: [ClientRequest]) -> [UInt8] {
            var buffer = ByteBuffer()
            for request in requests { request.encode(into: &buffer) }
            return Array(buffer.readableBytesView)
        }
        try write(frames([.connect(ConnectRequest(name: "alice", membershipNotices: true)), .join(group: "chat")]), .clientFrames, "0")
        try write(
            frames([
                .connect(ConnectRequest(name: "b", membershipNotices: false, token: "0123456789abcdef")),
                .multicast(MulticastRequest(service: .safe, selfDiscard: true, messageType: 9, groups: ["a", "#1#d1"], payload: ByteBuffer(string: "hi"))),
                .leave(group: "a"), .status, .disconnect,
            ]), .clientFrames, "1")
        try write(frames([.connect(ConnectRequest(version: 2, name: "old", membershipNotices: true))]), .clientFrames, "2")
        let events: [[DaemonEvent]] = [
            [.welcome(Welcome(privateGroup: "#1#d2", daemon: "d2", maxPayload: 1 << 24)),
             .message(MessageEvent(service: .agreed, messageType: 7, sender: "#1#d2", groups: ["g"], payload: ByteBuffer(string: "x")))],
            [.membership(MembershipEvent(
                group: "g", viewRingSeq: 1 << 40, viewRingRepresentative: 3, viewIndex: 3, kind: .regular, reason: .network,
                members: ["#1#d1", "#1#d3"], changed: ["#1#d1"], added: ["#1#d3"], removed: ["#1#d2"]))],
            [.error(code: .payloadTooLarge, text: "too big"), .statusReply(json: "{}"),
             .refused(Refusal(code: .accessDenied, request: 2, group: "billing", text: "no"))],
        ]
        for (index, list) in events.enumerated() {
            var buffer = ByteBuffer()
            for event in list { event.encode(into: &buffer) }
            try write(Array(buffer.readableBytesView), .daemonFrames, "\(index)")
        }
        let configs = [
            "[[daemon]]\nname = \"a\"\naddress = \"10.0.0.1\"\n[ring]\nwindow = 200\n[log]\nlevel = \"info\"\n",
            "[[daemon]]\nname = \"a\"\naddress = \"10.0.0.1\"\nsite = \"east\"\n[[daemon]]\nname = \"b\"\naddress = \"10.0.1.1\"\nsite = \"west\"\n[[site]]\nname = \"east\"\n[[site]]\nname = \"west\"\n[[link]]\nsites = [\"east\", \"west\"]\ncost = 30\nrate_mbit = 100\n[wide_area]\nheartbeat_ms = 10\n",
            "[[daemon]]\nname = \"a\"\naddress = \"127.0.0.1\"\n[sessions]\nmax_sessions = 10\n[access]\ndefault = \"deny\"\n[[access_rule]]\ngroups = [\"b*\", \"?x\"]\njoin = [\"any\", \"uid:0\"]\nmembers = []\n",
        ]
        for (index, text) in configs.enumerated() { try write(Array(text.utf8), .config, "\(index)") }
        let keys = [
            "# keys\nkey 1 \(String(repeating: "ab", count: 32))\nkey 2 \(String(repeating: "cd", count: 32))\n",
            "token billing 0123456789abcdef0123\ntoken ops ops-secret-ops-secret # x\n",
            "key 0 zz\n",
        ]
        for (index, text) in keys.enumerated() { try write(Array(text.utf8), .keyFile, "\(index)") }
        for (index, sample) in FuzzTarget.sealedSamples().enumerated() { try write(sample, .sealed, "\(index)") }
        for (index, sample) in FuzzTarget.spreadSamples().enumerated() { try write(sample, .spread, "\(index)") }
    }
}
