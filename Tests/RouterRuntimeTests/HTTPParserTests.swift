import Testing

@testable import RouterRuntime

@Suite struct HTTPParserTests {
  func parse(_ text: String, splitEvery step: Int? = nil, maxBody: Int = 1 << 20) -> [HTTPRequestParser.Event] {
    var parser = HTTPRequestParser(maxHeadBytes: 1024, maxHeaders: 10, maxBodyBytes: maxBody)
    let bytes = Array(text.utf8)
    guard let step else { return parser.feed(bytes) }
    var events: [HTTPRequestParser.Event] = []
    var index = 0
    while index < bytes.count {
      events += parser.feed(bytes[index..<min(index + step, bytes.count)])
      index += step
    }
    return events
  }

  func requests(_ events: [HTTPRequestParser.Event]) -> [HTTPRequest] {
    events.compactMap { if case .request(let request) = $0 { request } else { nil } }
  }

  func errorStatus(_ events: [HTTPRequestParser.Event]) -> Int? {
    for case .error(let error) in events { return error.status }
    return nil
  }

  static let post =
    "POST /v1beta/models/m:generateContent?alt=sse HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\nX-Goog-Api-Key: k\r\n\r\nhello world"

  @Test func parsesAContentLengthRequestAtEverySplitPoint() {
    for step in [nil, 1, 2, 3, 7, 50] {
      let parsed = requests(parse(Self.post, splitEvery: step))
      #expect(parsed.count == 1, "step \(String(describing: step))")
      let request = parsed.first
      #expect(request?.method == "POST")
      #expect(request?.path == "/v1beta/models/m:generateContent")
      #expect(request?.query == "alt=sse")
      #expect(request?.headers["x-goog-api-key"] == "k")
      #expect(request.map { String(decoding: $0.body, as: UTF8.self) } == "hello world")
      #expect(request?.keepAlive == true)
    }
  }

  /// The request line splits at its two spaces wherever they fall: a fixed sequence of 20,000 lines with
  /// targets of 1 to 60 bytes gives back their method and target, and the same lines with one more space
  /// anywhere are refused.
  @Test func requestLinesSplitAtTheirTwoSpacesWhateverTheirLength() {
    var state: UInt64 = 0xDA94_2042_E4DD_58B5
    func next(_ bound: Int) -> Int {
      state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      return Int(truncatingIfNeeded: state >> 33) % bound
    }
    let characters = Array("abcxyz0129-._~/%?=&".utf8)
    for _ in 0..<20_000 {
      let method = ["GET", "POST", "OPTIONS", "M"][next(4)]
      let target = "/" + String(decoding: (0..<next(60)).map { _ in characters[next(characters.count)] }, as: UTF8.self)
      let line = "\(method) \(target) HTTP/1.1"
      let found = requests(parse(line + "\r\nHost: x\r\n\r\n"))
      #expect(found.count == 1 && found.first?.method == method && found.first?.target == target, "\(line)")
      var spaced = Array(line.utf8)
      spaced.insert(0x20, at: next(spaced.count + 1))
      let refused = parse(String(decoding: spaced, as: UTF8.self) + "\r\nHost: x\r\n\r\n")
      #expect(errorStatus(refused) == 400 && requests(refused).isEmpty, "\(spaced)")
    }
  }

