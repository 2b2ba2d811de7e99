import Testing

@testable import RouterRuntime

@Suite struct RuntimeVersionTests {
  @Test func hasVersion() { #expect(!LouterVersion.current.isEmpty) }
}
