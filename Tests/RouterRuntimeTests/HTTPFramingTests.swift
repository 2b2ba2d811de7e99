import Testing

@testable import RouterRuntime

@Suite struct HTTPFramingTests {
  func size(_ line: String) -> Int? { HTTPFraming.chunkSize(Array(line.utf8)[...]) }

  @Test func chunkSizesAreHexDigitsOnlyAndBounded() {
    #expect(size("0") == 0)
    #expect(size("1a") == 26)
    #expect(size("FF") == 255)
    #expect(size("fffffffffffffff") == 0xFFF_FFFF_FFFF_FFFF)
    for bad in ["", "-1", "+5", "0x5", " 5", "5 ", "ffffffffffffffffffff", "1000000000000000", "5\u{0}", "g"] {
      #expect(size(bad) == nil, "\(bad.debugDescription)")
    }
  }

  @Test func chunkExtensionsFollowRFC9112() {
    for good in ["5;a", "5;a=b", "5 ; a = b", "5;a=\"x y;\\\"z\"", "5;a;b=c;d=\"\"", "5\t;a"] {
      #expect(size(good) == 5, "\(good.debugDescription)")
    }
    for bad in ["5;", "5;=b", "5;a=", "5;a=\"open", "5;a b", "5;a=b c", "5;a ", "5;a=\"\u{1}\"", "5;a=@"] {
      #expect(size(bad) == nil, "\(bad.debugDescription)")
    }
  }

  @Test func contentLengthIsDigitsOnlyBoundedAndConsistent() {
    #expect(HTTPFraming.contentLength([]) == .success(nil))
    #expect(HTTPFraming.contentLength(["42"]) == .success(42))
    #expect(HTTPFraming.contentLength(["42", " 42 "]) == .success(42))
    #expect(HTTPFraming.contentLength(["42, 42"]) == .success(42))
    #expect(HTTPFraming.contentLength(["999999999999999999"]) == .success(999_999_999_999_999_999))
    for bad in [["-5"], ["+5"], ["5 5"], [""], ["0x5"], ["42, 43"], ["42", "43"], ["42,"], ["9999999999999999999999"]] {
      #expect((try? HTTPFraming.contentLength(bad).get()) == nil, "\(bad)")
    }
  }

