import Testing

@testable import RouterRuntime

/// The field lines of heads read by `HTTPFraming.readFields` against a reference copy of the reader as it was
/// before it was made faster (one `fieldSpan` call per line, its bytes one at a time), over generated heads,
/// valid and hostile; and the request and response parsers fed those heads whole and split at every point.
@Suite struct HeadParseDifferentialTests {
  /// What the reference reads from the field lines of a complete head.
  enum Outcome: Equatable {
    case tooMany
    case violation(String)
    case fields([Pair])
  }

  struct Pair: Equatable {
    let name: [UInt8]
    let value: [UInt8]
  }

  // MARK: the reference

  /// `HTTPFraming.fieldSpan` as it was: where the name and the value (without OWS) are and where the line
  /// ends, or the message of its violation.
  static func referenceSpan(
    _ bytes: [UInt8], from start: Int, to end: Int
  ) -> Result<(name: Range<Int>, value: Range<Int>, end: Int), HTTPFramingViolation> {
    var index = start
    if index < end, bytes[index] == 0x20 || bytes[index] == 0x09 {
      return .failure(.malformed("obsolete line folding in a header"))
    }
    while index < end, HTTPFraming.isTokenByte(bytes[index]) { index += 1 }
    guard index > start, index < end, bytes[index] == 0x3A else {
      var lineEnd = index
      while lineEnd < end, bytes[lineEnd] != 0x0D { lineEnd += 1 }
      let hasColon = bytes[index..<lineEnd].contains(0x3A)
      return .failure(.malformed(hasColon ? "invalid header name" : "header line without a colon"))
    }
    let name = start..<index
    index += 1
    while index < end, bytes[index] == 0x20 || bytes[index] == 0x09 { index += 1 }
    let valueStart = index
    while index < end, HTTPFraming.isFieldValueByte(bytes[index]) { index += 1 }
    if index < end, bytes[index] != 0x0D {
      return .failure(
        .malformed(
          "invalid character in the value of header \(String(decoding: bytes[name], as: UTF8.self))"))
    }
    var valueEnd = index
    while valueEnd > valueStart, bytes[valueEnd - 1] == 0x20 || bytes[valueEnd - 1] == 0x09 { valueEnd -= 1 }
    return .success((name, valueStart..<valueEnd, index))
  }

  /// `HTTPFraming.readFields` as it was, on the field lines `lines` (CRLF between them, none after the last).
  static func reference(_ lines: [UInt8], maxFields: Int) -> Outcome {
    var pairs: [Pair] = []
    var index = 0
    var count = 0
    while index < lines.count {
      count += 1
      if count > maxFields { return .tooMany }
      switch referenceSpan(lines, from: index, to: lines.count) {
      case .failure(let violation):
        var rest = index
        while rest < lines.count, lines[rest] != 0x0D { rest += 1 }
        while rest < lines.count {
          if lines[rest] == 0x0D { count += 1 }
          rest += 1
        }
        return count > maxFields ? .tooMany : .violation(violation.message)
      case .success(let span):
        pairs.append(Pair(name: Array(lines[span.name]), value: Array(lines[span.value])))
        index = span.end + 2
      }
    }
    return .fields(pairs)
  }

  /// What the framing fields among `pairs` say, noted by lowercased names: the notes `readFields` must take.
  static func notes(_ pairs: [Pair]) -> HTTPFraming.HeadFields {
    var notes = HTTPFraming.HeadFields()
    var expectSeen = false
    for pair in pairs {
      pair.value.withUnsafeBufferPointer { value in
        switch String(decoding: pair.name, as: UTF8.self).lowercased() {
        case "content-length": notes.contentLength.add(value)
        case "transfer-encoding": notes.transferEncoding.add(value)
        case "connection": notes.connection.add(value)
        case "expect" where !expectSeen:
          expectSeen = true
          notes.expectContinue = String(decoding: value, as: UTF8.self).lowercased() == "100-continue"
        default: break
        }
      }
    }
    return notes
  }

  /// `readFields` on `lines` (within a larger buffer, so that reads past their end would show) as an outcome,
  /// with its notes.
  static func read(_ lines: [UInt8], maxFields: Int) -> (Outcome, HTTPFraming.HeadFields) {
    let padded = Array("GET / HTTP/1.1\r\n".utf8) + lines + Array("\r\n\r\nXXXXXXXX".utf8)
    var fields = HTTPFraming.HeadFields()
    let failure = padded.withUnsafeBufferPointer { buffer in
      HTTPFraming.readFields(
        buffer, from: 16, to: 16 + lines.count, maxFields: maxFields, reserving: min(maxFields, 16), into: &fields)
    }
    switch failure {
    case .tooMany?: return (.tooMany, fields)
    case .violation(let violation)?: return (.violation(violation.message), fields)
    case nil:
      let headers = fields.headers
      let pairs = (0..<headers.count).map { index in
        Pair(name: Array(headers.name(at: index).utf8), value: Array(headers.value(at: index).utf8))
      }
      return (.fields(pairs), fields)
    }
  }

