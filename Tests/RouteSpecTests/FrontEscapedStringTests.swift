import Testing

@testable import RouteSpec

/// The parser sizes the buffer of a string with escapes from ``JSONCursor/decodedLengthBound(start:)``, found
/// ahead of the decoding. Held against a plain byte-by-byte decoder written here from RFC 8259 (and the parser's
/// documented lone-surrogate rule) over seeded hostile string bodies: the same text, or an error for the same
/// bodies; and the bound is the body's length whenever the body is well formed.
@Suite struct FrontEscapedStringTests {
  /// The container tests' seeded generator, so that every run sees the same bodies.
  typealias Generator = JSONContainerLoopTests.Generator

  /// Pieces of a string's body between its quotes, each complete (never a lone trailing backslash, which would
  /// move the string's end): plain text, every escape, surrogates paired and not, escaped backslashes and quotes.
  static let pieces: [[UInt8]] = [
    "plain text ", "x", "The quick brown fox jumps over the lazy dog.", #"\n"#, #"\\"#, #"\""#, #"\/"#, #"\b"#,
    #"\f"#, #"\r"#, #"\t"#, #"\u0041"#, #"\u00e9"#, #"\u20AC"#, #"\ud83d\ude00"#, #"\ud800"#, #"\udc00"#,
    #"\ud800\u0041"#, #"\ud800\ud800"#, #"\\\\"#, #"\\\""#, "é", "😀", "\u{7F}", #"\u0000"#, #"\\u0022"#,
    #"\u005C"#,
  ].map { Array($0.utf8) }

  /// Pieces a parser must refuse (alone, at least): broken escapes, raw control bytes, bytes that are not UTF-8.
  static let hostilePieces: [[UInt8]] =
    [#"\ud800\uzzzz"#, #"\u12G4"#, #"\u12"#, #"\x"#, #"\u+123"#].map { Array($0.utf8) } + [
      [0x01], [0x1F], [0xFF], [0xC3], [0xE2, 0x82],
    ]

  /// A body of `count` random pieces, one in twenty hostile.
  static func body(_ random: inout Generator, count: Int) -> [UInt8] {
    var bytes: [UInt8] = []
    for _ in 0..<count {
      let kind = Int.random(in: 0..<20, using: &random) == 0 ? hostilePieces : pieces
      bytes += kind.randomElement(using: &random) ?? []
    }
    return bytes
  }

  /// The text a body stands for, or nil when a parser must refuse it.
  static func reference(_ body: [UInt8]) -> String? {
    var out: [UInt8] = []
    var index = 0
    func hex(at start: Int) -> UInt32? {
      guard start + 4 <= body.count else { return nil }
      var value: UInt32 = 0
      for byte in body[start..<(start + 4)] {
        guard let digit = Character(Unicode.Scalar(byte)).hexDigitValue else { return nil }
        value = value << 4 | UInt32(digit)
      }
      return value
    }
    while index < body.count {
      let byte = body[index]
      if byte == UInt8(ascii: "\"") || byte < 0x20 { return nil }
      guard byte == UInt8(ascii: "\\") else {
        out.append(byte)
        index += 1
        continue
      }
      guard index + 1 < body.count else { return nil }
      let simple: [UInt8: UInt8] = [
        UInt8(ascii: "\""): 0x22, UInt8(ascii: "\\"): 0x5C, UInt8(ascii: "/"): 0x2F, UInt8(ascii: "b"): 0x08,
        UInt8(ascii: "f"): 0x0C, UInt8(ascii: "n"): 0x0A, UInt8(ascii: "r"): 0x0D, UInt8(ascii: "t"): 0x09,
      ]
      if let decoded = simple[body[index + 1]] {
        out.append(decoded)
        index += 2
        continue
      }
      guard body[index + 1] == UInt8(ascii: "u"), let high = hex(at: index + 2) else { return nil }
      index += 6
      var scalar = high
      if (0xD800..<0xDC00).contains(high) {
        if index + 1 < body.count, body[index] == UInt8(ascii: "\\"), body[index + 1] == UInt8(ascii: "u"),
          let low = hex(at: index + 2), (0xDC00..<0xE000).contains(low)
        {
          scalar = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
          index += 6
        } else {
          scalar = 0xFFFD
        }
      } else if (0xDC00..<0xE000).contains(high) {
        scalar = 0xFFFD
      }
      guard let unicode = Unicode.Scalar(scalar) else { return nil }
      out += Array(String(Character(unicode)).utf8)
    }
    return String(validating: out, as: UTF8.self)
  }

