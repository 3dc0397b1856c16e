import CArchive
import Testing
import VigieFileDrop

@Suite("libarchive and libqrencode (VigieFileDrop)")
struct ArchiveQRTests {
  @Test func archiveVersionMatchesPkgConfig() throws {
    let version = ArchiveLibrary.version
    #expect(version.hasPrefix("libarchive "))
    let number = String(version.dropFirst("libarchive ".count))
    #expect(PkgConfig.majorMinor(number) == (try PkgConfig.majorMinor(of: "libarchive")))
    #expect(ArchiveLibrary.details.hasPrefix(version))
    #expect(ArchiveLibrary.versionNumber >= 3_000_000)
  }

  @Test func tarRoundTripInMemory() throws {
    let name = "hello.txt"
    let content = Array("Bonjour de Vigie\n".utf8)
    let capacity = 64 * 1024
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 16)
    defer { buffer.deallocate() }

    // Write a tar with one regular file into `buffer`.
    var used = 0
    do {
      let archive = try #require(archive_write_new())
      defer { archive_write_free(archive) }
      #expect(archive_write_set_format_pax_restricted(archive) == ARCHIVE_OK)
      #expect(archive_write_open_memory(archive, buffer.baseAddress, capacity, &used) == ARCHIVE_OK)
      let entry = try #require(archive_entry_new())
      defer { archive_entry_free(entry) }
      archive_entry_set_pathname(entry, name)
      archive_entry_set_size(entry, Int64(content.count))
      archive_entry_set_filetype(entry, UInt32(vigie_AE_IFREG()))
      archive_entry_set_perm(entry, 0o644)
      #expect(archive_write_header(archive, entry) == ARCHIVE_OK)
      let written = content.withUnsafeBytes {
        archive_write_data(archive, $0.baseAddress, $0.count)
      }
      #expect(written == content.count)
      #expect(archive_write_close(archive) == ARCHIVE_OK)
    }
    #expect(used > 0 && used % 512 == 0)

    // Read it back.
    let archive = try #require(archive_read_new())
    defer { archive_read_free(archive) }
    #expect(archive_read_support_format_tar(archive) == ARCHIVE_OK)
    #expect(archive_read_open_memory(archive, buffer.baseAddress, used) == ARCHIVE_OK)
    var entry: OpaquePointer?
    try #require(archive_read_next_header(archive, &entry) == ARCHIVE_OK)
    let header = try #require(entry)
    #expect(String(cString: archive_entry_pathname(header)) == name)
    #expect(archive_entry_size(header) == Int64(content.count))
    #expect(mode_t(archive_entry_filetype(header)) == vigie_AE_IFREG())
    var read = [UInt8](repeating: 0, count: 256)
    let count = read.withUnsafeMutableBytes { archive_read_data(archive, $0.baseAddress, $0.count) }
    #expect(count == content.count)
    #expect(Array(read.prefix(max(0, count))) == content)
    #expect(archive_read_next_header(archive, &entry) == ARCHIVE_EOF)
  }

  @Test func qrencodeVersionMatchesPkgConfig() throws {
    let version = QREncodeLibrary.version
    #expect(!version.isEmpty)
    #expect(PkgConfig.majorMinor(version) == (try PkgConfig.majorMinor(of: "libqrencode")))
  }

  /// Whether the 7x7 finder pattern with top-left corner (`row`, `column`)
  /// is present: dark border, light ring, dark 3x3 centre.
  func hasFinderPattern(_ matrix: [[Bool]], row: Int, column: Int) -> Bool {
    for dy in 0..<7 {
      for dx in 0..<7 {
        let ring = max(abs(dy - 3), abs(dx - 3))
        if matrix[row + dy][column + dx] != (ring != 2) { return false }
      }
    }
    return true
  }

  @Test(arguments: ["vigie", "https://vigie.example/drop/0123456789abcdef?token=XYZ"])
  func qrMatrixHasQRShape(text: String) throws {
    let matrix = try #require(QREncodeLibrary.encode(text))
    let size = matrix.count
    #expect(matrix.allSatisfy { $0.count == size })
    #expect(size >= 21 && (size - 21) % 4 == 0)
    let version = (size - 21) / 4 + 1
    #expect((1...40).contains(version))
    #expect(size == 21 + 4 * (version - 1))
    if text == "vigie" { #expect(version == 1) }
    #expect(hasFinderPattern(matrix, row: 0, column: 0))
    #expect(hasFinderPattern(matrix, row: 0, column: size - 7))
    #expect(hasFinderPattern(matrix, row: size - 7, column: 0))
    #expect(!hasFinderPattern(matrix, row: size - 7, column: size - 7))
  }

  @Test func qrRejectsEmptyAndNUL() {
    #expect(QREncodeLibrary.encode("") == nil)
    #expect(QREncodeLibrary.encode("a\u{0}b") == nil)
  }
}
