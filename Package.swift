// swift-tools-version: 6.1
import PackageDescription

/// Settings shared by every Swift target: Swift 6 language mode (the package
/// default with tools 6.x) plus the upcoming features the project adopts.
let swiftSettings: [SwiftSetting] = [
  .enableUpcomingFeature("ExistentialAny"),
  .enableUpcomingFeature("MemberImportVisibility"),
]

/// A C library found through pkg-config; Debian's -dev package provides it.
func cLibrary(_ name: String, pkgConfig: String, apt: String) -> Target {
  .systemLibrary(name: name, pkgConfig: pkgConfig, providers: [.apt([apt])])
}

let package = Package(
  name: "vigie",
  platforms: [.macOS(.v15)],
  products: [
    .executable(name: "vigie", targets: ["vigie"]),
    .library(name: "VigieCore", targets: ["VigieCore"]),
    .library(name: "VigieRuntime", targets: ["VigieRuntime"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
    .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
    .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
    .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
    .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
  ],
  targets: [
    // MARK: C libraries (system, through pkg-config; shims in shim.h)
    cLibrary("CGammu", pkgConfig: "gammu", apt: "libgammu-dev"),
    cLibrary("CUdev", pkgConfig: "libudev", apt: "libudev-dev"),
    cLibrary("CPcap", pkgConfig: "libpcap", apt: "libpcap-dev"),
    cLibrary("CFuse3", pkgConfig: "fuse3", apt: "libfuse3-dev"),
    cLibrary("CCurl", pkgConfig: "libcurl", apt: "libcurl4-openssl-dev"),
    cLibrary("CGpiod", pkgConfig: "libgpiod", apt: "libgpiod-dev"),
    cLibrary("CArchive", pkgConfig: "libarchive", apt: "libarchive-dev"),
    cLibrary("CQREncode", pkgConfig: "libqrencode", apt: "libqrencode-dev"),
    cLibrary("CXML2", pkgConfig: "libxml-2.0", apt: "libxml2-dev"),

    /// openat2 and renameat2 for the file drop (syscall() is variadic).
    .target(name: "CFileDropSys"),

    // MARK: Pure logic
    .target(name: "VigieCore", swiftSettings: swiftSettings),

    // MARK: Services wrapping C libraries and sockets
    .target(
      name: "VigieModem",
      dependencies: [
        "VigieCore", "CGammu", "CUdev", .product(name: "Logging", package: "swift-log"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
      ],
      swiftSettings: swiftSettings),
    .target(
      name: "VigieWatchdog",
      dependencies: [
        "VigieCore", "CPcap", "CCurl", .product(name: "Logging", package: "swift-log"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
      ],
      swiftSettings: swiftSettings),
    .target(
      name: "VigieChat",
      dependencies: [
        "VigieCore", "CXML2", .product(name: "Logging", package: "swift-log"),
        .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "NIOSSL", package: "swift-nio-ssl"),
      ],
      swiftSettings: swiftSettings),
    .target(
      name: "VigieDrive",
      dependencies: ["VigieCore", "CFuse3", "CCurl", .product(name: "Logging", package: "swift-log")],
      swiftSettings: swiftSettings),
    .target(
      name: "VigieFileDrop",
      dependencies: [
        "VigieCore", "CArchive", "CQREncode", "CFileDropSys", .product(name: "Logging", package: "swift-log"),
        .product(name: "Hummingbird", package: "hummingbird"),
        .product(name: "Crypto", package: "swift-crypto"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
      ],
      swiftSettings: swiftSettings),
    .target(
      name: "VigieLights",
      dependencies: [
        "VigieCore", "CGpiod", .product(name: "Logging", package: "swift-log"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
      ],
      swiftSettings: swiftSettings),

    .target(
      name: "VigieStatus",
      dependencies: [
        "VigieCore", .product(name: "Hummingbird", package: "hummingbird"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
      ],
      swiftSettings: swiftSettings),

    // MARK: The supervisor
    .target(
      name: "VigieRuntime",
      dependencies: [
        "VigieCore",
        "VigieModem", "VigieWatchdog", "VigieChat", "VigieDrive", "VigieFileDrop", "VigieLights",
        "VigieStatus", .product(name: "Prometheus", package: "swift-prometheus"),
        .product(name: "Hummingbird", package: "hummingbird"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        .product(name: "UnixSignals", package: "swift-service-lifecycle"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "GRDB", package: "GRDB.swift"),
        .product(name: "GRDBSQLite", package: "GRDB.swift"),
        .product(name: "TOMLKit", package: "TOMLKit"),
      ],
      swiftSettings: swiftSettings),

    // MARK: Executables
    .executableTarget(
      name: "vigie",
      dependencies: [
        "VigieCore", "VigieRuntime", "VigieWatchdog", "VigieDrive", "VigieFileDrop",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "Logging", package: "swift-log"),
      ],
      swiftSettings: swiftSettings),
    /// Helper processes for tests that must kill a real process (the outbox
    /// SIGKILL test) or run under a preload (the umockdev hotplug test). Not
    /// installed.
    .executableTarget(
      name: "vigie-test-helper",
      dependencies: [
        "VigieCore", "VigieRuntime", "VigieModem", .product(name: "GRDB", package: "GRDB.swift"),
      ],
      swiftSettings: swiftSettings),

    // MARK: Tests
    .testTarget(name: "VigieCoreTests", dependencies: ["VigieCore"], swiftSettings: swiftSettings),
    .testTarget(
      name: "VigieRuntimeTests",
      dependencies: [
        "VigieCore", "VigieRuntime", "VigieModem",
        .product(name: "Logging", package: "swift-log"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        .product(name: "GRDB", package: "GRDB.swift"),
      ],
      swiftSettings: swiftSettings),
    .testTarget(
      name: "VigieSystemLibrariesTests",
      dependencies: [
        "VigieModem", "VigieWatchdog", "VigieChat", "VigieDrive", "VigieFileDrop", "VigieLights",
        .product(name: "Logging", package: "swift-log"),
      ],
      swiftSettings: swiftSettings),
    .testTarget(
      name: "VigieIntegrationTests",
      dependencies: ["VigieCore", "VigieRuntime", "vigie", "vigie-test-helper"],
      swiftSettings: swiftSettings),
  ]
)
