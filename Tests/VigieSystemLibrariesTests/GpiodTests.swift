import Testing
import VigieLights

#if canImport(Glibc)
  import Glibc
#endif

@Suite("libgpiod (VigieLights)")
struct GpiodTests {
  @Test func gpiodVersionMatchesPkgConfig() throws {
    let version = GpiodLibrary.version
    #expect(!version.isEmpty)
    #expect(PkgConfig.majorMinor(version) == (try PkgConfig.majorMinor(of: "libgpiod")))
  }

  @Test func openingMissingChipFailsWithENOENT() {
    let path = "/dev/gpiochip-does-not-exist"
    do {
      _ = try GpiodLibrary.openChip(path: path)
      Issue.record("gpiod_chip_open(\(path)) unexpectedly succeeded")
    } catch {
      #expect(error.code == ENOENT)
      #expect(error.operation == "gpiod_chip_open")
      #expect(error.target == path)
      #expect(error.description.contains("No such file"))
    }
  }
}
