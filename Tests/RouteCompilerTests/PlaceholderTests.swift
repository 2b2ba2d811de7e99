import Testing

@testable import RouteCompiler

@Suite struct VersionTests {
  @Test func knowsVersionOne() { #expect(RouteCompilerVersion.highestRouteFileVersion == 1) }
}
