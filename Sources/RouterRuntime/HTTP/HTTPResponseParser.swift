import RouteSpec

/// The HTTP/1.1 response parser of the upstream client: a pure state machine fed bytes.
///
/// Body bytes come out as they arrive (de-chunked), never buffered to the end.
public struct HTTPResponseParser: Sendable {
  /// What bytes completed: the head (after any 1xx heads), a piece of the body, its end, or why it failed.
  public enum Event: Sendable, Equatable {
    case head(status: Int, headers: UpstreamHeaders, keepAlive: Bool)
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

  /// A parser waiting for a response's first byte.
  public init() {}

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

  /// Feeds bytes; returns the events they completed.
  public mutating func feed(_ bytes: some Collection<UInt8>) -> [Event] {
    var events: [Event] = []
    // A whole answer is a head, a body piece and its end: room for them at once, not three reallocations.
    events.reserveCapacity(4)
    feed(bytes, into: &events)
    return events
  }

  /// Feeds bytes; appends the events they completed to `events` (a caller's buffer, kept from read to read, so
  /// that no array is allocated per read).
  mutating func feed(_ bytes: some Collection<UInt8>, into events: inout [Event]) {
    switch state {
    case .done, .failed: return
    default: break
    }
    // With nothing buffered the bytes are parsed where they are (a body piece is copied once, into its
    // event), and only what is left over is kept.
    if buffer.isEmpty,
      bytes.withContiguousStorageIfAvailable({ (input: UnsafeBufferPointer<UInt8>) -> Void in
        let consumed = consume(input, into: &events)
        keep(input, after: consumed)
      }) != nil
    {
      return
    }
    buffer.append(contentsOf: bytes)
    var input: [UInt8] = []
    swap(&input, &buffer)
    input.withUnsafeBufferPointer { input in
      let consumed = consume(input, into: &events)
      keep(input, after: consumed)
    }
  }

  /// Buffers the bytes of `input` after `consumed` unless the response is over.
  private mutating func keep(_ input: UnsafeBufferPointer<UInt8>, after consumed: Int) {
    switch state {
    case .done, .failed:
      buffer = []
      scanned = 0
    default:
      buffer = Array(UnsafeBufferPointer(rebasing: input[consumed...]))
      scanned = max(0, scanned - consumed)
    }
  }

