import CFuse3

/// libfuse 3, with which VigieDrive mounts its file system.
///
/// VigieDrive also links libcurl; its version is reported by
/// `VigieWatchdog.CurlLibrary` only, so that importing both modules stays
/// unambiguous.
public enum Fuse3Library {
  /// The package version of the loaded library, e.g. `"3.14.0"` (`fuse_pkgversion()`).
  public static var version: String { String(cString: fuse_pkgversion()) }

  /// The loaded library's API version as `major * 100 + minor`, e.g. `314`
  /// (`fuse_version()`).
  public static var apiVersion: Int { Int(fuse_version()) }

  /// The API version Vigie was compiled for (`FUSE_USE_VERSION`), `35`.
  public static var usedAPIVersion: Int { Int(vigie_fuse_use_version()) }
}
