public import RouteSpec

/// Placeholder until the compiler lands.
public enum RouteCompilerVersion {
  /// The highest route-file `version` this louter understands.
  public static let highestRouteFileVersion = 1
}