  /// The request line as the parser reads it (eight bytes at a time) and as the rule reads it, one byte at a
  /// time, agree on a fixed sequence of 50,000 lines of hostile bytes: spaces, tabs, controls, DEL and
  /// non-ASCII anywhere, around a method, a target of up to 40 bytes and a version.
  @Test func requestLinesOfHostileBytesReadAsTheRuleReadsThem() {
    func reference(_ line: [UInt8]) -> String {
      let spaces = line.indices.filter { line[$0] == 0x20 }
      guard spaces.count == 2 else { return "error 400 malformed request line" }
      let method = line[..<spaces[0]]
      guard !method.isEmpty, method.allSatisfy(HTTPFraming.isTokenByte) else { return "error 400 malformed method" }
      let target = line[(spaces[0] + 1)..<spaces[1]]
      guard target.first == UInt8(ascii: "/") || Array(target) == [UInt8(ascii: "*")],
        target.allSatisfy({ $0 >= 0x21 && $0 <= 0x7E })
      else { return "error 400 request target must be a path" }
      let version = String(decoding: line[(spaces[1] + 1)...], as: UTF8.self)
      guard version == "HTTP/1.1" || version == "HTTP/1.0" else { return "version" }
      return "\(String(decoding: method, as: UTF8.self)) \(String(decoding: target, as: UTF8.self)) "
        + (version == "HTTP/1.1" ? "http11" : "http10")
    }
    func parsed(_ line: [UInt8]) -> String {
      var parser = HTTPRequestParser(maxHeadBytes: 1024, maxHeaders: 10, maxBodyBytes: 16)
      for event in parser.feed(line + Array("\r\nHost: x\r\n\r\n".utf8)) {
        switch event {
        case .request(let request): return "\(request.method) \(request.target) \(request.version)"
        case .error(let error) where error.message.hasSuffix("protocol version") || error.status == 505:
          return "version"
        case .error(let error): return "error \(error.status) \(error.message)"
        case .expectContinue: return "100-continue"
        }
      }
      return "nothing"
    }
    var state: UInt64 = 0x2545_F491_4F6C_DD1D
    func next(_ bound: Int) -> Int {
      state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      return Int(truncatingIfNeeded: state >> 33) % bound
    }
    let hostile: [UInt8] = [0x20, 0x09, 0x00, 0x01, 0x0B, 0x1F, 0x21, 0x7E, 0x7F, 0x80, 0xC3, 0xFF, 0x2F, 0x2A, 0x28]
    let plain = Array("abcXYZ019-._~/%?=&:".utf8)
    for _ in 0..<50_000 {
      let method = ["GET", "POST", "PATCH", "M", "", "G(T"][next(6)]
      var target = next(8) == 0 ? [] : [UInt8(ascii: "/")]
      for _ in 0..<next(41) { target.append(next(6) == 0 ? hostile[next(hostile.count)] : plain[next(plain.count)]) }
      if next(10) == 0 { target = [UInt8(ascii: "*")] }
      let version = ["HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "HTTP/1.1 ", "http/1.1", ""][next(6)]
      var line = Array(method.utf8) + [0x20] + target + [0x20] + Array(version.utf8)
      for _ in 0..<(next(4) == 0 ? 1 + next(2) : 0) { line[next(line.count)] = hostile[next(hostile.count)] }
      #expect(parsed(line) == reference(line), "\(line)")
    }
  }

  @Test func decodesChunkedBodiesWithExtensionsAndTrailers() {
    let text =
      "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"
    for step in [nil, 1, 4] {
      let parsed = requests(parse(text, splitEvery: step))
      #expect(parsed.map { String(decoding: $0.body, as: UTF8.self) } == ["hello world"])
    }
  }

  @Test func pipelinedRequestsComeOutInOrder() {
    let text = "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\nConnection: close\r\n\r\n"
    let parsed = requests(parse(text))
    #expect(parsed.map(\.path) == ["/a", "/b"])
    #expect(parsed.map(\.keepAlive) == [true, false])
  }

  @Test func http10DefaultsToClose() {
    #expect(requests(parse("GET / HTTP/1.0\r\n\r\n")).first?.keepAlive == false)
    #expect(requests(parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")).first?.keepAlive == true)
    #expect(requests(parse("GET / HTTP/1.0\r\n\r\n")).first?.version == .http10)
  }

  @Test func expectContinueIsReportedBeforeTheBody() {
    var parser = HTTPRequestParser()
    let head = parser.feed(Array("POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n".utf8))
    guard case .expectContinue? = head.first else {
      Issue.record("expected 100-continue, got \(head)")
      return
    }
    #expect(requests(parser.feed(Array("ok".utf8))).count == 1)
  }

  @Test func limitsGiveTheRightStatus() {
    #expect(errorStatus(parse("GET /" + String(repeating: "a", count: 2000) + " HTTP/1.1\r\n\r\n")) == 431)
    let manyHeaders = (0..<20).map { "X-\($0): v\r\n" }.joined()
    #expect(errorStatus(parse("GET / HTTP/1.1\r\n\(manyHeaders)\r\n")) == 431)
    #expect(errorStatus(parse("POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\n", maxBody: 10)) == 413)
    #expect(
      errorStatus(parse("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nff\r\n", maxBody: 10)) == 413)
  }

