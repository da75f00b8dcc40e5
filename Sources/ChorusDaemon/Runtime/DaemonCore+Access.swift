import ChorusProtocol
import ChorusSeal
import Foundation
import NIOCore
import NIOPosix

/// Who a session is (Unix socket credentials, the token it presented) and what the access rules
/// let it do.
extension DaemonCore {
    /// The identity of a new connection: its transport (for a Unix socket the peer's credentials
    /// follow, `readPeerCredentials`).
    func identity(of channel: any Channel) -> ClientIdentity {
        guard channel.localAddress?.protocol == .unix else {
            let remote = channel.remoteAddress
            let address = remote.map { "\($0.ipAddress ?? "?"):\($0.port ?? 0)" } ?? "?"
            return ClientIdentity(transport: .tcp(address: address))
        }
        return ClientIdentity(transport: .unix)
    }

    /// Reads a Unix socket peer's uid, gid and pid (SO_PEERCRED) into the session's identity. On
    /// the channel's loop the option is read at once, before any frame.
    func readPeerCredentials(_ session: ClientSession) {
        guard session.identity.transport == .unix, let provider = session.channel as? SocketOptionProvider else { return }
        let credentials: EventLoopFuture<PeerCredentials> = provider.unsafeGetSocketOption(
            level: .socket, name: .init(rawValue: SO_PEERCRED))
        credentials.whenSuccess { peer in
            session.identity.uid = peer.uid
            session.identity.gid = peer.gid
            session.identity.pid = peer.pid
        }
    }

    /// Checks the connect frame's token against the tokens file; nil when the session may go on.
    func authenticate(_ session: ClientSession, _ connect: ConnectRequest) -> ProtocolError? {
        let isTCP = session.identity.transport != .unix
        if connect.token.isEmpty {
            guard tokens != nil, isTCP || config.unixRequiresToken else { return nil }
            counters.authenticationFailures += 1
            return ProtocolError(.authenticationFailed, "daemon \(peer.name) requires a token on \(isTCP ? "TCP" : "its Unix socket")")
        }
        guard let name = tokens?.name(of: connect.token) else {
            counters.authenticationFailures += 1
            return ProtocolError(.authenticationFailed, "the token is not one daemon \(peer.name) knows")
        }
        session.identity.token = name
        return nil
    }

    /// Whether the rules let `session` take `action` on `group` (decisions kept per session: the
    /// rules do not change while the daemon runs).
    func allows(_ session: ClientSession, _ action: AccessAction, _ group: String) -> Bool {
        guard !config.access.allowsEverything else { return true }
        if let known = session.accessDecisions[action]?[group] { return known }
        let decision = config.access.allows(action, group, for: session.identity)
        if session.accessDecisions[action, default: [:]].count >= 4096 { session.accessDecisions[action] = [:] }
        session.accessDecisions[action, default: [:]][group] = decision
        return decision
    }

    /// A client asked to reload the key file: only the daemon's own user, or root, on its Unix
    /// socket may. Answered with the status (keys now) or a refused frame.
    func reloadKeys(for session: ClientSession) {
        let mayReload = session.identity.transport == .unix && (session.identity.uid == 0 || session.identity.uid == getuid())
        func refuse(_ code: ErrorCode, _ text: String) {
            session.append(.refused(Refusal(code: code, request: FrameType.reloadKeys.rawValue, group: "", text: text)))
            markDirty(session)
        }
        guard mayReload else {
            counters.accessRefusals += 1
            return refuse(.accessDenied, "only the daemon's user (uid \(getuid())) or root, on its Unix socket, may reload its keys; session '\(session.name)' is \(session.identity)")
        }
        guard let sealing else { return refuse(.reloadFailed, "daemon \(peer.name) runs in plain mode: no [security] key_file to reload") }
        logger.notice("key file reload asked by session '\(session.name)' (\(session.identity))")
        switch sealing.reload(now: now) {
        case .success:
            session.append(.statusReply(json: statusJSON(for: session)))
            markDirty(session)
        case .failure(let error):
            refuse(.reloadFailed, "\(error)")
        }
    }

    /// Tells the client its request was not carried out; the session stays open.
    func refuse(_ session: ClientSession, _ request: FrameType, _ group: String, _ action: AccessAction, request original: ClientRequest) {
        counters.accessRefusals += 1
        if session.spreadOrder != nil { return spreadReject(session, original, group: group) }
        let what =
            switch action {
            case .join: "join"
            case .send: "send to"
            case .members: "see the members of"
            }
        session.append(.refused(Refusal(
            code: .accessDenied, request: request.rawValue, group: group,
            text: "session '\(session.name)' (\(session.identity)) may not \(what) '\(group)'")))
        markDirty(session)
    }
}

/// `struct ucred` of Linux (which Swift's Glibc module does not show): what SO_PEERCRED gives.
struct PeerCredentials: Sendable {
    var pid: Int32
    var uid: UInt32
    var gid: UInt32
}

