// vigie-test-helper udev-watch [--device auto|PATH] [--settle-ms N]
//
// Watches serial ports through the real libudev, for the umockdev hotplug
// test (run under libumockdev-preload with UMOCKDEV_DIR set). Prints one JSON
// object per line on stdout:
//   {"event":"enumerated","ports":[PORT...],"ttys":N}   USB serial ports now
//   {"event":"selection","device":D|null,"rule":R,"reason":S}   chosen now
//   {"event":"added","port":PORT} / {"event":"removed","devnode":D,"syspath":P}
//       every raw event of the tty monitor
//   {"event":"appeared","device":D,"rule":R,"reason":S} / {"event":"gone",...}
//   {"event":"absent","reason":S}                      from ModemLocator
//   {"event":"stopped","ms":N}   after stdin closed: how long both monitors
//                                took to stop once cancelled
// PORT = {"devnode","syspath","vendor","product","interface","driver","links",
//         "usbDevice","class"}. Exits 0 after "stopped", 1 on error.

import Foundation
import VigieCore
import VigieModem

#if canImport(Glibc)
  import Glibc
#endif

enum UdevWatch {
  static func run(_ arguments: [String]) async throws {
    let device = (try? option("--device", in: arguments)) ?? "auto"
    let settle = Int((try? option("--settle-ms", in: arguments)) ?? "300") ?? 300

    let ports = try UdevSerialPorts.list()
    emit([
      "event": "enumerated", "ports": ports.filter(\.isUSB).map(json), "ttys": ports.count,
    ])
    let selection = ModemPortSelector.choose(
      ports: ports, configured: .parse(device, resolve: resolvePath))
    emit([
      "event": "selection", "device": selection.choice?.devicePath ?? NSNull(),
      "rule": selection.choice?.rule.rawValue ?? NSNull(), "reason": selection.reason,
    ])

    let raw = try SerialPortMonitor.start()
    let locator = ModemLocator(device: device, settle: .milliseconds(settle))
    let stoppedAt = try await withThrowingTaskGroup(of: ContinuousClock.Instant?.self) { group in
      group.addTask {
        for await event in raw { emit(json(event)) }
        return nil
      }
      group.addTask {
        try await locator.run { change in emit(json(change)) }
        return nil
      }
      group.addTask {
        await stdinClosed()
        return ContinuousClock.now
      }
      var stoppedAt: ContinuousClock.Instant?
      while let result = try await group.next() {
        if let result {
          stoppedAt = result
          group.cancelAll()
        }
      }
      return stoppedAt
    }
    let elapsed = stoppedAt.map { ContinuousClock.now - $0 } ?? .zero
    emit(["event": "stopped", "ms": Int(elapsed / .milliseconds(1))])
  }

  /// Returns once stdin reaches end of file; the read blocks a thread of
  /// its own, not the cooperative pool.
  static func stdinClosed() async {
    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
      Thread.detachNewThread {
        var buffer = [UInt8](repeating: 0, count: 256)
        while true {
          let count = read(0, &buffer, buffer.count)
          if count > 0 || (count < 0 && errno == EINTR) { continue }
          break
        }
        continuation.resume()
      }
    }
  }

  @Sendable static func resolvePath(_ path: String) -> String? {
    guard let resolved = realpath(path, nil) else { return nil }
    defer { free(resolved) }
    return String(cString: resolved)
  }

  static func json(_ port: SerialPortInfo) -> [String: Any] {
    [
      "devnode": port.devnode, "syspath": port.syspath, "vendor": hex(port.vendorID, 4),
      "product": hex(port.productID, 4), "interface": hex(port.interfaceNumber, 2),
      "driver": port.driver ?? NSNull(), "links": port.links,
      "usbDevice": port.usbDeviceSyspath ?? NSNull(),
      "class": port.interfaceClass?.description ?? NSNull(),
    ]
  }

  static func json(_ event: ModemDeviceEvent) -> [String: Any] {
    switch event {
    case .added(let port): ["event": "added", "port": json(port)]
    case .removed(let devnode, let syspath):
      ["event": "removed", "devnode": devnode ?? NSNull(), "syspath": syspath]
    case .listed(let ports): ["event": "listed", "count": ports.count]
    case .settled: ["event": "settled"]
    case .eventsLost: ["event": "events-lost"]
    case .failed(let error): ["event": "failed", "error": "\(error)"]
    }
  }

  static func json(_ change: ModemPresenceChange) -> [String: Any] {
    switch change {
    case .appeared(let choice):
      [
        "event": "appeared", "device": choice.devicePath, "rule": choice.rule.rawValue,
        "reason": choice.reason,
      ]
    case .gone(let choice, let reason):
      ["event": "gone", "device": choice.devicePath, "reason": reason]
    case .absent(let reason): ["event": "absent", "reason": reason]
    }
  }

  static func hex<T: BinaryInteger>(_ value: T?, _ width: Int) -> Any {
    guard let value else { return NSNull() }
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: max(0, width - digits.count)) + digits
  }

  /// One JSON line on stdout, in a single write.
  static func emit(_ object: [String: Any]) {
    guard
      var data = try? JSONSerialization.data(
        withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
    else { return }
    data.append(0x0A)
    FileHandle.standardOutput.write(data)
  }
}
