import Testing

@testable import RouteSpec

@Suite struct SourceFileTests {
  @Test func locationCountsCharactersNotBytes() {
    let file = SourceFile(id: FileID(0), path: "a.toml", text: "a = 1\né = \"x\"\n")
    let offset = Array(file.bytes).firstIndex(of: UInt8(ascii: "\""))!
    #expect(file.location(of: offset) == SourceLocation(line: 2, column: 5))
    #expect(file.lineText(1) == "é = \"x\"")
  }
}
