// Measures AES-256-GCM against ChaCha20-Poly1305 through swift-crypto (docs/security.md): cd scripts/aead-bench && swift run -c release
import Crypto
import Foundation
let key = SymmetricKey(size: .bits256)
for size in [100, 1400, 9000] {
  let msg = [UInt8](repeating: 7, count: size)
  let aad = [UInt8](repeating: 1, count: 30)
  for name in ["chacha", "aesgcm"] {
    let n = 200_000
    let t0 = DispatchTime.now().uptimeNanoseconds
    var sink = 0
    for i in 0..<n {
      var nb = [UInt8](repeating: 0, count: 12)
      withUnsafeBytes(of: UInt64(i).bigEndian) { for j in 0..<8 { nb[4+j] = $0[j] } }
      if name == "chacha" {
        let box = try! ChaChaPoly.seal(msg, using: key, nonce: try! ChaChaPoly.Nonce(data: nb), authenticating: aad)
        let opened = try! ChaChaPoly.open(box, using: key, authenticating: aad)
        sink &+= opened.count
      } else {
        let box = try! AES.GCM.seal(msg, using: key, nonce: try! AES.GCM.Nonce(data: nb), authenticating: aad)
        let opened = try! AES.GCM.open(box, using: key, authenticating: aad)
        sink &+= opened.count
      }
    }
    let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
    print("\(name) \(size) B: seal+open \(Int(Double(n)/dt)) /s, \(String(format: "%.0f", Double(n*size)/dt/1e6)) MB/s, \(String(format: "%.2f", dt/Double(n)*1e6)) us each (\(sink))")
  }
}
