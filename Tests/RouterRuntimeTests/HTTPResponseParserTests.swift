import Testing

@testable import RouterRuntime

@Suite struct HTTPResponseParserTests {
  func parse(_ text: String, step: Int) -> (status: Int?, body: String, ended: Bool, keepAlive: Bool?, error: String?) {
    var parser = HTTPResponseParser()
    let bytes = Array(text.utf8)
    var status: Int?
    var body: [UInt8] = []
    var ended = false
    var keepAlive: Bool?
    var error: String?
    var index = 0
    while index < bytes.count {
      for event in parser.feed(bytes[index..<min(index + step, bytes.count)]) {
        switch event {
        case .head(let code, _, let alive):
          status = code
          keepAlive = alive
        case .body(let chunk): body += chunk
        case .end: ended = true
        case .error(let message): error = message
        }
      }
      index += step
    }
    for event in parser.endOfStream() {
      if case .end = event { ended = true }
      if case .error(let message) = event { error = message }
    }
    return (status, String(decoding: body, as: UTF8.self), ended, keepAlive, error)
  }

  @Test(arguments: [1, 3, 1000])
  func contentLengthChunkedAndCloseDelimited(step: Int) {
    let fixed = parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", step: step)
    #expect(fixed.status == 200 && fixed.body == "hello" && fixed.ended && fixed.keepAlive == true)
    let chunked = parse(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", step: step)
    #expect(chunked.body == "abcde" && chunked.ended)
    let closing = parse("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end", step: step)
    #expect(closing.body == "until the end" && closing.ended && closing.keepAlive == false)
    let continued = parse("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n", step: step)
    #expect(continued.status == 204 && continued.ended)
  }

  @Test func aCutBodyIsAnErrorNotAnEnd() {
    let cut = parse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf", step: 100)
    #expect(!cut.ended)
    #expect(cut.error != nil)
    #expect(parse("SMTP nonsense\r\n\r\n", step: 5).error != nil)
  }

  func failure(_ text: String) -> String? {
    for step in [1, 1000] {
      let result = parse(text, step: step)
      if result.error == nil || result.ended { return nil }
    }
    return parse(text, step: 1000).error
  }

  @Test func contentLengthIsOneNumberOfDigits() {
    for value in ["-5", "+5", "5 5", "0x5", "99999999999999999999999", "", "5, 6"] {
      #expect(failure("HTTP/1.1 200 OK\r\nContent-Length: \(value)\r\n\r\nhello") != nil, "\(value)")
    }
    #expect(failure("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello") != nil)
    let same = parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5, 5\r\n\r\nhello", step: 2)
    #expect(same.body == "hello" && same.ended)
  }

  @Test func chunkSizesAreHexDigitsOnly() {
    for size in ["-1", "+5", "ffffffffffffffffffff", "5 ", "0x5"] {
      #expect(
        failure("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\(size)\r\nhello\r\n0\r\n\r\n") != nil, "\(size)")
    }
    #expect(failure("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello!\r\n0\r\n\r\n") != nil)
    #expect(failure("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: \u{0}\r\n\r\n") != nil)
  }

  @Test func transferEncodingIsReadAcrossAllItsLines() {
    let twoLines = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n0\r\n\r\n"
    #expect(failure(twoLines) != nil)
    #expect(failure("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n") != nil)
    #expect(failure("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n") != nil)
    // Transfer-Encoding overrides a Content-Length sent with it, and such a connection is not reused.
    let both = parse(
      "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", step: 3)
    #expect(both.body == "ok" && both.ended && both.keepAlive == false)
  }

  @Test func controlCharactersAndBadNamesInHeadersAreErrors() {
    for line in ["X: a\u{0}b", "X: a\rb", "X: a\nb: c", "X : y", "X@: y", " folded: y"] {
      #expect(failure("HTTP/1.1 200 OK\r\n\(line)\r\nContent-Length: 0\r\n\r\n") != nil, "\(line.debugDescription)")
    }
    for statusLine in ["HTTP/1.1 20 OK", "HTTP/1.1 +20 OK", "HTTP/1.1 099 X", "HTTP/1.1 200 O\u{0}K", "HTTP/2 200 OK"] {
      #expect(failure("\(statusLine)\r\nContent-Length: 0\r\n\r\n") != nil, "\(statusLine.debugDescription)")
    }
    #expect(parse("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", step: 1).ended)
  }

