// The services a client picks and the status report a statusReply carries are part of the
// protocol; they live in ChorusSchema, which the engine shares.
@_exported import enum ChorusSchema.Service
@_exported import struct ChorusSchema.DaemonStatus
@_exported import struct ChorusSchema.DaemonCounters
@_exported import struct ChorusSchema.WideAreaCounters
@_exported import struct ChorusSchema.SiteOrderCounters
