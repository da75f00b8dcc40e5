import ChorusCore
import ChorusWire

/// The wide-area part of the file: `[[site]]` and `[[link]]` tables, and each daemon's `site`.
extension ConfigLoader {
    static let siteKeys = ["name", "id"]
    static let linkKeys = ["sites", "cost", "rate_mbit"]

    func site(_ section: TOMLDocument.Section, position: Int) throws(ConfigError) -> DaemonConfig.Site {
        let table = "site[\(position)]"
        try checkKeys(section, allowed: Self.siteKeys)
        let name = try name(of: section, table: table, example: "east")
        var id = UInt32(position)
        if let entry = section.entry("id") { id = UInt32(try integer(entry, "\(table).id", 1...65_535)) }
        return DaemonConfig.Site(name: name, id: id)
    }

    /// Puts each daemon in the site its `site` key names. Without `[[site]]` tables every daemon
    /// is in the one implicit site and no daemon may name one.
    func assignSites(
        _ document: TOMLDocument, _ sites: [DaemonConfig.Site], to peers: inout [DaemonConfig.Peer]
    ) throws(ConfigError) {
        let siteSections = document.sections.filter { $0.name == "site" && $0.isArrayElement }
        var names: [String: Int] = [:]
        var ids: [UInt32: Int] = [:]
        for (index, site) in sites.enumerated() {
            let section = siteSections[index]
            if let first = names[site.name] {
                throw fail(section.entry("name")?.line ?? section.line, "site[\(index + 1)].name", "'\(site.name)' is also the name of site[\(first + 1)]; expected unique names")
            }
            names[site.name] = index
            if let first = ids[site.id] {
                throw fail(section.entry("id")?.line ?? section.line, "site[\(index + 1)].id", "\(site.id) is also the id of site[\(first + 1)]; expected unique ids")
            }
            ids[site.id] = index
        }
        let daemonSections = document.sections.filter { $0.name == "daemon" && $0.isArrayElement }
        for index in peers.indices {
            let section = daemonSections[index]
            let key = "daemon[\(index + 1)].site"
            guard let entry = section.entry("site") else {
                if !sites.isEmpty {
                    throw fail(section.line, key, "missing; with [[site]] tables every daemon names its site (one of \(sites.map(\.name).joined(separator: ", ")))")
                }
                continue
            }
            let name = try string(entry, key)
            guard let site = sites.first(where: { $0.name == name }) else {
                let expected = sites.isEmpty ? "a [[site]] table of that name" : "one of \(sites.map(\.name).joined(separator: ", "))"
                throw fail(entry.line, key, "'\(name)' names no site; expected \(expected)")
            }
            peers[index].site = site.id
        }
        for (index, site) in sites.enumerated() where !peers.contains(where: { $0.site == site.id }) {
            throw fail(siteSections[index].line, "site[\(index + 1)]", "'\(site.name)' has no daemons; expected at least one [[daemon]] with site = \"\(site.name)\"")
        }
    }

    func links(_ sections: [TOMLDocument.Section], sites: [DaemonConfig.Site]) throws(ConfigError) -> [DaemonConfig.WideAreaLink] {
        var links: [DaemonConfig.WideAreaLink] = []
        for (index, section) in sections.enumerated() {
            let table = "link[\(index + 1)]"
            try checkKeys(section, allowed: Self.linkKeys)
            guard let entry = section.entry("sites") else {
                throw fail(section.line, "\(table).sites", "missing; expected the two sites it joins, such as [\"east\", \"west\"]")
            }
            guard case .array(let values) = entry.value, values.count == 2, case .string(let first) = values[0],
                case .string(let second) = values[1]
            else {
                throw fail(entry.line, "\(table).sites", "is not two site names; expected an array of two names such as [\"east\", \"west\"]")
            }
            var ends: [UInt32] = []
            for name in [first, second] {
                guard let site = sites.first(where: { $0.name == name }) else {
                    throw fail(entry.line, "\(table).sites", "'\(name)' names no site; expected one of \(sites.map(\.name).joined(separator: ", "))")
                }
                ends.append(site.id)
            }
            guard ends[0] != ends[1] else {
                throw fail(entry.line, "\(table).sites", "joins '\(first)' to itself; expected two different sites")
            }
            var cost: UInt32 = 1
            if let entry = section.entry("cost") { cost = UInt32(try integer(entry, "\(table).cost", 1...1_000_000)) }
            var rate: UInt64 = 0
            if let entry = section.entry("rate_mbit") {
                rate = UInt64(try integer(entry, "\(table).rate_mbit", 1...1_000_000, unit: " (megabits per second)")) * 125_000
            }
            let link = DaemonConfig.WideAreaLink(sites: (ends[0], ends[1]), cost: cost, rate: rate)
            if let other = links.firstIndex(where: { $0.sites == link.sites }) {
                throw fail(entry.line, "\(table).sites", "'\(first)' and '\(second)' are already joined by link[\(other + 1)]; expected one link per pair of sites")
            }
            links.append(link)
        }
        return links
    }

    /// With several sites every daemon needs a third UDP port of its own, the hop port.
    func checkHopPorts(_ document: TOMLDocument, _ peers: [DaemonConfig.Peer]) throws(ConfigError) {
        let sections = document.sections.filter { $0.name == "daemon" && $0.isArrayElement }
        for (index, peer) in peers.enumerated() {
            let section = sections[index]
            let table = "daemon[\(index + 1)]"
            guard peer.hopPort <= 65535 else {
                throw fail(section.entry("port")?.line ?? section.line, "\(table).hop_port", "port + 2 = \(peer.hopPort) is not a port; set hop_port (1 to 65535) or a lower port")
            }
            if peer.hopPort == peer.port || peer.hopPort == peer.tokenPort {
                throw fail(section.entry("hop_port")?.line ?? section.entry("token_port")?.line ?? section.line, "\(table).hop_port", "equals port or token_port (\(peer.hopPort)); expected a third UDP port for the wide area (set hop_port)")
            }
        }
    }

    /// Every site must reach every other over the links.
    func checkConnected(_ config: DaemonConfig, sections: [TOMLDocument.Section], document: TOMLDocument) throws(ConfigError) {
        guard config.sites.count > 1 else { return }
        var topology = SiteTopology(sites: config.sites.map { SiteID($0.id) })
        for link in config.links { topology.setLink(SiteID(link.sites.0), SiteID(link.sites.1), cost: link.cost) }
        let first = config.sites[0]
        let reached = Set(topology.component(of: SiteID(first.id)))
        guard let cutOff = config.sites.first(where: { !reached.contains(SiteID($0.id)) }) else { return }
        let index = config.sites.firstIndex(of: cutOff)!
        let line = document.sections.filter { $0.name == "site" && $0.isArrayElement }[index].line
        throw fail(line, "site[\(index + 1)]", "'\(cutOff.name)' is joined to '\(first.name)' by no path of [[link]] tables; expected every site to reach every other")
    }
}