  /// `outcome` with its names and values as `HeaderFieldBytes` gives them: invalid UTF-8 repaired.
  static func repaired(_ outcome: Outcome) -> Outcome {
    guard case .fields(let pairs) = outcome else { return outcome }
    return .fields(
      pairs.map { pair in
        Pair(
          name: Array(String(decoding: pair.name, as: UTF8.self).utf8),
          value: Array(String(decoding: pair.value, as: UTF8.self).utf8))
      })
  }

  // MARK: generated heads

  static let names: [String] = [
    "Host", "content-length", "Content-Length", "CONTENT-LENGTH", "transfer-encoding", "Transfer-Encoding",
    "connection", "Connection", "expect", "Expect", "user-agent", "accept", "content-type", "server", "date",
    "x", "X-Request-Id", "a-very-long-header-name-that-goes-on", "content-lengtH", "content-lengt", "expects",
    "tr!#$%&'*+-.^_`|~", "bad name", "bad(name", "n\u{80}me", "na:me", "", " folded", "\tfolded", "name ",
    "Content-Length ", "nam\u{7F}e",
  ]

  static let values: [String] = [
    "", "0", "12", "00012", "123456789012345678", "1234567890123456789", "12, 12", "12,13", "-1", "+1", "1 2",
    "chunked", "Chunked", "gzip, chunked", "chunked, chunked", "gzip", ", chunked", ",", "chunked ,",
    "close", "keep-alive", "Keep-Alive, close", "upgrade", "100-continue", "100-Continue", "100-continue ",
    "localhost:8080", "application/json", "Mozilla/5.0 (X11; Linux x86_64)", "*/*", "nginx/1.24.0",
    "Fri, 04 Dec 2026 10:00:00 GMT", "caf\u{E9}", "a\tb", "tab\t", "\u{7F}", "a\u{0}b", "a\u{1}b",
    "\u{1F}", "trailing   ", "   leading", "\t\t", String(repeating: "v", count: 300),
  ]

  /// An element of `choices` (never empty) picked by `random`.
  static func pick<T>(_ choices: [T], _ random: inout SeededGenerator) -> T {
    choices[Int.random(in: 0..<choices.count, using: &random)]
  }

  /// One field line (without its CRLF): mostly a name and a value from the lists, sometimes hostile bytes.
  static func line(_ random: inout SeededGenerator) -> [UInt8] {
    let name = Array(Self.pick(names, &random).utf8)
    var value = Array(Self.pick(values, &random).utf8)
    let separators: [String] = [":", ": ", ":\t", ":  \t ", " :", ""]
    let separator = Array((Int.random(in: 0..<10, using: &random) < 7 ? ": " : Self.pick(separators, &random)).utf8)
    if Int.random(in: 0..<8, using: &random) == 0 {
      // A byte anywhere in the value, CR and bare LF excluded (the head scan refuses those first).
      let hostile: [UInt8] = [0x00, 0x01, 0x08, 0x09, 0x0B, 0x1F, 0x20, 0x3A, 0x7F, 0x80, 0xFF, 0x2C]
      value.insert(Self.pick(hostile, &random), at: Int.random(in: 0...value.count, using: &random))
    }
    if Int.random(in: 0..<40, using: &random) == 0 {
      return Array(repeating: UInt8(ascii: "h"), count: Int.random(in: 1..<3000, using: &random))
    }
    return name + separator + value
  }

  /// Field lines joined by CRLF: up to `most` lines.
  static func lines(_ random: inout SeededGenerator, most: Int) -> [UInt8] {
    let count = Int.random(in: 0...most, using: &random)
    var bytes: [UInt8] = []
    for index in 0..<count {
      if index > 0 { bytes += [0x0D, 0x0A] }
      bytes += line(&random)
    }
    return bytes
  }

  // MARK: tests

  /// 4000 generated field sections read as the reference reads them: the same fields or the same refusal, and
  /// the framing notes a reading by lowercased names takes.
  @Test func readFieldsMatchesTheReference() {
    var random = SeededGenerator(state: 0x4EAD)
    for round in 0..<4000 {
      let lines = Self.lines(&random, most: round % 4 == 0 ? 24 : 8)
      let maxFields = [100, 3, 7, .max][round % 4]
      let expected = Self.reference(lines, maxFields: maxFields)
      let (outcome, fields) = Self.read(lines, maxFields: maxFields)
      #expect(outcome == Self.repaired(expected), "\(String(decoding: lines, as: UTF8.self).debugDescription)")
      guard case .fields(let pairs) = expected else { continue }
      let notes = Self.notes(pairs)
      #expect(fields.contentLength.result == notes.contentLength.result)
      #expect(fields.transferEncoding.result == notes.transferEncoding.result)
      #expect(fields.connection == notes.connection)
      #expect(fields.expectContinue == notes.expectContinue)
    }
  }