  @Test func transferEncodingIsOneListEndingInChunkedOnce() {
    #expect(HTTPFraming.isChunked([]) == .success(false))
    #expect(HTTPFraming.isChunked(["chunked"]) == .success(true))
    #expect(HTTPFraming.isChunked(["Chunked"]) == .success(true))
    #expect(HTTPFraming.isChunked([", chunked,"]) == .success(true))
    for malformed in [["chunked", "chunked"], ["chunked, gzip"], ["chunked", "gzip"], ["gzip"], [""], [" , "]] {
      #expect((try? HTTPFraming.isChunked(malformed).get()) == nil, "\(malformed)")
      if case .failure(let violation) = HTTPFraming.isChunked(malformed) { #expect(violation.kind == .malformed) }
    }
    for unsupported in [["gzip, chunked"], ["gzip", "chunked"]] {
      guard case .failure(let violation) = HTTPFraming.isChunked(unsupported) else {
        Issue.record("\(unsupported) accepted")
        continue
      }
      #expect(violation.kind == .unsupportedCoding)
    }
  }

  @Test func tokenBytesAreExactlyTchar() {
    let tchar = Set("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)
    for byte in UInt8.min...UInt8.max {
      #expect(HTTPFraming.isTokenByte(byte) == tchar.contains(byte), "byte \(byte)")
    }
  }

  @Test func chunkedIsMatchedInASCIIOnly() {
    // U+212A KELVIN SIGN lowercases to "k" in Unicode: it used to make this list read as chunked.
    #expect(
      HTTPFraming.isChunked(["chun\u{212A}ed"]) == .failure(.malformed("Transfer-Encoding must end with chunked, once"))
    )
    #expect(HTTPFraming.isChunked(["CHUNKED"]) == .success(true))
    guard case .failure(let violation) = HTTPFraming.isChunked(["chun\u{212A}ed, chunked"]) else {
      Issue.record("a non-ASCII coding before chunked accepted")
      return
    }
    #expect(violation.kind == .unsupportedCoding)
  }

  @Test func fieldLinesRefuseControlCharactersBadNamesAndFolding() {
    func field(_ text: String) -> (String, String)? {
      guard case .success(let field) = HTTPFraming.fieldLine(Array(text.utf8)[...]) else { return nil }
      return (field.name, field.value)
    }
    #expect(field("Name: value ")?.1 == "value")
    #expect(field("X:\tv\tw\t")?.1 == "v\tw")
    #expect(field("X:")?.1 == "")
    #expect(field("X: caf\u{e9}")?.1 == "caf\u{e9}")
    for bad in [
      "X: a\u{0}b", "X: a\rb", "X: a\nb", "X: a\u{7f}", "X: a\u{1b}", "Bad Header: x", "X : y", ": y", "X(y): z",
      " X: folded", "\tX: folded", "no colon",
    ] {
      #expect(field(bad) == nil, "\(bad.debugDescription)")
    }
  }

  /// The scan reads every short line over the bytes that matter, and a sequence of longer ones, as the rule
  /// reads them, written out here one byte at a time: where the name and the value (without OWS) are, where
  /// the line ends, or why it is refused.
  @Test func fieldSpansMatchTheRuleOnEveryShortLine() {
    let alphabet: [UInt8] = [0x61, 0x3A, 0x20, 0x09, 0x0D, 0x00, 0x7F, 0x80, 0x28, 0x21]
    func reference(_ bytes: [UInt8]) -> String {
      var index = 0
      if let first = bytes.first, first == 0x20 || first == 0x09 { return "folding" }
      while index < bytes.count, HTTPFraming.isTokenByte(bytes[index]) { index += 1 }
      guard index > 0, index < bytes.count, bytes[index] == 0x3A else {
        // A colon later on the line (before its CR) makes the name the fault.
        return bytes[index...].prefix { $0 != 0x0D }.contains(0x3A) ? "name" : "colon"
      }
      let name = 0..<index
      index += 1
      while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x09 { index += 1 }
      let valueStart = index
      var valueEnd = index
      while index < bytes.count {
        let byte = bytes[index]
        if byte == 0x20 || byte == 0x09 {
          index += 1
        } else if byte >= 0x21 && byte != 0x7F {
          index += 1
          valueEnd = index
        } else {
          break
        }
      }
      if index < bytes.count, bytes[index] != 0x0D { return "value" }
      return "\(name) \(valueStart..<valueEnd) \(index)"
    }
    func scanned(_ bytes: [UInt8]) -> String {
      bytes.withUnsafeBufferPointer { buffer in
        switch HTTPFraming.fieldSpan(buffer, from: 0, to: buffer.count) {
        case .success(let span): "\(span.name) \(span.value) \(span.end)"
        case .failure(let violation):
          switch violation.message {
          case "obsolete line folding in a header": "folding"
          case "invalid header name": "name"
          case "header line without a colon": "colon"
          default: violation.message.hasPrefix("invalid character in the value") ? "value" : violation.message
          }
        }
      }
    }
    var lines: [[UInt8]] = [[]]
    var checked = 0
    for _ in 1...5 {
      lines = lines.flatMap { line in alphabet.map { line + [$0] } }
      for line in lines {
        #expect(scanned(line) == reference(line), "\(line)")
        checked += 1
      }
    }
    #expect(checked == 111_110)
    // Longer lines, where the value is scanned eight bytes at a time: a fixed sequence of 100,000 lines of 6 to
    // 40 bytes, mostly a name, a colon and plain bytes, with the alphabet's other bytes anywhere.
    var state: UInt64 = 0x9E37_79B9_7F4A_7C15
    func next(_ bound: Int) -> Int {
      state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      return Int(truncatingIfNeeded: state >> 33) % bound
    }
    for _ in 0..<100_000 {
      var line: [UInt8] = Array("x-n: ".utf8)
      let length = 1 + next(36)
      for _ in 0..<length { line.append(next(4) == 0 ? alphabet[next(alphabet.count)] : 0x61 + UInt8(next(26))) }
      if next(8) == 0 { line[next(line.count)] = alphabet[next(alphabet.count)] }
      #expect(scanned(line) == reference(line), "\(line)")
      checked += 1
    }
    #expect(checked == 211_110)
    // Long names, which are scanned eight bytes at a time up to a byte other than a letter, a digit or `-`:
    // 100,000 of up to 30 bytes of those, the other token bytes, delimiters, and bytes whose low seven bits are
    // a letter, a digit, `-` or `:`.
    let nameBytes =
      Array("aZm09-_.!~`^|#$%&'*+".utf8) + [0x3A, 0x20, 0x09, 0x28, 0x22, 0x40, 0x5B, 0x7B, 0x7F, 0x00]
      + [0xC1, 0xE1, 0xAD, 0xB0, 0xBA, 0x80, 0xFF]
    for _ in 0..<100_000 {
      var line: [UInt8] = []
      for _ in 0..<next(31) {
        line.append(next(3) == 0 ? nameBytes[next(nameBytes.count)] : Array("aZm09-".utf8)[next(6)])
      }
      line += Array(": v".utf8)
      #expect(scanned(line) == reference(line), "\(line)")
    }
  }

  /// Field names compared eight bytes at a time (folding A-Z in each byte of a word) agree with a comparison
  /// one byte at a time on 100,000 pairs of up to 40 bytes: one name and the same with its case changed and,
  /// now and then, a byte changed, among them the bytes next to A and Z and those with the high bit set.
  @Test func namesCompareInAnyASCIICaseAsByteByByte() {
    func folded(_ byte: UInt8) -> UInt8 { (0x41...0x5A).contains(byte) ? byte | 0x20 : byte }
    func isLetter(_ byte: UInt8) -> Bool { (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) }
    var state: UInt64 = 0x1405_7B7E_F767_814F
    func next(_ bound: Int) -> Int {
      state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      return Int(truncatingIfNeeded: state >> 33) % bound
    }
    let alphabet: [UInt8] = Array("azAZmM09-@[`{".utf8) + [0xC1, 0xE1, 0xDA, 0xFA, 0x80, 0xFF, 0x00, 0x7F]
    for _ in 0..<100_000 {
      let name = (0..<next(41)).map { _ in alphabet[next(alphabet.count)] }
      var other = name.map { isLetter($0) && next(2) == 0 ? $0 ^ 0x20 : $0 }
      if !other.isEmpty, next(4) == 0 { other[next(other.count)] = alphabet[next(alphabet.count)] }
      let expected = name.map(folded) == other.map(folded)
      name.withUnsafeBufferPointer { name in
        other.withUnsafeBufferPointer { other in
          #expect(FieldName.equal(name, other) == expected, "\(Array(name)) \(Array(other))")
        }
      }
    }
    // Against lowercase literals, short and long, the field's bytes in any case or changed.
    for _ in 0..<20_000 {
      let literal = ["content-length", "transfer-encoding", "connection", "expect", "te"][next(5)]
      var bytes = Array(literal.utf8).map { isLetter($0) && next(2) == 0 ? $0 ^ 0x20 : $0 }
      if next(3) == 0 { bytes[next(bytes.count)] = alphabet[next(alphabet.count)] }
      let expected = bytes.map(folded) == Array(literal.utf8)
      let found = bytes.withUnsafeBufferPointer { bytes in
        switch literal {
        case "content-length": FieldName.equal(bytes, 0..<bytes.count, "content-length")
        case "transfer-encoding": FieldName.equal(bytes, 0..<bytes.count, "transfer-encoding")
        case "connection": FieldName.equal(bytes, 0..<bytes.count, "connection")
        case "expect": FieldName.equal(bytes, 0..<bytes.count, "expect")
        default: FieldName.equal(bytes, 0..<bytes.count, "te")
        }
      }
      #expect(found == expected, "\(bytes) \(literal)")
    }
  }

  /// The head scan finds what a scan one byte at a time (written out here) finds: where the head ends, that it
  /// has not yet, or a bare CR or LF, on a fixed sequence of 50,000 heads of up to 60 bytes, mostly plain bytes
  /// with CR, LF, CRLF, HTAB and NUL anywhere, from any start and resume point.
  @Test func theHeadScanMatchesAByteAtATimeScan() {
    func reference(_ bytes: [UInt8], start: Int, resume: Int) -> HTTPFraming.HeadScan {
      var index = max(start, resume)
      while index < bytes.count {
        switch bytes[index] {
        case 0x0D:
          guard index + 1 < bytes.count else { return .incomplete(resume: index) }
          guard bytes[index + 1] == 0x0A else { return .invalid("bare CR in the message head") }
          if index - 2 >= start, bytes[index - 2] == 0x0D, bytes[index - 1] == 0x0A {
            return .complete(head: index - 2, body: index + 2)
          }
          index += 2
        case 0x0A: return .invalid("bare LF in the message head")
        default: index += 1
        }
      }
      return .incomplete(resume: index)
    }
    var state: UInt64 = 0x853C_49E6_748F_EA9B
    func next(_ bound: Int) -> Int {
      state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      return Int(truncatingIfNeeded: state >> 33) % bound
    }
    let pieces: [[UInt8]] = [[0x0D, 0x0A], [0x0D, 0x0A, 0x0D, 0x0A], [0x0D], [0x0A], [0x09], [0x00], [0x0E], [0x0C]]
    for _ in 0..<50_000 {
      var head: [UInt8] = []
      while head.count < 1 + next(60) {
        head += next(5) == 0 ? pieces[next(pieces.count)] : [0x61 + UInt8(next(26))]
      }
      let start = next(head.count)
      let resume = start + next(head.count - start + 1)
      #expect(
        HTTPFraming.scanHead(head, start: start, resume: resume) == reference(head, start: start, resume: resume),
        "\(head) from \(start), \(resume)")
    }
  }

