import Testing

@testable import RouteSpec

/// The tree parser reads objects and arrays in loops of its own; the readers go through ``JSONCursor``'s
/// `walkObject` and `walkArray`. Both must accept, refuse and report exactly alike, on well-formed documents
/// and on every kind of broken one.
@Suite struct JSONContainerLoopTests {
  /// Knuth's MMIX linear congruential generator (its high bits folded into the low ones), so that every run
  /// sees the same documents.
  struct Generator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
      state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      return state ^ (state >> 29)
    }
  }

  /// Pieces of JSON text, valid and not, of which documents are strung together.
  static let tokens = [
    "{", "}", "[", "]", ",", ":", " ", "\n", #""k""#, #""role""#, #""a\"b""#, #""é""#, #""\ud800""#, "\"", "1",
    "-0.5e3", "01", "1e999", "true", "nul", "null", "false", ",}", ",]", "{}", "[]", "\u{0}", "é",
  ]

  /// A well-formed document of at most `depth` levels.
  static func document(_ random: inout Generator, depth: Int) -> String {
    switch Int.random(in: 0..<(depth > 0 ? 6 : 4), using: &random) {
    case 0: return "null"
    case 1: return String(Int64.random(in: -1000...1000, using: &random))
    case 2: return ["\"x\"", #""line\nbreak""#, "\"\"", #""\u00e9\ud83d\ude00""#].randomElement(using: &random) ?? ""
    case 3: return ["true", "2.5", "-0", "9223372036854775808"].randomElement(using: &random) ?? ""
    case 4:
      let members = (0..<Int.random(in: 0..<6, using: &random)).map { index in
        "\"k\(index % 3)\" : " + document(&random, depth: depth - 1)
      }
      return "{" + members.joined(separator: ",") + (Bool.random(using: &random) ? "" : " ,") + "}"
    default:
      let elements = (0..<Int.random(in: 0..<6, using: &random)).map { _ in document(&random, depth: depth - 1) }
      return "[ " + elements.joined(separator: ", ") + (Bool.random(using: &random) ? "" : ",") + "]"
    }
  }

  /// A document broken (or not) by a cut, a deleted byte or a token put in.
  static func mutated(_ text: String, _ random: inout Generator) -> [UInt8] {
    var bytes = Array(text.utf8)
    guard !bytes.isEmpty else { return bytes }
    let at = Int.random(in: 0..<bytes.count, using: &random)
    switch Int.random(in: 0..<4, using: &random) {
    case 0: bytes.removeSubrange(at...)
    case 1: bytes.remove(at: at)
    case 2: bytes.insert(contentsOf: (tokens.randomElement(using: &random) ?? "").utf8, at: at)
    default: break
    }
    return bytes
  }

  /// The tree as the readers' walks see it: containers through `walkObject`/`walkArray`, scalars as the parser
  /// reads them.
  static func walked(_ cursor: inout JSONCursor, depth: Int) throws(JSONParseError) -> JSONValue {
    switch cursor.current {
    case UInt8(ascii: "{"):
      var members: [JSONMember] = []
      try cursor.walkObject(depth: depth + 1) { (cursor, key) throws(JSONParseError) in
        members.append(JSONMember(key, try walked(&cursor, depth: depth + 1)))
      }
      return .object(members)
    case UInt8(ascii: "["):
      var elements: [JSONValue] = []
      try cursor.walkArray(depth: depth + 1) { (cursor) throws(JSONParseError) in
        elements.append(try walked(&cursor, depth: depth + 1))
      }
      return .array(elements)
    default: return try cursor.parseValue(depth: depth)
    }
  }

  static func walkedDocument(_ bytes: [UInt8], maxDepth: Int, syntax: JSONSyntax) -> Result<JSONValue, JSONParseError> {
    bytes.withUnsafeBufferPointer { buffer in
      var cursor = JSONCursor(buffer: buffer, maxDepth: maxDepth, syntax: syntax)
      do throws(JSONParseError) {
        cursor.skipWhitespace()
        let value = try walked(&cursor, depth: 0)
        cursor.skipWhitespace()
        if cursor.position < buffer.count { throw cursor.error("unexpected data after the JSON value") }
        return .success(value)
      } catch {
        return .failure(error)
      }
    }
  }

  @Test func theParserReadsContainersAsTheWalksDo() {
    var random = Generator(state: 7)
    var refused = 0
    for round in 0..<6000 {
      let bytes: [UInt8]
      if round % 5 == 4 {
        bytes = Array(
          (0..<Int.random(in: 1..<12, using: &random)).map { _ in Self.tokens.randomElement(using: &random) ?? "" }
            .joined().utf8)
      } else {
        bytes = Self.mutated(Self.document(&random, depth: 4), &random)
      }
      let maxDepth = round % 3 == 0 ? 2 : JSONParser.defaultMaxDepth
      for syntax in [JSONSyntax.strict, .geminiRequest] {
        let parsed = Result { () throws(JSONParseError) in
          try JSONParser.parse(bytes, maxDepth: maxDepth, syntax: syntax)
        }
        #expect(
          parsed == Self.walkedDocument(bytes, maxDepth: maxDepth, syntax: syntax),
          "\(String(decoding: bytes, as: UTF8.self))")
        if case .failure = parsed { refused += 1 }
      }
    }
    // Both kinds were tried, in numbers.
    #expect(refused > 2000 && refused < 10000)
  }
}
