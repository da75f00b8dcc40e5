/// What a session may do with a group: join it, send to it, or see its members (membership
/// events, and the group in `status`).
public enum AccessAction: String, Sendable, CaseIterable {
    case join
    case send
    case members
}

/// One `[[access_rule]]`: for the groups whose names match one of `groups`, who may take each
/// action it names.
public struct AccessRule: Sendable, Equatable {
    /// Name patterns: `*` matches any run of characters (also none), `?` one character.
    public var groups: [String]
    /// Per action this rule decides: the principals allowed (an action it leaves out falls to the
    /// next rule that names it, then to the default).
    public var allowed: [AccessAction: [AccessPrincipal]]

    public init(groups: [String], allowed: [AccessAction: [AccessPrincipal]]) {
        self.groups = groups
        self.allowed = allowed
    }

    public func covers(_ group: String) -> Bool { groups.contains { Self.glob($0, matches: group) } }

    /// Whether `pattern` (`*`, `?`, the rest literal) matches all of `name`.
    public static func glob(_ pattern: String, matches name: String) -> Bool {
        let pattern = Array(pattern.utf8)
        let name = Array(name.utf8)
        var p = 0
        var n = 0
        var star = -1
        var resume = 0
        while n < name.count {
            if p < pattern.count, pattern[p] == UInt8(ascii: "?") || pattern[p] == name[n] {
                p += 1
                n += 1
            } else if p < pattern.count, pattern[p] == UInt8(ascii: "*") {
                star = p
                resume = n
                p += 1
            } else if star >= 0 {
                p = star + 1
                resume += 1
                n = resume
            } else {
                return false
            }
        }
        while p < pattern.count, pattern[p] == UInt8(ascii: "*") { p += 1 }
        return p == pattern.count
    }
}

/// The access rules of the configuration (`[access]` and `[[access_rule]]`): for an action on a
/// group, the first rule, in the file's order, that covers the group and names the action
/// decides; with none, `defaultAllows`.
public struct AccessRules: Sendable, Equatable {
    public var rules: [AccessRule]
    public var defaultAllows: Bool

    public init(rules: [AccessRule] = [], defaultAllows: Bool = true) {
        self.rules = rules
        self.defaultAllows = defaultAllows
    }

    /// No rule and everything allowed: the daemon skips every check.
    public var allowsEverything: Bool { rules.isEmpty && defaultAllows }

    public func allows(_ action: AccessAction, _ group: String, for identity: ClientIdentity) -> Bool {
        for rule in rules {
            guard let principals = rule.allowed[action], rule.covers(group) else { continue }
            return principals.contains { $0.matches(identity) }
        }
        return defaultAllows
    }
}
