import ArgumentParser
import Chorus
import Foundation

/// `chorus user`: an interactive session, in the spirit of Spread's spuser.
struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user", abstract: "An interactive session: join, leave, send, and watch what arrives.")

    @OptionGroup var client: ClientOptions

    static let help = """
        commands:
          j GROUP              join GROUP
          l GROUP              leave GROUP
          s GROUP[,GROUP] TEXT multicast TEXT with the current service
          service NAME         unreliable, reliable, fifo, causal, agreed or safe (now: %@)
          type N               the 16-bit message type of later messages
          status               the daemon's status
          q                    quit
        """

    func run() async throws {
        let endpoint = try client.endpoint()
        try await ChorusClient.withSession(to: endpoint, name: client.sessionName("user"), token: client.presentedToken, tls: client.tls) { session in
            print("connected to daemon \(session.daemon) as \(session.privateGroup); 'h' for help")
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask {
                    for try await event in session.events {
                        switch event {
                        case .message(let message): print(describe(message))
                        case .membership(let view): print(describe(view))
                        case .status(let json): print(json)
                        case .refused(let refusal): print("refused: \(refusal.text)")
                        }
                        fflush(nil)
                    }
                }
                tasks.addTask {
                    var service = Service.agreed
                    var type: UInt16 = 0
                    for await line in StandardInputLines() {
                        let words = line.split(separator: " ", maxSplits: 2).map(String.init)
                        guard let command = words.first else { continue }
                        do {
                            switch command {
                            case "j", "join" where words.count >= 2: try await session.join(words[1])
                            case "l", "leave" where words.count >= 2: try await session.leave(words[1])
                            case "s", "send" where words.count >= 2:
                                let groups = words[1].split(separator: ",").map(String.init)
                                try await session.multicast(words.count > 2 ? words[2] : "", to: groups, service: service, messageType: type)
                            case "service" where words.count >= 2:
                                if let chosen = Service(argument: words[1]) { service = chosen } else { print("unknown service \(words[1])") }
                            case "type" where words.count >= 2:
                                if let chosen = UInt16(words[1]) { type = chosen } else { print("type is 0 to 65535") }
                            case "status": try await session.requestStatus()
                            case "q", "quit", "exit":
                                try await Task.sleep(for: .milliseconds(300))  // let pending events print
                                return
                            default: print(Self.help.replacingOccurrences(of: "%@", with: service.description))
                            }
                        } catch {
                            print("error: \(error)")
                        }
                    }
                    try await Task.sleep(for: .milliseconds(300))  // end of input: let pending events print
                }
                try await tasks.next()
                tasks.cancelAll()
            }
        }
    }
}

/// Lines of standard input, read on a thread of their own.
struct StandardInputLines: AsyncSequence {
    typealias Element = String
    func makeAsyncIterator() -> AsyncStream<String>.Iterator {
        let (stream, continuation) = AsyncStream.makeStream(of: String.self)
        let thread = Thread {
            while let line = readLine() { continuation.yield(line) }
            continuation.finish()
        }
        thread.start()
        return stream.makeAsyncIterator()
    }
}
