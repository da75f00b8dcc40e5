import ArgumentParser
import Chorus
import Foundation
import NIOCore

/// `chorus send`: multicast messages from the command line or standard input.
struct SendCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "send",
        abstract: "Multicast messages to groups (each argument, or each line of standard input, is one message).")

    @OptionGroup var client: ClientOptions

    @Option(name: .shortAndLong, help: "A target group (repeat for a multigroup message).")
    var group: [String]

    @Option(name: .shortAndLong, help: "Service: \(Service.allValueStrings.joined(separator: ", ")).")
    var service: Service = .agreed

    @Option(name: .shortAndLong, help: "The 16-bit message type.")
    var type: UInt16 = 0

    @Flag(help: "Do not deliver the message to the sender itself.")
    var selfDiscard = false

    @Argument(help: "Messages; with none, each line of standard input is sent.")
    var messages: [String] = []

    func validate() throws {
        if group.isEmpty { throw ValidationError("name at least one --group") }
    }

    func run() async throws {
        let endpoint = try client.endpoint()
        let sent = try await ChorusClient.withSession(to: endpoint, name: client.sessionName("send"), membershipNotices: false, token: client.presentedToken, tls: client.tls) {
            session in
            var count = 0
            func send(_ text: String) async throws {
                try await session.multicast(text, to: group, service: service, messageType: type, selfDiscard: selfDiscard)
                count += 1
            }
            if messages.isEmpty {
                while let line = readLine() { try await send(line) }
            } else {
                for message in messages { try await send(message) }
            }
            // A refusal (access rules) comes back before the answer to a status request sent after.
            try await session.requestStatus()
            var refusals: [ChorusRefusal] = []
            for try await event in session.events {
                if case .refused(let refusal) = event { refusals.append(refusal) }
                if case .status = event { break }
            }
            if let first = refusals.first {
                printError("refused: \(first.text) (\(refusals.count) of \(count) message(s) refused)")
                throw ExitCode(1)
            }
            return count
        }
        printError("sent \(sent) message(s) to \(group.joined(separator: ",")) (\(service))")
    }
}

/// `chorus listen`: join groups and print what arrives.
struct ListenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "listen", abstract: "Join groups and print their messages and membership events.")

    @OptionGroup var client: ClientOptions

    @Option(name: .shortAndLong, help: "A group to join (repeatable).")
    var group: [String]

    @Option(name: .shortAndLong, help: "Exit after this many messages.")
    var count: Int?

    @Option(help: "Exit after this many seconds.")
    var timeout: Double?

    @Flag(help: "Do not print membership events.")
    var noMembership = false

    @Flag(help: "One JSON object per line.")
    var json = false

    func validate() throws {
        if group.isEmpty { throw ValidationError("name at least one --group") }
    }

    func run() async throws {
        let endpoint = try client.endpoint()
        let groups = group
        let limit = count
        let asJSON = json
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask {
                try await ChorusClient.withSession(
                    to: endpoint, name: client.sessionName("listen"), membershipNotices: !noMembership, token: client.presentedToken, tls: client.tls
                ) { session in
                    printError("connected to \(session.daemon) as \(session.privateGroup)")
                    for group in groups { try await session.join(group) }
                    var received = 0
                    for try await event in session.events {
                        switch event {
                        case .message(let message):
                            print(asJSON ? Self.json(message) : describe(message))
                            received += 1
                        case .membership(let view):
                            print(asJSON ? Self.json(view) : describe(view))
                        case .status: break
                        case .refused(let refusal):
                            // A refused join: nothing will come from that group.
                            printError("refused: \(refusal.text)")
                            throw ExitCode(1)
                        }
                        fflush(nil)
                        if let limit, received >= limit { return }
                    }
                }
            }
            if let timeout {
                tasks.addTask { try await Task.sleep(for: .seconds(timeout)) }
            }
            try await tasks.next()
            tasks.cancelAll()
        }
    }

    static func json(_ message: ChorusMessage) -> String {
        let object: [String: Any] = [
            "event": "message", "service": message.service.description, "sender": message.sender,
            "groups": message.groups, "type": Int(message.messageType), "payload": message.text,
        ]
        return encode(object)
    }

    static func json(_ view: ChorusMembership) -> String {
        let object: [String: Any] = [
            "event": "membership", "group": view.group, "view": view.viewID,
            "kind": view.kind == .regular ? "regular" : "transitional", "reason": view.reason.description,
            "members": view.members, "changed": view.changed,
            "added": view.added, "removed": view.removed,
        ]
        return encode(object)
    }

    static func encode(_ object: [String: Any]) -> String {
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }
}
