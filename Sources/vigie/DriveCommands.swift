import ArgumentParser
import Foundation
import Logging
import VigieCore
import VigieDrive
import VigieFileDrop
import VigieRuntime

struct Drive: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "drive", abstract: "Google Drive: authorise, list, upload in the foreground.",
    discussion: """
      The FUSE mount and the background upload queue are not built yet (see docs/drive.md).
      """,
    subcommands: [Auth.self, List.self, Put.self, Changes.self])

  static func client(_ option: ConfigOption) throws -> DriveClient {
    let config: VigieConfig
    do { config = try ConfigLoader.load(path: option.config).config } catch {
      FileHandle.standardError.write(Data("vigie: \(error)\n".utf8))
      throw ExitCodes.configError
    }
    if config.drive.clientID.isEmpty {
      FileHandle.standardError.write(Data("vigie: [drive] client_id is not set\n".utf8))
      throw ExitCodes.configError
    }
    return DriveClient(settings: try DriveSettings(config: config.drive), worker: HTTPWorker(name: "vigie-drive-http"))
  }

  static func fail(_ error: any Error) -> ExitCode {
    FileHandle.standardError.write(Data("vigie: \(error)\n".utf8))
    return ExitCode.failure
  }

  struct Auth: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Authorise Vigie on a Google account (OAuth device flow, drive.file scope).",
      discussion: """
        Prints a URL and a code (and the URL as a QR code): open the URL on any device, sign in,
        enter the code. This command polls until you approve, then writes [drive] token_file
        (mode 0600).
        """)
    @OptionGroup var configOption: ConfigOption
    @Flag(help: "Do not print the QR code.") var noQR = false

    func run() async throws {
      let client = try Drive.client(configOption)
      do {
        let auth = try await client.startDeviceFlow()
        var text = "Open \(auth.verificationURL) and enter the code \(auth.userCode)\n"
        text += "(the code expires in \(auth.expiresIn / 60) minutes)\n"
        if !noQR, let matrix = QREncodeLibrary.encode(auth.verificationURL) { text += QRText.render(matrix) + "\n" }
        FileHandle.standardOutput.write(Data(text.utf8))  // unbuffered: the user needs it now
        let tokens = try await client.completeDeviceFlow(auth)
        print("Authorised (scope \(tokens.scope)); token saved to \(client.settings.tokenFile)")
      } catch {
        throw Drive.fail(error)
      }
    }
  }

  struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "ls", abstract: "List a Drive folder (all pages): id, size, md5, name.")
    @OptionGroup var configOption: ConfigOption
    @Argument(help: "Folder id (default: root).") var folder = "root"

    func run() async throws {
      let client = try Drive.client(configOption)
      do {
        for f in try await client.list(q: DriveQuery.children(of: folder)) {
          let size = f.isFolder ? "dir" : f.size.map(String.init) ?? "-"
          print("\(f.id)\t\(size)\t\(f.md5Checksum ?? "-")\t\(f.name)")
        }
      } catch {
        throw Drive.fail(error)
      }
    }
  }

  struct Changes: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Print the changes since a page token (none: print the current token).",
      discussion: "Prints one line per change (`removed ID` or `changed ID NAME`), then `token T` to use next time.")
    @OptionGroup var configOption: ConfigOption
    @Argument(help: "Page token from a previous run.") var token: String?

    func run() async throws {
      let client = try Drive.client(configOption)
      do {
        guard let token else {
          print("token \(try await client.startPageToken())")
          return
        }
        let (changes, next) = try await client.changes(since: token)
        for c in changes {
          print(c.removed || c.file == nil ? "removed \(c.fileID)" : "changed \(c.fileID) \(c.file?.name ?? "")")
        }
        print("token \(next)")
      } catch {
        throw Drive.fail(error)
      }
    }
  }

  struct Put: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Upload a file in the foreground with the resumable protocol.",
      discussion: """
        With --checkpoint, the session URI and the confirmed bytes are saved after every chunk:
        running the same command again (after a crash or kill -9) resumes where it stopped
        without re-sending what Drive confirmed, and never creates a second copy.
        """)
    @OptionGroup var configOption: ConfigOption
    @Argument(help: "The local file.") var file: String
    @Option(help: "Parent folder id.") var parent = "root"
    @Option(help: "Name on Drive (default: the file's name).") var name: String?
    @Option(help: "Checkpoint file (resume state).") var checkpoint: String?
    @Option(help: "Upload key (default: derived from the path and size).") var key: String?

    func run() async throws {
      let client = try Drive.client(configOption)
      let attributes = try FileManager.default.attributesOfItem(atPath: file)
      let size = (attributes[.size] as? NSNumber)?.int64Value ?? 0
      var sha = SHA1()
      sha.update("\(URL(fileURLWithPath: file).standardized.path)\u{0}\(size)\u{0}\(parent)")
      let uploadKey = key ?? sha.finalize().prefix(12).map { String(format: "%02x", $0) }.joined()
      var start = UploadCheckpoint()
      if let checkpoint, let text = try? String(contentsOfFile: checkpoint, encoding: .utf8) {
        guard let saved = UploadCheckpoint(text: text) else {
          throw Drive.fail(CLIMessage("checkpoint \(checkpoint) is unreadable; delete it to start over"))
        }
        start = saved
      }
      var logger = Logger(label: "vigie.drive")
      logger.logLevel = .notice
      let uploader = DriveUploader(client: client, logger: logger)
      let checkpointPath = checkpoint
      do {
        let result = try await uploader.upload(
          .init(path: file, name: name ?? URL(fileURLWithPath: file).lastPathComponent, parent: parent, key: uploadKey),
          from: start
        ) { state in
          guard let checkpointPath else { return }
          let temp = checkpointPath + ".tmp"
          try Data(state.text.utf8).write(to: URL(fileURLWithPath: temp))
          guard rename(temp, checkpointPath) == 0 else { throw POSIXError(.EIO) }
        }
        if let checkpoint { unlink(checkpoint) }
        print("\(result.id)\t\(result.size ?? 0)\t\(result.md5Checksum ?? "-")\t\(result.name)")
      } catch {
        throw Drive.fail(error)
      }
    }
  }
}

struct CLIMessage: Error, CustomStringConvertible {
  var description: String
  init(_ text: String) { description = text }
}
