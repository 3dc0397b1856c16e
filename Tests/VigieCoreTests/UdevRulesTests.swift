import Foundation
import Testing
import VigieCore

#if canImport(Glibc)
  import Glibc
#endif

// Checks udev-rules/90-vigie-modem.rules without udevd: Debian 12's udev
// (252) has no `udevadm verify`. Each rule is parsed into key, operator and
// value, checked against udev(7), then the rules are run by a small
// evaluator on fake devices built from KnownModems and compared with
// ModemPortSelector's own choice.

/// One `KEY{attr}OP"value"` of a rule.
struct RuleToken: Equatable {
  var key: String
  var attribute: String?
  var op: String
  var value: String
}

/// A rule: its line number and tokens.
struct Rule {
  var line: Int
  var tokens: [RuleToken]
}

struct RuleSyntaxError: Error, CustomStringConvertible {
  var line: Int
  var message: String
  var description: String { "line \(line): \(message)" }
}

enum UdevRules {
  static let path = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("udev-rules/90-vigie-modem.rules").path

  /// Keys that only match, only assign, or both (udev(7), systemd 252).
  static let matchKeys: Set<String> = [
    "ACTION", "DEVPATH", "KERNEL", "KERNELS", "SUBSYSTEM", "SUBSYSTEMS", "DRIVER", "DRIVERS",
    "ATTRS", "CONST", "TAGS", "TEST", "PROGRAM", "RESULT",
  ]
  static let assignKeys: Set<String> = [
    "OWNER", "GROUP", "MODE", "SECLABEL", "RUN", "LABEL", "GOTO", "IMPORT", "OPTIONS",
  ]
  static let bothKeys: Set<String> = ["NAME", "SYMLINK", "ENV", "ATTR", "SYSCTL", "TAG"]
  /// Keys that take `{attribute}` (required, or optional for TEST/RUN/IMPORT).
  static let attributeKeys: Set<String> = [
    "ATTR", "ATTRS", "SYSCTL", "ENV", "CONST", "TEST", "IMPORT", "RUN", "SECLABEL",
  ]
  static let importTypes: Set<String> = ["program", "builtin", "file", "db", "cmdline", "parent"]

  static func parse(_ text: String) throws -> [Rule] {
    var rules: [Rule] = []
    var pending = ""
    var startLine = 0
    for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
      let line = String(raw)
      if pending.isEmpty { startLine = index + 1 }
      if line.hasSuffix("\\") {
        pending += line.dropLast() + " "
        continue
      }
      let whole = (pending + line).trimmingCharacters(in: .whitespaces)
      pending = ""
      if whole.isEmpty || whole.hasPrefix("#") { continue }
      rules.append(Rule(line: startLine, tokens: try tokens(whole, line: startLine)))
    }
    return rules
  }

  static func tokens(_ text: String, line: Int) throws -> [RuleToken] {
    var result: [RuleToken] = []
    var rest = Substring(text)
    func fail(_ message: String) -> RuleSyntaxError {
      RuleSyntaxError(line: line, message: message)
    }
    while true {
      rest = rest.drop { $0 == " " || $0 == "\t" }
      if rest.isEmpty { break }
      let key = rest.prefix { $0.isUppercase || $0 == "_" }
      guard !key.isEmpty else { throw fail("expected a key at '\(rest.prefix(20))'") }
      rest = rest.dropFirst(key.count)
      var attribute: String?
      if rest.first == "{" {
        guard let close = rest.firstIndex(of: "}") else { throw fail("unclosed { after \(key)") }
        attribute = String(rest[rest.index(after: rest.startIndex)..<close])
        rest = rest[rest.index(after: close)...]
      }
      guard let op = ["==", "!=", "+=", "-=", ":=", "="].first(where: { rest.hasPrefix($0) }) else {
        throw fail("expected an operator after \(key)")
      }
      rest = rest.dropFirst(op.count)
      guard rest.first == "\"" else { throw fail("value of \(key) must be in double quotes") }
      rest = rest.dropFirst()
      var value = ""
      var escaped = false
      var closed = false
      while let c = rest.first {
        rest = rest.dropFirst()
        if escaped {
          value.append(c)
          escaped = false
        } else if c == "\\" {
          escaped = true
        } else if c == "\"" {
          closed = true
          break
        } else {
          value.append(c)
        }
      }
      guard closed else { throw fail("unterminated value of \(key)") }
      result.append(RuleToken(key: String(key), attribute: attribute, op: op, value: value))
      rest = rest.drop { $0 == " " || $0 == "\t" }
      if rest.isEmpty { break }
      guard rest.first == "," else { throw fail("expected ',' before '\(rest.prefix(20))'") }
      rest = rest.dropFirst()
    }
    return result
  }

  /// udev(7) checks; returns the problems found.
  static func check(_ rules: [Rule]) -> [String] {
    var problems: [String] = []
    var labels: [String: Int] = [:]
    for (index, rule) in rules.enumerated() {
      for token in rule.tokens where token.key == "LABEL" { labels[token.value] = index }
    }
    for (index, rule) in rules.enumerated() {
      let location = "line \(rule.line)"
      var assigns = false
      for token in rule.tokens {
        let isMatch = token.op == "==" || token.op == "!="
        if matchKeys.contains(token.key) {
          if !isMatch { problems.append("\(location): \(token.key) only matches (== or !=)") }
        } else if assignKeys.contains(token.key) {
          if isMatch { problems.append("\(location): \(token.key) only assigns") }
          assigns = true
        } else if bothKeys.contains(token.key) {
          if !isMatch { assigns = true }
        } else {
          problems.append("\(location): unknown key \(token.key)")
        }
        if attributeKeys.contains(token.key) {
          if token.attribute == nil && !["TEST", "RUN", "IMPORT"].contains(token.key) {
            problems.append("\(location): \(token.key) needs {attribute}")
          }
        } else if token.attribute != nil {
          problems.append("\(location): \(token.key) takes no {attribute}")
        }
        if token.key == "IMPORT", let type = token.attribute, !importTypes.contains(type) {
          problems.append("\(location): IMPORT{\(type)} is not an import type")
        }
        if token.key == "GOTO" {
          guard let target = labels[token.value] else {
            problems.append("\(location): GOTO to missing LABEL \(token.value)")
            continue
          }
          if target <= index { problems.append("\(location): GOTO \(token.value) jumps backwards") }
        }
        if token.key == "MODE", !token.value.allSatisfy({ ("0"..."7").contains($0) }) {
          problems.append("\(location): MODE must be octal")
        }
        if token.key == "SUBSYSTEMS" || token.key == "ATTRS" || token.key == "KERNELS"
          || token.key == "DRIVERS", token.op == "!="
        {
          problems.append("\(location): negated \(token.key) is true on the device itself")
        }
      }
      if !assigns { problems.append("\(location): a rule that assigns nothing") }
    }
    return problems
  }
}

