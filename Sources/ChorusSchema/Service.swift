/// The delivery guarantee a sender picks for one message. Ordered from weakest to strongest.
public enum Service: UInt8, Sendable, CaseIterable, Comparable, CustomStringConvertible {
    case unreliable = 0
    case reliable = 1
    case fifo = 2
    case causal = 3
    case agreed = 4
    case safe = 5

    @inlinable public static func < (lhs: Service, rhs: Service) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String {
        switch self {
        case .unreliable: "unreliable"
        case .reliable: "reliable"
        case .fifo: "fifo"
        case .causal: "causal"
        case .agreed: "agreed"
        case .safe: "safe"
        }
    }
}
