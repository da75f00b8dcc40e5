import NIOSSL

/// TLS for a session over TCP (the daemon's `[clients] tls_certificate`): whom to trust, and the
/// client's own certificate when the daemon asks for one (`tls_client_ca`).
public struct ChorusTLS: Sendable, Equatable {
    /// PEM file of the CA the daemon's certificate must chain to; nil: the system's trust store.
    public var trustRoots: String?
    /// PEM files of this client's certificate chain and private key (mutual TLS).
    public var certificate: String?
    public var key: String?
    /// The name the daemon's certificate must carry; nil: the address connected to (an IP
    /// address is checked against the certificate's IP addresses).
    public var serverName: String?

    public init(trustRoots: String? = nil, certificate: String? = nil, key: String? = nil, serverName: String? = nil) {
        self.trustRoots = trustRoots
        self.certificate = certificate
        self.key = key
        self.serverName = serverName
    }

    /// The client context: TLS 1.2 or later, the daemon's certificate verified, host name included.
    func context() throws(ChorusClientError) -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        do {
            if let trustRoots { configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(trustRoots)) }
            switch (certificate, key) {
            case (let certificate?, let key?):
                configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(certificate).map { .certificate($0) }
                configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
            case (nil, nil): break
            default: throw ChorusClientError(.invalidArgument, "TLS: a client certificate needs its key, and the reverse")
            }
            return try NIOSSLContext(configuration: configuration)
        } catch let error as ChorusClientError {
            throw error
        } catch {
            throw ChorusClientError(.invalidArgument, "TLS: \(error)")
        }
    }

    /// The name sent for SNI and checked: `serverName`, or `host` unless it is an IP address.
    func hostname(for host: String) -> String? {
        if let serverName { return serverName }
        let isAddress = host.contains(":") || host.split(separator: ".").allSatisfy { UInt8($0) != nil }
        return isAddress ? nil : host
    }
}