/// A device as the evaluator sees it.
struct FakeDevice {
  var action = "add"
  var subsystem: String
  var kernel: String
  var properties: [String: String]
  var attributes: [String: String] = [:]
  /// Parents, nearest first: (subsystem, kernel name, attributes).
  var parents: [(subsystem: String, kernel: String, attributes: [String: String])] = []

  /// What the rules did.
  var symlinks: [String] = []
  var group: String?
  var mode: String?
}

enum RuleEvaluator {
  static func matches(_ pattern: String, _ value: String) -> Bool {
    pattern.split(separator: "|", omittingEmptySubsequences: false).contains {
      fnmatch(String($0), value, 0) == 0
    }
  }

  /// Runs the rules on `device`, as udevd would for the subset of keys the
  /// file uses.
  static func run(_ rules: [Rule], on device: inout FakeDevice) {
    var skipTo: String?
    for rule in rules {
      if let target = skipTo {
        if rule.tokens.contains(where: { $0.key == "LABEL" && $0.value == target }) {
          skipTo = nil
        }
        continue
      }
      guard ruleMatches(rule, device) else { continue }
      for token in rule.tokens {
        switch (token.key, token.op) {
        case ("ENV", "="), ("ENV", ":="): device.properties[token.attribute ?? ""] = token.value
        case ("SYMLINK", "+="):
          device.symlinks += token.value.split(separator: " ").map(String.init)
        case ("GROUP", _): device.group = token.value
        case ("MODE", _): device.mode = token.value
        case ("GOTO", _): skipTo = token.value
        default: break  // matches, LABEL, IMPORT (the fake device has the properties already)
        }
      }
      if skipTo != nil { continue }
    }
  }

  private static func ruleMatches(_ rule: Rule, _ device: FakeDevice) -> Bool {
    var parentTokens: [RuleToken] = []
    for token in rule.tokens {
      let positive = token.op == "=="
      let negative = token.op == "!="
      guard positive || negative else { continue }
      let actual: String
      switch token.key {
      case "ACTION": actual = device.action
      case "SUBSYSTEM": actual = device.subsystem
      case "KERNEL": actual = device.kernel
      case "ENV": actual = device.properties[token.attribute ?? ""] ?? ""
      case "ATTR": actual = device.attributes[token.attribute ?? ""] ?? ""
      case "SUBSYSTEMS", "ATTRS", "KERNELS":
        parentTokens.append(token)
        continue
      default: return false  // a key the evaluator does not know: the test fails loudly below
      }
      if matches(token.value, actual) != positive { return false }
    }
    if parentTokens.isEmpty { return true }
    let chain =
      [(subsystem: device.subsystem, kernel: device.kernel, attributes: device.attributes)]
      + device.parents
    return chain.contains { candidate in
      parentTokens.allSatisfy { token in
        let actual: String? =
          switch token.key {
          case "SUBSYSTEMS": candidate.subsystem
          case "KERNELS": candidate.kernel
          default: candidate.attributes[token.attribute ?? ""]
          }
        guard let actual else { return false }
        return matches(token.value, actual) == (token.op == "==")
      }
    }
  }
}