  /// Parses `input` (the buffered bytes and the new ones) as far as it goes; returns how many bytes it used.
  /// `scanned` counts from the start of `input`.
  private mutating func consume(_ input: UnsafeBufferPointer<UInt8>, into events: inout [Event]) -> Int {
    var position = 0
    loop: while true {
      switch state {
      case .done, .failed:
        break loop
      case .head:
        let end: (head: Int, body: Int)
        switch HTTPFraming.scanHead(input, start: position, resume: scanned) {
        case .invalid(let message):
          fail(message, &events)
          break loop
        case .incomplete(let resume):
          scanned = resume
          if input.count - position > maxHeadBytes { fail("response head too large", &events) }
          break loop
        case .complete(let head, let body):
          end = (head, body)
        }
        if end.head - position > maxHeadBytes {
          fail("response head too large", &events)
          break loop
        }
        let headStart = position
        position = end.body
        scanned = position
        switch Self.parseHead(input, from: headStart, to: end.head) {
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
        let available = min(remaining, input.count - position)
        if available == 0 { break loop }
        events.append(.body(Array(UnsafeBufferPointer(rebasing: input[position..<(position + available)]))))
        position += available
        scanned = position
        if remaining == available {
          state = .done
          events.append(.end)
        } else {
          state = .fixed(remaining: remaining - available)
        }
      case .chunkSize:
        guard let line = nextLine(input, from: &position, limit: HTTPFraming.maxChunkLineBytes, &events) else {
          break loop
        }
        guard let size = HTTPFraming.chunkSize(UnsafeBufferPointer(rebasing: input[line])) else {
          fail("malformed chunk size", &events)
          break loop
        }
        state = size == 0 ? .trailers(bytes: 0) : .chunkData(remaining: size)
      case .chunkData(let remaining):
        let available = min(remaining, input.count - position)
        if available == 0 { break loop }
        events.append(.body(Array(UnsafeBufferPointer(rebasing: input[position..<(position + available)]))))
        position += available
        scanned = position
        state = remaining == available ? .chunkDataEnd : .chunkData(remaining: remaining - available)
      case .chunkDataEnd:
        // The line after the data must be empty: `limit: 0` refuses anything before its CRLF.
        guard nextLine(input, from: &position, limit: 0, &events) != nil else { break loop }
        state = .chunkSize
      case .trailers(let consumed):
        let start = position
        guard let line = nextLine(input, from: &position, limit: maxHeadBytes - consumed, &events) else {
          break loop
        }
        if line.isEmpty {
          state = .done
          events.append(.end)
        } else if case .failure(let violation) = HTTPFraming.fieldSpan(line: UnsafeBufferPointer(rebasing: input[line]))
        {
          fail("trailer: \(violation.message)", &events)
          break loop
        } else {
          state = .trailers(bytes: consumed + (position - start))
        }
      case .untilClose:
        if position < input.count { events.append(.body(Array(UnsafeBufferPointer(rebasing: input[position...])))) }
        position = input.count
        break loop
      }
    }
    return position
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

  /// Where the next CRLF-terminated line at `position` of `input` is (`position` moved past it), or nil when
  /// it is incomplete or the parser failed on a bare CR or LF or a line longer than `limit` bytes.
  private mutating func nextLine(
    _ input: UnsafeBufferPointer<UInt8>, from position: inout Int, limit: Int, _ events: inout [Event]
  ) -> Range<Int>? {
    switch HTTPFraming.scanLine(input, resume: max(position, scanned)) {
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
      let line = position..<content
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
    var headers: UpstreamHeaders
    var keepAlive: Bool
    var framing: BodyFraming
  }

  /// The code (100 to 599) of the status line `line`, `HTTP/1.x SP 3DIGIT [SP reason]` with a reason of
  /// `isFieldValueByte` bytes only, and whether its version is 1.0; nil when it is not one.
  static func statusLine(_ line: UnsafeBufferPointer<UInt8>) -> (status: Int, isHTTP10: Bool)? {
    // Every part at its one place (the version holds no SP, so its SP is the first), checked there: no search
    // for the spaces, then slices of what lies between them.
    guard line.count >= 12, line[8] == HTTPFraming.space, line.count == 12 || line[12] == HTTPFraming.space else {
      return nil
    }
    let version = UnsafeBufferPointer(rebasing: line[0..<8])
    let isHTTP10 = version.holds(exactly: "HTTP/1.0")
    guard isHTTP10 || version.holds(exactly: "HTTP/1.1") else { return nil }
    var status = 0
    for index in 9..<12 {
      // Wrapping: a byte below `0` becomes 246 or more, no digit either.
      let digit = line[index] &- UInt8(ascii: "0")
      guard digit < 10 else { return nil }
      status = status * 10 + Int(digit)
    }
    guard (100...599).contains(status) else { return nil }
    for index in 13..<max(13, line.count) where !HTTPFraming.isFieldValueByte(line[index]) { return nil }
    return (status, isHTTP10)
  }

  /// Reads the head `start..<end` of `bytes` (lines between CRLFs, none after the last) in one pass: a status
  /// line `HTTP/1.x SP 3DIGIT [SP reason]` and its field lines, and decides the framing (RFC 9112 6.3): no body
  /// for 1xx, 204 and 304; else chunked, then Content-Length, then until close.
  static func parseHead(
    _ bytes: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int
  ) -> Result<Head, HTTPFramingViolation> {
    guard start < end else { return .failure(.malformed("empty response head")) }
    let lineEnd = HTTPFraming.lineEnd(bytes, from: start, to: end)
    guard let parsed = statusLine(UnsafeBufferPointer(rebasing: bytes[start..<lineEnd])) else {
      return .failure(.malformed("malformed status line"))
    }
    let (status, isHTTP10) = parsed
    var fields = HTTPFraming.HeadFields()
    // Room for a typical head's fields at once, rather than one allocation per doubling.
    switch HTTPFraming.readFields(
      bytes, from: lineEnd < end ? lineEnd + 2 : end, to: end, maxFields: .max, reserving: 16, into: &fields)
    {
    case .tooMany?: return .failure(.malformed("too many header fields"))
    case .violation(let violation)?: return .failure(violation)
    case nil: break
    }
    var close = !fields.connection.persists(persistentByDefault: !isHTTP10)
    if fields.transferEncoding.isPresent, isHTTP10 {
      return .failure(.malformed("Transfer-Encoding in an HTTP/1.0 response"))
    }
    let chunked: Bool
    switch fields.transferEncoding.result {
    case .failure(let violation): return .failure(violation)
    case .success(let value): chunked = value
    }
    let length: Int?
    switch fields.contentLength.result {
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
    return .success(
      Head(status: status, headers: UpstreamHeaders(fields: fields.headers), keepAlive: !close, framing: framing))
  }
}
