import CArchive
import CQREncode

/// libarchive, with which VigieFileDrop packs and unpacks archives.
public enum ArchiveLibrary {
  /// The library's version string, e.g. `"libarchive 3.6.2"` (`archive_version_string()`).
  public static var version: String { String(cString: archive_version_string()) }

  /// The version and the versions of the compression libraries it uses, e.g.
  /// `"libarchive 3.6.2 zlib/1.2.13 liblzma/5.4.1 ..."` (`archive_version_details()`).
  public static var details: String { String(cString: archive_version_details()) }

  /// The version as a number, e.g. `3006002` (`archive_version_number()`).
  public static var versionNumber: Int { Int(archive_version_number()) }
}

/// libqrencode, with which VigieFileDrop shows download links as QR codes.
public enum QREncodeLibrary {
  /// The library version, e.g. `"4.1.1"` (`QRcode_APIVersionString()`).
  public static var version: String { String(cString: QRcode_APIVersionString()) }

  /// Encodes `text` (its UTF-8 bytes, in 8-bit mode) as a QR code with error
  /// correction level M and the smallest version that fits.
  ///
  /// - Returns: The module matrix, `matrix[row][column]`, `true` for a dark
  ///   module; it is square, `21 + 4 * (version - 1)` modules wide, without
  ///   the quiet zone. `nil` if `text` is empty, contains a NUL character,
  ///   or is too long for a QR code.
  public static func encode(_ text: String) -> [[Bool]]? {
    guard !text.isEmpty, !text.utf8.contains(0) else { return nil }
    guard let code = QRcode_encodeString8bit(text, 0, QR_ECLEVEL_M) else { return nil }
    defer { QRcode_free(code) }
    let width = Int(code.pointee.width)
    return (0..<width).map { row in
      (0..<width).map { column in vigie_qrcode_is_dark(code, Int32(column), Int32(row)) != 0 }
    }
  }
}
