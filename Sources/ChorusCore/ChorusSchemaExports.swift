// The order layer's counters are part of the status report (ChorusSchema).
@_exported import struct ChorusSchema.SiteOrderCounters
