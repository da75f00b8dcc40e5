/// Who a client session is, as far as the daemon knows: how it connected, the Unix socket
/// peer's credentials (SO_PEERCRED), and the name of the token it presented.
public struct ClientIdentity: Sendable, Equatable, CustomStringConvertible {
    public enum Transport: Sendable, Equatable {
        case unix
        case tcp(address: String)
    }
    public var transport: Transport
    /// The peer process's user, group and process id (Unix socket only).
    public var uid: UInt32?
    public var gid: UInt32?
    public var pid: Int32?
    /// The name of the token the client presented (nil: none).
    public var token: String?
    /// The connection is TLS; with client certificates, the certificate's common name.
    public var tls = false
    public var certificate: String?

    public init(
        transport: Transport, uid: UInt32? = nil, gid: UInt32? = nil, pid: Int32? = nil, token: String? = nil, tls: Bool = false,
        certificate: String? = nil
    ) {
        self.transport = transport
        self.uid = uid
        self.gid = gid
        self.pid = pid
        self.token = token
        self.tls = tls
        self.certificate = certificate
    }

    public var description: String {
        var parts: [String]
        switch transport {
        case .unix: parts = ["unix"]
        case .tcp(let address): parts = ["tcp \(address)"]
        }
        if let uid { parts.append("uid \(uid)") }
        if let gid { parts.append("gid \(gid)") }
        if let pid { parts.append("pid \(pid)") }
        if tls { parts.append("tls") }
        if let certificate { parts.append("cert \(certificate)") }
        if let token { parts.append("token \(token)") }
        return parts.joined(separator: " ")
    }
}

/// Whom a rule names: everyone, every Unix socket or TCP client, a user or group id (Unix
/// socket clients), or a token's name.
public enum AccessPrincipal: Sendable, Equatable, CustomStringConvertible {
    case any
    case unix
    case tcp
    case uid(UInt32)
    case gid(UInt32)
    case token(String)
    /// A TLS client certificate's common name (with `[clients] tls_client_ca`).
    case certificate(String)

    /// Parses `any`, `unix`, `tcp`, `uid:N`, `gid:N`, `token:NAME` or `cert:NAME`.
    public init?(parsing text: String) {
        switch text {
        case "any": self = .any
        case "unix": self = .unix
        case "tcp": self = .tcp
        default:
            let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[1].isEmpty else { return nil }
            switch parts[0] {
            case "uid": guard let id = UInt32(parts[1]) else { return nil }; self = .uid(id)
            case "gid": guard let id = UInt32(parts[1]) else { return nil }; self = .gid(id)
            case "token": self = .token(parts[1])
            case "cert": self = .certificate(parts[1])
            default: return nil
            }
        }
    }

    public func matches(_ identity: ClientIdentity) -> Bool {
        switch self {
        case .any: return true
        case .unix: return identity.transport == .unix
        case .tcp: if case .tcp = identity.transport { return true } else { return false }
        case .uid(let id): return identity.uid == id
        case .gid(let id): return identity.gid == id
        case .token(let name): return identity.token == name
        case .certificate(let name): return identity.certificate == name
        }
    }

    public var description: String {
        switch self {
        case .any: "any"
        case .unix: "unix"
        case .tcp: "tcp"
        case .uid(let id): "uid:\(id)"
        case .gid(let id): "gid:\(id)"
        case .token(let name): "token:\(name)"
        case .certificate(let name): "cert:\(name)"
        }
    }
}
