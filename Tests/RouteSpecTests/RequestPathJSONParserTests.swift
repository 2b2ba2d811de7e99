import Testing

@testable import RouteSpec

/// The tree parser on a request's path: strings Gemini requests repeat given as literals (``JSONCommonStrings``),
/// which must be exactly the strings the bytes spell (for those names, near misses of them and anything else), and
/// containers of one or two entries made whole, which must read as the general walk reads them.
@Suite struct RequestPathJSONParserTests {
  /// The names the table holds, and more that it does not.
  static let names = [
    "text", "role", "user", "name", "args", "data", "topP", "topK", "parts", "model", "tools", "contents", "mimeType",
    "inlineData", "temperature", "functionCall", "maxOutputTokens", "generationConfig", "functionResponse",
    "systemInstruction", "functionDeclarations", "fileData", "thought", "responseMimeType", "content", "",
  ]

  /// `name` with one byte changed, cut short, or grown by a byte: same length and first byte as a name, or close.
  static func nearMiss(_ name: String, _ random: inout JSONContainerLoopTests.Generator) -> [UInt8] {
    var bytes = Array(name.utf8)
    switch Int.random(in: 0..<4, using: &random) {
    case 0 where !bytes.isEmpty:
      bytes[Int.random(in: 0..<bytes.count, using: &random)] = UInt8.random(in: 0x20...0x7E, using: &random)
    case 1 where !bytes.isEmpty: bytes.removeLast()
    case 2: bytes.append(UInt8.random(in: 0x20...0x7E, using: &random))
    default: bytes.insert(UInt8.random(in: 0x20...0x7E, using: &random), at: 0)
    }
    return bytes
  }

  @Test func literalsAreTheStringsTheBytesSpell() {
    for name in Self.names {
      let bytes = Array(name.utf8)
      let found = bytes.withUnsafeBufferPointer { JSONCommonStrings.literal($0) }
      if let found { #expect(Array(found.utf8) == bytes, "\(name)") }
    }
    for name in ["text", "role", "user", "parts", "contents", "generationConfig", "functionDeclarations"] {
      #expect(Array(name.utf8).withUnsafeBufferPointer { JSONCommonStrings.literal($0) } == name)
    }
    var random = JSONContainerLoopTests.Generator(state: 7)
    for _ in 0..<20_000 {
      let name = Self.names.randomElement(using: &random) ?? ""
      let bytes = Self.nearMiss(name, &random)
      let found = bytes.withUnsafeBufferPointer { JSONCommonStrings.literal($0) }
      if let found { #expect(Array(found.utf8) == bytes, "near miss \(bytes) of \(name)") }
    }
  }

  /// A tree of at most `depth` levels whose strings and keys are the names, near misses of them, escapes and
  /// text that is not ASCII.
  static func tree(_ random: inout JSONContainerLoopTests.Generator, depth: Int) -> JSONValue {
    func text() -> String {
      switch Int.random(in: 0..<5, using: &random) {
      case 0, 1: return names.randomElement(using: &random) ?? ""
      case 2: return String(decoding: nearMiss(names.randomElement(using: &random) ?? "", &random), as: UTF8.self)
      case 3:
        let tail = ["\n", "\"", "é", "\u{1}"].randomElement(using: &random) ?? ""
        return (names.randomElement(using: &random) ?? "") + tail
      default: return "é" + (names.randomElement(using: &random) ?? "")
      }
    }
    switch Int.random(in: 0..<(depth > 0 ? 5 : 3), using: &random) {
    case 0: return .string(text())
    case 1: return .int(Int64.random(in: -9...9, using: &random))
    case 2: return .null
    case 3:
      return .array((0..<Int.random(in: 0..<4, using: &random)).map { _ in tree(&random, depth: depth - 1) })
    default:
      return .object(
        (0..<Int.random(in: 0..<4, using: &random)).map { _ in JSONMember(text(), tree(&random, depth: depth - 1)) })
    }
  }

  @Test func treesOfCommonAndNearlyCommonStringsParseBackToThemselves() throws {
    var random = JSONContainerLoopTests.Generator(state: 0xC0FFEE)
    for _ in 0..<5_000 {
      let tree = Self.tree(&random, depth: 4)
      let text = tree.serializedBytes()
      let parsed = try JSONParser.parse(text, syntax: .geminiRequest)
      #expect(parsed == tree, "\(String(decoding: text, as: UTF8.self))")
      #expect(parsed.serializedBytes() == text)
    }
  }

  /// Containers of every size the parser makes apart (none, one, two, more), whole, with a trailing comma, and
  /// broken after each entry: as the general walk reads them, value, error and offset.
  @Test func containersOfEverySizeReadAsTheWalksDo() throws {
    var documents: [String] = []
    for count in 0...5 {
      let elements = (0..<count).map { "\($0)" }
      let members = (0..<count).map { #""k\#($0)" : [\#($0)]"# }
      for (open, close, entries) in [("[", "]", elements), ("{", "}", members)] {
        let whole = open + entries.joined(separator: " , ") + close
        documents += [whole, open + entries.joined(separator: ",") + "," + close, " \(whole) ", "[\(whole),\(whole)]"]
        for cut in 0..<entries.count {
          let head = open + entries[...cut].joined(separator: ",")
          documents += [
            head, head + ",", head + " " + close + close, head + ";" + close, head + ",,", head + " 1" + close,
          ]
        }
      }
    }
    for text in documents {
      let bytes = Array(text.utf8)
      for syntax in [JSONSyntax.strict, .geminiRequest] {
        let parsed = Result { () throws(JSONParseError) in try JSONParser.parse(bytes, syntax: syntax) }
        let walked = JSONContainerLoopTests.walkedDocument(bytes, maxDepth: JSONParser.defaultMaxDepth, syntax: syntax)
        #expect(parsed == walked, "\(text)")
      }
    }
    #expect(try JSONParser.parse("[1, 2]") == [1, 2])
    #expect(try JSONParser.parse(#"{"a":1,"b":[2,3,4]}"#) == .object(["a": 1, "b": [2, 3, 4]]))
    #expect(
      try JSONParser.parse(#"{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}"#)["contents"] == [
        .object(["role": "user", "parts": [.object(["text": "hi"])]])
      ])
  }
}
