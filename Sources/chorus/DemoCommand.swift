import ArgumentParser
import Chorus
import ChorusLocalCluster
import Foundation

/// `chorus demo`: a local 3-daemon cluster, clients exchanging agreed messages, a daemon killed
/// and restarted, and the views that result.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Start 3 local daemons, exchange agreed messages, kill and restart one, show the views, clean up.")

    @Option(help: "First client port; daemons use 10 ports each from here.")
    var basePort: Int = 4900

    @Flag(help: "Keep the cluster's directory (configuration and daemon logs).")
    var keepFiles = false

    func run() async throws {
        let cluster = try LocalCluster(count: 3, basePort: basePort)
        defer { cluster.stop(keepFiles: keepFiles) }
        say("starting 3 daemons (\(cluster.daemonPath)), config \(cluster.configFile.path)")
        try await cluster.start()
        say("daemons d1, d2, d3 listen for clients on 127.0.0.1:\(cluster.members.map { String($0.clientPort) }.joined(separator: ", :"))")

        let names = ["alice", "bob", "carol"]
        let board = DemoBoard()
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            // alice and bob stay connected for the whole demo.
            for index in 0..<2 {
                tasks.addTask { try await runClient(names[index], cluster.members[index], board, phases: [1, 2, 3]) }
            }
            tasks.addTask { try await runClient("carol", cluster.members[2], board, phases: [1]) }
            try await board.waitForMembers(3, seenBy: "alice")
            await board.advance(to: 1)
            try await board.waitForMessages(9, seenBy: ["alice", "bob", "carol"])
            say("every client delivered the same 9 agreed messages in the same order: \(await board.sameOrder(["alice", "bob", "carol"]) ? "yes" : "NO")")

            say("kill -9 d3 (carol's daemon); the others reconfigure when the token timeout (300 ms here) expires")
            let killed = Date()
            cluster.kill9("d3")
            try await board.waitForMembers(2, seenBy: "alice")
            say(String(format: "alice's regular view without carol came %.0f ms after the kill", Date().timeIntervalSince(killed) * 1000))
            await board.advance(to: 2)
            try await board.waitForMessages(13, seenBy: ["alice", "bob"])

            say("restarting d3; carol reconnects")
            let restarted = Date()
            try cluster.launch("d3")
            try await cluster.waitUntilListening(cluster.member("d3"))
            tasks.addTask { try await runClient("carol", cluster.members[2], board, phases: [3], rejoin: true) }
            try await board.waitForMembers(3, seenBy: "alice")
            say(String(format: "the views merged: alice sees 3 members %.0f ms after the restart", Date().timeIntervalSince(restarted) * 1000))
            await board.advance(to: 3)
            try await board.waitForFinal(["alice", "bob", "carol"])
            say("after the merge every client delivered the same agreed order: \(await board.sameFinalOrder(["alice", "bob", "carol"]) ? "yes" : "NO")")
            await board.advance(to: 4)
            tasks.cancelAll()
        }
        say("stopping the daemons (SIGTERM: each leaves the ring gracefully)")
        for member in cluster.members { cluster.terminate(member.name) }
        say("done")
    }

    func say(_ text: String) {
        print("== \(text)")
        fflush(nil)
    }
}

/// One demo client: joins "demo", prints what it gets, and sends in the phases it takes part in.
private func runClient(
    _ name: String, _ member: LocalCluster.Member, _ board: DemoBoard, phases: Set<Int>, rejoin: Bool = false
) async throws {
    try await ChorusClient.withSession(to: member.endpoint, name: name) { session in
        print("   \(name): connected to \(session.daemon) as \(session.privateGroup)")
        try await session.join("demo")
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask {
                for try await event in session.events {
                    switch event {
                    case .message(let message):
                        print("   \(name) got \(message.sender): \(message.text)")
                        await board.record(name, message.text)
                    case .membership(let view):
                        print("   \(name) \(describe(view))")
                        if view.kind == .regular { await board.members(name, view.members.count) }
                    case .status, .refused: break
                    }
                    fflush(nil)
                }
            }
            tasks.addTask {
                for phase in phases.sorted() {
                    try await board.waitForPhase(phase)
                    let count = phase == 1 ? 3 : phase == 2 ? 2 : 1
                    for index in 1...count {
                        try await session.multicast("\(name) #\(index) (phase \(phase))", to: ["demo"], service: .agreed)
                    }
                }
                try await board.waitForPhase(phases.max()! + 1)
            }
            try await tasks.next()
            tasks.cancelAll()
        }
    }
}

/// What the demo clients saw, so the demo can wait for it and compare orders.
private actor DemoBoard {
    var phase = 0
    var delivered: [String: [String]] = [:]
    var memberCount: [String: Int] = [:]

    func advance(to phase: Int) { self.phase = phase }
    func record(_ client: String, _ text: String) { delivered[client, default: []].append(text) }
    func members(_ client: String, _ count: Int) { memberCount[client] = count }

    func waitForPhase(_ wanted: Int) async throws {
        while phase < wanted { try await Task.sleep(for: .milliseconds(10)) }
    }

    func waitForMembers(_ count: Int, seenBy client: String, timeout: Double = 15) async throws {
        try await wait(timeout, "\(client) to see \(count) members") { $0.memberCount[client] == count }
    }

    func waitForMessages(_ count: Int, seenBy clients: [String], timeout: Double = 15) async throws {
        try await wait(timeout, "\(count) messages") { board in clients.allSatisfy { (board.delivered[$0]?.count ?? 0) >= count } }
    }

    func waitForFinal(_ clients: [String], timeout: Double = 15) async throws {
        try await wait(timeout, "the phase 3 messages") { board in
            clients.allSatisfy { client in (board.delivered[client] ?? []).filter { $0.hasSuffix("(phase 3)") }.count >= 3 }
        }
    }

    func sameOrder(_ clients: [String]) -> Bool {
        let orders = clients.map { Array((delivered[$0] ?? []).prefix(9)) }
        return orders.allSatisfy { $0 == orders[0] }
    }

    func sameFinalOrder(_ clients: [String]) -> Bool {
        let orders = clients.map { (delivered[$0] ?? []).filter { $0.hasSuffix("(phase 3)") } }
        return orders.allSatisfy { $0 == orders[0] }
    }

    private func wait(_ timeout: Double, _ what: String, _ done: (isolated DemoBoard) -> Bool) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while !done(self) {
            guard Date() < deadline else { throw ClusterError("timed out waiting for \(what)") }
            try await Task.sleep(for: .milliseconds(10))
        }
    }
}
