import RouteSpec

/// A parse failure, with the status to answer.
public struct HTTPParseError: Error, Sendable, Equatable {
  /// 400, 408, 413, 431, 501 or 505.
  public let status: Int
  /// What was wrong.
  public let message: String

  /// The answer's body: a Gemini error whose message is this one, serialised by the JSON writer so that
  /// client text in the message (quotes, backslashes, control characters) can never break the JSON.
  var geminiError: GeminiError {
    let rpc: RPCCode =
      switch status {
      case 408: .deadlineExceeded
      case 500...: .unimplemented
      default: .invalidArgument
      }
    return GeminiError(rpc, message: message, httpStatus: status)
  }
}

/// The HTTP/1.x request parser: a pure state machine fed bytes, no I/O.
///
/// `feed` consumes every byte it is given and returns what became complete: whole requests
/// (head and de-chunked body), a request for `100 Continue`, or an error after which the parser
/// accepts nothing more. Pipelined requests come out one after the other.
public struct HTTPRequestParser: Sendable {
  /// Something the connection must act on.
  public enum Event: Sendable {
    /// The client sent `Expect: 100-continue` and waits for it before sending the body.
    case expectContinue
    /// A whole request.
    case request(HTTPRequest)
    /// A malformed or oversized request; answer with the status and close.
    case error(HTTPParseError)
  }

  enum State {
    case head
    case fixedBody(remaining: Int)
    case chunkSize
    case chunkData(remaining: Int)
    case chunkDataEnd
    /// Reading the trailer section; `bytes` of it were consumed so far.
    case trailers(bytes: Int)
    case failed
  }

  /// How far the parser is into the next request (what the connection's deadline depends on).
  public enum Progress: Sendable, Equatable {
    /// No byte of a next request yet (stray empty lines between requests do not count).
    case idle
    /// Part of a request head.
    case head
    /// The head is complete, the body is not.
    case body
  }

  let maxHeadBytes: Int
  let maxHeaders: Int
  let maxBodyBytes: Int
  private var state: State = .head
  private var buffer: [UInt8] = []
  /// Where the search for the end of the current head or line resumes: bytes before it hold none.
  private var scanned = 0
  private var pending: HTTPRequest?
  private var body: [UInt8] = []

  /// Creates a parser with the server's limits.
  public init(maxHeadBytes: Int = 64 * 1024, maxHeaders: Int = 100, maxBodyBytes: Int = 20 * 1024 * 1024) {
    self.maxHeadBytes = maxHeadBytes
    self.maxHeaders = maxHeaders
    self.maxBodyBytes = maxBodyBytes
  }

  /// How far the parser is into the next request.
  public var progress: Progress {
    switch state {
    case .head: buffer.isEmpty ? .idle : .head
    case .fixedBody, .chunkSize, .chunkData, .chunkDataEnd, .trailers, .failed: .body
    }
  }

  /// What one feed completed, in order. The first event is held in place, the rest in an array: nearly every
  /// read completes at most one request, and an array of events cost an allocation per request.
  public struct Events: Sendable, Sequence {
    private var first: Event?
    private var rest: [Event] = []

    /// No events.
    public init() {}

    mutating func append(_ event: Event) {
      if first == nil { first = event } else { rest.append(event) }
    }

    /// Yields the first event, then the rest.
    public struct Iterator: IteratorProtocol {
      var first: Event?
      var rest: IndexingIterator<[Event]>

      public mutating func next() -> Event? {
        if let event = first.take() { return event }
        return rest.next()
      }
    }

    public func makeIterator() -> Iterator { Iterator(first: first, rest: rest.makeIterator()) }
  }

  /// Feeds bytes; returns the events they completed.
  public mutating func feed(_ bytes: some Collection<UInt8>) -> [Event] {
    var events = Events()
    feed(bytes, into: &events)
    return Array(events)
  }

