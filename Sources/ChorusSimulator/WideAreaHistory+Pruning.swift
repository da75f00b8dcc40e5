import ChorusCore

extension WideAreaHistory {
    /// A daemon that got a stand-in for a message whose groups had its sessions withholds it
    /// from them (`GroupDelivery.bodyWithheld`); that is right only where the message's site
    /// departed (it does not move on with the daemon: not in the transitional configuration that
    /// ends the one it delivered it in) and no daemon moving with it
    /// (delivering in the same configuration, on to the same next one) gave the body to its
    /// sessions. A stand-in sent where a member needed the body (a join numbered before the
    /// message, not known to its sender) shows here.
    func checkWithheldBodies(_ bySegment: [[Segment]], _ fail: (String) -> Void) {
        for (daemon, list) in deliveries.enumerated() {
            for segment in bySegment[daemon] {
                for index in segment.range where list[index].bodyWithheld {
                    // The members moving on with it: the transitional configuration that ends this one.
                    let origin = list[index].position?.origin
                    let movingOn = changes[daemon].first { $0.change.kind == .transitional && $0.change.id == segment.next }?.change.sites
                    if let origin, movingOn?.contains(origin) ?? true {
                        fail(
                            "daemon \(daemon) withheld \(list[index].message) from its sessions (a stand-in) in \(segment.configuration.map(\.description) ?? "none") though its site \(origin) did not depart")
                    }
                }
            }
        }
        var withheld: [MessageKey: [(daemon: Int, segment: Segment)]] = [:]
        var given: [MessageKey: [(daemon: Int, segment: Segment)]] = [:]
        for (daemon, list) in deliveries.enumerated() {
            for segment in bySegment[daemon] {
                for index in segment.range where list[index].bodyWithheld || list[index].toSessions {
                    let entry = (daemon, segment)
                    if list[index].bodyWithheld {
                        withheld[list[index].message, default: []].append(entry)
                    } else {
                        given[list[index].message, default: []].append(entry)
                    }
                }
            }
        }
        for (key, places) in withheld.sorted(by: { $0.key.description < $1.key.description }) {
            for place in places {
                let together = given[key]?.first {
                    $0.segment.configuration == place.segment.configuration && $0.segment.next == place.segment.next
                }
                if let together {
                    fail(
                        "daemon \(place.daemon) withheld \(key) from its sessions (a stand-in) in \(place.segment.configuration.map(\.description) ?? "none"), where daemon \(together.daemon), moving with it, gave them the body")
                }
            }
        }
    }
}
