import Testing

@testable import RouteSpec

@Suite struct TOMLErrorTests {
  typealias T = TOMLTestSupport

  /// A representative error of each kind: its code, where it starts and exactly what it covers.
  @Test(arguments: [
    ("a = \"abc\\q\"", DiagnosticCode.invalidEscape, "1:9", "\\q"),
    ("a = \"\\uD800\"", .invalidEscape, "1:6", "\\uD800"),
    ("a = \"\\u12\"", .invalidEscape, "1:6", "\\u12\""),
    ("x = 1\nk = \"open\n", .unterminatedString, "2:5", "\"open"),
    ("a = 0x_1", .invalidNumber, "1:5", "0x_1"),
    ("a = 1__0", .invalidNumber, "1:5", "1__0"),
    ("a = 012", .invalidNumber, "1:5", "012"),
    ("a = 1.", .invalidNumber, "1:5", "1."),
    ("a = +0x10", .invalidNumber, "1:5", "+0x10"),
    ("a = 9223372036854775808", .numberOutOfRange, "1:5", "9223372036854775808"),
    ("a = 0x8000000000000000", .numberOutOfRange, "1:5", "0x8000000000000000"),
    ("a = 2023-02-29", .invalidDateTime, "1:13", "29"),
    ("a = 1979-05-27T07:32:00Zx", .invalidDateTime, "1:5", "1979-05-27T07:32:00Zx"),
    ("a = 1\nb = 2 c", .expectedNewline, "2:7", "c"),
    ("[t] x = 1", .expectedNewline, "1:5", "x = 1"),
    ("a = {b = 1,}", .unexpectedToken, "1:11", ","),
    ("a = {b = 1,\nc = 2}", .unexpectedToken, "1:5", "{"),
    ("a = [1 2]", .unexpectedToken, "1:8", "2"),
    ("a = ", .unexpectedToken, "1:5", ""),
    ("a = hello", .unexpectedToken, "1:5", "hello"),
    ("a 1", .unexpectedToken, "1:3", "1"),
    ("= 1", .invalidKey, "1:1", "="),
    ("a.\"\"\"b\"\"\" = 1", .invalidKey, "1:3", "\"\"\""),
    ("[a", .unexpectedToken, "1:3", ""),
    ("# é \u{7F}", .invalidEncoding, "1:5", "\u{7F}"),
  ])
  func errorCodeAndSpan(_ text: String, _ code: DiagnosticCode, _ position: String, _ covered: String) {
    let error = T.failure(text)
    #expect(error?.code == code)
    #expect(T.position(error, in: text) == position)
    #expect(T.covered(error, in: text) == covered)
    #expect(error.map { $0.message == $0.message.lowercased() || $0.message.contains("`") } == true)
    #expect(error?.message.hasSuffix(".") == false)
  }

  @Test func duplicateKeyPointsAtBothDefinitions() {
    let text = "name = 1\nother = 2\nname = 3\n"
    let error = T.failure(text)
    #expect(error?.code == .duplicateKey)
    #expect(T.position(error, in: text) == "3:1")
    #expect(error?.message == "duplicate key `name`")
    #expect(error?.secondary.count == 1)
    #expect(error?.secondary.first.map { T.file(text).text(of: $0.span) } == "name")
    #expect(error?.secondary.first?.span.start == 0)
    #expect(error?.help != nil)
  }

  @Test func tableRedefinitionPointsAtBothHeaders() {
    let text = "[server]\nport = 1\n\n[server]\n"
    let error = T.failure(text)
    #expect(error?.code == .tableRedefined)
    #expect(T.position(error, in: text) == "4:1")
    #expect(T.covered(error, in: text) == "[server]")
    #expect(error?.secondary.first?.span == SourceSpan(file: FileID(0), start: 0, end: 8))
  }

