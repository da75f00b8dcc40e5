import ChorusSeal
import NIOSSL

/// TLS for the TCP client listener: the files checked when the configuration is read, and the
/// server context built from them at start.
enum TLSSetup {
    struct FileError: Error {
        /// The `[clients]` key whose file is at fault.
        var key: String
        var message: String
    }

    /// Reads every file as the daemon will: the certificate chain, the private key (its owner's
    /// only), and the client CA.
    static func check(_ files: DaemonConfig.TLSFiles) throws {
        _ = try serverConfiguration(files)
    }

    /// The server's TLS configuration: TLS 1.2 or later; with a client CA, a client certificate
    /// that chains to it is required.
    static func serverConfiguration(_ files: DaemonConfig.TLSFiles) throws -> TLSConfiguration {
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(files.certificate)
        } catch {
            throw FileError(key: "tls_certificate", message: "\(files.certificate): not a PEM certificate chain (\(error))")
        }
        guard !chain.isEmpty else { throw FileError(key: "tls_certificate", message: "\(files.certificate): no certificate in the file") }
        do {
            try SecretFile.checkOwnerOnly(path: files.key, what: "TLS private key")
        } catch {
            throw FileError(key: "tls_key", message: error.message)
        }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: files.key, format: .pem)
        } catch {
            throw FileError(key: "tls_key", message: "\(files.key): not a PEM private key (\(error))")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        if let clientCA = files.clientCA {
            let roots: [NIOSSLCertificate]
            do {
                roots = try NIOSSLCertificate.fromPEMFile(clientCA)
            } catch {
                throw FileError(key: "tls_client_ca", message: "\(clientCA): not a PEM certificate (\(error))")
            }
            guard !roots.isEmpty else { throw FileError(key: "tls_client_ca", message: "\(clientCA): no certificate in the file") }
            configuration.trustRoots = .certificates(roots)
            // A server that verifies requires a client certificate (there is no host name to check).
            configuration.certificateVerification = .noHostnameVerification
        }
        return configuration
    }

    /// The common name of a client certificate (nil: none, or no common name).
    static func commonName(_ certificate: NIOSSLCertificate?) -> String? {
        certificate?.subjectName.last { $0.type == .commonName }?.value
    }
}
