/// A daemon's identity inside a site, as configured. Stable across restarts.
public struct NodeID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    @inlinable public init(_ rawValue: UInt32) { self.rawValue = rawValue }
    @inlinable public static func < (lhs: NodeID, rhs: NodeID) -> Bool { lhs.rawValue < rhs.rawValue }
    public var description: String { "d\(rawValue)" }
}

/// Identifies one ring (one regular configuration of a site).
///
/// Ordered by `seq` first. A new ring always gets a `seq` above every ring seq its members knew,
/// and a restarted daemon starts above every seq it used before, so ring ids are never reused.
public struct RingID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var seq: UInt64
    public var representative: NodeID
    @inlinable public init(seq: UInt64, representative: NodeID) {
        self.seq = seq
        self.representative = representative
    }
    @inlinable public static func < (lhs: RingID, rhs: RingID) -> Bool {
        (lhs.seq, lhs.representative.rawValue) < (rhs.seq, rhs.representative.rawValue)
    }
    public static let none = RingID(seq: 0, representative: NodeID(0))
    public var description: String { "\(representative)/\(seq)" }
}

/// A site's identity in the wide area (its position in the configuration's site list, from 1).
public struct SiteID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    @inlinable public init(_ rawValue: UInt32) { self.rawValue = rawValue }
    @inlinable public static func < (lhs: SiteID, rhs: SiteID) -> Bool { lhs.rawValue < rhs.rawValue }
    public var description: String { "s\(rawValue)" }
}
