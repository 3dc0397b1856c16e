import CCurl
import CPcap
import Foundation
import Testing
import VigieWatchdog

@Suite("libpcap and libcurl (VigieWatchdog)")
struct PcapCurlTests {
  @Test func pcapVersionMatchesPkgConfig() throws {
    #expect(PcapLibrary.version.hasPrefix("libpcap version "))
    let number = try #require(PcapLibrary.versionNumber)
    #expect(PkgConfig.majorMinor(number) == (try PkgConfig.majorMinor(of: "libpcap")))
  }

  @Test func pcapCompilesFiltersOnDeadHandle() throws {
    let pcap = try #require(pcap_open_dead(DLT_EN10MB, 65535))
    defer { pcap_close(pcap) }

    var program = bpf_program()
    let good = pcap_compile(
      pcap, &program, "icmp or tcp[tcpflags] & tcp-syn != 0", 1, PCAP_NETMASK_UNKNOWN)
    #expect(good == 0, "\(String(cString: pcap_geterr(pcap)))")
    #expect(program.bf_len > 0)
    if good == 0 { pcap_freecode(&program) }

    var bad = bpf_program()
    let status = pcap_compile(pcap, &bad, "tcp port banana and (", 1, PCAP_NETMASK_UNKNOWN)
    #expect(status == PCAP_ERROR)
    let message = String(cString: pcap_geterr(pcap))
    #expect(!message.isEmpty)
  }

  @Test func curlVersionMatchesPkgConfig() throws {
    #expect(!CurlLibrary.version.isEmpty)
    #expect(PkgConfig.majorMinor(CurlLibrary.version) == (try PkgConfig.majorMinor(of: "libcurl")))
    // Debian's libcurl4-openssl-dev is built with OpenSSL and nghttp2.
    #expect(CurlLibrary.supportsSSL == (CurlLibrary.sslVersion != nil))
    _ = CurlLibrary.supportsHTTP2
  }

  /// Collects what libcurl's write callback receives.
  final class Sink {
    var bytes: [UInt8] = []
    var calls = 0
  }

  @Test func curlFetchesFileURLThroughWrappers() throws {
    let payload = Array("Vigie veille.\n".utf8) + (0..<4096).map { UInt8($0 % 251) }
    let file = FileManager.default.temporaryDirectory
      .appendingPathComponent("vigie-curl-\(UUID().uuidString).bin")
    try Data(payload).write(to: file)
    defer { try? FileManager.default.removeItem(at: file) }

    let handle = try #require(curl_easy_init())
    defer { curl_easy_cleanup(handle) }

    let write: curl_write_callback = { buffer, size, count, userdata in
      guard let buffer, let userdata else { return 0 }
      let sink = Unmanaged<Sink>.fromOpaque(userdata).takeUnretainedValue()
      let length = size * count
      buffer.withMemoryRebound(to: UInt8.self, capacity: length) {
        sink.bytes.append(contentsOf: UnsafeBufferPointer(start: $0, count: length))
      }
      sink.calls += 1
      return length
    }

    let sink = Sink()
    try withExtendedLifetime(sink) {
      let userdata = Unmanaged.passUnretained(sink).toOpaque()
      #expect(vigie_curl_easy_setopt_string(handle, CURLOPT_URL, file.absoluteString) == CURLE_OK)
      #expect(vigie_curl_easy_setopt_func_write(handle, write) == CURLE_OK)
      #expect(vigie_curl_easy_setopt_ptr(handle, CURLOPT_WRITEDATA, userdata) == CURLE_OK)
      #expect(vigie_curl_easy_setopt_long(handle, CURLOPT_NOSIGNAL, 1) == CURLE_OK)
      #expect(vigie_curl_easy_setopt_off_t(handle, CURLOPT_MAXFILESIZE_LARGE, 1 << 20) == CURLE_OK)

      let result = curl_easy_perform(handle)
      try #require(result == CURLE_OK, "\(String(cString: curl_easy_strerror(result)))")
    }
    #expect(sink.bytes == payload)
    #expect(sink.calls >= 1)

    // file:// has no server response: libcurl reports response code 0.
    var code = -1
    #expect(vigie_curl_easy_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK)
    #expect(code == 0)
    var downloaded: curl_off_t = -1
    #expect(
      vigie_curl_easy_getinfo_off_t(handle, CURLINFO_SIZE_DOWNLOAD_T, &downloaded) == CURLE_OK)
    #expect(downloaded == curl_off_t(payload.count))
    var seconds = -1.0
    #expect(vigie_curl_easy_getinfo_double(handle, CURLINFO_TOTAL_TIME, &seconds) == CURLE_OK)
    #expect(seconds >= 0)
    var url: UnsafePointer<CChar>?
    #expect(vigie_curl_easy_getinfo_string(handle, CURLINFO_EFFECTIVE_URL, &url) == CURLE_OK)
    #expect(url.map { String(cString: $0) } == file.absoluteString)
    var privateData: UnsafeMutableRawPointer? = UnsafeMutableRawPointer(bitPattern: 1)
    #expect(vigie_curl_easy_getinfo_ptr(handle, CURLINFO_PRIVATE, &privateData) == CURLE_OK)
    #expect(privateData == nil)
  }

  @Test func curlMissingFileFails() throws {
    let handle = try #require(curl_easy_init())
    defer { curl_easy_cleanup(handle) }
    let write: curl_write_callback = { _, size, count, _ in size * count }
    #expect(vigie_curl_easy_setopt_func_write(handle, write) == CURLE_OK)
    #expect(
      vigie_curl_easy_setopt_string(
        handle, CURLOPT_URL, "file:///nonexistent/vigie-\(UUID().uuidString)")
        == CURLE_OK)
    #expect(curl_easy_perform(handle) == CURLE_FILE_COULDNT_READ_FILE)
  }
}
