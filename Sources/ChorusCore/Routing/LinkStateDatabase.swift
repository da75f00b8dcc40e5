import ChorusWire

/// One site's report of its links: which neighbours its representative hears (the hop link is
/// up) and at what configured cost. A later report of the same site has a higher `version`
/// (representatives number them from their clock, like ring seqs, so a new representative's
/// reports supersede its predecessor's).
public struct LinkStateReport: Sendable, Equatable {
    public var site: SiteID
    public var version: UInt64
    /// The up links, by neighbour, ascending, without duplicates.
    public var links: [SiteLinkState]

    public init(site: SiteID, version: UInt64, links: [SiteLinkState]) {
        self.site = site
        self.version = version
        self.links = links
    }
}

public struct SiteLinkState: Sendable, Equatable {
    public var neighbour: SiteID
    public var cost: UInt32
    public init(neighbour: SiteID, cost: UInt32) {
        self.neighbour = neighbour
        self.cost = cost
    }
}

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
        if let held = reports[report.site], held.version >= report.version { return false }
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

    func isWellFormed(_ report: LinkStateReport) -> Bool {
        var previous: SiteID?
        for link in report.links {
            guard sites.contains(link.neighbour), link.neighbour != report.site, previous.map({ $0 < link.neighbour }) ?? true
            else { return false }
            previous = link.neighbour
        }
        return true
    }
}
