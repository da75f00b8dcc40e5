import ArgumentParser
import Dispatch
import NIOCore
import NIOPosix

struct ChorusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chorus",
        abstract: "Chorus: reliable group communication. Tools for users and developers.",
        subcommands: [
            DemoCommand.self, UserCommand.self, SendCommand.self, ListenCommand.self, StatusCommand.self,
            BenchCommand.self, SimCommand.self, KeygenCommand.self, ReloadKeysCommand.self,
        ])
}

@main
enum Main {
    static func main() {
        // Run Swift concurrency on NIO's event loop threads: a client's task and its socket then
        // share threads, saving a thread hop on every message (latency) and on every wake-up.
        _ = NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        Task {
            await ChorusCommand.main()
            exit(0)
        }
        dispatchMain()
    }
}