  /// Feeds bytes; adds the events they completed to `events`.
  public mutating func feed(_ bytes: some Collection<UInt8>, into events: inout Events) {
    if case .failed = state { return }
    // With nothing buffered the bytes are parsed where they are, and only what is left over is kept.
    if buffer.isEmpty,
      bytes.withContiguousStorageIfAvailable({ (input: UnsafeBufferPointer<UInt8>) -> Void in
        let consumed = consume(input, into: &events)
        if case .failed = state { return }
        buffer.append(contentsOf: UnsafeBufferPointer(rebasing: input[consumed...]))
        scanned = max(0, scanned - consumed)
      }) != nil
    {
      return
    }
    buffer.append(contentsOf: bytes)
    var input: [UInt8] = []
    swap(&input, &buffer)
    let consumed = input.withUnsafeBufferPointer { consume($0, into: &events) }
    if case .failed = state { return }
    input.removeFirst(consumed)
    buffer = input
    scanned = max(0, scanned - consumed)
  }

  /// Parses `input` (the buffered bytes and the new ones) as far as it goes; returns how many bytes it used.
  /// `scanned` counts from the start of `input`.
  private mutating func consume(_ input: UnsafeBufferPointer<UInt8>, into events: inout Events) -> Int {
    var position = 0
    loop: while true {
      switch state {
      case .failed:
        break loop
      case .head:
        // RFC 9112 2.2: empty lines before a request line are ignored.
        while position + 1 < input.count, input[position] == HTTPFraming.cr, input[position + 1] == HTTPFraming.lf {
          position += 2
        }
        let end: (head: Int, body: Int)
        switch HTTPFraming.scanHead(input, start: position, resume: scanned) {
        case .invalid(let message):
          fail(400, message, into: &events)
          break loop
        case .incomplete(let resume):
          scanned = resume
          if input.count - position > maxHeadBytes {
            fail(431, "request line and headers exceed \(maxHeadBytes) bytes", into: &events)
          }
          break loop
        case .complete(let head, let body):
          end = (head, body)
        }
        if end.head - position > maxHeadBytes {
          fail(431, "request line and headers exceed \(maxHeadBytes) bytes", into: &events)
          break loop
        }
        let headStart = position
        position = end.body
        scanned = position
        switch parseHead(input, from: headStart, to: end.head) {
        case .failure(let error):
          fail(error.status, error.message, into: &events)
          break loop
        case .success(let (request, framing, expectContinue)):
          pending = request
          body = []
          switch framing {
          case .none:
            finishRequest(into: &events)
          case .length(let length):
            if length > maxBodyBytes {
              fail(413, "request body of \(length) bytes exceeds the limit of \(maxBodyBytes)", into: &events)
              break loop
            }
            if expectContinue, input.count == position { events.append(.expectContinue) }
            if length == 0 { finishRequest(into: &events) } else { state = .fixedBody(remaining: length) }
          case .chunked:
            if expectContinue, input.count == position { events.append(.expectContinue) }
            state = .chunkSize
          }
        }
      case .fixedBody(let remaining):
        let available = min(remaining, input.count - position)
        if available == 0 { break loop }
        let piece = UnsafeBufferPointer(rebasing: input[position..<(position + available)])
        // A body that arrived whole is copied once, at its size.
        if body.isEmpty { body = Array(piece) } else { body.append(contentsOf: piece) }
        position += available
        scanned = position
        if remaining - available == 0 {
          finishRequest(into: &events)
        } else {
          state = .fixedBody(remaining: remaining - available)
        }
      case .chunkSize:
        guard
          let line = nextLine(
            input, from: &position, limit: HTTPFraming.maxChunkLineBytes, tooLong: (400, "chunk size line too long"),
            into: &events)
        else {
          break loop
        }
        guard let size = HTTPFraming.chunkSize(UnsafeBufferPointer(rebasing: input[line])) else {
          fail(400, "malformed chunk size", into: &events)
          break loop
        }
        if size == 0 {
          state = .trailers(bytes: 0)
        } else if size > maxBodyBytes - body.count {
          fail(413, "request body exceeds the limit of \(maxBodyBytes) bytes", into: &events)
          break loop
        } else {
          state = .chunkData(remaining: size)
        }
      case .chunkData(let remaining):
        let available = min(remaining, input.count - position)
        if available == 0 { break loop }
        body.append(contentsOf: UnsafeBufferPointer(rebasing: input[position..<(position + available)]))
        position += available
        scanned = position
        state = remaining - available == 0 ? .chunkDataEnd : .chunkData(remaining: remaining - available)
      case .chunkDataEnd:
        // The line after the data must be empty: `limit: 0` refuses anything before its CRLF.
        guard
          nextLine(
            input, from: &position, limit: 0, tooLong: (400, "chunk data longer than its size"), into: &events)
            != nil
        else { break loop }
        state = .chunkSize
      case .trailers(let consumed):
        let start = position
        guard
          let line = nextLine(
            input, from: &position, limit: maxHeadBytes - consumed,
            tooLong: (431, "trailers exceed \(maxHeadBytes) bytes"), into: &events)
        else {
          break loop
        }
        if line.isEmpty {
          finishRequest(into: &events)
        } else if case .failure(let violation) = HTTPFraming.fieldSpan(line: UnsafeBufferPointer(rebasing: input[line]))
        {
          fail(400, "trailer: \(violation.message)", into: &events)
          break loop
        } else {
          state = .trailers(bytes: consumed + (position - start))
        }
      }
    }
    return position
  }

