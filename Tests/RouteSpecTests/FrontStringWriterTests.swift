import Testing

@testable import RouteSpec

/// ``JSONWriter/writeString(_:into:)`` sizes the string first and writes it into room made once; held to a plain
/// escaper written here byte by byte (its documented escapes: the short forms, `\u00xx` for other control bytes and
/// DEL) over seeded strings of every byte that needs an escape, of runs longer than a word, and of text that is not
/// ASCII, each appended after bytes already written; and each written string parses back to itself.
@Suite struct FrontStringWriterTests {
  typealias Generator = JSONContainerLoopTests.Generator

  /// The escaped form of `text`, quotes included.
  static func reference(_ text: String) -> [UInt8] {
    var out: [UInt8] = [UInt8(ascii: "\"")]
    let hex = Array("0123456789abcdef".utf8)
    for byte in text.utf8 {
      switch byte {
      case UInt8(ascii: "\""): out += Array(#"\""#.utf8)
      case UInt8(ascii: "\\"): out += Array(#"\\"#.utf8)
      case 0x0A: out += Array(#"\n"#.utf8)
      case 0x0D: out += Array(#"\r"#.utf8)
      case 0x09: out += Array(#"\t"#.utf8)
      case 0x08: out += Array(#"\b"#.utf8)
      case 0x0C: out += Array(#"\f"#.utf8)
      case 0x00..<0x20, 0x7F: out += Array(#"\u00"#.utf8) + [hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
      default: out.append(byte)
      }
    }
    return out + [UInt8(ascii: "\"")]
  }

  static let pieces: [String] =
    (0..<0x20).map { String(Character(Unicode.Scalar(UInt8($0)))) } + [
      "\u{7F}", "\"", "\\", "/", "a", "plain words ", "The quick brown fox jumps over the lazy dog.\n", "é", "€",
      "😀", "\r\n", "",
    ]

  @Test func writesWhatAPlainEscaperWrites() throws {
    var random = Generator(state: 77)
    for round in 0..<5000 {
      let count = Int.random(in: 0...(round % 9 == 0 ? 120 : 10), using: &random)
      let text = (0..<count).map { _ in Self.pieces.randomElement(using: &random) ?? "" }.joined()
      let prefix = Array(String(repeating: "p", count: Int.random(in: 0..<20, using: &random)).utf8)
      var out = prefix
      JSONWriter.writeString(text, into: &out)
      #expect(out == prefix + Self.reference(text), "\(text.debugDescription)")
      #expect(try JSONParser.parse(Array(out[prefix.count...])) == .string(text))
    }
  }

  @Test func theEmptyStringIsTwoQuotes() {
    var out: [UInt8] = []
    JSONWriter.writeString("", into: &out)
    #expect(out == Array(#""""#.utf8))
  }
}
