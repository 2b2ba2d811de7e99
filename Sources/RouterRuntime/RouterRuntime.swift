/// Version string of the runtime, printed by `louter --version`.
public enum LouterVersion {
  /// The semantic version of this build.
  public static let current = "0.1.0"
}
