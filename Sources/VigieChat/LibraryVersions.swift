// Internal: CXML2 brings the system ICU headers (Debian builds libxml2 with
// ICU), which clash with Foundation's own ICU in modules that import both.
internal import CXML2

/// libxml2, whose push parser VigieChat feeds with the XMPP stream.
public enum XML2Library {
  /// Runs `LIBXML_TEST_VERSION` (`xmlCheckVersion`, which also initialises the
  /// parser) exactly once per process, before the first use of libxml2.
  private static let initialized: Bool = {
    vigie_xml_check_version()
    return true
  }()

  /// Checks that the loaded library is compatible with the headers and
  /// initialises it; only the first call does anything. Call this before
  /// using libxml2 directly; the members of this type call it themselves.
  public static func initialize() {
    _ = initialized
  }

  /// The version of the loaded library, e.g. `"2.9.14"`, computed from
  /// `xmlParserVersion` (`"20914"`).
  public static var version: String {
    initialize()
    let digits = String(cString: vigie_xml_parser_version())
    guard let number = Int(digits) else { return digits }
    return "\(number / 10000).\(number / 100 % 100).\(number % 100)"
  }

  /// The version of the headers Vigie was compiled against (`LIBXML_DOTTED_VERSION`).
  public static var headerVersion: String { LIBXML_DOTTED_VERSION }
}
