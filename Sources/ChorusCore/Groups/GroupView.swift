import ChorusWire

/// Identifies one view of a group. Ordered by ring, then index; strictly increasing per group
/// at a daemon.
///
/// Inside a regular configuration `index` counts the view-producing agreed events from 1, so
/// every daemon of the configuration gives the same view the same id. A transitional view has
/// the id `(ring of the regular configuration it leads to, 0)`.
public struct GroupViewID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var ring: RingID
    public var index: UInt64

    public init(ring: RingID, index: UInt64) {
        self.ring = ring
        self.index = index
    }

    public static func < (lhs: GroupViewID, rhs: GroupViewID) -> Bool {
        (lhs.ring, lhs.index) < (rhs.ring, rhs.index)
    }

    public var description: String { "\(ring):\(index)" }
}

/// A group's membership at one point of the total order (a membership event for its members).
public struct GroupView: Sendable, Equatable {
    /// Whether the view belongs to a regular or a transitional configuration (EVS).
    public enum Kind: Sendable, Equatable { case regular, transitional }

    /// What caused the view.
    public enum Reason: Sendable, Equatable {
        /// `changed` joined.
        case join
        /// `changed` left.
        case leave
        /// `changed` closed its session.
        case disconnect
        /// A configuration change: `changed` are the members that moved together with this daemon.
        case network
    }

    public var group: String
    /// This view's id (strictly increasing per group at a daemon; equal at every daemon).
    public var viewID: GroupViewID
    public var kind: Kind
    public var reason: Reason
    /// Every member, sorted by `SessionID`.
    public var members: [SessionID]
    /// Sorted. For join/leave/disconnect: the one session concerned (a leaver is not in
    /// `members`). For network: the members that moved together with this daemon.
    public var changed: [SessionID]
    /// Sorted. The members that are in this view but were not in this group's previous view at
    /// this daemon (for a daemon's first view of a group: every member).
    public var added: [SessionID] = []
    /// Sorted. The members of this group's previous view at this daemon that are not in this one.
    public var removed: [SessionID] = []
    /// The local sessions that get this view: this daemon's open sessions in `members`, sorted.
    /// A leaving or disconnecting session is not among them.
    public var recipients: [SessionID]

    public init(
        group: String, viewID: GroupViewID, kind: Kind, reason: Reason, members: [SessionID], changed: [SessionID],
        recipients: [SessionID], added: [SessionID] = [], removed: [SessionID] = []
    ) {
        self.group = group
        self.viewID = viewID
        self.kind = kind
        self.reason = reason
        self.members = members
        self.changed = changed
        self.recipients = recipients
        self.added = added
        self.removed = removed
    }
}
