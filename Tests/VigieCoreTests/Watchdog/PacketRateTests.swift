import Testing
import VigieCore

@Suite("packet budget and sweep ranges")
struct TokenBucketTests {
  @Test func burstThenRate() {
    var bucket = PacketRate(rate: 10, burst: 3)
    // The burst goes at once; then one packet every 100 ms, queued in order.
    #expect((0..<3).map { _ in bucket.reserve(at: .zero) } == [.zero, .zero, .zero])
    #expect(bucket.reserve(at: .zero) == .milliseconds(100))
    #expect(bucket.reserve(at: .zero) == .milliseconds(200))
    // 500 ms later the debt (2 packets) is paid and 3 tokens came back.
    #expect(bucket.reserve(at: .milliseconds(500)) == .zero)
    #expect(bucket.reserve(2, at: .milliseconds(500)) == .zero)
    #expect(bucket.reserve(at: .milliseconds(500)) == .milliseconds(100))
    // A long quiet time refills only up to the burst.
    #expect(bucket.reserve(3, at: .seconds(100)) == .zero)
    #expect(bucket.reserve(at: .seconds(100)) == .milliseconds(100))
    // A clock set back changes nothing.
    #expect(bucket.reserve(at: .seconds(1)) == .milliseconds(200))
  }

  @Test func networks() throws {
    let net = try IPv4Network.parse("10.0.0.77/24").get()
    #expect(net.description == "10.0.0.0/24")
    #expect(net.hosts.count == 254)
    #expect(net.hosts.first?.description == "10.0.0.1" && net.hosts.last?.description == "10.0.0.254")
    #expect(try IPv4Network.parse("192.0.2.4/31").get().hosts.map(\.description) == ["192.0.2.4", "192.0.2.5"])
    #expect(try IPv4Network.parse("192.0.2.4/32").get().hosts.map(\.description) == ["192.0.2.4"])
    #expect(try IPv4Network.parse("10.1.0.0/16").get().hosts.count == 65534)
    #expect(IPv4Network.parse("10.0.0.0/8") == .failure(.init("/8 is too wide or invalid: sweep a /16 to a /32")))
    for bad in ["10.0.0.0", "10.0.0.0/", "10.0.0/24", "10.0.0.0/24/1", "10.0.0.0/+4", "10.0.0.0/33", "::1/128"] {
      #expect(throws: IPv4Network.CIDRError.self, "\(bad)") { try IPv4Network.parse(bad).get() }
    }
  }
}
