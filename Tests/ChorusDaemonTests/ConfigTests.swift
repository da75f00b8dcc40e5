import ChorusCore
import ChorusDaemon
import Testing

@Suite struct ConfigTests {
    static let valid = """
        # a three-host site
        [[daemon]]
        name = "alpha"
        address = "10.0.0.1"

        [[daemon]]
        name = "beta"
        address = "10.0.0.2"
        port = 5001
        token_port = 5009
        client_port = 0

        [[daemon]]
        name = "gamma"
        address = "fd00::3"
        unix_socket = ""

        [ring]
        token_timeout_ms = 500
        token_retransmit_ms = 20
        idle_hold_ms = 100
        window = 300
        datagram_size = 9000

        [sessions]
        max_sessions = 50
        slow_receiver_timeout_ms = 2500

        [log]
        level = "debug"
        """

    /// Datagrams fit a 1500-byte MTU: 1472 bytes of UDP payload over IPv4, 1452 over IPv6, unless
    /// `datagram_size` says otherwise; the ring's packet payload follows.
    @Test func datagramSizeFollowsTheAddressFamily() throws {
        let v4 = try DaemonConfig.parse("[[daemon]]\nname = \"a\"\naddress = \"10.0.0.1\"\n", file: "v4.toml")
        #expect(v4.datagramSize == 1472)
        #expect(v4.ring.maxPacketPayload == 1472 - DaemonConfig.datagramOverhead)
        let v6 = try DaemonConfig.parse("[[daemon]]\nname = \"a\"\naddress = \"fd00::1\"\n", file: "v6.toml")
        #expect(v6.datagramSize == DaemonConfig.ipv6DatagramSize)
        #expect(v6.ring.maxPacketPayload == DaemonConfig.ipv6DatagramSize - DaemonConfig.datagramOverhead)
        let explicit = try DaemonConfig.parse(Self.valid, file: "site.toml")
        #expect(explicit.datagramSize == 9000)
        #expect(explicit.ring.maxPacketPayload == 9000 - DaemonConfig.datagramOverhead)
    }

    /// `datagram_size = "auto"` (the default) takes the routes' MTU at start: 16 KiB over
    /// loopback, and `max_outstanding` then holds 4 MiB of them; a number or a set
    /// `max_outstanding` is kept as it is.
    @Test func automaticDatagramSizeFollowsTheRoutes() throws {
        let site = "[[daemon]]\nname = \"a\"\naddress = \"127.0.0.1\"\n[[daemon]]\nname = \"b\"\naddress = \"127.0.0.1\"\nport = 5001\nclient_port = 5000\nunix_socket = \"\"\n"
        let automatic = try DaemonConfig.parse(site, file: "auto.toml")
        #expect(automatic.automaticDatagramSize && automatic.automaticMaxOutstanding)
        #expect(try DaemonConfig.parse(site + "[ring]\ndatagram_size = \"auto\"\n", file: "auto.toml").automaticDatagramSize)
        #if os(Linux)
        let (resolved, receiveLimit) = automatic.resolvingDatagramSize(for: "a")
        #expect(resolved.datagramSize == DaemonConfig.maxAutomaticDatagramSize)
        #expect(receiveLimit == DaemonConfig.maxAutomaticDatagramSize)
        #expect(resolved.ring.maxPacketPayload == DaemonConfig.maxAutomaticDatagramSize - DaemonConfig.datagramOverhead)
        #expect(resolved.ring.maxOutstanding == UInt64(DaemonConfig.outstandingBytes / DaemonConfig.maxAutomaticDatagramSize))
        #endif
        let fixed = try DaemonConfig.parse(site + "[ring]\ndatagram_size = 1400\nmax_outstanding = 3000\n", file: "fixed.toml")
        let (kept, _) = fixed.resolvingDatagramSize(for: "a")
        #expect(kept.datagramSize == 1400 && kept.ring.maxOutstanding == 3000)
        #expect(throws: ConfigError.self) { try DaemonConfig.parse(site + "[ring]\ndatagram_size = \"big\"\n", file: "bad.toml") }
        // A daemon alone has no route to size by: the configured size stays.
        let (lone, _) = DaemonConfig.singleDaemon().resolvingDatagramSize(for: "local")
        #expect(lone.datagramSize == 1472)
    }