  /// A field line is written as its text, whatever the lengths (inline and heap strings, empty values).
  @Test func fieldLinesAreWrittenAsTheirText() {
    let long = String(repeating: "v", count: 300)
    for (name, value) in [("x", ""), ("content-type", "application/json"), ("x-long", long), ("n", "é ✓")] {
      var bytes: [UInt8] = Array("HTTP/1.1 200 OK\r\n".utf8)
      HTTPFraming.appendFieldLine(name: name, value: value, to: &bytes)
      #expect(bytes == Array("HTTP/1.1 200 OK\r\n\(name): \(value)\r\n".utf8))
    }
  }

  @Test func fieldLineFailuresNameTheRuleBroken() {
    func failure(_ text: String) -> String? {
      guard case .failure(let violation) = HTTPFraming.fieldLine(Array(text.utf8)[...]) else { return nil }
      return violation.message
    }
    #expect(failure("Bad Header x") == "header line without a colon")
    #expect(failure("Bad Header: x") == "invalid header name")
    #expect(failure("Bad:Header: x") == nil)
    #expect(failure(": x") == "invalid header name")
    #expect(failure("") == "header line without a colon")
    #expect(failure(" X: y") == "obsolete line folding in a header")
    #expect(failure("X-Y: a\u{0}b") == "invalid character in the value of header X-Y")
    #expect(failure("X-Y: a\rb") == "invalid character in the value of header X-Y")
  }

