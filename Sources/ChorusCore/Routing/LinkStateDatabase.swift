import ChorusWire

/// The newest link-state report of every configured site, as flooded between representatives.
/// Each representative that holds the same reports builds the same `SiteTopology`, so the same
/// routing trees.
public struct LinkStateDatabase: Sendable, Equatable {
    /// The configured sites: reports of or naming any other site are refused.
    public let sites: Set<SiteID>
    public private(set) var reports: [SiteID: LinkStateReport] = [:]
    /// Reports refused: for an unknown site, naming an unknown or the same site, or with
    /// neighbours not ascending (no honest representative writes those).
    public private(set) var refused = 0

    public init(sites: some Sequence<SiteID>) {
        self.sites = Set(sites)
    }

    /// Takes `report` if it is newer than the one held for its site; returns whether it did (the
    /// caller then floods it on to its other neighbours).
    public mutating func accept(_ report: LinkStateReport) -> Bool {
        guard sites.contains(report.site), isWellFormed(report) else {
            refused += 1
            return false
        }
        if let held = reports[report.site], !Self.supersedes(report, held) { return false }
        reports[report.site] = report
        return true
    }

    /// Forgets `site`'s report (its site left the configuration); its links count as down.
    public mutating func forget(_ site: SiteID) {
        reports[site] = nil
    }

    /// The topology of every link both of whose ends report it up (at the higher of the two
    /// costs, should they differ): a link heard one way only is down.
    public var topology: SiteTopology {
        var links: [SiteLink: UInt32] = [:]
        for report in reports.values {
            for link in report.links where link.neighbour > report.site {
                guard let other = reports[link.neighbour]?.links.first(where: { $0.neighbour == report.site }) else {
                    continue
                }
                links[SiteLink(report.site, link.neighbour)] = max(link.cost, other.cost)
            }
        }
        return SiteTopology(sites: sites, links: links)
    }

    /// Newer version first; two different reports of one version (which no honest pair of
    /// representatives writes) are ordered by their links, so every representative keeps the same.
    static func supersedes(_ new: LinkStateReport, _ held: LinkStateReport) -> Bool {
        if new.version != held.version { return new.version > held.version }
        let key = { (report: LinkStateReport) in Array(report.links.map { [UInt64($0.neighbour.rawValue), UInt64($0.cost)] }.joined()) }
        return key(held).lexicographicallyPrecedes(key(new))
    }

    /// What the codec demands (neighbours ascending, not the site itself, costs at least 1), and
    /// only configured sites.
    func isWellFormed(_ report: LinkStateReport) -> Bool {
        (try? HopMessageCodec.validate(.linkState(report))) != nil && report.links.allSatisfy { sites.contains($0.neighbour) }
    }
}
