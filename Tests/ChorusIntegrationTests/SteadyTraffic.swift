import Chorus
import Foundation

/// Every client sending agreed, safe, fifo and causal messages in turn (every fifth one 4000
/// bytes, so fragmented), one round every few milliseconds until stopped, and bursts on demand.
final class SteadyTraffic: @unchecked Sendable {
    private let clients: [TestClient]
    private let lock = NSLock()
    private var count = 0
    private var running = true
    private var task: Task<Void, Never>?
    private static let services: [Service] = [.agreed, .safe, .fifo, .causal]

    init(clients: [TestClient]) { self.clients = clients }

    func start() {
        task = Task { [self] in
            while lock.withLock({ running }) {
                burst(1)
                try? await Task.sleep(for: .milliseconds(4))
            }
        }
    }

    /// `rounds` messages from every client, at once.
    func burst(_ rounds: Int) {
        lock.withLock {
            for _ in 0..<rounds {
                let k = count
                for client in clients { client.send(Self.services[k % Self.services.count], size: k % 5 == 0 ? 4_000 : 200) }
                count += 1
            }
        }
    }

    /// Stops the steady stream; returns how many messages each client has sent.
    func stop() async -> Int {
        lock.withLock { running = false }
        await task?.value
        return lock.withLock { count }
    }
}
