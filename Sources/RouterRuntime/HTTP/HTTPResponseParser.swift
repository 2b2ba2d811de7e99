/// The HTTP/1.1 response parser of the upstream client: a pure state machine fed bytes.
///
/// Body bytes come out as they arrive (de-chunked), never buffered to the end.
struct HTTPResponseParser: Sendable {
  enum Event: Sendable, Equatable {
    case head(status: Int, headers: [UpstreamRequest.Header], keepAlive: Bool)
    case body([UInt8])
    case end
    case error(String)
  }

  enum State {
    case head
    case fixed(remaining: Int)
    case chunkSize
    case chunkData(remaining: Int)
    case chunkDataEnd
    /// Reading the trailer section; `bytes` of it were consumed so far.
    case trailers(bytes: Int)
    case untilClose
    case done
    case failed
  }

  private var state = State.head
  private var buffer: [UInt8] = []
  /// Where the search for the end of the current head or line resumes: bytes before it hold none.
  private var scanned = 0
  let maxHeadBytes = 64 * 1024

  /// True once the response ended.
  var isDone: Bool {
    if case .done = state { return true }
    return false
  }

  /// True while no byte of the response has arrived.
  var isAtStart: Bool {
    if case .head = state { return buffer.isEmpty }
    return false
  }

  mutating func feed(_ bytes: some Collection<UInt8>) -> [Event] {
    buffer.append(contentsOf: bytes)
    var events: [Event] = []
    var position = 0
    loop: while true {
      switch state {
      case .done, .failed:
        break loop
      case .head:
        let end: (head: Int, body: Int)
        switch HTTPFraming.scanHead(buffer, start: position, resume: scanned) {
        case .invalid(let message):
          fail(message, &events)
          break loop
        case .incomplete(let resume):
          scanned = resume
          if buffer.count - position > maxHeadBytes { fail("response head too large", &events) }
          break loop
        case .complete(let head, let body):
          end = (head, body)
        }
        if end.head - position > maxHeadBytes {
          fail("response head too large", &events)
          break loop
        }
        let lines = HTTPFraming.lines(buffer[position..<end.head])
        position = end.body
        scanned = position
        switch Self.parseHead(lines) {
        case .failure(let violation):
          fail(violation.message, &events)
          break loop
        case .success(let head):
          if (100..<200).contains(head.status) { continue }  // 100 Continue and friends: the real head follows
          events.append(.head(status: head.status, headers: head.headers, keepAlive: head.keepAlive))
          switch head.framing {
          case .none:
            state = .done
            events.append(.end)
          case .chunked:
            state = .chunkSize
          case .length(let length):
            state = .fixed(remaining: length)
          case .untilClose:
            state = .untilClose
          }
        }
      case .fixed(let remaining):
        let available = min(remaining, buffer.count - position)
        if available == 0 { break loop }
        events.append(.body(Array(buffer[position..<(position + available)])))
        position += available
        scanned = position
        if remaining == available {
          state = .done
          events.append(.end)
        } else {
          state = .fixed(remaining: remaining - available)
        }
      case .chunkSize:
        guard let line = nextLine(from: &position, limit: HTTPFraming.maxChunkLineBytes, &events) else { break loop }
        guard let size = HTTPFraming.chunkSize(line) else {
          fail("malformed chunk size", &events)
          break loop
        }
        state = size == 0 ? .trailers(bytes: 0) : .chunkData(remaining: size)
      case .chunkData(let remaining):
        let available = min(remaining, buffer.count - position)
        if available == 0 { break loop }
        events.append(.body(Array(buffer[position..<(position + available)])))
        position += available
        scanned = position
        state = remaining == available ? .chunkDataEnd : .chunkData(remaining: remaining - available)
      case .chunkDataEnd:
        // The line after the data must be empty: `limit: 0` refuses anything before its CRLF.
        guard nextLine(from: &position, limit: 0, &events) != nil else { break loop }
        state = .chunkSize
      case .trailers(let consumed):
        let start = position
        guard let line = nextLine(from: &position, limit: maxHeadBytes - consumed, &events) else { break loop }
        if line.isEmpty {
          state = .done
          events.append(.end)
        } else if case .failure(let violation) = HTTPFraming.fieldLine(line) {
          fail("trailer: \(violation.message)", &events)
          break loop
        } else {
          state = .trailers(bytes: consumed + (position - start))
        }
      case .untilClose:
        if position < buffer.count { events.append(.body(Array(buffer[position...]))) }
        position = buffer.count
        break loop
      }
    }
    buffer.removeFirst(min(position, buffer.count))
    scanned = max(0, scanned - position)
    return events
  }

