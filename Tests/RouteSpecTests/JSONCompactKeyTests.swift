import Testing

@testable import RouteSpec

/// ``JSONReader/nextMember()`` reads a compact plain key (`,"name":`) in one pass of its own
/// (`JSONCursor.compactPlainName`), the general way otherwise. Over generated hostile objects (escapes, bytes that
/// are not ASCII or not UTF-8, control bytes, DEL, quotes, whitespace around the colon and comma, keys across and
/// at the end of the buffer's words, duplicates, deep nesting, numbers at the limits) and every truncation of
/// them, the pulled walk must rebuild the parser's tree or fail with its error, and hand over each key as plain
/// exactly when its body is plain.
@Suite struct JSONCompactKeyTests {
  /// Bodies of keys as written (between the quotes), plain and not.
  static let keyBodies: [[UInt8]] = {
    let texts = [
      "", "a", "id", "model", "object", "choices", "finish_reason", "completion_tokens", "abcdefg", "abcdefgh",
      "abcdefghi", "abcdefghijklmno", "abcdefghijklmnop", "abcdefghijklmnopq", "a b ~ } ] , : { [", "x/y",
      #"\""#, #"a\\"#, #"\u0041bcdefgh"#, #"abcdefg\n"#, #"abcdefgh\t"#, #"\ud83d\ude00"#, #"\ud800"#, "é", "abcdefgé",
      "abcdefghé", #"\/"#, #"\x"#, #"abc\"#,
    ]
    let raw: [[UInt8]] = [
      [0x61, 0x7F], Array("abcdefg".utf8) + [0x7F], Array("abcdefgh".utf8) + [0x01], [0x1F], [0xFF],
      Array("abcdefg".utf8) + [0xC3], [0x61, 0x00, 0x62], Array("abcdefgh".utf8) + [0x0A] + Array("ij".utf8),
    ]
    return texts.map { Array($0.utf8) } + raw
  }()

  static let separators = ["", "", "", " ", "\n", "\t ", "\r"]

  static func pick<Element>(_ choices: [Element], _ random: inout JSONContainerLoopTests.Generator) -> Element {
    choices[Int.random(in: 0..<choices.count, using: &random)]
  }

  /// Values, some of them objects of hostile keys again (deeper than the parser allows, now and then).
  static func value(_ random: inout JSONContainerLoopTests.Generator, depth: Int) -> [UInt8] {
    switch Int.random(in: 0..<(depth > 0 ? 9 : 6), using: &random) {
    case 0:
      return Array(
        pick(
          [
            "null", "true", "0", "-0", "9223372036854775807", "-9223372036854775808", "9223372036854775808",
            "1e308", "1e309", "-1e400", "01", "1.", "[]", "{}", "nul",
          ], &random
        ).utf8)
    case 1: return [UInt8(ascii: "\"")] + pick(keyBodies, &random) + [UInt8(ascii: "\"")]
    case 2: return Array(String(repeating: "[", count: 256).utf8) + Array(String(repeating: "]", count: 256).utf8)
    case 3:
      return Array(String(repeating: "{\"a\":", count: 257).utf8) + [0x31]
        + Array(String(repeating: "}", count: 257).utf8)
    case 4, 5: return Array(String(Int64.random(in: -99...99, using: &random)).utf8)
    case 6:
      let elements = (0..<Int.random(in: 0..<4, using: &random)).map { _ in value(&random, depth: depth - 1) }
      return [UInt8(ascii: "[")] + Array(elements.joined(separator: [UInt8(ascii: ",")])) + [UInt8(ascii: "]")]
    default: return object(&random, depth: depth - 1)
    }
  }

