import CFuse3
import Testing
import VigieDrive

@Suite("libfuse 3 (VigieDrive)")
struct Fuse3Tests {
  @Test func fuseVersionMatchesPkgConfig() throws {
    let expected = try PkgConfig.majorMinor(of: "fuse3")
    #expect(PkgConfig.majorMinor(Fuse3Library.version) == expected)

    let api = Int(fuse_version())
    #expect(api == Fuse3Library.apiVersion)
    #expect("\(api / 100).\(api % 100)" == expected)
    #expect(Int(vigie_fuse_version()) == api)
    #expect(Int(vigie_fuse_header_version()) <= api)
    #expect(Fuse3Library.usedAPIVersion == 35)
  }

  @Test func fuseStructSizesAgreeWithSwift() {
    #expect(vigie_fuse_operations_size() == MemoryLayout<fuse_operations>.size)
    #expect(vigie_fuse_lowlevel_ops_size() == MemoryLayout<fuse_lowlevel_ops>.size)
    let args = vigie_fuse_args_init(0, nil)
    #expect(args.argc == 0 && args.argv == nil && args.allocated == 0)
  }
}
