import Testing
import VigieCore

@Suite("HTTP check")
struct HTTPCheckTests {
  @Test func statuses() throws {
    #expect(try HTTPCheck.parseStatuses("200").get() == [200...200])
    #expect(try HTTPCheck.parseStatuses("200-299, 301 ,404").get() == [200...299, 301...301, 404...404])
    for bad in ["", "20", "600", "200-", "-200", "300-200", "2OO", "200,,301", "200-250-299"] {
      #expect(throws: HTTPCheck.StatusParseError.self, "\(bad)") { try HTTPCheck.parseStatuses(bad).get() }
    }
    #expect(
      HTTPCheck.parseStatuses("300-200") == .failure(HTTPCheck.StatusParseError("\"300-200\": 300 is above 200")))
  }

  @Test func judgesResponses() {
    let check = HTTPCheck(statuses: [200...299], bodyContains: "healthy", minimumCertificateDays: 14)
    let body = Array("<p>all healthy</p>".utf8)
    #expect(check.problem(.init(status: 200, body: body)) == nil)
    #expect(check.problem(.init(status: 200, body: body, certificateSecondsLeft: 90 * 86400)) == nil)
    #expect(check.problem(.init(status: 503, body: body)) == "HTTP status 503, expected 200-299")
    #expect(
      HTTPCheck(statuses: [200...200, 301...302]).problem(.init(status: 404, body: []))
        == "HTTP status 404, expected 200,301-302")
    #expect(check.problem(.init(status: 200, body: Array("sick".utf8))) == "the body does not contain \"healthy\"")
    #expect(
      check.problem(.init(status: 200, body: body, certificateSecondsLeft: 3 * 86400 + 5))
        == "the TLS certificate expires in 3 days (less than 14)")
    #expect(
      check.problem(.init(status: 200, body: body, certificateSecondsLeft: -1)) == "the TLS certificate has expired")
    // No certificate check when the minimum is 0.
    #expect(
      HTTPCheck(minimumCertificateDays: 0).problem(.init(status: 200, body: [], certificateSecondsLeft: -5)) == nil)
  }

  @Test func certificateDates() {
    // date -u -d '2026-11-27 10:41:37' +%s
    #expect(HTTPCheck.parseCertificateDate("Nov 27 10:41:37 2026 GMT") == 1_795_776_097)
    #expect(HTTPCheck.parseCertificateDate("Jan  1 00:00:00 1970 GMT") == 0)
    #expect(HTTPCheck.parseCertificateDate("Feb 29 12:00:00 2028 GMT") == 1_835_438_400)
    for bad in [
      "", "Nov 27 10:41:37 2026", "Foo 27 10:41:37 2026 GMT", "Nov 32 10:41:37 2026 GMT",
      "Nov 27 25:41:37 2026 GMT", "Nov 27 10:41 2026 GMT", "Nov 27 10:41:37 1969 GMT",
    ] {
      #expect(HTTPCheck.parseCertificateDate(bad) == nil, "\(bad)")
    }
  }
}