// MARK: - Fake modems

private func hex(_ value: some BinaryInteger, _ width: Int) -> String {
  let digits = String(value, radix: 16)
  return String(repeating: "0", count: max(0, width - digits.count)) + digits
}

/// The tty devices of a modem, as udevd sees them before our rules run
/// (60-serial.rules has set the ID_* properties), and the SerialPortInfo
/// values VigieModem would build for them.
private func fakeModem(
  vendor: UInt16, product: UInt16, interfaces: [(number: UInt8, triple: USBInterfaceClass?)]
) -> [(FakeDevice, SerialPortInfo)] {
  let usbAttributes = ["idVendor": hex(vendor, 4), "idProduct": hex(product, 4)]
  return interfaces.enumerated().map { index, interface in
    let number = hex(interface.number, 2)
    var interfaceAttributes = ["bInterfaceNumber": number]
    if let triple = interface.triple {
      interfaceAttributes["bInterfaceClass"] = hex(triple.classCode, 2)
      interfaceAttributes["bInterfaceSubClass"] = hex(triple.subclass, 2)
      interfaceAttributes["bInterfaceProtocol"] = hex(triple.protocolCode, 2)
    }
    let properties = [
      "DEVNAME": "/dev/ttyUSB\(index)", "SUBSYSTEM": "tty", "ID_VENDOR_ID": hex(vendor, 4),
      "ID_MODEL_ID": hex(product, 4), "ID_USB_INTERFACE_NUM": number, "ID_USB_DRIVER": "option",
    ]
    let device = FakeDevice(
      subsystem: "tty", kernel: "ttyUSB\(index)", properties: properties,
      parents: [
        ("usb-serial", "ttyUSB\(index)", [:]),
        ("usb", "1-1:1.\(interface.number)", interfaceAttributes),
        ("usb", "1-1", usbAttributes),
      ])
    let info = SerialPortInfo(
      syspath: "/sys/devices/usb1/1-1/1-1:1.\(interface.number)/ttyUSB\(index)/tty/ttyUSB\(index)",
      properties: properties, interfaceClass: interface.triple,
      usbDeviceSyspath: "/sys/devices/usb1/1-1")!
    return (device, info)
  }
}

/// Interfaces for a known modem: enough numbered ones to include its AT
/// interface, or Huawei's modem/diag/PCUI descriptors (PCUI not first).
private func interfaces(for modem: KnownModem) -> [(number: UInt8, triple: USBInterfaceClass?)] {
  switch modem.atPort {
  case .interfaceNumber(let n):
    return (0...max(n, 2)).map { ($0, nil) }
  case .interfaceClass(let classCode, let subclasses, let protocolCode):
    let sub = subclasses.last ?? 0
    return [
      (0, USBInterfaceClass(classCode: classCode, subclass: sub, protocolCode: 0x01)),
      (1, USBInterfaceClass(classCode: classCode, subclass: sub, protocolCode: 0x12)),
      (3, USBInterfaceClass(classCode: classCode, subclass: sub, protocolCode: protocolCode)),
    ]
  }
}

// MARK: - Tests

@Suite("udev rules (udev-rules/90-vigie-modem.rules)")
struct UdevRulesTests {
  static func load() throws -> [Rule] {
    try UdevRules.parse(try String(contentsOfFile: UdevRules.path, encoding: .utf8))
  }

  @Test("every rule parses into key, operator and value, with keys and operators of udev(7)")
  func syntax() throws {
    let rules = try Self.load()
    #expect(rules.count > 10)
    #expect(UdevRules.check(rules) == [])
  }