  @Test func escapedStringsDecodeAsTheReferenceDoes() {
    var random = Generator(state: 9)
    var accepted = 0
    for round in 0..<6000 {
      let first = Self.body(&random, count: Int.random(in: 1...(round % 7 == 0 ? 80 : 8), using: &random))
      let second = Self.body(&random, count: Int.random(in: 0...4, using: &random))
      // Quotes after the string (the next key and string) are where a wrong bound would come from.
      let document =
        Array(#"{"s":""#.utf8) + first + Array(#"","t":["a\"b",""#.utf8) + second + Array(#""]}"#.utf8)
      let parsed = try? JSONParser.parse(document, syntax: .geminiRequest)
      if let one = Self.reference(first), let two = Self.reference(second) {
        #expect(
          parsed == .object([JSONMember("s", .string(one)), JSONMember("t", .array(["a\"b", .string(two)]))]),
          "\(document)")
        accepted += 1
      } else {
        #expect(parsed == nil, "\(document)")
      }
    }
    // Both kinds are exercised.
    #expect(accepted > 500 && accepted < 5500)
  }

  @Test func theBoundIsTheBodyOfAWellFormedString() {
    var random = Generator(state: 21)
    var checked = 0
    for _ in 0..<6000 {
      let body = Array("pre".utf8) + Self.body(&random, count: Int.random(in: 1...12, using: &random))
      guard Self.reference(body) != nil, let backslash = body.firstIndex(of: UInt8(ascii: "\\")) else { continue }
      let document = Array("[\"".utf8) + body + Array("\",\"\\\\\",\"x\"]".utf8)
      document.withUnsafeBufferPointer { buffer in
        var cursor = JSONCursor(buffer: buffer, maxDepth: 8, syntax: .strict)
        cursor.position = 2 + backslash
        #expect(cursor.decodedLengthBound(start: 2) == body.count, "\(body)")
      }
      checked += 1
    }
    #expect(checked > 1000)
  }

  @Test func anUnterminatedStringHasNoBound() {
    for text in [#"["a\n"#, #"["a\n\""#, #"["a\n\\\""#] {
      let bytes = Array(text.utf8)
      bytes.withUnsafeBufferPointer { buffer in
        var cursor = JSONCursor(buffer: buffer, maxDepth: 8, syntax: .strict)
        cursor.position = 3
        #expect(cursor.decodedLengthBound(start: 2) == nil, "\(text)")
      }
      #expect(throws: JSONParseError.self) { try JSONParser.parse(bytes) }
    }
  }

  /// The string at the start of `bytes` read one way, or the error, and where the cursor stopped.
  static func read(_ bytes: [UInt8], inPlace: Bool) -> (Result<String, JSONParseError>, Int) {
    bytes.withUnsafeBufferPointer { buffer in
      var cursor = JSONCursor(buffer: buffer, maxDepth: 8, syntax: .strict)
      let result = Result { () throws(JSONParseError) in try cursor.parseString(inPlace: inPlace) }
      return (result, cursor.position)
    }
  }

  @Test func inPlaceAndAppendingGiveTheSameTextOrError() {
    var random = Generator(state: 33)
    for round in 0..<6000 {
      let body = Self.body(&random, count: Int.random(in: 1...(round % 5 == 0 ? 60 : 10), using: &random))
      // Cut short now and then, and followed by more strings whose quotes the bound may find.
      let whole = Array("\"".utf8) + body + Array(#"","\\",""#.utf8)
      let bytes = round % 11 == 0 ? Array(whole[0..<Int.random(in: 1..<whole.count, using: &random)]) : whole
      let (inPlace, stop) = Self.read(bytes, inPlace: true)
      let (appended, appendedStop) = Self.read(bytes, inPlace: false)
      #expect(inPlace == appended, "\(bytes)")
      #expect((try? inPlace.get()) == nil || stop == appendedStop, "\(bytes)")
    }
  }
}