  @Test func responsesCutAtEveryByteInTwoReadsParseAsInOne() {
    for text in [
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Pad: \t v \t\r\nContent-Length: 5\r\n\r\nhello",
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        + "3;x=\"y\"\r\nabc\r\n2\r\nde\r\n0\r\nT: v\r\n\r\n",
      "HTTP/1.0 200\r\nConnection: keep-alive\r\n\r\nuntil the end",
      "HTTP/1.1 200 OK\r\nX: a\u{1}\r\n\r\n",
    ] {
      let bytes = Array(text.utf8)
      let expected = summary(bytes, cuts: [])
      for cut in 0...bytes.count {
        #expect(summary(bytes, cuts: [cut]) == expected, "\(text.debugDescription) cut at \(cut)")
      }
    }
  }

  /// The events of `bytes` fed in pieces cut at `cuts`, with the body pieces joined, then the end of stream.
  func summary(_ bytes: [UInt8], cuts: [Int]) -> [String] {
    var parser = HTTPResponseParser()
    var lines: [String] = []
    var body: [UInt8] = []
    var from = 0
    for to in cuts + [bytes.count] {
      for event in parser.feed(bytes[from..<to]) {
        if case .body(let piece) = event { body += piece } else { lines.append("\(event)") }
      }
      from = to
    }
    lines += parser.endOfStream().map { "\($0)" }
    return lines + [String(decoding: body, as: UTF8.self)]
  }

  @Test func aHeadWithoutFieldsAndOddStatusLinesAreReadExactly() {
    #expect(parse("HTTP/1.1 204 No  Content \r\n\r\n", step: 1000).ended)
    #expect(parse("HTTP/1.1 204 \r\n\r\n", step: 1000).ended)
    for statusLine in ["HTTP/1.1", "HTTP/1.1 ", "HTTP/1.1  204", "\r\nHTTP/1.1 204", "HTTP/1.1 2040", "http/1.1 204"] {
      #expect(failure("\(statusLine)\r\n\r\n") != nil, "\(statusLine.debugDescription)")
    }
  }

  /// The status line read at fixed places agrees with the reading it replaced (find the SPs, then check what
  /// lies between them) on 100,000 fixed pseudo-random lines glued from versions, codes, reasons, extra or
  /// missing SPs and control, DEL and obs-text bytes.
  @Test func statusLinesReadAtFixedPlacesMatchTheSearchForTheSpaces() {
    func searched(_ line: UnsafeBufferPointer<UInt8>) -> (status: Int, isHTTP10: Bool)? {
      guard let firstSpace = line.firstIndex(of: 0x20) else { return nil }
      let secondSpace = line[(firstSpace + 1)...].firstIndex(of: 0x20)
      let version = Array(line[..<firstSpace])
      let code = line[(firstSpace + 1)..<(secondSpace ?? line.count)]
      let isHTTP10 = version == Array("HTTP/1.0".utf8)
      guard isHTTP10 || version == Array("HTTP/1.1".utf8), code.count == 3,
        code.allSatisfy({ (0x30...0x39).contains($0) }),
        line[((secondSpace ?? line.count - 1) + 1)...].allSatisfy(HTTPFraming.isFieldValueByte)
      else { return nil }
      let status = code.reduce(0) { $0 * 10 + Int($1 - 0x30) }
      return (100...599).contains(status) ? (status, isHTTP10) : nil
    }
    let pieces: [[UInt8]] =
      [
        "HTTP/1.1", "HTTP/1.0", "HTTP/1.2", "http/1.1", "HTTP/1.", " ", " ", "  ", "200", "204", "099", "100", "599",
        "600", "2040", "20", "2", "/", "OK", "Not Found", "\t", "\r",
      ].map { Array($0.utf8) } + [[0x7F], [0x00], [0x80], [0xFF], [0x1F]]
    var state: UInt64 = 0x5851_F42D_4C95_7F2D
    func next(_ bound: Int) -> Int {
      state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      return Int(truncatingIfNeeded: state >> 33) % bound
    }
    for _ in 0..<100_000 {
      // Mostly a version, an SP and a code, then anything; now and then anything from the start.
      var line: [UInt8] = next(4) == 0 ? [] : pieces[next(5)] + [0x20] + pieces[8 + next(8)]
      for _ in 0..<next(4) { line += pieces[next(pieces.count)] }
      line.withUnsafeBufferPointer { line in
        let fixed = HTTPResponseParser.statusLine(line)
        let reference = searched(line)
        #expect(fixed?.status == reference?.status && fixed?.isHTTP10 == reference?.isHTTP10, "\(Array(line))")
      }
    }
  }
}
