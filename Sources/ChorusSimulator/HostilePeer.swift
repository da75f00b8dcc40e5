import ChorusCore
import ChorusWire

/// A peer on the simulated network that does not follow the protocol.
///
/// It sees every packet the honest daemons send (`observe`), remembers the newest ones and a
/// sample of old ones, and on each of its turns builds one codec-valid hostile packet
/// (`HostilePeer+Packets.swift`). Every choice it makes comes from the simulation's seeded
/// generator, so a hostile run replays exactly from its seed. It stops when quiescence starts,
/// so the checkers can see whether the site recovers by itself.
struct HostilePeer {
    let config: HostileConfig
    /// The configured site (honest daemons, plus the hostile one for the `configured` role).
    let site: [NodeID]
    /// The id the hostile peer sends under when it does not impersonate.
    let ownID: NodeID
    /// Daemons that run honestly.
    let honest: [NodeID]

    /// A packet seen on the network, with where it was going.
    struct Seen {
        var packet: Packet
        var from: NodeID
        var to: NodeID?
    }

    /// The newest packets seen (a ring buffer), for mutation and forging.
    private(set) var recent: [Seen] = []
    private var recentNext = 0
    /// A uniform sample of every packet seen so far (reservoir), for replays of old packets.
    private(set) var old: [Seen] = []
    private var seenCount: UInt64 = 0
    static let memory = 64

    /// The newest ring seen, its members, and its highest data seq and token.
    private(set) var ring = RingID.none
    private(set) var members: [NodeID] = []
    private(set) var highestSeq: UInt64 = 0
    private(set) var lastToken: Token?
    private(set) var lastTokenTo: NodeID?
    /// A data packet body seen on the current ring (a real group message), for forged data.
    private(set) var sampleBody: DataPacket?

    var stopped = false

    init(config: HostileConfig, site: [NodeID]) {
        self.config = config
        self.site = site
        switch config.role {
        case .outsider:
            ownID = NodeID(UInt32(site.count + 1))
            honest = site
        case .configured:
            ownID = site.last!
            honest = Array(site.dropLast())
        case .impersonator:
            ownID = site.first!
            honest = site
        }
    }

    /// Records a packet an honest daemon sent.
    mutating func observe(_ packet: Packet, from: NodeID, to: NodeID?, random: inout SimRandom) {
        guard !stopped else { return }
        let seen = Seen(packet: packet, from: from, to: to)
        if recent.count < Self.memory {
            recent.append(seen)
        } else {
            recent[recentNext] = seen
            recentNext = (recentNext + 1) % Self.memory
        }
        seenCount += 1
        if old.count < Self.memory {
            old.append(seen)
        } else {
            let slot = random.next() % seenCount
            if slot < UInt64(Self.memory) { old[Int(slot)] = seen }
        }
        switch packet {
        case .token(let token):
            noteRing(token.ringID)
            if token.ringID == ring, token.tokenSeq >= (lastToken?.tokenSeq ?? 0) {
                lastToken = token
                lastTokenTo = to
                highestSeq = max(highestSeq, token.seq)
            }
        case .data(let data):
            noteRing(data.ringID)
            if data.ringID == ring {
                highestSeq = max(highestSeq, data.seq)
                if !data.isRecovery, data.fragment == .packed, data.seq > 0 { sampleBody = data }
            }
        case .commit(let commit):
            if commit.ringID > ring { members = commit.members }
            noteRing(commit.ringID)
        default:
            break
        }
    }

    private mutating func noteRing(_ id: RingID) {
        guard id > ring else { return }
        ring = id
        highestSeq = 0
        lastToken = nil
        sampleBody = nil
    }

    /// The sender id for a packet of the current role: its own, or an honest member's.
    mutating func senderID(random: inout SimRandom) -> NodeID {
        guard config.role == .impersonator else { return ownID }
        let pool = members.isEmpty ? honest : members
        return pool[random.int(below: pool.count)]
    }

    /// One honest daemon to send to.
    func target(random: inout SimRandom) -> NodeID { honest[random.int(below: honest.count)] }
}

/// What the hostile peer did and how the honest daemons took it: `chorus sim` prints it.
public struct HostileCounts: Sendable, Equatable {
    /// Packets that reached an honest daemon, per attack (`HostileConfig.Attack.allCases` order).
    public var injected = [Int](repeating: 0, count: HostileConfig.Attack.allCases.count)
    /// Arrivals after which the daemon did something (sent, armed a timer, delivered, changed
    /// configuration): the packet was taken into account, rightly or not.
    public var actedOn = 0
    /// Arrivals the daemon dropped without any action.
    public var ignored = 0
    /// Packets the builders could not make codec-valid (not sent).
    public var unbuildable = 0
    /// Hostile tokens an honest daemon acted on: plausible forgeries that name no sender, which
    /// only authentication can refuse.
    public var tokensTaken = 0
    /// Hostile datagrams an honest daemon's seal check dropped (sealed runs only).
    public var sealRejected = 0
    /// Per attack: hostile datagrams that passed the seal check (sealed runs only).
    public var passedSeal = [Int](repeating: 0, count: HostileConfig.Attack.allCases.count)

    public init() {}

    public func injected(_ attack: HostileConfig.Attack) -> Int {
        injected[HostileConfig.Attack.allCases.firstIndex(of: attack)!]
    }

    public var description: String {
        let kinds = zip(HostileConfig.Attack.allCases, injected).map { "\($0) \($1)" }.joined(separator: ", ")
        return "injected \(kinds); honest daemons acted on \(actedOn), ignored \(ignored); tokens taken \(tokensTaken)"
            + (sealRejected > 0 ? "; refused by the seal \(sealRejected)" : "")
    }
}
