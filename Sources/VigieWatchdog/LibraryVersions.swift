import CCurl
import CPcap

/// libpcap, with which VigieWatchdog watches traffic.
public enum PcapLibrary {
  /// The library's own description, e.g.
  /// `"libpcap version 1.10.3 (with TPACKET_V3)"` (`pcap_lib_version()`).
  public static var version: String { String(cString: pcap_lib_version()) }

  /// The dotted version number inside ``version``, e.g. `"1.10.3"`, or `nil`
  /// if the description does not have the usual `libpcap version X.Y.Z` form.
  public static var versionNumber: String? {
    let words = version.split(separator: " ")
    guard let index = words.firstIndex(of: "version"), index + 1 < words.endIndex else {
      return nil
    }
    let number = words[index + 1]
    return number.first?.isNumber == true ? String(number) : nil
  }
}

/// libcurl, with which VigieWatchdog probes HTTP endpoints.
public enum CurlLibrary {
  /// The library version, e.g. `"7.88.1"` (`curl_version_info(CURLVERSION_NOW).version`).
  public static var version: String { String(cString: info.version) }

  /// The TLS backend and its version, e.g. `"OpenSSL/3.0.11"`, or `nil`
  /// when libcurl was built without TLS.
  public static var sslVersion: String? { info.ssl_version.map { String(cString: $0) } }

  /// Whether libcurl was built with TLS support (`CURL_VERSION_SSL`).
  public static var supportsSSL: Bool { info.features & CURL_VERSION_SSL != 0 }

  /// Whether libcurl was built with HTTP/2 support (`CURL_VERSION_HTTP2`).
  public static var supportsHTTP2: Bool { info.features & CURL_VERSION_HTTP2 != 0 }

  /// The library's static version record.
  private static var info: curl_version_info_data { vigie_curl_version_info().pointee }
}