  @Test func controlCharactersAndEncoding() {
    #expect(T.failure(bytes: Array("a = \"x".utf8) + [0x00] + Array("\"".utf8))?.code == .invalidEncoding)
    #expect(T.failure(bytes: Array("a = 1 # ".utf8) + [0x01])?.code == .invalidEncoding)
    #expect(T.failure(bytes: Array("a = 1\r".utf8) + Array("b = 2".utf8))?.code == .invalidEncoding)
    #expect(T.failure(bytes: Array("a = \"".utf8) + [0xC3, 0x28] + Array("\"".utf8))?.code == .invalidEncoding)
    #expect(T.failure(bytes: Array("# ".utf8) + [0xED, 0xA0, 0x80])?.code == .invalidEncoding)
    #expect(
      T.failure(bytes: Array("a = '".utf8) + [0xF4, 0x90, 0x80, 0x80] + Array("'".utf8))?.code == .invalidEncoding)
    #expect(T.failure(bytes: [0xFF, 0x3D, 0x31])?.code == .invalidEncoding)
    let error = T.failure(bytes: Array("a = \"x".utf8) + [0x07] + Array("\"".utf8))
    #expect(error?.label.span == SourceSpan(file: FileID(0), start: 6, end: 7))
    #expect(error?.help?.contains("\\u0007") == true)
  }

  @Test func toml11FeaturesAreRejected() {
    #expect(T.failure("a = \"\\e\"")?.code == .invalidEscape)
    #expect(T.failure("a = \"\\x41\"")?.code == .invalidEscape)
    #expect(T.failure("a = {\n b = 1 }") != nil)
    #expect(T.failure("a = { b = 1, }") != nil)
    #expect(T.failure("a = 07:32") != nil)
  }
}

@Suite struct TOMLRobustnessTests {
  typealias T = TOMLTestSupport

  @Test func deepArrayNestingIsAnErrorNotACrash() {
    let text = "a = " + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
    let error = T.failure(text)
    #expect(error?.code == .nestingTooDeep)
  }

  @Test func deepInlineTableNestingIsAnErrorNotACrash() {
    let text = "a = " + String(repeating: "{b = ", count: 50_000) + "1" + String(repeating: "}", count: 50_000)
    #expect(T.failure(text)?.code == .nestingTooDeep)
  }

  @Test func deepDottedKeysAndHeadersAreErrors() {
    let key = Array(repeating: "k", count: 10_000).joined(separator: ".")
    #expect(T.failure("\(key) = 1")?.code == .nestingTooDeep)
    #expect(T.failure("[\(key)]")?.code == .nestingTooDeep)
    let half = Array(repeating: "k", count: 100).joined(separator: ".")
    #expect(T.failure("[\(half)]\n\(half) = 1")?.code == .nestingTooDeep)
  }

  @Test func moderateNestingIsAccepted() {
    let text = "a = " + String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
    #expect((try? TOMLParser.parse(T.file(text))) != nil)
  }

  @Test func nulBytesAnywhereAreErrors() {
    let base = Array("a = \"b\" # c\n[t]\nk = [1, 'x']\n".utf8)
    for offset in 0...base.count {
      var bytes = base
      bytes.insert(0, at: offset)
      #expect(T.failure(bytes: bytes) != nil, "NUL at \(offset) accepted")
    }
  }

  @Test func everyTruncationAndByteFlipIsHandled() {
    let base = Array(
      """
      [server]
      listen = "127.0.0.1:8080" # c
      t = 1979-05-27T07:32:00.5-07:00
      [[routes]]
      match = { model = "gpt-*", n = [1, 2.5e3, 0x1F] }
      s = '''
      multi\"""
      """.utf8)
    for length in 0...base.count { _ = try? TOMLParser.parse(T.file(bytes: Array(base[0..<length]))) }
    for offset in base.indices {
      for replacement: UInt8 in [0x00, 0x0D, 0x22, 0x27, 0x5B, 0x7B, 0x80, 0xFF] {
        var bytes = base
        bytes[offset] = replacement
        _ = try? TOMLParser.parse(T.file(bytes: bytes))
      }
    }
  }

  @Test func hugeKeysAndStrings() {
    let big = String(repeating: "x", count: 1 << 20)
    let table = T.parse("\(big) = \"\(big)\"\nm = '''\n\(big)'''\ne = \"\\t\(big)\"")
    #expect(table.entries.count == 3)
    if case .string(let text)? = table["e"]?.kind {
      #expect(text.utf8.count == (1 << 20) + 1)
    } else {
      Issue.record("e is not a string")
    }
    #expect(T.failure("a = \"\(big)")?.code == .unterminatedString)
  }

  @Test func invalidUTF8Everywhere() {
    for bad: [UInt8] in [[0x80], [0xC0, 0x80], [0xE0, 0x80, 0x80], [0xF8], [0xC3]] {
      #expect(T.failure(bytes: Array("a = \"".utf8) + bad + Array("\"".utf8))?.code == .invalidEncoding)
      #expect(T.failure(bytes: Array("# ".utf8) + bad)?.code == .invalidEncoding)
      #expect(T.failure(bytes: bad + Array(" = 1".utf8))?.code == .invalidEncoding)
    }
  }
}