  @Test func malformedRequestsAreErrorsNeverCrashes() {
    #expect(errorStatus(parse("GARBAGE\r\n\r\n")) == 400)
    #expect(errorStatus(parse("GET / HTTP/2.0\r\n\r\n")) == 505)
    #expect(errorStatus(parse("POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n")) == 400)
    #expect(errorStatus(parse("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n")) == 400)
    #expect(errorStatus(parse("POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n")) == 400)
    // RFC 9112 6.3: chunked not last is a 400; a coding louter does not decode, before chunked, a 501.
    #expect(errorStatus(parse("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n")) == 400)
    #expect(errorStatus(parse("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n")) == 501)
    #expect(errorStatus(parse("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")) == 400)
    #expect(errorStatus(parse("GET / HTTP/1.1\r\nBad Header: x\r\n\r\n")) == 400)
    var generator = SystemRandomNumberGenerator()
    for _ in 0..<500 {
      var parser = HTTPRequestParser(maxHeadBytes: 256, maxHeaders: 8, maxBodyBytes: 64)
      let noise = (0..<Int(generator.next(upperBound: 300 as UInt64))).map { _ in
        UInt8(truncatingIfNeeded: generator.next())
      }
      _ = parser.feed(Array("POST / HTTP/1.1\r\n".utf8) + noise)
    }
  }

  static func chunked(_ body: String, headers: String = "") -> String {
    "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\(headers)\r\n\(body)"
  }

  @Test func chunkSizesAreHexDigitsOnlyNeverATrap() {
    for size in ["-1", "+5", "-0", " 5", "0x5", "ffffffffffffffffffff", "1000000000000000", "5 "] {
      for step in [nil, 1] {
        #expect(errorStatus(parse(Self.chunked("\(size)\r\nhello\r\n0\r\n\r\n"), splitEvery: step)) == 400, "\(size)")
      }
    }
    let extensions = Self.chunked("5 ; name = \"quoted \\\" value\" ;flag\r\nhello\r\n0;last\r\n\r\n")
    #expect(requests(parse(extensions)).map { String(decoding: $0.body, as: UTF8.self) } == ["hello"])
    #expect(errorStatus(parse(Self.chunked("5;=x\r\nhello\r\n0\r\n\r\n"))) == 400)
    #expect(errorStatus(parse(Self.chunked("5\r\nhello!\r\n0\r\n\r\n"))) == 400)
    #expect(errorStatus(parse(Self.chunked("5\nhello\n0\n\n"))) == 400)
  }

  @Test func contentLengthIsOneNumberOfDigits() {
    for value in ["-5", "+5", "5 5", "0x5", "99999999999999999999999", "", "5,6"] {
      #expect(errorStatus(parse("POST / HTTP/1.1\r\nContent-Length: \(value)\r\n\r\nhello")) == 400, "\(value)")
    }
    #expect(errorStatus(parse("POST / HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n")) == 413)
    let same = parse("POST / HTTP/1.1\r\nContent-Length: 5, 5\r\ncontent-length: 5\r\n\r\nhello")
    #expect(requests(same).map { String(decoding: $0.body, as: UTF8.self) } == ["hello"])
  }