  /// Where the next CRLF-terminated line at `position` of `input` is (`position` moved past it), or nil when
  /// it is incomplete or the parser failed: a bare CR or LF is a 400, a line longer than `limit` bytes the
  /// `tooLong` error.
  private mutating func nextLine(
    _ input: UnsafeBufferPointer<UInt8>, from position: inout Int, limit: Int,
    tooLong: (status: Int, message: String), into events: inout Events
  ) -> Range<Int>? {
    switch HTTPFraming.scanLine(input, resume: max(position, scanned)) {
    case .invalid(let message):
      fail(400, message, into: &events)
      return nil
    case .incomplete(let resume):
      scanned = resume
      if resume - position > limit { fail(tooLong.status, tooLong.message, into: &events) }
      return nil
    case .complete(let content, let next):
      if content - position > limit {
        fail(tooLong.status, tooLong.message, into: &events)
        return nil
      }
      let line = position..<content
      position = next
      scanned = next
      return line
    }
  }

  private mutating func fail(_ status: Int, _ message: String, into events: inout Events) {
    state = .failed
    buffer = []
    scanned = 0
    events.append(.error(HTTPParseError(status: status, message: message)))
  }

  private mutating func finishRequest(into events: inout Events) {
    // Taken, not copied: the request is then the only owner of its storage, and setting its body does not copy it.
    if var request = pending.take() {
      request.body = body
      events.append(.request(request))
    }
    body = []
    state = .head
  }

  enum BodyFraming {
    case none
    case length(Int)
    case chunked
  }

  /// True when every byte of `bytes` is visible ASCII (`!` to `~`), read eight at a time.
  static func isVisibleASCII(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
    let index = ByteWord.skipUnmarked(UnsafeRawBufferPointer(bytes), from: 0, to: bytes.count) { word in
      // Below `!`, DEL, or at or above 0x80.
      ByteWord.below(word, 0x21) | ByteWord.equal(word, 0x7F) | (word & ByteWord.highBits)
    }
    return UnsafeBufferPointer(rebasing: bytes[index...]).allSatisfy { (0x21...0x7E).contains($0) }
  }