  @Test("every rules file in udev-rules/ (the .deb installs them all) passes the same checks")
  func everyRulesFile() throws {
    let directory = URL(fileURLWithPath: UdevRules.path).deletingLastPathComponent().path
    let files = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".rules") }
    #expect(files.contains("91-vigie-leds.rules"))
    for file in files {
      let rules = try UdevRules.parse(try String(contentsOfFile: directory + "/" + file, encoding: .utf8))
      #expect(!rules.isEmpty, "\(file)")
      #expect(UdevRules.check(rules) == [], "\(file)")
    }
  }

  @Test(
    "the checker itself catches typos",
    arguments: [
      #"ENV{ID_VENDOR_ID}="12d1", SYMLNK+="x""#,
      #"GROUP=="dialout""#,
      #"ATTRS{idVendor}="12d1", SYMLINK+="x""#,
      #"ENV{X}=="1", GOTO="nowhere""#,
      #"MODE="rw""#,
      #"SUBSYSTEMS!="usb", GOTO="end"\#nLABEL="end""#,
      #"ENV{ID_VENDOR_ID}=="12d1""#,
    ])
  func checker(_ text: String) throws {
    let rules = try UdevRules.parse(text.replacingOccurrences(of: "\\n", with: "\n"))
    #expect(!UdevRules.check(rules).isEmpty)
  }

  @Test(
    "malformed lines are syntax errors",
    arguments: [
      #"ENV{ID_VENDOR_ID}=="12d1" SYMLINK+="x""#,
      #"ENV{ID_VENDOR_ID="12d1""#,
      #"ENV{ID_VENDOR_ID}==12d1"#,
      #"ENV{ID_VENDOR_ID}=="12d1"#,
      #"env{x}=="1""#,
    ])
  func malformed(_ text: String) {
    #expect(throws: RuleSyntaxError.self) { try UdevRules.parse(text) }
  }

  @Test(
    "each known modem gets /dev/vigie-modem on the port Vigie chooses, dialout 0660, ModemManager off"
  )
  func knownModems() throws {
    let rules = try Self.load()
    for modem in KnownModems.all {
      for product in modem.productIDs {
        let ports = fakeModem(
          vendor: modem.vendorID, product: product, interfaces: interfaces(for: modem))
        var linked: [String] = []
        for (device, info) in ports {
          var device = device
          RuleEvaluator.run(rules, on: &device)
          if device.symlinks.contains("vigie-modem") { linked.append(info.devnode) }
          #expect(device.group == "dialout", "\(modem.name) \(info.devnode)")
          #expect(device.mode == "0660")
          #expect(device.properties["ID_MM_DEVICE_IGNORE"] == "1")
        }
        let choice = ModemPortSelector.choose(ports: ports.map(\.1), configured: .auto).choice
        #expect(choice?.rule == .knownModem, "\(modem.name) \(hex(product, 4))")
        #expect(
          linked == [choice?.devicePath].compactMap { $0 }, "\(modem.name) \(hex(product, 4))")
      }
    }
  }

  @Test("the USB device of a known modem is hidden from ModemManager")
  func usbDevice() throws {
    let rules = try Self.load()
    for modem in KnownModems.all {
      for product in modem.productIDs {
        var device = FakeDevice(
          subsystem: "usb", kernel: "1-1", properties: ["DEVTYPE": "usb_device"],
          attributes: ["idVendor": hex(modem.vendorID, 4), "idProduct": hex(product, 4)])
        RuleEvaluator.run(rules, on: &device)
        #expect(device.properties["ID_MM_DEVICE_IGNORE"] == "1", "\(modem.name)")
      }
    }
  }

  @Test("storage-mode sticks, unknown modems and removals are left alone")
  func untouched() throws {
    let rules = try Self.load()
    for (vendor, product) in KnownModemsTests.storageIDs + [(0x1234, 0x5678), (0x0403, 0x6001)] {
      for (device, _) in fakeModem(
        vendor: vendor, product: product, interfaces: [(0, nil), (2, nil)])
      {
        var device = device
        RuleEvaluator.run(rules, on: &device)
        #expect(device.symlinks.isEmpty && device.group == nil)
        #expect(device.properties["ID_MM_DEVICE_IGNORE"] == nil)
      }
    }
    var removed = fakeModem(vendor: 0x12d1, product: 0x1001, interfaces: [(2, nil)])[0].0
    removed.action = "remove"
    RuleEvaluator.run(rules, on: &removed)
    #expect(removed.symlinks.isEmpty)
  }

  @Test("udevadm verify accepts the file (where udev has it: systemd 253+)")
  func udevadmVerify() throws {
    guard
      let udevadm = ["/usr/bin/udevadm", "/bin/udevadm"].first(
        where: FileManager.default.isExecutableFile),
      run(udevadm, ["verify", "--help"]).status == 0
    else {
      // Debian 12's udev 252 has no verify: the parser above stands in.
      return
    }
    let result = run(udevadm, ["verify", "--resolve-names=never", UdevRules.path])
    #expect(result.status == 0, "\(result.output)")
  }

  private func run(_ path: String, _ arguments: [String]) -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    do { try process.run() } catch { return (-1, "\(error)") }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
  }
}
