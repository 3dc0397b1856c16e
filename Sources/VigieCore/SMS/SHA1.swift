/// SHA-1 (FIPS 180-4), in pure Swift.
///
/// Used here for HMAC-SHA1 in TOTP (RFC 6238 mandates it for compatibility
/// with authenticator apps) and for stable idempotency keys. SHA-1 is broken
/// for collision resistance against a chosen-prefix attacker; neither use
/// relies on it (HMAC needs only a pseudo-random function, and keys are not
/// a security boundary).
public struct SHA1: Sendable {
  /// Length of a digest in bytes.
  public static let digestLength = 20
  /// Length of a block in bytes.
  public static let blockLength = 64

  private var state: (UInt32, UInt32, UInt32, UInt32, UInt32) = (
    0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476, 0xC3D2_E1F0
  )
  private var buffer: [UInt8] = []
  private var length: UInt64 = 0

  /// An empty hash.
  public init() { buffer.reserveCapacity(Self.blockLength) }

  /// Feeds more bytes.
  public mutating func update(_ bytes: some Sequence<UInt8>) {
    for byte in bytes {
      buffer.append(byte)
      if buffer.count == Self.blockLength {
        compress(buffer)
        buffer.removeAll(keepingCapacity: true)
      }
    }
  }

  /// Feeds the UTF-8 bytes of `text`.
  public mutating func update(_ text: String) { update(text.utf8) }

  /// The digest of everything fed so far (20 bytes). More bytes may still be
  /// fed afterwards; the digest then covers them too.
  public func finalize() -> [UInt8] {
    var copy = self
    return copy.finish()
  }

  private mutating func finish() -> [UInt8] {
    let bitLength = (length &+ UInt64(buffer.count)) &* 8
    buffer.append(0x80)
    if buffer.count > Self.blockLength - 8 {
      while buffer.count < Self.blockLength { buffer.append(0) }
      compress(buffer)
      buffer.removeAll(keepingCapacity: true)
    }
    while buffer.count < Self.blockLength - 8 { buffer.append(0) }
    for shift in stride(from: 56, through: 0, by: -8) {
      buffer.append(UInt8(truncatingIfNeeded: bitLength >> UInt64(shift)))
    }
    compress(buffer)
    var digest: [UInt8] = []
    digest.reserveCapacity(Self.digestLength)
    for word in [state.0, state.1, state.2, state.3, state.4] {
      digest += [
        UInt8(truncatingIfNeeded: word >> 24), UInt8(truncatingIfNeeded: word >> 16),
        UInt8(truncatingIfNeeded: word >> 8), UInt8(truncatingIfNeeded: word),
      ]
    }
    return digest
  }

  /// The SHA-1 digest of `bytes`.
  public static func hash(_ bytes: some Sequence<UInt8>) -> [UInt8] {
    var sha = SHA1()
    sha.update(bytes)
    return sha.finalize()
  }

  /// The SHA-1 digest of the UTF-8 bytes of `text`.
  public static func hash(_ text: String) -> [UInt8] { hash(text.utf8) }

  private mutating func compress(_ block: [UInt8]) {
    length &+= UInt64(Self.blockLength)
    var w = [UInt32](repeating: 0, count: 80)
    for i in 0..<16 {
      w[i] =
        UInt32(block[4 * i]) << 24 | UInt32(block[4 * i + 1]) << 16 | UInt32(block[4 * i + 2]) << 8
        | UInt32(block[4 * i + 3])
    }
    for i in 16..<80 { w[i] = rotl(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1) }
    var (a, b, c, d, e) = state
    for i in 0..<80 {
      let f: UInt32
      let k: UInt32
      switch i {
      case 0..<20:
        f = (b & c) | (~b & d)
        k = 0x5A82_7999
      case 20..<40:
        f = b ^ c ^ d
        k = 0x6ED9_EBA1
      case 40..<60:
        f = (b & c) | (b & d) | (c & d)
        k = 0x8F1B_BCDC
      default:
        f = b ^ c ^ d
        k = 0xCA62_C1D6
      }
      let temp = rotl(a, 5) &+ f &+ e &+ k &+ w[i]
      e = d
      d = c
      c = rotl(b, 30)
      b = a
      a = temp
    }
    state = (state.0 &+ a, state.1 &+ b, state.2 &+ c, state.3 &+ d, state.4 &+ e)
  }

  @inline(__always)
  private func rotl(_ x: UInt32, _ n: UInt32) -> UInt32 { (x << n) | (x >> (32 - n)) }
}

/// HMAC (RFC 2104) over SHA-1.
public enum HMACSHA1 {
  /// The 20-byte HMAC-SHA1 of `message` under `key`.
  public static func authenticationCode(
    for message: some Sequence<UInt8>, key: some Collection<UInt8>
  ) -> [UInt8] {
    var block = key.count > SHA1.blockLength ? SHA1.hash(key) : Array(key)
    block += [UInt8](repeating: 0, count: SHA1.blockLength - block.count)
    var inner = SHA1()
    inner.update(block.map { $0 ^ 0x36 })
    inner.update(message)
    let innerDigest = inner.finalize()
    var outer = SHA1()
    outer.update(block.map { $0 ^ 0x5C })
    outer.update(innerDigest)
    return outer.finalize()
  }
}

/// Comparisons whose duration does not depend on where the inputs differ.
public enum ConstantTime {
  /// Whether `a` and `b` are equal, looking at every byte of both whatever
  /// their contents. The lengths are not hidden: compare digests of secrets
  /// (``equalSecrets(_:_:)``) when the length is secret too.
  public static func equal(_ a: some Collection<UInt8>, _ b: some Collection<UInt8>) -> Bool {
    var difference: UInt8 = a.count == b.count ? 0 : 1
    var ia = a.makeIterator()
    var ib = b.makeIterator()
    while true {
      let x = ia.next()
      let y = ib.next()
      if x == nil && y == nil { break }
      difference |= (x ?? 0) ^ (y ?? 0)
    }
    return difference == 0
  }

  /// Whether two secrets are equal, comparing their SHA-1 digests in
  /// constant time so that neither where they differ nor their lengths leak
  /// through timing.
  public static func equalSecrets(_ a: String, _ b: String) -> Bool {
    equal(SHA1.hash(a), SHA1.hash(b))
  }
}

/// Lower-case hexadecimal of bytes.
func hexString(_ bytes: some Sequence<UInt8>) -> String {
  let digits = Array("0123456789abcdef".utf8)
  var result: [UInt8] = []
  for byte in bytes {
    result.append(digits[Int(byte >> 4)])
    result.append(digits[Int(byte & 0x0F)])
  }
  return String(decoding: result, as: UTF8.self)
}
