/// What the simulator's hostile peer is and which attacks it makes (see docs/hostile-peers.md).
///
/// The hostile peer knows the site's ring ids (it sees every packet on the network) and sends
/// packets that decode: the checksum stops only accidents, not a peer that computes it.
public struct HostileConfig: Sendable, Equatable {
    /// Who the hostile peer claims to be.
    public enum Role: String, Sendable, CaseIterable, CustomStringConvertible {
        /// Not a configured daemon: its packets name an id outside the site.
        case outsider
        /// A configured daemon (the site's last id) that does not run the protocol honestly:
        /// it never runs an engine and sends hostile packets under its own id.
        case configured
        /// Sends packets that name honest members as their senders.
        case impersonator

        public var description: String { rawValue }
    }

    /// One shape of hostile packet.
    public enum Attack: String, Sendable, CaseIterable, CustomStringConvertible {
        /// Fields at and near every limit: 0, 1, the current values ± 1, window edges, the ring
        /// seq step and plausibility bounds ± 1, the type's maximum.
        case boundary
        /// Old packets seen earlier on the network, sent again unchanged.
        case replay
        /// A packet just seen, one field changed to a boundary value.
        case mutate
        /// Plausible packets made up from what was seen: the next token, data at the next seqs,
        /// joins, commit tokens and leaves of the current ring.
        case forge

        public var description: String { rawValue }
    }

    public var role: Role
    public var attacks: [Attack]
    /// Packets injected per virtual second (each goes to one honest daemon, or to all).
    public var rate: Double
    /// Virtual seconds after the start before the first hostile packet (the site forms first).
    public var start: Double

    public init(role: Role, attacks: [Attack] = Attack.allCases, rate: Double = 200, start: Double = 0.5) {
        precondition(!attacks.isEmpty, "at least one attack")
        self.role = role
        self.attacks = attacks
        self.rate = rate
        self.start = start
    }
}
