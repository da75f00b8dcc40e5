import ChorusCore
import ChorusWire
import Logging
import NIOCore

/// Everything `chorusd` needs to run one daemon of a site. Usually loaded from a TOML file with
/// `DaemonConfig.load(file:)`; `DaemonConfig.singleDaemon()` is the no-file default.
public struct DaemonConfig: Sendable, Equatable {
    /// One daemon of the site, as every host's file names it.
    public struct Peer: Sendable, Equatable {
        /// Unique in the site; `chorusd --name` picks which entry is this host's.
        public var name: String
        /// The daemon's number in the ring protocol (1-based position in the file unless `id` is set).
        public var id: UInt32
        /// The address ring traffic goes to (IPv4 or IPv6 literal).
        public var address: String
        /// UDP port of data packets; the token uses `tokenPort`.
        public var port: Int
        public var tokenPort: Int
        /// TCP port for clients on `clientAddress`; 0 turns the TCP listener off.
        public var clientPort: Int
        public var clientAddress: String
        /// Path of the Unix socket for clients; empty turns it off.
        public var unixSocket: String
        /// TCP port (on `clientAddress`) of the Spread-compatible listener; 0 (the default) turns it off.
        public var spreadPort: Int = 0
        /// Unix socket of the Spread-compatible listener (Spread's is `/tmp/<port>`); empty: none.
        public var spreadSocket: String = ""
        /// The site the daemon belongs to (its ring's members are that site's daemons).
        public var site: UInt32
        /// UDP port of the hop protocol, used while the daemon is its site's representative.
        public var hopPort: Int

        public init(
            name: String, id: UInt32, address: String, port: Int = DaemonConfig.defaultRingPort,
            tokenPort: Int? = nil, clientPort: Int = DaemonConfig.defaultClientPort, clientAddress: String = "127.0.0.1",
            unixSocket: String? = nil, site: UInt32 = 1, hopPort: Int? = nil
        ) {
            self.name = name
            self.id = id
            self.address = address
            self.port = port
            self.tokenPort = tokenPort ?? port + 1
            self.clientPort = clientPort
            self.clientAddress = clientAddress
            self.unixSocket = unixSocket ?? DaemonConfig.defaultUnixSocket(clientPort: clientPort)
            self.site = site
            self.hopPort = hopPort ?? port + 2
        }
    }

    /// A site: daemons on one LAN that run one ring.
    public struct Site: Sendable, Equatable {
        public var name: String
        /// 1-based position in the file unless `id` is set.
        public var id: UInt32
        public init(name: String, id: UInt32) {
            self.name = name
            self.id = id
        }
    }

    /// A wide-area link between two sites, which their representatives run the hop protocol on.
    public struct WideAreaLink: Sendable, Equatable {
        /// The two sites' ids, the lower first.
        public var sites: (UInt32, UInt32)
        /// Routing cost (routes take the cheapest paths).
        public var cost: UInt32
        /// Bytes per second the link may carry in each direction; 0: no limit.
        public var rate: UInt64
        public init(sites: (UInt32, UInt32), cost: UInt32 = 1, rate: UInt64 = 0) {
            self.sites = (min(sites.0, sites.1), max(sites.0, sites.1))
            self.cost = cost
            self.rate = rate
        }
        public static func == (lhs: WideAreaLink, rhs: WideAreaLink) -> Bool {
            lhs.sites == rhs.sites && lhs.cost == rhs.cost && lhs.rate == rhs.rate
        }
    }

    public static let defaultClientPort = 4800
    public static let defaultRingPort = 4801
    public static func defaultUnixSocket(clientPort: Int) -> String { "/tmp/chorusd.\(clientPort).sock" }

    /// Every daemon of every site, in the order of the file.
    public var daemons: [Peer]
    /// The sites, in the order of the file: one implicit site (`local`, id 1) when the file names none.
    public var sites: [Site] = [Site(name: "local", id: 1)]
    /// The wide-area links between sites.
    public var links: [WideAreaLink] = []
    /// The order across sites (heartbeat interval, resends), with more than one site.
    public var siteOrder = SiteOrderOptions()
    /// For tests only (`[wide_area] test_*`): hop datagrams this daemon sends are delayed and
    /// dropped, standing in for a wide-area network on one host.
    public var hopImpairment: HopImpairment?

