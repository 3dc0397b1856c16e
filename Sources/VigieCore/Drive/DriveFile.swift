/// A Drive file resource, as much of it as Vigie asks for (`fields`).
public struct DriveFile: Sendable, Equatable {
  public var id: String
  public var name: String
  public var mimeType: String
  public var parents: [String]
  /// Nil for folders and Google Docs (they have no binary content).
  public var size: Int64?
  public var md5Checksum: String?
  public var modifiedTime: String
  public var version: Int64?
  public var trashed: Bool
  public var appProperties: [String: String]

  public static let folderMimeType = "application/vnd.google-apps.folder"

  /// The `fields` selector matching what `parse` reads.
  public static let fields = "id,name,mimeType,parents,size,md5Checksum,modifiedTime,version,trashed,appProperties"

  public var isFolder: Bool { mimeType == Self.folderMimeType }
  /// A Docs Editors file (exported, never downloaded as is).
  public var isGoogleDoc: Bool { mimeType.hasPrefix("application/vnd.google-apps.") && !isFolder }

  public init(
    id: String, name: String, mimeType: String, parents: [String] = [], size: Int64? = nil,
    md5Checksum: String? = nil, modifiedTime: String = "", version: Int64? = nil, trashed: Bool = false,
    appProperties: [String: String] = [:]
  ) {
    self.id = id
    self.name = name
    self.mimeType = mimeType
    self.parents = parents
    self.size = size
    self.md5Checksum = md5Checksum
    self.modifiedTime = modifiedTime
    self.version = version
    self.trashed = trashed
    self.appProperties = appProperties
  }

  public enum ParseError: Error, Sendable, Equatable, CustomStringConvertible {
    case notJSON(String)
    case field(String)
    public var description: String {
      switch self {
      case .notJSON(let m): "Drive answer is not JSON: \(m)"
      case .field(let m): "Drive file resource: \(m)"
      }
    }
  }

  public static func parse(_ json: JSONValue) throws(ParseError) -> DriveFile {
    guard let id = json["id"]?.string, !id.isEmpty, id.utf8.count <= 256,
      !id.contains("/"), !id.contains("?")
    else { throw .field("id missing or not a Drive id") }
    let name = json["name"]?.string ?? ""
    guard name.utf8.count <= 32_768 else { throw .field("name too long") }
    var size: Int64?
    if let raw = json["size"] {
      guard let s = raw.int64, s >= 0 else { throw .field("size is not a non-negative integer") }
      size = s
    }
    var md5: String?
    if let raw = json["md5Checksum"] {
      guard let m = raw.string, m.utf8.count == 32, m.utf8.allSatisfy({ isHex($0) }) else {
        throw .field("md5Checksum is not 32 hex digits")
      }
      md5 = m.lowercased()
    }
    var props: [String: String] = [:]
    for (k, v) in json["appProperties"]?.members ?? [] {
      if let s = v.string { props[k] = s }
    }
    return DriveFile(
      id: id, name: name, mimeType: json["mimeType"]?.string ?? "application/octet-stream",
      parents: (json["parents"]?.array ?? []).compactMap(\.string), size: size, md5Checksum: md5,
      modifiedTime: json["modifiedTime"]?.string ?? "", version: json["version"]?.int64,
      trashed: json["trashed"]?.bool ?? false, appProperties: props)
  }

  public static func parse(_ bytes: [UInt8]) throws(ParseError) -> DriveFile {
    let json: JSONValue
    do { json = try JSONValue.parse(bytes) } catch { throw .notJSON(error.description) }
    return try parse(json)
  }

  /// One page of files.list: the files and the next page's token.
  public static func parseList(_ bytes: [UInt8]) throws(ParseError) -> (files: [DriveFile], nextPageToken: String?) {
    let json: JSONValue
    do { json = try JSONValue.parse(bytes) } catch { throw .notJSON(error.description) }
    guard let items = json["files"]?.array else { throw .field("files list missing") }
    var files: [DriveFile] = []
    for item in items { files.append(try parse(item)) }
    let token = json["nextPageToken"]?.string
    if let token, token.isEmpty || token.utf8.count > 4096 { throw .field("bad nextPageToken") }
    return (files, token)
  }
}

private func isHex(_ b: UInt8) -> Bool {
  (0x30...0x39).contains(b) || (0x41...0x46).contains(b) || (0x61...0x66).contains(b)
}

/// One entry of the changes feed (changes.list).
public struct DriveChange: Sendable, Equatable {
  public var fileID: String
  public var removed: Bool
  /// Absent when removed.
  public var file: DriveFile?

  /// A page of changes.list: the changes, and either the next page's token
  /// or the token to poll with next time (`newStartPageToken`).
  public static func parsePage(_ bytes: [UInt8]) throws(DriveFile.ParseError) -> (
    changes: [DriveChange], nextPageToken: String?, newStartPageToken: String?
  ) {
    let json: JSONValue
    do { json = try JSONValue.parse(bytes) } catch { throw .notJSON(error.description) }
    guard let items = json["changes"]?.array else { throw .field("changes missing") }
    var out: [DriveChange] = []
    for item in items {
      guard let id = item["fileId"]?.string, !id.isEmpty else { throw .field("change without fileId") }
      let removed = item["removed"]?.bool ?? false
      out.append(
        DriveChange(
          fileID: id, removed: removed,
          file: try item["file"].map { v throws(DriveFile.ParseError) in try DriveFile.parse(v) }))
    }
    let next = json["nextPageToken"]?.string
    let start = json["newStartPageToken"]?.string
    guard (next == nil) != (start == nil) else {
      throw .field("a changes page needs nextPageToken or newStartPageToken")
    }
    for token in [next, start].compactMap({ $0 }) where token.isEmpty || token.utf8.count > 4096 {
      throw .field("bad page token")
    }
    return (out, next, start)
  }
}
