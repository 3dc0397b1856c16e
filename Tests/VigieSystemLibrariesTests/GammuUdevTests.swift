import CGammu
import Testing
import VigieModem

@Suite("libGammu and libudev (VigieModem)")
struct GammuUdevTests {
  @Test func gammuVersionMatchesPkgConfig() throws {
    let version = GammuLibrary.version
    #expect(!version.isEmpty)
    #expect(PkgConfig.majorMinor(version) == (try PkgConfig.majorMinor(of: "gammu")))
    #expect(PkgConfig.majorMinor(GammuLibrary.headerVersion) == PkgConfig.majorMinor(version))
  }

  @Test func gammuStateMachineAndMacroWrapper() throws {
    let machine = try #require(GSM_AllocStateMachine())
    defer { GSM_FreeStateMachine(machine) }
    #expect(GSM_IsConnected(machine) == 0)
    #expect(String(cString: vigie_GSM_MemoryTypeToString(MEM_SM)) == "SM")
    #expect(String(cString: vigie_GSM_MemoryTypeToString(MEM_ME)) == "ME")
    #expect(!String(cString: GSM_ErrorString(ERR_TIMEOUT)).isEmpty)
  }

  @Test func udevEnumeratesTTYSubsystem() throws {
    let paths = try UdevLibrary.devicePaths(subsystem: "tty")
    #expect(paths.allSatisfy { $0.hasPrefix("/sys/") })
    #expect(UdevLibrary.probe())
  }
}
