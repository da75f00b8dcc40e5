import ChorusCore
import ChorusProtocol
import ChorusWire

/// What a delivery to clients needs that stays the same from one message to the next in a
/// stream: the frame header for one sender, service, type and group list, and the sessions a
/// recipient list names. Each is built on the first message and reused while the next one
/// matches, so a delivery costs a lookup of neither names nor sessions.
struct DeliveryCache {
    private struct HeaderKey: Equatable {
        /// Its number alone tells it apart: a daemon never numbers two sessions alike.
        var sender: SessionID
        var service: Service
        var messageType: UInt16
        /// The group layer hands the same array for consecutive messages to one group list, so
        /// comparing it is usually a comparison of identities.
        var groups: [String]
    }

    private var headerKey: HeaderKey?
    private var header: MessageFrameHeader?
    private var recipientIDs: [SessionID] = []
    private var recipientSessions: [ClientSession] = []
    private var sessionsVersion = -1

    /// The frame header for `data` delivered with `service`; `name` gives a sender's private group.
    mutating func header(for data: ClientData, service: Service, name: (SessionID) -> String) -> MessageFrameHeader {
        let key = HeaderKey(sender: data.sender, service: service, messageType: data.messageType, groups: data.groups)
        if let header, headerKey == key { return header }
        let made = MessageFrameHeader(service: service, messageType: data.messageType, sender: name(data.sender), groups: data.groups)
        headerKey = key
        header = made
        return made
    }

    /// The open sessions `recipients` names. `version` changes whenever a session opens or closes.
    mutating func sessions(
        for recipients: [SessionID], version: Int, lookup: (UInt64) -> ClientSession?
    ) -> [ClientSession] {
        if version == sessionsVersion, recipients == recipientIDs { return recipientSessions }
        recipientIDs = recipients
        sessionsVersion = version
        recipientSessions = recipients.compactMap { lookup($0.local) }
        return recipientSessions
    }
}
