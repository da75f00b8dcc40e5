import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// The MTU of the route towards an address, as the kernel knows it.
///
/// UDP segmentation offload sends a run of datagrams as one; the kernel refuses such a send when
/// one datagram plus its headers exceeds the route's MTU (where plain datagrams would simply be
/// fragmented), so the daemon turns offload on only when every peer's route has room.
enum PathMTU {
    /// Bytes of IP and UDP header in front of each datagram.
    static func headerBytes(for address: SocketAddress) -> Int {
        if case .v6 = address { 48 } else { 28 }
    }

    /// The route MTU towards `address` (Linux: `IP_MTU` or `IPV6_MTU` of a connected UDP
    /// socket); nil where the system cannot tell.
    static func toward(_ address: SocketAddress) -> Int? {
        #if os(Linux)
        let isV6: Bool
        switch address {
        case .v4: isV6 = false
        case .v6: isV6 = true
        default: return nil
        }
        let fd = socket(isV6 ? AF_INET6 : AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        let connected = address.withSockAddr { pointer, size in connect(fd, pointer, socklen_t(size)) }
        guard connected == 0 else { return nil }
        // IP_MTU (14) and IPV6_MTU (24) from <linux/in.h> and <linux/in6.h>; Glibc does not export them.
        var mtu: CInt = 0
        var length = socklen_t(MemoryLayout<CInt>.size)
        let result = getsockopt(fd, isV6 ? CInt(IPPROTO_IPV6) : CInt(IPPROTO_IP), isV6 ? 24 : 14, &mtu, &length)
        return result == 0 && mtu > 0 ? Int(mtu) : nil
        #else
        return nil
        #endif
    }

    /// Whether a datagram of `datagramSize` bytes fits the route to every one of `peers` unfragmented.
    static func fits(_ datagramSize: Int, toward peers: [SocketAddress]) -> Bool {
        peers.allSatisfy { peer in
            guard let mtu = toward(peer) else { return false }
            return datagramSize + headerBytes(for: peer) <= mtu
        }
    }
}