    /// Delay, jitter and loss applied to outgoing hop datagrams.
    public struct HopImpairment: Sendable, Equatable {
        public var delay: UInt64 = 0
        public var jitter: UInt64 = 0
        public var lossPercent = 0
        public init() {}
    }
    /// Ring protocol tunables (timeouts, windows, packet and message sizes).
    public var ring: RingOptions
    /// Limits on what one client may ask.
    public var groupLimits: GroupLimits
    /// Open client sessions at most.
    public var maxSessions: Int
    /// A session whose socket stays full this long (nanoseconds) is disconnected as a slow receiver.
    public var slowReceiverTimeout: UInt64
    /// Bytes written to a session and not yet taken by its socket, at most, before it is disconnected.
    public var maxClientBacklog: Int
    /// Messages a Spread-protocol session may have waiting in the daemon (its socket full) before
    /// it is cut off, as Spread's `MaxSessionMessages` (default 1,000) does.
    public var spreadMaxSessionMessages = 1000
    /// Bytes of one ring datagram, at most (UDP payload). With `automaticDatagramSize`, the size
    /// used where a route's MTU cannot be read; `resolvingDatagramSize()` replaces it at start.
    public var datagramSize: Int
    /// Size ring datagrams by the routes to the peers (`datagram_size = "auto"`, the default):
    /// the largest every route takes unfragmented, at most `maxAutomaticDatagramSize`.
    public var automaticDatagramSize: Bool
    /// The most an automatic datagram size reaches (over loopback, whose MTU is 64 KiB).
    public static let maxAutomaticDatagramSize = 16 << 10
    /// `ring.maxOutstanding` follows the datagram size (`max_outstanding` not set): as many
    /// packets as `outstandingBytes` hold, so a member that falls behind has at most that much
    /// waiting in its socket before the senders slow down, whatever the datagrams' size.
    public var automaticMaxOutstanding: Bool
    /// The bytes of packets sent and not yet held by every member, with an automatic `maxOutstanding`.
    public static let outstandingBytes = 4 << 20
    public var logLevel: Logger.Level
    /// IPv4 multicast group and port for data packets; nil: unicast fan-out to each daemon.
    public var multicast: MulticastGroup?
    /// The key file that seals daemon traffic (`[security] key_file`, resolved against the
    /// configuration file's directory); nil: plain mode, for trusted networks only.
    public var keyFile: String?
    /// The tokens clients may present (`[clients] tokens_file`); with one, TCP clients must.
    public var tokensFile: String?
    /// The tokens' names (for the access rules).
    public var clientTokenNames: [String]?
    /// TLS on the TCP client listener (`[clients] tls_certificate`, `tls_key`, `tls_client_ca`).
    public var tls: TLSFiles?
    /// The PEM files of the TCP listener's TLS: its certificate chain, its private key, and the
    /// CA that client certificates must chain to (nil: no client certificates asked for).
    public struct TLSFiles: Sendable, Equatable {
        public var certificate: String
        public var key: String
        public var clientCA: String?
    }
    /// Unix socket clients must present a token too.
    public var unixRequiresToken = false
    /// A TCP listener off loopback without tokens is allowed (a trusted network).
    public var allowUnauthenticatedTCP = false
    /// Who may join, send to and see the members of which groups.
    public var access = AccessRules()
    /// Send runs of data datagrams through the kernel at once (UDP segmentation and receive
    /// offload) where the system supports it.
    public var udpOffload: Bool

    /// Where data packets go when the site uses IP multicast.
    public struct MulticastGroup: Sendable, Equatable {
        public var address: String
        public var port: Int
        public init(address: String, port: Int) {
            self.address = address
            self.port = port
        }
    }

    public init(daemons: [Peer]) {
        self.daemons = daemons
        var ring = RingOptions.lan
        ring.maxPendingMessages = 1_000
        ring.maxPendingBytes = 32 << 20
        self.ring = ring
        self.groupLimits = .default
        self.maxSessions = 1000
        self.slowReceiverTimeout = 10_000_000_000
        self.maxClientBacklog = 64 << 20
        self.datagramSize = 1472
        self.automaticDatagramSize = true
        self.automaticMaxOutstanding = true
        self.udpOffload = true
        self.logLevel = .info
    }

    /// A one-daemon site on 127.0.0.1 with the default ports: what `chorusd` runs with no file.
    public static func singleDaemon(name: String = "local") -> DaemonConfig {
        DaemonConfig(daemons: [Peer(name: name, id: 1, address: "127.0.0.1")])
    }

    public func peer(named name: String) -> Peer? { daemons.first { $0.name == name } }

    /// The daemons of `peer`'s site: the members its ring may have.
    public func siteDaemons(of peer: Peer) -> [Peer] { daemons.filter { $0.site == peer.site } }

    /// Sets the ring datagram size and the packet payload that follows from it.
    public mutating func setDatagramSize(_ size: Int) {
        datagramSize = size
        ring.maxPacketPayload = size - Self.datagramOverhead - (keyFile != nil ? WireLimits.sealReserve : 0)
    }

    /// The ring datagram sizes for the daemon named `name`: what it sends (`datagramSize`, from
    /// which the ring's packet payload follows) and the largest a peer may send it. With an
    /// automatic size, the smallest and largest of what the routes to the other daemons take
    /// unfragmented, within 576 and `maxAutomaticDatagramSize`; where a route's MTU cannot be
    /// read, the configured size for both.
    public func resolvingDatagramSize(for name: String) -> (config: DaemonConfig, receiveLimit: Int) {
        var resolved = self
        var receiveLimit = datagramSize
        if automaticDatagramSize {
            let site = peer(named: name).map { siteDaemons(of: $0) } ?? daemons
            let peers = site.filter { $0.name != name }.compactMap { try? SocketAddress(ipAddress: $0.address, port: $0.port) }
            let sizes = peers.map { address in
                PathMTU.toward(address).map { min(Self.maxAutomaticDatagramSize, max(576, $0 - PathMTU.headerBytes(for: address))) }
            }
            if !sizes.isEmpty, !sizes.contains(nil) {
                resolved.setDatagramSize(sizes.compactMap { $0 }.min()!)
                receiveLimit = sizes.compactMap { $0 }.max()!
            }
        }
        if automaticMaxOutstanding {
            resolved.ring.maxOutstanding = UInt64(min(2000, max(100, Self.outstandingBytes / resolved.datagramSize)))
        }
        return (resolved, receiveLimit)
    }
}
