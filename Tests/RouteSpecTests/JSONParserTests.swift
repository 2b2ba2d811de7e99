import Testing

@testable import RouteSpec

@Suite struct JSONParserTests {
  private func parse(_ text: String) throws(JSONParseError) -> JSONValue { try JSONParser.parse(Array(text.utf8)) }

  private func parseError(_ text: String) -> JSONParseError? {
    do {
      _ = try parse(text)
      return nil
    } catch {
      return error
    }
  }

  @Test func scalarsAndContainers() throws {
    #expect(try parse(" null ") == .null)
    #expect(try parse("true") == .bool(true))
    #expect(try parse("false") == .bool(false))
    #expect(try parse("\"hi\"") == .string("hi"))
    #expect(try parse("[]") == .array([]))
    #expect(try parse("{}") == .object([]))
    let value = try parse(#"{"b": [1, 2.5, "x", null, {"c": false}], "a": {}}"#)
    #expect(
      value
        == .object([
          JSONMember("b", [1, 2.5, "x", nil, .object([JSONMember("c", false)])]), JSONMember("a", .object([])),
        ]))
    // Member order is kept, duplicates too (the subscript returns the first).
    let duplicate = try parse(#"{"k":1,"k":2}"#)
    #expect(duplicate.objectValue?.count == 2)
    #expect(duplicate["k"] == 1)
  }

  @Test func integersStayIntegersWhenTheyFit() throws {
    #expect(try parse("0") == .int(0))
    #expect(try parse("-0") == .int(0))
    #expect(try parse("42") == .int(42))
    #expect(try parse("9223372036854775807") == .int(Int64.max))
    #expect(try parse("-9223372036854775808") == .int(Int64.min))
    #expect(try parse("9223372036854775808") == .double(9_223_372_036_854_775_808))
    #expect(try parse("-9223372036854775809") == .double(-9_223_372_036_854_775_808.0))
    #expect(try parse("40.0") == .double(40))
    #expect(try parse("1e2") == .double(100))
    #expect(try parse("-1.5E-2") == .double(-0.015))
    #expect(try parse("40.0").intValue == 40)
  }

  @Test func numberGrammarIsStrict() {
    for bad in ["01", "1.", ".5", "-", "+1", "1e", "1e+", "0x10", "NaN", "Infinity", "1e400"] {
      #expect(parseError(bad) != nil, "\(bad) should fail")
    }
  }

  @Test func stringEscapes() throws {
    #expect(try parse(#""a\"b\\c\/d\b\f\n\r\t""#) == .string("a\"b\\c/d\u{8}\u{C}\n\r\t"))
    #expect(try parse(#""\u00e9\u4e2d""#) == .string("é中"))
    #expect(try parse(#""\ud83d\ude00!""#) == .string("😀!"))
    #expect(try parse(#""\uD83D\uDE00""#) == .string("😀"))
    // Lone surrogates become U+FFFD instead of failing the whole document.
    #expect(try parse(#""\ud83dx""#) == .string("\u{FFFD}x"))
    #expect(try parse(#""\ude00""#) == .string("\u{FFFD}"))
    #expect(try parse(#""\ud83d\u0041""#) == .string("\u{FFFD}A"))
    #expect(try parse("\"é raw 中\"") == .string("é raw 中"))
  }

  @Test func stringErrors() {
    #expect(parseError("\"abc")?.message == "unterminated string")
    #expect(parseError("\"a\u{01}\"")?.message == "unescaped control character in string")
    #expect(parseError(#""\x""#)?.message == "invalid escape sequence")
    #expect(parseError(#""\u12G4""#)?.message == #"invalid hex digit in \u escape"#)
    #expect(throws: JSONParseError.self) { try JSONParser.parse([0x22, 0xFF, 0xFE, 0x22]) }
    #expect(throws: JSONParseError.self) { try JSONParser.parse([0x22, 0xC3, 0x22]) }
  }

  @Test func errorsCarryByteOffsets() {
    #expect(
      parseError(#"{"a":1,}"#) == JSONParseError(offset: 7, message: "expected a string key in object, found '}'"))
    #expect(
      parseError("[1 2]") == JSONParseError(offset: 3, message: "expected ',' or ']' after array element, found '2'"))
    #expect(parseError("{} x") == JSONParseError(offset: 3, message: "unexpected data after the JSON value"))
    #expect(parseError("") == JSONParseError(offset: 0, message: "expected a JSON value, found end of input"))
    #expect(parseError(#"{"a" 1}"#)?.offset == 5)
    #expect(parseError("tru")?.message == "invalid literal")
    #expect(parseError("nul")?.offset == 0)
    #expect(parseError(#"{"a":1,}"#)?.description == "expected a string key in object, found '}' at byte 7")
  }

  @Test func depthLimit() throws {
    let ok = String(repeating: "[", count: 256) + String(repeating: "]", count: 256)
    #expect(throws: Never.self) { try parse(ok) }
    let deep = String(repeating: "[", count: 257) + String(repeating: "]", count: 257)
    #expect(parseError(deep)?.message == "nesting deeper than 256 levels")
    let deepObjects = String(repeating: #"{"a":"#, count: 100_000)
    #expect(parseError(deepObjects)?.message == "nesting deeper than 256 levels")
    #expect(throws: JSONParseError.self) { try JSONParser.parse(Array("[[[1]]]".utf8), maxDepth: 2) }
  }

  @Test func acceptsNonContiguousCollectionsAndStrings() throws {
    let bytes = Array(#"{"x":[1,"é"]}"#.utf8)
    let lazy = bytes.lazy.map { $0 }
    #expect(try JSONParser.parse(lazy) == .object([JSONMember("x", [1, "é"])]))
    #expect(try JSONParser.parse(#"{"x":[1,"é"]}"#) == .object([JSONMember("x", [1, "é"])]))
    #expect(try JSONParser.parse(bytes[6..<7]) == .int(1))
  }

  @Test func roundTripsWriterOutput() throws {
    let value: JSONValue = .object([
      JSONMember("s", "quote\" backslash\\ nl\n ctl\u{1} emoji😀"), JSONMember("i", .int(-12)),
      JSONMember("d", .double(0.1)), JSONMember("big", .double(1e300)), JSONMember("a", [true, false, nil]),
    ])
    #expect(try JSONParser.parse(value.serializedBytes()) == value)
    #expect(try JSONParser.parse(value.serialized(pretty: true)) == value)
  }

  @Test func writerEscapesExactlyTheBytesJSONRequires() {
    // Escapes at the start, in the middle and at the end, and runs of plain bytes (ASCII and UTF-8) between.
    let text = "\"plain\\ é😀\n\r\t\u{8}\u{C}\u{1}\u{1F}\u{7F}/tail\""
    #expect(
      JSONValue.string(text).serialized()
        == #""\"plain\\ é😀\n\r\t\b\f\u0001\u001f\u007f/tail\"""#)
    #expect(JSONValue.string("").serialized() == #""""#)
    #expect(JSONValue.object([JSONMember("k\"", "v")]).serialized() == #"{"k\"":"v"}"#)
  }

  /// The pull reader, walking every container itself and decoding every key and string, rebuilds the parser's
  /// tree, and refuses what the parser refuses with the same error.
  @Test func theReaderAcceptsWhatTheParserAccepts() {
    func rebuild(_ reader: inout JSONReader) throws(JSONParseError) -> JSONValue {
      switch reader.next {
      case .object:
        var members: [JSONMember] = []
        try reader.forEachMember { (reader, key) throws(JSONParseError) in
          members.append(JSONMember(key.text, try rebuild(&reader)))
        }
        return .object(members)
      case .array:
        var elements: [JSONValue] = []
        try reader.forEachElement { (reader) throws(JSONParseError) in elements.append(try rebuild(&reader)) }
        return .array(elements)
      case .string: return .string(try reader.readString())
      default: return try reader.readValue()
      }
    }
    let documents = [
      #"{"a":[1,-2.5e3,"h\u00e9",true,false,null,{}],"\u0062":{"c":[[]]},"é":"x","":""}"#,
      " [ ] ", #"{"a":1,}"#, "[1,]", #"{"a" 1}"#, "[1 2]", "{} x", "", "nul", "1e400", #""\x""#, "{\"k\u{1}\":1}",
      String(repeating: "[", count: 257) + String(repeating: "]", count: 257),
    ]
    for document in documents {
      let bytes = Array(document.utf8)
      for length in 0...bytes.count {
        let prefix = Array(bytes[0..<length])
        let parsed = Result { () throws(JSONParseError) in try JSONParser.parse(prefix) }
        let read = Result { () throws(JSONParseError) in
          try JSONReader.read(prefix) { (reader) throws(JSONParseError) in try rebuild(&reader) }
        }
        #expect(read == parsed, "\(String(decoding: prefix, as: UTF8.self))")
      }
    }
    // A literal compares with a key as written, escaped or not.
    let matches = try? JSONReader.read(Array(#"{"choices":1,"ch\u006fices":2,"other":3}"#.utf8)) {
      (reader) throws(JSONParseError) -> [Bool] in
      var matches: [Bool] = []
      try reader.forEachMember { (reader, key) throws(JSONParseError) in
        matches.append(key == "choices")
        try reader.skipValue()
      }
      return matches
    }
    #expect(matches == [true, true, false])
  }

  /// A string value read against a known one reads as it reads against none (escapes decoded, any other value
  /// nil, what the parser refuses refused), and a plain copy of the known value is that value's own storage, not
  /// a new string.
  @Test func aStringValueReadAgainstAKnownOne() throws {
    let known = "chatcmpl-0123456789abcdefghijklmnopqrstuvwxyz"
    func read(_ document: [UInt8], known: String?) -> [String?]? {
      try? JSONReader.read(document) { (reader) throws(JSONParseError) -> [String?] in
        var values: [String?] = []
        try reader.forEachElement { (reader) throws(JSONParseError) in
          values.append(try reader.readStringValue(reusing: known))
        }
        return values
      }
    }
    func readPlain(_ document: [UInt8]) -> [String?]? {
      try? JSONReader.read(document) { (reader) throws(JSONParseError) -> [String?] in
        var values: [String?] = []
        try reader.forEachElement { (reader) throws(JSONParseError) in values.append(try reader.readStringValue()) }
        return values
      }
    }
    let documents: [[UInt8]] = [
      Array(
        #"["\#(known)","chatcmpl-0123456789abcdefghijklmnopqrstuvwxy\u007a","chatcmpl-x",7,null,{"a":1},["b"]]"#.utf8),
      Array(#"["é","\#(known)é","","\#(known)\n"]"#.utf8), Array("[\"\(known)\u{1}\"]".utf8),
      Array(#"["\#(known)"#.utf8), [0x5B, 0x22, 0xC3, 0x28, 0x22, 0x5D], [0x5B, 0x22, 0xFF, 0x22, 0x5D],
    ]
    for document in documents {
      for candidate in [known, "", "é", nil] {
        #expect(read(document, known: candidate) == readPlain(document), "\(String(decoding: document, as: UTF8.self))")
      }
    }
    #expect(read(documents[0], known: known)?.count == 7)
    #expect(read(documents[4], known: known) == nil)
    let reused = try #require(read(Array(#"["\#(known)"]"#.utf8), known: known)?.first ?? nil)
    func storage(_ text: String) -> UnsafePointer<UInt8>? {
      text.utf8.withContiguousStorageIfAvailable { $0.baseAddress } ?? nil
    }
    #expect(storage(reused) != nil && storage(reused) == storage(known))
  }

  /// A string value compared with a literal reads as the string: escapes decoded, any other value false, and
  /// what the parser refuses refused.
  @Test func aStringValueComparesWithALiteral() {
    func compare(_ document: String) -> Result<[Bool], JSONParseError> {
      Result { () throws(JSONParseError) in
        try JSONReader.read(Array(document.utf8)) { (reader) throws(JSONParseError) -> [Bool] in
          var matches: [Bool] = []
          try reader.forEachElement { (reader) throws(JSONParseError) in
            matches.append(try reader.readString(is: "error"))
          }
          return matches
        }
      }
    }
    #expect(
      (try? compare(#"["error","err\u006fr","errors","Error",null,{"error":1},["error"],"é",""]"#).get()) == [
        true, true, false, false, false, false, false, false, false,
      ])
    #expect((try? compare("[\"err\u{1}\"]").get()) == nil)
    #expect((try? compare(#"["error"#).get()) == nil)
  }

  @Test func neverCrashesOnGarbageOrTruncation() {
    let sample = Array(
      #"{"contents":[{"role":"user","parts":[{"text":"h\u00e9\ud83d\ude00","n":-1.5e3}]}],"x":[true,null,12345678901234567890]}"#
        .utf8)
    for length in 0...sample.count {
      _ = try? JSONParser.parse(sample[0..<length])
    }
    var state: UInt64 = 0x9E37_79B9_7F4A_7C15
    let alphabet = Array(#"{}[]":,\u0123456789abcdefnrtul.eE+- "#.utf8) + [0x00, 0x0A, 0xC3, 0xFF]
    for _ in 0..<3000 {
      var bytes: [UInt8] = []
      for _ in 0..<Int(state % 40) {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        bytes.append(alphabet[Int((state >> 33) % UInt64(alphabet.count))])
      }
      state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      _ = try? JSONParser.parse(bytes)
      _ = try? JSONPatch.layout(of: bytes)
    }
  }
}