  @Test func contentLengthMembersMustBeTheSameText() {
    #expect(HTTPFraming.contentLength(["007", " 007,007"]) == .success(7))
    for conflicting in [["5", "05"], ["05, 5"], ["10", "1"]] {
      #expect(
        HTTPFraming.contentLength(conflicting) == .failure(.malformed("conflicting Content-Length values")),
        "\(conflicting)")
    }
    #expect(HTTPFraming.contentLength(["5", "x", "6"]) == .failure(.malformed("invalid Content-Length")))
  }

  @Test func linesEndOnlyInCRLF() {
    let head = Array("GET / HTTP/1.1\r\nA: b\r\n\r\nbody".utf8)
    #expect(HTTPFraming.scanHead(head, start: 0, resume: 0) == .complete(head: 20, body: 24))
    #expect(HTTPFraming.scanHead(Array("GET / HTTP/1.1\r\n\r".utf8), start: 0, resume: 0) == .incomplete(resume: 16))
    for bad in ["GET / HTTP/1.1\n\n", "GET / HTTP/1.1\r\nA: b\n\r\n", "GET / HTTP/1.1\r\nA: b\rc\r\n\r\n"] {
      guard case .invalid = HTTPFraming.scanHead(Array(bad.utf8), start: 0, resume: 0) else {
        Issue.record("\(bad.debugDescription) accepted")
        continue
      }
    }
    #expect(HTTPFraming.scanLine(Array("5\r\nhello".utf8), resume: 0) == .complete(content: 1, next: 3))
    #expect(HTTPFraming.scanLine(Array("5\r".utf8), resume: 0) == .incomplete(resume: 1))
    for bad in ["5\nhello", "5\rhello"] {
      guard case .invalid = HTTPFraming.scanLine(Array(bad.utf8), resume: 0) else {
        Issue.record("\(bad.debugDescription) accepted")
        continue
      }
    }
  }
}