  /// The peer closed the connection.
  mutating func endOfStream() -> [Event] {
    switch state {
    case .untilClose:
      state = .done
      return [.end]
    case .done, .failed:
      return []
    default:
      state = .failed
      return [.error("the connection closed before the response was complete")]
    }
  }

  /// The next CRLF-terminated line at `position` (moved past it), or nil when it is incomplete or the parser
  /// failed on a bare CR or LF or a line longer than `limit` bytes.
  private mutating func nextLine(from position: inout Int, limit: Int, _ events: inout [Event]) -> ArraySlice<UInt8>? {
    switch HTTPFraming.scanLine(buffer, resume: max(position, scanned)) {
    case .invalid(let message):
      fail(message, &events)
      return nil
    case .incomplete(let resume):
      scanned = resume
      if resume - position > limit { fail("response line too long or chunk data longer than its size", &events) }
      return nil
    case .complete(let content, let next):
      if content - position > limit {
        fail("response line too long or chunk data longer than its size", &events)
        return nil
      }
      let line = buffer[position..<content]
      position = next
      scanned = next
      return line
    }
  }

  private mutating func fail(_ message: String, _ events: inout [Event]) {
    state = .failed
    events.append(.error(message))
  }

  /// How the body of a response is delimited.
  enum BodyFraming: Equatable {
    case none
    case length(Int)
    case chunked
    case untilClose
  }

  /// A parsed response head.
  struct Head: Equatable {
    var status: Int
    var headers: [UpstreamRequest.Header]
    var keepAlive: Bool
    var framing: BodyFraming
  }

  /// Reads a status line `HTTP/1.x SP 3DIGIT [SP reason]` and its field lines, and decides the framing
  /// (RFC 9112 6.3): no body for 1xx, 204 and 304; else chunked, then Content-Length, then until close.
  static func parseHead(_ lines: [ArraySlice<UInt8>]) -> Result<Head, HTTPFramingViolation> {
    guard let statusLine = lines.first else { return .failure(.malformed("empty response head")) }
    let parts = statusLine.split(separator: HTTPFraming.space, maxSplits: 2, omittingEmptySubsequences: false)
    let isDigit = { (byte: UInt8) in (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }
    guard parts.count >= 2,
      parts[0].elementsEqual("HTTP/1.1".utf8) || parts[0].elementsEqual("HTTP/1.0".utf8),
      parts[1].count == 3, parts[1].allSatisfy(isDigit),
      parts.count == 2 || parts[2].allSatisfy(HTTPFraming.isFieldValueByte)
    else { return .failure(.malformed("malformed status line")) }
    let status = parts[1].reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
    guard (100...599).contains(status) else { return .failure(.malformed("malformed status line")) }
    let isHTTP10 = parts[0].elementsEqual("HTTP/1.0".utf8)
    var headers: [UpstreamRequest.Header] = []
    for line in lines.dropFirst() {
      switch HTTPFraming.fieldLine(line) {
      case .failure(let violation): return .failure(violation)
      case .success(let field): headers.append(.init(name: field.name, value: field.value))
      }
    }
    let values = { (name: String) in headers.filter { FieldName.equal($0.name, name) }.map(\.value) }
    var close = !ConnectionOptions(values("connection")).persists(persistentByDefault: !isHTTP10)
    let transferEncoding = values("transfer-encoding")
    if !transferEncoding.isEmpty, isHTTP10 {
      return .failure(.malformed("Transfer-Encoding in an HTTP/1.0 response"))
    }
    let chunked: Bool
    switch HTTPFraming.isChunked(transferEncoding) {
    case .failure(let violation): return .failure(violation)
    case .success(let value): chunked = value
    }
    let length: Int?
    switch HTTPFraming.contentLength(values("content-length")) {
    case .failure(let violation): return .failure(violation)
    case .success(let value): length = value
    }
    let framing: BodyFraming
    if (100..<200).contains(status) || status == 204 || status == 304 {
      framing = .none
    } else if chunked {
      // RFC 9112 6.3: Transfer-Encoding overrides a Content-Length sent with it; such a response may be an
      // attack, so its connection is not reused.
      if length != nil { close = true }
      framing = .chunked
    } else if let length {
      framing = length == 0 ? .none : .length(length)
    } else {
      close = true
      framing = .untilClose
    }
    return .success(Head(status: status, headers: headers, keepAlive: !close, framing: framing))
  }
}
