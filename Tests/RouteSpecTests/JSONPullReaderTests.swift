import Testing

@testable import RouteSpec

/// The reader's pulled walk (``JSONReader/enterObject()``, ``JSONReader/nextMember()``, …) and its values read
/// without a tree accept what the parser accepts, refuse what it refuses with the same error, and read what its
/// tree holds.
@Suite struct JSONPullReaderTests {
  static let documents: [String] = [
    #"{"a":[1,-2.5e3,"h\u00e9",true,false,null,{}],"\u0062":{"c":[[]]},"é":"x","":""}"#,
    #" { "k" : [ 1 , { "n" : null } ] , "s" : "t" } "#, " [ ] ", " { } ", #"{"a":1,}"#, "[1,]", #"{"a" 1}"#,
    "[1 2]", #"{"a":1 "b":2}"#, "{1:2}", "{} x", "", "nul", "tru", "1e400", "-1e400", "1e-400", "-0", "01", "-",
    "1.", "2e", "12345678901234567890", "-9223372036854775808", "9223372036854775808", #""\x""#, "{\"k\u{1}\":1}",
    #"["a\u0000b","\ud800","\ud83d\ude00","\/"]"#, "[\"\u{7F}\",\"é\"]", #"{"x":[1e999]}"#,
    String(repeating: "[", count: 257) + String(repeating: "]", count: 257),
    String(repeating: "[", count: 256) + String(repeating: "]", count: 256),
    "[" + String(repeating: "9", count: 400) + "]", "[" + String(repeating: "9", count: 308) + ".5]",
  ]

  /// Every document and its prefixes, plus bytes that are not UTF-8.
  static var inputs: [[UInt8]] {
    documents.flatMap { document in
      let bytes = Array(document.utf8)
      return (0...bytes.count).map { Array(bytes[0..<$0]) }
    } + [
      [0x5B, 0x22, 0xFF, 0x22, 0x5D], [0x7B, 0x22, 0xC3, 0x22, 0x3A, 0x31, 0x7D], [0x5B, 0x22, 0xC3, 0xA9, 0x22, 0x5D],
    ]
  }

  /// The tree the pulled walk sees, every key and string decoded.
  static func rebuild(_ reader: inout JSONReader) throws(JSONParseError) -> JSONValue {
    switch reader.next {
    case .object:
      var members: [JSONMember] = []
      try reader.enterObject()
      while let key = try reader.nextMember() { members.append(JSONMember(key.text, try rebuild(&reader))) }
      return .object(members)
    case .array:
      var elements: [JSONValue] = []
      try reader.enterArray()
      while try reader.nextElement() { elements.append(try rebuild(&reader)) }
      return .array(elements)
    case .string:
      return .string(try reader.readString())
    default: return try reader.readValue()
    }
  }

  /// A document read with ``JSONReader/init(document:)`` and ``JSONReader/finish()``.
  static func pull<Value>(_ bytes: [UInt8], _ body: (inout JSONReader) throws(JSONParseError) -> Value)
    -> Result<Value, JSONParseError>
  {
    bytes.withUnsafeBufferPointer { buffer in
      var reader = JSONReader(document: buffer)
      return Result { () throws(JSONParseError) in
        let value = try body(&reader)
        try reader.finish()
        return value
      }
    }
  }

