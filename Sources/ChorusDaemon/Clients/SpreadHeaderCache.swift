import ChorusSpread
import ChorusWire

/// The Spread data header of the stream being delivered, per byte order (a site's Spread clients
/// are nearly always all little-endian), rebuilt only when the sender, service, type or groups
/// change: the Spread-protocol counterpart of `DeliveryCache`'s frame header.
struct SpreadHeaderCache {
    private struct Key: Equatable {
        /// Its number alone tells it apart: a daemon never numbers two sessions alike.
        var sender: SessionID
        var service: Service
        var selfDiscard: Bool
        var messageType: UInt16
        var groups: [String]
    }

    private var little: (key: Key, header: SpreadDataHeader)?
    private var big: (key: Key, header: SpreadDataHeader)?

    /// The header for `data` delivered with `service` in `order`; `name` gives a sender's private group.
    mutating func header(
        for data: ClientData, service: Service, order: SpreadByteOrder, name: (SessionID) -> String
    ) -> SpreadDataHeader {
        let key = Key(
            sender: data.sender, service: service, selfDiscard: data.selfDiscard,
            messageType: data.messageType, groups: data.groups)
        if order == .little, let little, little.key == key { return little.header }
        if order == .big, let big, big.key == key { return big.header }
        let header = SpreadDataHeader(
            service: service.rawValue, selfDiscard: data.selfDiscard, sender: name(data.sender), groups: data.groups,
            messageType: data.messageType, order: order)
        if order == .little { little = (key, header) } else { big = (key, header) }
        return header
    }
}