  /// An object of hostile keys, its separators compact most of the time.
  static func object(_ random: inout JSONContainerLoopTests.Generator, depth: Int) -> [UInt8] {
    var bytes: [UInt8] = [UInt8(ascii: "{")] + Array(pick(separators, &random).utf8)
    let count = Int.random(in: 0..<6, using: &random)
    for index in 0..<count {
      if index > 0 { bytes += Array((pick(separators, &random) + "," + pick(separators, &random)).utf8) }
      // A duplicate now and then: the first key again.
      let body = index > 0 && Int.random(in: 0..<6, using: &random) == 0 ? keyBodies[0] : pick(keyBodies, &random)
      bytes += [UInt8(ascii: "\"")] + body + [UInt8(ascii: "\"")]
      bytes += Array((pick(separators, &random) + ":" + pick(separators, &random)).utf8)
      bytes += value(&random, depth: depth)
    }
    // Now and then a trailing comma, or a stray byte, which the parser refuses.
    switch Int.random(in: 0..<12, using: &random) {
    case 0: bytes += Array(",".utf8)
    case 1: bytes += Array(",\"k\"".utf8)
    case 2: bytes += Array("\"k\":1".utf8)
    default: break
    }
    return bytes + Array((pick(separators, &random) + "}").utf8)
  }

  /// Each key the walk hands over, with whether it came as plain, and the tree it rebuilds.
  static func walk(_ reader: inout JSONReader, keys: inout [(body: [UInt8], plain: Bool)]) throws(JSONParseError)
    -> JSONValue
  {
    switch reader.next {
    case .object:
      var members: [JSONMember] = []
      try reader.enterObject()
      while let key = try reader.nextMember() {
        keys.append((Array(key.bytes), key.isPlain))
        members.append(JSONMember(key.text, try walk(&reader, keys: &keys)))
      }
      return .object(members)
    case .array:
      var elements: [JSONValue] = []
      try reader.enterArray()
      while try reader.nextElement() { elements.append(try walk(&reader, keys: &keys)) }
      return .array(elements)
    default: return try reader.readValue()
    }
  }

  /// Whether a key's body is its text as the writer writes it: ASCII without control bytes, DEL, quotes or
  /// backslashes.
  static func isPlain(_ body: [UInt8]) -> Bool {
    body.allSatisfy { $0 >= 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }
  }

  static func check(_ bytes: [UInt8]) {
    let parsed = Result { () throws(JSONParseError) in try JSONParser.parse(bytes) }
    var keys: [(body: [UInt8], plain: Bool)] = []
    let pulled = JSONPullReaderTests.pull(bytes) { (reader) throws(JSONParseError) in
      try walk(&reader, keys: &keys)
    }
    #expect(pulled == parsed, "\(bytes)")
    for key in keys { #expect(key.plain == isPlain(key.body), "\(key.body) in \(bytes)") }
  }

  @Test func generatedObjectsAndTheirTruncationsReadAsTheParserReadsThem() {
    var random = JSONContainerLoopTests.Generator(state: 0x4A53_4F4E_6B65_7973)
    for _ in 0..<2000 {
      let document = Self.object(&random, depth: 3)
      Self.check(document)
      // Truncated: at a few random places, and in the last sixteen bytes (keys at the end of the buffer).
      let cuts =
        (0..<3).map { _ in Int.random(in: 0...document.count, using: &random) }
        + (max(0, document.count - 16)..<document.count)
      for cut in cuts where document.count < 600 || cut > document.count - 16 { Self.check(Array(document[0..<cut])) }
    }
  }

  @Test func compactKeysAtEveryOffsetFromTheBuffersEnd() {
    // A plain key ending at each distance from the end, with and without its colon and value: the word loop's
    // last word and the byte after the closing quote.
    for length in 0..<20 {
      let key = String(repeating: "k", count: length)
      for document in [
        #"{"a":1,"\#(key)":2}"#, #"{"\#(key)":2}"#, #"{"a":1,"\#(key)""#, #"{"a":1,"\#(key)":"#, #"{"\#(key)""#,
        #"{"a":1,"\#(key)" :2}"#, #"{"a":1 ,"\#(key)":2}"#, #"{"a":1,"\#(key)":2,"\#(key)":3}"#,
      ] {
        Self.check(Array(document.utf8))
      }
    }
  }
}