  @Test func thePulledWalkRebuildsTheParsersTree() {
    for bytes in Self.inputs {
      let parsed = Result { () throws(JSONParseError) in try JSONParser.parse(bytes) }
      #expect(
        Self.pull(bytes) { (reader) throws(JSONParseError) in try Self.rebuild(&reader) } == parsed,
        "\(String(decoding: bytes, as: UTF8.self))")
    }
  }

  /// Skipping refuses what the parser refuses (bad UTF-8, infinite numbers, depth included) with its error.
  @Test func skippingValidatesAsTheParserDoes() {
    for bytes in Self.inputs {
      let parsed = Result { () throws(JSONParseError) in _ = try JSONParser.parse(bytes) }
      let skipped = Result { () throws(JSONParseError) in
        try JSONReader.read(bytes) { (reader) throws(JSONParseError) in try reader.skipValue() }
      }
      #expect(skipped.map { true } == parsed.map { true }, "\(String(decoding: bytes, as: UTF8.self))")
      // Skipped inside a pulled container too, at its depth.
      let wrapped = Array("[".utf8) + bytes + Array("]".utf8)
      let parsedWrapped = Result { () throws(JSONParseError) in _ = try JSONParser.parse(wrapped) }
      let skippedWrapped = Self.pull(wrapped) { (reader) throws(JSONParseError) in
        try reader.enterArray()
        while try reader.nextElement() { try reader.skipValue() }
      }
      #expect(
        skippedWrapped.map { true } == parsedWrapped.map { true },
        "\(String(decoding: wrapped, as: UTF8.self))")
    }
  }

  static let numbers: [String] = [
    "0", "-0", "7", "-12", "2147483647", "2147483648", "-2147483649", "123456789012345678", "-123456789012345678",
    "999999999999999999", "1234567890123456789", "9223372036854775807", "-9223372036854775808",
    "9223372036854775808", "99999999999999999999", "1.5", "-2.5e3", "1e2", "1E2", "0.0", "1e400", "1e-400", "01",
    "-01", "00", "-", "1.", ".5", "+1", "1e", "0e0", "10", "-10", "null", "true", #""3""#, "[1]", #"{"a":1}"#,
    String(repeating: "1", count: 18), String(repeating: "1", count: 19), "1x",
  ]

  /// An integer read without a tree is what the tree's value clamps to, for every number and anything else.
  @Test func integersReadWithoutATreeAreTheTreesClampedIntegers() {
    for range in [Int64.min...Int64.max, 0...Int64(Int32.max), -5...5] {
      for number in Self.numbers {
        for document in [number, "[\(number)]", "[\(number),1]", " \(number) "] {
          let bytes = Array(document.utf8)
          let viaTree = Self.pull(bytes) { (reader) throws(JSONParseError) -> [Int64?] in
            guard reader.next == .array else { return [try reader.readValue().clampedInteger(in: range)] }
            var values: [Int64?] = []
            try reader.enterArray()
            while try reader.nextElement() { values.append(try reader.readValue().clampedInteger(in: range)) }
            return values
          }
          let direct = Self.pull(bytes) { (reader) throws(JSONParseError) -> [Int64?] in
            guard reader.next == .array else { return [try reader.readInteger(clampedTo: range)] }
            var values: [Int64?] = []
            try reader.enterArray()
            while try reader.nextElement() { values.append(try reader.readInteger(clampedTo: range)) }
            return values
          }
          #expect(direct == viaTree, "\(document) in \(range)")
        }
      }
    }
  }

  /// A string body handed over as bytes is exactly what the writer writes for the parser's text; any other is
  /// that text; anything else nil; what the parser refuses, refused alike.
  @Test func stringBodiesAreTheWritersBytesOrTheText() {
    let strings: [[UInt8]] =
      [
        #""""#, #""plain text, 'quoted' / slashed""#, #""esc\"aped""#, #""new\nline""#, #""\u0041""#, #""\/""#,
        #""é""#, #""😀 ok""#, "\"\u{7F}\"", #""a\\b""#, "\"tab\there\"", #""\ud800""#, #""unterminated"#,
        "\"sixteen bytes ok\"", "\"x\u{7F}yyyyyyyyyyyyyyy\"", "\"yyyyyyyyyyyyyyyyyy\\\"\"", "7", "null",
        #"{"a":"b"}"#, #"["s"]"#,
      ].map { Array($0.utf8) } + [[0x22, 0xFF, 0x22], [0x22, 0xC3, 0xA9, 0x22], [0x22, 0x61, 0x0A, 0x22]]
    var verbatim = 0
    for bytes in strings {
      let parsed = Result { () throws(JSONParseError) in try JSONParser.parse(bytes) }
      let read = Self.pull(bytes) { (reader) throws(JSONParseError) in try reader.readStringBody() }
      switch (read, parsed) {
      case (.success(.verbatim(let range)), .success(.string(let text))):
        verbatim += 1
        var written: [UInt8] = []
        JSONWriter.writeString(text, into: &written)
        #expect(Array(bytes[range]) == Array(written.dropFirst().dropLast()), "\(text)")
      case (.success(.text(let text)), .success(.string(let parsedText))): #expect(text == parsedText)
      case (.success(nil), .success(let value)): #expect(value.stringValue == nil)
      case (.failure(let error), .failure(let parseError)): #expect(error == parseError)
      default: Issue.record("\(String(decoding: bytes, as: UTF8.self)): \(read) against \(parsed)")
      }
    }
    #expect(verbatim == 3)
  }
}
