import ArgumentParser

@main
struct ChorusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chorus",
        abstract: "Chorus: reliable group communication. Tools for users and developers.",
        subcommands: [
            DemoCommand.self, UserCommand.self, SendCommand.self, ListenCommand.self, StatusCommand.self,
            BenchCommand.self, SimCommand.self,
        ])
}
