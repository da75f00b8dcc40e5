import Chorus
import Foundation

/// Every client sending agreed, safe, fifo and causal messages in turn (every fifth one 4000
/// bytes, so fragmented), one round every few milliseconds until stopped, and bursts on demand.
/// A client can be taken out (its daemon was killed) and replaced by a new one.
final class SteadyTraffic: @unchecked Sendable {
    private let lock = NSLock()
    /// Per slot: the client sending there (nil while its daemon is down) and how many it sent.
    private var slots: [(client: TestClient?, sent: Int)]
    private var round = 0
    private var running = true
    private var task: Task<Void, Never>?
    private let services: [Service]

    init(clients: [TestClient], services: [Service] = [.agreed, .safe, .fifo, .causal]) {
        slots = clients.map { ($0, 0) }
        self.services = services
    }

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
                let k = round
                for index in slots.indices {
                    guard let client = slots[index].client else { continue }
                    client.send(services[k % services.count], size: k % 5 == 0 ? 4_000 : 200)
                    slots[index].sent += 1
                }
                round += 1
            }
        }
    }

    /// Puts `client` (nil: nobody) in slot `index`; a new client starts counting from 0.
    func replace(_ index: Int, with client: TestClient?) {
        lock.withLock { slots[index] = (client, 0) }
    }

    /// Stops the steady stream; returns how many messages each slot's current client has sent.
    func stop() async -> [Int] {
        lock.withLock { running = false }
        await task?.value
        return lock.withLock { slots.map(\.sent) }
    }
}
