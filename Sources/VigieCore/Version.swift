/// The version of this build; `scripts/build-release` stamps release builds.
public enum VigieVersion {
  public static let string = "0.1.0-dev"
}
