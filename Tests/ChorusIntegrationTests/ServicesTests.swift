import Chorus
import ChorusLocalCluster
import ChorusSeal
import ChorusVerify
import Foundation
import Testing

/// Real daemons, real sockets: three `chorusd` processes on 127.0.0.1 and a client on each.
@Suite(.serialized) struct ServicesTests {
    /// How ring data travels (the fixture's ring section ends inside [ring], so these lines land there).
    enum RingData: String, CaseIterable, CustomTestStringConvertible {
        /// Unicast fan-out with UDP segmentation and receive offload (the default on Linux).
        case offloaded
        /// Unicast fan-out, one datagram per system-call slot.
        case plain
        /// IP multicast.
        case multicast
        /// Unicast fan-out with offload, every datagram sealed (`[security] key_file`).
        case sealed

        var testDescription: String { rawValue }
        var basePort: Int { [21_000, 21_900, 21_050, 24_400][RingData.allCases.firstIndex(of: self)!] }
        var config: String {
            switch self {
            case .offloaded: ""
            case .plain: "udp_offload = false\n"
            case .multicast: "multicast = \"239.192.77.9:21099\"\n"
            case .sealed: "\n[security]\nkey_file = \"\(Self.keyFile)\"\n"
            }
        }

        /// A key file of its own for this test process.
        static let keyFile: String = {
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("chorus-services-keys-\(getpid())").path
            try! KeyFile.write(KeyFile.newKeyLine(id: 1) + "\n", to: path, replace: true)
            return path
        }()
    }

    @Test(arguments: RingData.allCases)
    func allSixServicesKeepTheirPromises(_ ringData: RingData) async throws {
        let fixture = try await ClusterFixture.start(basePort: ringData.basePort, extraConfig: ringData.config)
        defer { fixture.cluster.stop() }
        var random = SystemRandomNumberGenerator()
        var expected = 0
        for round in 0..<150 {
            for client in fixture.clients {
                let service = Service.allCases[(round + Int(client.process.daemon)) % Service.allCases.count]
                // Mostly small; every 25th message spans many packets.
                let size = round % 25 == 7 ? 20_000 + Int.random(in: 0..<5000, using: &random) : Int.random(in: 8...1500, using: &random)
                client.send(service, size: size)
                if service >= .reliable { expected += 1 }
            }
        }
        for client in fixture.clients {
            try await client.wait("every reliable message") { client in
                fixture.clients.allSatisfy { sender in client.reliableCount(from: sender.privateGroup) == expected / 3 }
            }
        }
        let history = fixture.recorder.finish()
        let violations = fixture.violations(livenessBound: 0)
        #expect(violations.isEmpty, "\(violations.prefix(5).map(\.description))")

        // Safe and agreed: every client delivered the same sequence.
        let orders = fixture.clients.map { client in
            client.messages.filter { $0.service >= .agreed }.map { "\($0.sender):\(String(describing: $0.payload.getInteger(at: $0.payload.readerIndex, as: UInt64.self)))" }
        }
        #expect(orders.allSatisfy { $0 == orders[0] })
        #expect(orders[0].count == 3 * 150 / 3)

        // The checkers read this history for real: break the order at one process and they say so.
        var broken = history
        let process = fixture.clients[0].process
        var log = broken.logs[process]!
        let deliveries = log.indices.filter {
            if case .deliver(_, let service, _) = log[$0].event { return service >= .agreed }
            return false
        }
        log.swapAt(deliveries[3], deliveries[4])
        broken.logs[process] = log
        #expect(!Checkers.totalOrder(broken).isEmpty)
        await fixture.stop()
    }
}
