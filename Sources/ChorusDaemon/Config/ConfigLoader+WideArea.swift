import ChorusCore

/// `[wide_area]`: the order across sites, and an impairment for tests.
extension ConfigLoader {
    static let wideAreaKeys = [
        "heartbeat_ms", "resend_ms", "departure_grace_ms", "agreement_timeout_ms", "max_unacknowledged_kib", "pace_by_bandwidth_delay",
        "test_delay_ms", "test_jitter_ms", "test_loss_percent",
    ]

    func wideArea(_ section: TOMLDocument.Section, into config: inout DaemonConfig) throws(ConfigError) {
        try checkKeys(section, allowed: Self.wideAreaKeys)
        var impairment = DaemonConfig.HopImpairment()
        for entry in section.entries {
            let key = "wide_area.\(entry.key)"
            switch entry.key {
            case "heartbeat_ms":
                config.siteOrder.heartbeatInterval = UInt64(try integer(entry, key, 1...10_000, unit: " (milliseconds)")) * 1_000_000
            case "resend_ms":
                config.siteOrder.resendAfter = UInt64(try integer(entry, key, 10...600_000, unit: " (milliseconds)")) * 1_000_000
            case "departure_grace_ms":
                config.siteOrder.departureGrace = UInt64(try integer(entry, key, 0...600_000, unit: " (milliseconds)")) * 1_000_000
            case "agreement_timeout_ms":
                config.siteOrder.agreementTimeout = UInt64(try integer(entry, key, 100...600_000, unit: " (milliseconds)")) * 1_000_000
            case "max_unacknowledged_kib":
                config.siteOrder.maxUnacknowledgedBytes = try integer(entry, key, 256...8_192, unit: " (KiB)") << 10
            case "pace_by_bandwidth_delay":
                config.siteOrder.paceByBandwidthDelay = try boolean(entry, key)
            case "test_delay_ms":
                impairment.delay = UInt64(try integer(entry, key, 0...10_000, unit: " (milliseconds)")) * 1_000_000
            case "test_jitter_ms":
                impairment.jitter = UInt64(try integer(entry, key, 0...10_000, unit: " (milliseconds)")) * 1_000_000
            case "test_loss_percent":
                impairment.lossPercent = try integer(entry, key, 0...99, unit: " (percent)")
            default:
                break
            }
        }
        if impairment != DaemonConfig.HopImpairment() { config.hopImpairment = impairment }
    }
}