    @Test func udpOffloadIsOnUnlessTurnedOff() throws {
        let site = "[[daemon]]\nname = \"a\"\naddress = \"10.0.0.1\"\n"
        #expect(try DaemonConfig.parse(site, file: "on.toml").udpOffload)
        #expect(try !DaemonConfig.parse(site + "[ring]\nudp_offload = false\n", file: "off.toml").udpOffload)
        #expect(throws: ConfigError.self) { try DaemonConfig.parse(site + "[ring]\nudp_offload = 1\n", file: "bad.toml") }
    }

    @Test func validFileLoads() throws {
        let config = try DaemonConfig.parse(Self.valid, file: "site.toml")
        #expect(config.daemons.map(\.name) == ["alpha", "beta", "gamma"])
        #expect(config.daemons.map(\.id) == [1, 2, 3])
        #expect(config.daemons[0].port == DaemonConfig.defaultRingPort && config.daemons[0].tokenPort == DaemonConfig.defaultRingPort + 1)
        #expect(config.daemons[1].tokenPort == 5009 && config.daemons[1].clientPort == 0)
        #expect(config.daemons[2].unixSocket == "")
        #expect(config.ring.tokenTimeout == 500_000_000 && config.ring.windowSize == 300)
        #expect(config.ring.maxPacketPayload == 9000 - DaemonConfig.datagramOverhead)
        #expect(config.maxSessions == 50 && config.slowReceiverTimeout == 2_500_000_000)
        #expect(config.logLevel == .debug)
    }

    /// Each mistake is reported with the file, the line, the key, what is wrong and what was expected.
    @Test(arguments: [
        ("[[daemon]]\nname = \"a\"\naddress = \"10.0.0.1\"\nport = 70000\n", "site.toml:4: daemon[1].port: 70000 is out of range; expected an integer from 1 to 65535"),
        ("[[daemon]]\nname = \"a\"\naddress = \"10.0.0.1\"\nport = 65535\n", "site.toml:4: daemon[1].token_port: port + 1 = 65536 is not a port"),
        ("[[daemon]]\nname = \"a\"\naddress = \"10.0.0.300\"\n", "site.toml:3: daemon[1].address: '10.0.0.300' is not an IP address; expected an IPv4 or IPv6 literal such as \"10.0.0.1\""),
        ("[[daemon]]\nname = \"a\"\n", "site.toml:1: daemon[1].address: missing; expected the daemon's IP address such as \"10.0.0.1\""),
        ("[[daemon]]\nname = \"a\"\naddress = \"10.0.0.1\"\n[ring]\ntoken_timout_ms = 5\n", "site.toml:5: ring.token_timout_ms: unknown key; expected one of"),
        ("[[daemon]]\nname = \"a\"\naddress = \"10.0.0.1\"\n[ring]\ntoken_timeout_ms = \"fast\"\n", "site.toml:5: ring.token_timeout_ms: is a string; expected an integer from 20 to 600000 (milliseconds)"),
        ("[[daemon]]\nname = \"a\"\naddress = \"10.0.0.1\"\n[[daemon]]\nname = \"a\"\naddress = \"10.0.0.2\"\n", "site.toml:5: daemon[2].name: 'a' is also the name of daemon[1]; expected unique names"),
        ("[[daemon]]\nname = \"a\"\naddress = \"10.0.0.1\"\n[[daemon]]\nname = \"b\"\naddress = \"10.0.0.1\"\n", "site.toml:4: daemon[2].port: 10.0.0.1:4801 is already used by daemon[1]"),
        ("[[daemon]]\nname = \"a\"\naddress = \"10.0.0.1\"\n[[daemon]]\nname = \"b\"\naddress = \"10.0.0.1\"\nport = 5001\n", "site.toml:4: daemon[2].client_port: 127.0.0.1:4800 is also the client port of daemon[1] on the same host"),
        ("[[daemon]]\nname = \"a\"\naddress = \"10.0.0.1\"\n[[daemon]]\nname = \"b\"\naddress = \"10.0.0.1\"\nport = 5001\nclient_port = 5000\nunix_socket = \"/tmp/chorusd.4800.sock\"\n", "site.toml:9: daemon[2].unix_socket: '/tmp/chorusd.4800.sock' is also the Unix socket of daemon[1] on the same host"),
        ("[[daemon]]\nname = \"a\"\naddress = \"10.0.0.1\"\n[ring]\nidle_hold_ms = 900\n", "site.toml:5: ring.idle_hold_ms: 900 ms is more than half of token_timeout_ms (1000 ms)"),
        ("[[daemon]]\nname = \"a\"\naddress = \"10.0.0.1\"\n[log]\nlevel = \"loud\"\n", "site.toml:5: log.level: 'loud' is not a log level; expected one of trace, debug, info"),
        ("[[daemon]]\nname = \"a\"\naddress = \"10.0.0.1\"\n[ring]\ndatagram_size = \"big\"\n", "site.toml:5: ring.datagram_size: \"big\" is not a size; expected \"auto\" or an integer from 576 to 65507"),
        ("[[daemon]]\nname = \"a\"\naddress = \"10.0.0.1\"\n[rings]\n", "site.toml:4: rings: unknown table [rings]; expected [[daemon]], [[site]], [[link]], [ring], [wide_area], [sessions], [clients], [access], [[access_rule]], [security] or [log]"),
        ("[[daemon]]\nname = \"a\"\naddress = 10.0.0.1\n", "site.toml:3: TOML syntax: expected a value"),
        ("[[daemon]]\nname = \"a\naddress = \"10.0.0.1\"\n", "site.toml:2: TOML syntax: unterminated string"),
        ("[ring]\nwindow = 100\n", "site.toml:1: daemon: no [[daemon]] table"),
        ("name = \"x\"\n", "site.toml:1: name: keys must be inside a table"),
        ("[[daemon]]\nname = \"a\"\naddress = \"10.0.0.1\"\nname = \"b\"\n", "site.toml:4: TOML syntax: key 'name' is set twice"),
    ])
    func mistakesAreLocated(text: String, expected: String) {
        do {
            _ = try DaemonConfig.parse(text, file: "site.toml")
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.description.hasPrefix(expected), "got: \(error.description)")
        }
    }

    @Test func noFileMeansOneLocalDaemon() {
        let config = DaemonConfig.singleDaemon()
        #expect(config.daemons.count == 1)
        #expect(config.daemons[0].address == "127.0.0.1")
        #expect(config.daemons[0].clientPort == DaemonConfig.defaultClientPort)
    }

    @Test func unreadableFileIsReported() {
        #expect(throws: ConfigError.self) { try DaemonConfig.load(file: "/nonexistent/chorus.toml") }
    }
}