  @Test func transferEncodingIsReadAcrossAllItsLines() {
    // A second line used to be ignored: `chunked` then `gzip` means chunked is not the last coding.
    #expect(errorStatus(parse(Self.chunked("0\r\n\r\n", headers: "Transfer-Encoding: gzip\r\n"))) == 400)
    #expect(errorStatus(parse(Self.chunked("0\r\n\r\n", headers: "Transfer-Encoding: chunked\r\n"))) == 400)
    #expect(errorStatus(parse(Self.chunked("0\r\n\r\n", headers: "Content-Length: 5\r\n"))) == 400)
    #expect(
      errorStatus(parse("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n")) == 501)
    #expect(errorStatus(parse("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")) == 400)
    #expect(requests(parse(Self.chunked("0\r\n\r\n", headers: "Transfer-Encoding: \r\n"))).count == 1)
  }

  @Test func aKelvinSignDoesNotMakeChunked() {
    // U+212A KELVIN SIGN lowercases to "k": this body used to be read as chunked.
    #expect(errorStatus(parse("POST / HTTP/1.1\r\nTransfer-Encoding: chun\u{212A}ed\r\n\r\n0\r\n\r\n")) == 400)
    #expect(errorStatus(parse("POST / HTTP/1.1\r\nTransfer-Encoding: chun\u{212A}ed, chunked\r\n\r\n0\r\n\r\n")) == 501)
  }

  @Test func controlCharactersAndBadNamesInHeadersAre400() {
    for line in [
      "X: a\u{0}b", "X: a\rb", "X: a\nb: c", "X: a\u{7f}", "X\u{1}: y", "X : y", "X@: y", " folded: y", "X: y\n",
    ] {
      #expect(errorStatus(parse("GET / HTTP/1.1\r\n\(line)\r\n\r\n")) == 400, "\(line.debugDescription)")
    }
    let trailer = Self.chunked("0\r\nX: a\u{0}\r\n\r\n")
    #expect(errorStatus(parse(trailer)) == 400)
    #expect(errorStatus(parse(Self.chunked("0\r\n" + String(repeating: "X: y\r\n", count: 300)))) == 431)
  }

  @Test func theRequestLineIsStrict() {
    for line in [
      "GET  / HTTP/1.1", " GET / HTTP/1.1", "GET / HTTP/1.1 ", "GET\t/ HTTP/1.1", "G(T / HTTP/1.1", "GET / http/1.1",
      "GET / HTTP/1.1x", "GET /\u{1} HTTP/1.1", "GET /caf\u{e9} HTTP/1.1", "GET x HTTP/1.1", "GET / HTTP/11",
    ] {
      #expect(errorStatus(parse("\(line)\r\n\r\n")) == 400, "\(line.debugDescription)")
    }
    #expect(errorStatus(parse("GET / HTTP/3.0\r\n\r\n")) == 505)
    #expect(requests(parse("\r\n\r\nPATCH /p HTTP/1.1\r\n\r\n")).map(\.method) == ["PATCH"])
  }

  /// What `events` say, as text: every request's parts, each 100-continue and each error.
  func transcript(_ events: [HTTPRequestParser.Event]) -> [String] {
    events.map { event in
      switch event {
      case .expectContinue: "100-continue"
      case .error(let error): "error \(error.status) \(error.message)"
      case .request(let request):
        "\(request.method) \(request.target) \(request.version) keep-alive \(request.keepAlive) "
          + request.headers.pairs.map { "[\($0.name)|\($0.value)]" }.joined()
          + " body \(String(decoding: request.body, as: UTF8.self))"
      }
    }
  }

  @Test func pipelinedRequestsCutAtEveryByteInTwoOrThreeReadsParseAsInOne() {
    let text =
      "\r\nPOST /a?x=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nX-Empty:\r\nX-Pad: \t v w \t\r\n\r\nhello"
      + "POST /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
      + "3;e=\"q\"\r\nabc\r\n2\r\nde\r\n0\r\nT: v\r\n\r\n"
      + "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"
    let bytes = Array(text.utf8)
    var whole = HTTPRequestParser(maxHeadBytes: 1024, maxHeaders: 10, maxBodyBytes: 1024)
    let expected = transcript(whole.feed(bytes))
    #expect(expected.count == 3)
    #expect(
      expected.first == "POST /a?x=1 http11 keep-alive true [Host|h][Content-Length|5][X-Empty|][X-Pad|v w] body hello")
    for first in 0...bytes.count {
      for second in stride(from: first, through: bytes.count, by: 7) {
        var parser = HTTPRequestParser(maxHeadBytes: 1024, maxHeaders: 10, maxBodyBytes: 1024)
        var events = parser.feed(bytes[..<first])
        events += parser.feed(bytes[first..<second])
        events += parser.feed(bytes[second...])
        #expect(transcript(events) == expected, "cut at \(first) and \(second)")
      }
    }
  }

  @Test func moreHeaderLinesThanTheLimitAre431EvenAfterAMalformedOne() {
    // The limit counts lines before any is read: a bad line under the limit does not turn a 431 into a 400.
    let lines = (0..<12).map { "X-\($0): v\r\n" }
    for bad in 0..<12 {
      var tooMany = lines
      tooMany[bad] = "Bad Line\r\n"
      #expect(errorStatus(parse("GET / HTTP/1.1\r\n\(tooMany.joined())\r\n")) == 431, "bad line \(bad)")
      var underTheLimit = Array(lines.prefix(10))
      underTheLimit[min(bad, 9)] = "Bad Line\r\n"
      #expect(errorStatus(parse("GET / HTTP/1.1\r\n\(underTheLimit.joined())\r\n")) == 400, "bad line \(bad)")
    }
    #expect(requests(parse("GET / HTTP/1.1\r\n\(lines.prefix(10).joined())\r\n")).count == 1)
  }

  @Test func theFirstExpectFieldDecidesAnyCase() {
    func continues(_ headers: String) -> Bool {
      var parser = HTTPRequestParser()
      let events = parser.feed(Array("POST / HTTP/1.1\r\n\(headers)Content-Length: 2\r\n\r\n".utf8))
      return events.contains { if case .expectContinue = $0 { true } else { false } }
    }
    #expect(continues("Expect: 100-CONTINUE\r\n"))
    #expect(continues("expect:\t100-continue \r\nExpect: other\r\n"))
    #expect(!continues("Expect: other\r\nExpect: 100-continue\r\n"))
    #expect(!continues("Expect: 100-continue-ish\r\n"))
    #expect(!continues("Expectation: 100-continue\r\n"))
  }

  @Test func aRequestWithoutFieldsAndAnAbsentVersionAreReadExactly() {
    #expect(requests(parse("GET / HTTP/1.1\r\n\r\n")).first?.headers.pairs.isEmpty == true)
    #expect(errorStatus(parse("GET /\r\n\r\n")) == 400)
    #expect(errorStatus(parse("GET / \r\n\r\n")) == 400)
    #expect(errorStatus(parse(" / HTTP/1.1\r\n\r\n")) == 400)
    #expect(errorStatus(parse("GET  HTTP/1.1\r\n\r\n")) == 400)
    #expect(requests(parse("OPTIONS * HTTP/1.1\r\n\r\n")).map(\.target) == ["*"])
    #expect(errorStatus(parse("OPTIONS ** HTTP/1.1\r\n\r\n")) == 400)
  }
}

