import ArgumentParser

@main
struct Chorus: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chorus",
        abstract: "Chorus: reliable group communication. Tools for users and developers.",
        subcommands: [SimCommand.self])
}