/// Sites and wide-area links in the file (issue 10): a one-site file keeps working unchanged;
/// every mistake in the topology is located.
@Suite struct SiteConfigTests {
    static let threeSites = """
        [[site]]
        name = "east"
        [[site]]
        name = "west"
        id = 7
        [[site]]
        name = "north"

        [[daemon]]
        name = "e1"
        address = "10.0.1.1"
        site = "east"
        [[daemon]]
        name = "e2"
        address = "10.0.1.2"
        site = "east"
        [[daemon]]
        name = "w1"
        address = "10.0.2.1"
        site = "west"
        hop_port = 6000
        [[daemon]]
        name = "n1"
        address = "10.0.3.1"
        site = "north"

        [[link]]
        sites = ["east", "west"]
        cost = 30
        rate_mbit = 100
        [[link]]
        sites = ["west", "north"]
        """

    @Test func sitesLinksAndRingsLoad() throws {
        let config = try DaemonConfig.parse(Self.threeSites, file: "wan.toml")
        #expect(config.sites.map(\.name) == ["east", "west", "north"] && config.sites.map(\.id) == [1, 7, 3])
        #expect(config.daemons.map(\.site) == [1, 1, 7, 3])
        #expect(config.daemons[0].hopPort == DaemonConfig.defaultRingPort + 2 && config.daemons[2].hopPort == 6000)
        #expect(config.links == [
            DaemonConfig.WideAreaLink(sites: (1, 7), cost: 30, rate: 12_500_000), DaemonConfig.WideAreaLink(sites: (7, 3)),
        ])
        // Each daemon's ring is its own site's daemons.
        #expect(config.siteDaemons(of: config.daemons[1]).map(\.name) == ["e1", "e2"])
        #expect(config.siteDaemons(of: config.daemons[3]).map(\.name) == ["n1"])
    }

    @Test func aOneSiteFileIsOneImplicitSite() throws {
        let config = try DaemonConfig.parse(ConfigTests.valid, file: "site.toml")
        #expect(config.sites == [DaemonConfig.Site(name: "local", id: 1)] && config.links.isEmpty)
        #expect(config.siteDaemons(of: config.daemons[0]).count == 3)
        // Two daemons on one host with ports two apart, as before sites existed: still valid.
        let close = "[[daemon]]\nname = \"a\"\naddress = \"10.0.0.1\"\n[[daemon]]\nname = \"b\"\naddress = \"10.0.0.1\"\nport = 4803\nclient_port = 4900\nunix_socket = \"\"\n"
        #expect(throws: Never.self) { try DaemonConfig.parse(close, file: "site.toml") }
        // A token port two above the ring port, or a ring port at the top of the range: valid
        // with one site (the hop port is never used).
        for daemon in ["port = 4801\ntoken_port = 4803\n", "port = 65534\ntoken_port = 65533\n"] {
            let text = "[[daemon]]\nname = \"a\"\naddress = \"10.0.0.1\"\n" + daemon
            #expect(throws: Never.self) { try DaemonConfig.parse(text, file: "site.toml") }
        }
    }

    static let twoSites = "[[site]]\nname = \"a\"\n[[site]]\nname = \"b\"\n"
    static let daemonA = "[[daemon]]\nname = \"a1\"\naddress = \"10.0.0.1\"\nsite = \"a\"\n"
    static let daemonB = "[[daemon]]\nname = \"b1\"\naddress = \"10.0.0.2\"\nsite = \"b\"\n"

    static let both: String = twoSites + daemonA + daemonB
    static let mistakes: [(String, String)] = [
        (both, "wan.toml:3: site[2]: 'b' is joined to 'a' by no path of [[link]] tables"),
        (twoSites + daemonA + "[[daemon]]\nname = \"b1\"\naddress = \"10.0.0.2\"\n", "wan.toml:9: daemon[2].site: missing; with [[site]] tables every daemon names its site"),
        (twoSites + daemonA + "[[daemon]]\nname = \"b1\"\naddress = \"10.0.0.2\"\nsite = \"c\"\n", "wan.toml:12: daemon[2].site: 'c' names no site; expected one of a, b"),
        (twoSites + daemonA, "wan.toml:3: site[2]: 'b' has no daemons"),
        (both + "[[link]]\nsites = [\"a\", \"c\"]\n", "wan.toml:14: link[1].sites: 'c' names no site"),
        (both + "[[link]]\nsites = [\"a\", \"a\"]\n", "wan.toml:14: link[1].sites: joins 'a' to itself"),
        (both + "[[link]]\nsites = [\"a\", \"b\"]\n[[link]]\nsites = [\"b\", \"a\"]\n", "wan.toml:16: link[2].sites: 'b' and 'a' are already joined by link[1]"),
        (both + "[[link]]\nsites = \"a\"\n", "wan.toml:14: link[1].sites: is not two site names"),
        (both + "[[link]]\nsites = [\"a\", \"b\"]\ncost = 0\n", "wan.toml:15: link[1].cost: 0 is out of range; expected an integer from 1 to 1000000"),
        (both + "[[link]]\nsites = [\"a\", \"b\"]\nlatency = 3\n", "wan.toml:15: link.latency: unknown key; expected one of sites, cost, rate_mbit"),
        (both + "[[link]]\nsites = [\"a\", \"b\"]\n[wide_area]\nheartbeat_ms = 0\n", "wan.toml:16: wide_area.heartbeat_ms: 0 is out of range; expected an integer from 1 to 10000 (milliseconds)"),
        (both + "[[link]]\nsites = [\"a\", \"b\"]\n[wide_area]\ntest_loss_percent = 100\n", "wan.toml:16: wide_area.test_loss_percent: 100 is out of range; expected an integer from 0 to 99 (percent)"),
        (both + "[[link]]\nsites = [\"a\", \"b\"]\n[wide_area]\nheartbeat = 5\n", "wan.toml:16: wide_area.heartbeat: unknown key; expected one of heartbeat_ms, resend_ms"),
        ("[[site]]\nname = \"a\"\n[[site]]\nname = \"a\"\n" + daemonA, "wan.toml:4: site[2].name: 'a' is also the name of site[1]"),
        (daemonA, "wan.toml:4: daemon[1].site: 'a' names no site; expected a [[site]] table of that name"),
        (twoSites + "[[daemon]]\nname = \"a1\"\naddress = \"10.0.0.1\"\nsite = \"a\"\nhop_port = 4802\n" + daemonB + "[[link]]\nsites = [\"a\", \"b\"]\n", "wan.toml:9: daemon[1].hop_port: equals port or token_port (4802)"),
        // Hop ports count only with more than one site (a one-site file never uses them).
        (twoSites + daemonA + "[[daemon]]\nname = \"a2\"\naddress = \"10.0.0.1\"\nsite = \"a\"\nport = 4803\nclient_port = 4900\nunix_socket = \"\"\n" + daemonB + "[[link]]\nsites = [\"a\", \"b\"]\n", "wan.toml:13: daemon[2].port: 10.0.0.1:4803 is already used by daemon[1]"),
    ]

    @Test func wideAreaSettingsLoad() throws {
        let text = Self.both
            + "[[link]]\nsites = [\"a\", \"b\"]\n[wide_area]\nheartbeat_ms = 25\nresend_ms = 2000\ndeparture_grace_ms = 500\nagreement_timeout_ms = 4000\ntest_delay_ms = 30\ntest_loss_percent = 2\n"
        let config = try DaemonConfig.parse(text, file: "wan.toml")
        #expect(config.siteOrder.heartbeatInterval == 25_000_000)
        #expect(config.siteOrder.departureGrace == 500_000_000)
        #expect(config.siteOrder.agreementTimeout == 4_000_000_000)
        #expect(config.siteOrder.resendAfter == 2_000_000_000)
        #expect(config.hopImpairment?.delay == 30_000_000)
        #expect(config.hopImpairment?.lossPercent == 2)
        #expect(try DaemonConfig.parse(Self.both + "[[link]]\nsites = [\"a\", \"b\"]\n", file: "wan.toml").hopImpairment == nil)
        #expect(config.siteOrder.paceByBandwidthDelay && config.siteOrder.maxUnacknowledgedBytes == 8 << 20)
    }

    /// The bound on what a site keeps for the others: its maximum, and whether it follows the links.
    @Test func outboxSettingsLoadAndBadOnesAreLocated() throws {
        let base = Self.both + "[[link]]\nsites = [\"a\", \"b\"]\n[wide_area]\n"
        let config = try DaemonConfig.parse(base + "max_unacknowledged_kib = 1024\npace_by_bandwidth_delay = false\n", file: "wan.toml")
        #expect(config.siteOrder.maxUnacknowledgedBytes == 1 << 20)
        #expect(!config.siteOrder.paceByBandwidthDelay)
        for (line, fragment) in [("max_unacknowledged_kib = 100", "wide_area.max_unacknowledged_kib"), ("pace_by_bandwidth_delay = 1", "wide_area.pace_by_bandwidth_delay")] {
            do {
                _ = try DaemonConfig.parse(base + line + "\n", file: "wan.toml")
                Issue.record("accepted: \(line)")
            } catch {
                #expect(error.description.hasPrefix("wan.toml:") && error.description.contains(fragment), "got: \(error.description)")
            }
        }
    }

    /// Sites are listed on the wire (link state, routed messages): more than the wire allows is refused.
    @Test func tooManySitesAreRefused() {
        let sites = (1...1025).map { "[[site]]\nname = \"s\($0)\"\n" }.joined()
        do {
            _ = try DaemonConfig.parse(sites, file: "wan.toml")
            Issue.record("1025 sites accepted")
        } catch {
            #expect(error.description.hasPrefix("wan.toml:2049: site: more than 1024 [[site]] tables"), "got: \(error.description)")
        }
    }

    @Test(arguments: mistakes)
    func topologyMistakesAreLocated(text: String, expected: String) {
        do {
            _ = try DaemonConfig.parse(text, file: "wan.toml")
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.description.hasPrefix(expected), "got: \(error.description)")
        }
    }
}