/// `HTTPRequest` splits its target at the first `?`.
@Suite struct HTTPRequestTargetTests {
  @Test func pathAndQuerySplitAtTheFirstQuestionMark() {
    let cases: [(String, String, String?)] = [
      ("/v1beta/models/m:streamGenerateContent?alt=sse", "/v1beta/models/m:streamGenerateContent", "alt=sse"),
      ("/a?b?c", "/a", "b?c"), ("/a?", "/a", ""), ("/a", "/a", nil), ("?x", "", "x"),
    ]
    for (target, path, query) in cases {
      let request = HTTPRequest(method: "GET", target: target)
      #expect(request.path == path && request.query == query, "\(target)")
    }
  }

  @Test func aNonASCIITargetSplitsAtItsQuestionMark() {
    let request = HTTPRequest(method: "GET", target: "/é/ü?q=ö?")
    #expect(request.path == "/é/ü" && request.query == "q=ö?")
  }

  /// A request is a value: a copy changed afterwards leaves the original as it was.
  @Test func aChangedCopyLeavesTheOriginalAlone() {
    var headers = HTTPHeaders()
    headers.append(name: "x-a", value: "1")
    let original = HTTPRequest(method: "POST", target: "/p?q", version: .http10, headers: headers, body: [1, 2])
    var copy = original
    copy.body.append(3)
    copy.keepAlive = false
    #expect(original.method == "POST" && original.target == "/p?q" && original.path == "/p" && original.query == "q")
    #expect(original.version == .http10 && original.body == [1, 2] && original.keepAlive)
    #expect(original.headers.pairs.count == 1 && copy.headers.pairs.count == 1)
    #expect(copy.method == "POST" && copy.path == "/p" && copy.query == "q" && copy.body == [1, 2, 3])
    #expect(copy.version == .http10 && !copy.keepAlive)
    // A request no other value shares is changed where it is.
    var alone = HTTPRequest(method: "GET", target: "/")
    alone.body = [9]
    #expect(alone.body == [9])
  }
}