  /// Heads of 0 to 60 well-formed fields, past the room the first reading has (16), read as the reference
  /// reads them.
  @Test func manyFieldsMatchTheReference() {
    var random = SeededGenerator(state: 0x3A11)
    let good = Array(Self.names.prefix(21))
    let goodValues = Self.values.filter { $0.utf8.allSatisfy(HTTPFraming.isFieldValueByte) }
    var accepted = 0
    for round in 0..<600 {
      var lines: [UInt8] = []
      for index in 0..<(round % 61) {
        if index > 0 { lines += [0x0D, 0x0A] }
        lines += Array("\(Self.pick(good, &random)): \(Self.pick(goodValues, &random))".utf8)
      }
      for maxFields in [.max, 100, 40, 16, 17] {
        let expected = Self.reference(lines, maxFields: maxFields)
        let (outcome, fields) = Self.read(lines, maxFields: maxFields)
        #expect(outcome == Self.repaired(expected))
        guard case .fields(let pairs) = expected else { continue }
        if pairs.count > 16 { accepted += 1 }
        let notes = Self.notes(pairs)
        #expect(fields.contentLength.result == notes.contentLength.result)
        #expect(fields.transferEncoding.result == notes.transferEncoding.result)
        #expect(fields.connection == notes.connection)
        #expect(fields.expectContinue == notes.expectContinue)
      }
    }
    #expect(accepted > 500)
  }

  /// What a request parser fed `bytes` in pieces split at `splits` says, as text to compare.
  static func requestEvents(_ bytes: [UInt8], splits: [Int]) -> [String] {
    var parser = HTTPRequestParser(maxHeaders: 7)
    var events: [String] = []
    var start = 0
    for end in splits + [bytes.count] where end >= start {
      for event in parser.feed(bytes[start..<end]) {
        switch event {
        // Sent only when the head ends a read: where the split falls decides it.
        case .expectContinue: break
        case .request(let request):
          events.append("request \(request.headers.pairs.map { "\($0.name)=\($0.value)" }) \(request.keepAlive)")
        case .error(let error): events.append("error \(error.status) \(error.message)")
        }
      }
      start = end
    }
    return events
  }

  /// What a response parser fed `bytes` in pieces split at `splits` says, as text to compare.
  static func responseEvents(_ bytes: [UInt8], splits: [Int]) -> [String] {
    var parser = HTTPResponseParser()
    var events: [String] = []
    var start = 0
    for end in splits + [bytes.count] where end >= start {
      for event in parser.feed(bytes[start..<end]) {
        switch event {
        case .head(let status, let headers, let keepAlive):
          events.append("head \(status) \(headers.pairs.map { "\($0.name)=\($0.value)" }) \(keepAlive)")
        case .body(let body):
          // Pieces as they arrived: where the split falls decides them, their sum does not.
          if let last = events.last, last.hasPrefix("body "), let count = Int(last.dropFirst(5)) {
            events[events.count - 1] = "body \(count + body.count)"
          } else {
            events.append("body \(body.count)")
          }
        case .end: events.append("end")
        case .error(let message): events.append("error \(message)")
        }
      }
      start = end
    }
    return events + parser.endOfStream().map { "\($0)" }
  }

  /// Generated heads, some with bare CRs and LFs, fed to both parsers whole and split at every point (and at
  /// every pair of points for short ones): the same events each time, and a head the parser accepts has the
  /// reference's fields.
  @Test func parsersReadSplitHeadsAsWholeOnes() {
    var random = SeededGenerator(state: 0x5EED)
    for round in 0..<400 {
      var lines = Self.lines(&random, most: 6)
      if round % 10 == 0, !lines.isEmpty {
        // A bare CR or LF somewhere.
        lines.insert(Self.pick([0x0D, 0x0A], &random), at: Int.random(in: 0..<lines.count, using: &random))
      }
      let separator: [UInt8] = lines.isEmpty ? [] : [0x0D, 0x0A]
      let request = Array("POST /v1 HTTP/1.1\r\n".utf8) + lines + separator + [0x0D, 0x0A] + Array("hello".utf8)
      let response = Array("HTTP/1.1 200 OK\r\n".utf8) + lines + separator + [0x0D, 0x0A] + Array("hello".utf8)
      let wholeRequest = Self.requestEvents(request, splits: [])
      let wholeResponse = Self.responseEvents(response, splits: [])
      if round % 10 != 0, case .fields(let pairs) = Self.reference(lines, maxFields: .max) {
        let texts = pairs.map {
          "\(String(decoding: $0.name, as: UTF8.self))=\(String(decoding: $0.value, as: UTF8.self))"
        }
        if let head = wholeResponse.first, head.hasPrefix("head") { #expect(head.contains("\(texts)")) }
        if let first = wholeRequest.first, first.hasPrefix("request") { #expect(first.contains("\(texts)")) }
      }
      for split in 0...request.count {
        #expect(Self.requestEvents(request, splits: [split]) == wholeRequest)
      }
      for split in 0...response.count {
        #expect(Self.responseEvents(response, splits: [split]) == wholeResponse)
      }
      if response.count < 60 {
        for first in 0...response.count {
          for second in first...response.count {
            #expect(Self.responseEvents(response, splits: [first, second]) == wholeResponse)
          }
        }
      }
    }
  }
}