  /// Reads the head `start..<end` of `bytes` (lines between CRLFs, none after the last) in one pass: the
  /// request line, then each field line, whose name and value become Strings once.
  private func parseHead(
    _ bytes: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int
  ) -> Result<(HTTPRequest, BodyFraming, Bool), HTTPParseError> {
    guard start < end else { return .failure(HTTPParseError(status: 400, message: "empty request")) }
    // request-line = method SP request-target SP HTTP-version, with exactly one SP between the parts.
    var lineEnd = start
    var spaceCount = 0
    var firstSpace = start
    var secondSpace = start
    let raw = UnsafeRawBufferPointer(bytes)
    while lineEnd < end {
      // Eight bytes at a time up to the next SP or CR: a request line is mostly its target.
      lineEnd = ByteWord.skipUnmarked(raw, from: lineEnd, to: end) {
        ByteWord.equal($0, HTTPFraming.space) | ByteWord.equal($0, HTTPFraming.cr)
      }
      guard lineEnd < end, bytes[lineEnd] != HTTPFraming.cr else { break }
      if bytes[lineEnd] == HTTPFraming.space {
        spaceCount += 1
        if spaceCount == 1 { firstSpace = lineEnd } else if spaceCount == 2 { secondSpace = lineEnd }
      }
      lineEnd += 1
    }
    guard spaceCount == 2 else { return .failure(HTTPParseError(status: 400, message: "malformed request line")) }
    let methodBytes = UnsafeBufferPointer(rebasing: bytes[start..<firstSpace])
    guard HTTPFraming.isToken(methodBytes) else {
      return .failure(HTTPParseError(status: 400, message: "malformed method"))
    }
    // Origin form or `*`: visible ASCII only (anything else must be percent-encoded).
    let targetBytes = UnsafeBufferPointer(rebasing: bytes[(firstSpace + 1)..<secondSpace])
    guard targetBytes.first == UInt8(ascii: "/") || (targetBytes.count == 1 && targetBytes[0] == UInt8(ascii: "*")),
      Self.isVisibleASCII(targetBytes)
    else {
      return .failure(HTTPParseError(status: 400, message: "request target must be a path"))
    }
    let versionBytes = UnsafeBufferPointer(rebasing: bytes[(secondSpace + 1)..<lineEnd])
    let version: HTTPVersion
    if versionBytes.holds(exactly: "HTTP/1.1") {
      version = .http11
    } else if versionBytes.holds(exactly: "HTTP/1.0") {
      version = .http10
    } else {
      // HTTP-version = "HTTP/" DIGIT "." DIGIT: a well-formed other version is unsupported, anything else malformed.
      let isDigit = { (byte: UInt8) in (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }
      let text = Array(versionBytes)
      if text.count == 8, text.starts(with: Array("HTTP/".utf8)), isDigit(text[5]), text[6] == UInt8(ascii: "."),
        isDigit(text[7])
      {
        let other = String(decoding: text, as: UTF8.self)
        return .failure(HTTPParseError(status: 505, message: "\(other) is not supported"))
      }
      return .failure(HTTPParseError(status: 400, message: "malformed protocol version"))
    }
    // The usual methods as literals: no bytes to check and copy.
    let method =
      if methodBytes.holds(exactly: "POST") {
        "POST"
      } else if methodBytes.holds(exactly: "GET") {
        "GET"
      } else {
        String(decoding: methodBytes, as: UTF8.self)
      }
    let target = String(decoding: targetBytes, as: UTF8.self)
    var fields = HTTPFraming.HeadFields()
    // Room for a typical head's fields at once, rather than one allocation per doubling.
    switch HTTPFraming.readFields(
      bytes, from: lineEnd < end ? lineEnd + 2 : end, to: end, maxFields: maxHeaders, reserving: min(maxHeaders, 16),
      into: &fields)
    {
    case .tooMany?:
      return .failure(HTTPParseError(status: 431, message: "more than \(maxHeaders) header fields"))
    case .violation(let violation)?:
      return .failure(HTTPParseError(status: 400, message: violation.message))
    case nil:
      break
    }
    let keepAlive = fields.connection.persists(persistentByDefault: version == .http11)
    let framing: BodyFraming
    switch (fields.transferEncoding.result, fields.contentLength.result) {
    case (.failure(let violation), _):
      return .failure(
        HTTPParseError(status: violation.kind == .unsupportedCoding ? 501 : 400, message: violation.message))
    case (_, .failure(let violation)):
      return .failure(HTTPParseError(status: 400, message: violation.message))
    case (.success(true), .success(let length)):
      // RFC 9112 6.1: Transfer-Encoding with Content-Length, or in an HTTP/1.0 message, is faulty framing.
      guard length == nil else {
        return .failure(HTTPParseError(status: 400, message: "both Transfer-Encoding and Content-Length"))
      }
      guard version == .http11 else {
        return .failure(HTTPParseError(status: 400, message: "Transfer-Encoding in an HTTP/1.0 request"))
      }
      framing = .chunked
    case (.success(false), .success(let length)):
      framing = length.map { .length($0) } ?? .none
    }
    let request = HTTPRequest(
      method: method, target: target, version: version, headers: HTTPHeaders(fields: fields.headers),
      keepAlive: keepAlive)
    return .success((request, framing, fields.expectContinue))
  }
}