@Suite struct FieldNameTests {
  /// The shortcuts for a Content-Length of one number, a lone `chunked` and a lone `keep-alive` or `close` agree
  /// with the list read member by member on 100,000 fixed pseudo-random messages of one to three field values,
  /// each glued from pieces: those values in any case, near misses, numbers too long or signed, commas and OWS.
  @Test func framingShortcutsMatchTheListsReadMemberByMember() {
    let pieces: [[UInt8]] =
      [
        "0", "1", "42", "042", "999999999999999999", "9999999999999999999", "-1", "+5", "4 2", "chunked", "Chunked",
        "CHUNKED", "chunke", "chunkedd", "gzip", "close", "Close", "CLOSE", "closed", "keep-alive", "Keep-Alive",
        "keep-alivE", "keep_alive", ",", ", ", " ", "\t", "", "x",
      ].map { Array($0.utf8) } + [[0x63, 0x68, 0x75, 0x6E, 0xE2, 0x84, 0xAA, 0x65, 0x64], [0x80], [0x00]]
    var state: UInt64 = 0x2545_F491_4F6C_DD1D
    func next(_ bound: Int) -> Int {
      state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      return Int(truncatingIfNeeded: state >> 33) % bound
    }
    for _ in 0..<100_000 {
      var lengths = (fast: ContentLengthValues(), general: ContentLengthValues())
      var codings = (fast: TransferCodings(), general: TransferCodings())
      var options = (fast: ConnectionOptions(), general: ConnectionOptions())
      var values: [[UInt8]] = []
      for _ in 0...next(3) {
        // Mostly one piece, as real values are; now and then two or three glued.
        var value: [UInt8] = []
        for _ in 0...(next(3) == 0 ? next(3) : 0) { value += pieces[next(pieces.count)] }
        values.append(value)
        value.withUnsafeBufferPointer { value in
          lengths.fast.add(value)
          lengths.general.addMembers(value)
          codings.fast.add(value)
          codings.general.addMembers(value)
          options.fast.add(value)
          options.general.addMembers(value)
        }
      }
      #expect(lengths.fast.result == lengths.general.result, "\(values)")
      #expect(codings.fast.result == codings.general.result, "\(values)")
      #expect(codings.fast.isPresent == codings.general.isPresent, "\(values)")
      #expect(options.fast == options.general, "\(values)")
    }
  }

  @Test func namesCompareCaseInsensitivelyInASCIIOnly() {
    #expect(FieldName.equal("Content-Length", "content-length"))
    #expect(FieldName.equal("X-GOOG-API-KEY", "x-goog-api-key"))
    #expect(!FieldName.equal("content-length", "content-lengt"))
    #expect(!FieldName.equal("host", "hosts"))
    // Only A-Z fold: "[" (0x5B) is not "{" (0x7B), and non-ASCII never folds.
    #expect(!FieldName.equal("a[", "a{"))
    #expect(!FieldName.equal("\u{C9}", "\u{E9}"))
  }
}

@Suite struct ConnectionOptionsTests {
  @Test func tokensAreWholeCaseInsensitiveAndCloseWins() {
    #expect(!ConnectionOptions(["Close"]).persists(persistentByDefault: true))
    #expect(!ConnectionOptions(["keep-alive, close"]).persists(persistentByDefault: true))
    #expect(ConnectionOptions(["Keep-Alive"]).persists(persistentByDefault: false))
    #expect(!ConnectionOptions(["upgrade", " CLOSE "]).persists(persistentByDefault: true))
    // A token that only contains the word is another token.
    #expect(ConnectionOptions(["closed", "x-close-later"]).persists(persistentByDefault: true))
    #expect(!ConnectionOptions(["keep-alive-ish"]).persists(persistentByDefault: false))
    #expect(ConnectionOptions([]).persists(persistentByDefault: true))
  }
}
