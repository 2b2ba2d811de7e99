/// A parse failure, with the status to answer.
public struct HTTPParseError: Error, Sendable, Equatable {
  /// 400, 408, 413, 431, 501 or 505.
  public let status: Int
  /// What was wrong.
  public let message: String
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
    case trailers
    case failed
  }

  let maxHeadBytes: Int
  let maxHeaders: Int
  let maxBodyBytes: Int
  private var state: State = .head
  private var buffer: [UInt8] = []
  private var scanned = 0
  private var pending: HTTPRequest?
  private var body: [UInt8] = []

  /// Creates a parser with the server's limits.
  public init(maxHeadBytes: Int = 64 * 1024, maxHeaders: Int = 100, maxBodyBytes: Int = 20 * 1024 * 1024) {
    self.maxHeadBytes = maxHeadBytes
    self.maxHeaders = maxHeaders
    self.maxBodyBytes = maxBodyBytes
  }

  /// True while no byte of a next request has arrived (for idle timeouts).
  public var isIdle: Bool {
    if case .head = state { return buffer.isEmpty }
    return false
  }

  /// True while a head is partly received.
  public var isReadingHead: Bool {
    if case .head = state { return !buffer.isEmpty }
    return false
  }

  /// Feeds bytes; returns the events they completed.
  public mutating func feed(_ bytes: some Collection<UInt8>) -> [Event] {
    if case .failed = state { return [] }
    buffer.append(contentsOf: bytes)
    var events: [Event] = []
    var position = 0
    loop: while true {
      switch state {
      case .failed:
        break loop
      case .head:
        guard let end = buffer.httpHeadEnd(from: max(position, scanned)) else {
          scanned = max(position, buffer.count - 3)
          if buffer.count - position > maxHeadBytes {
            fail(431, "request line and headers exceed \(maxHeadBytes) bytes", into: &events)
          }
          break loop
        }
        if end.head - position > maxHeadBytes {
          fail(431, "request line and headers exceed \(maxHeadBytes) bytes", into: &events)
          break loop
        }
        let headBytes = buffer[position..<end.head]
        position = end.body
        scanned = position
        switch parseHead(headBytes) {
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
            if expectContinue, buffer.count == position { events.append(.expectContinue) }
            if length == 0 { finishRequest(into: &events) } else { state = .fixedBody(remaining: length) }
          case .chunked:
            if expectContinue, buffer.count == position { events.append(.expectContinue) }
            state = .chunkSize
          }
        }
      case .fixedBody(let remaining):
        let available = min(remaining, buffer.count - position)
        if available == 0 { break loop }
        body.append(contentsOf: buffer[position..<(position + available)])
        position += available
        if remaining - available == 0 {
          finishRequest(into: &events)
        } else {
          state = .fixedBody(remaining: remaining - available)
        }
      case .chunkSize:
        guard let lineEnd = buffer.httpLineEnd(from: position) else {
          if buffer.count - position > 1024 { fail(400, "chunk size line too long", into: &events) }
          break loop
        }
        let line = buffer[position..<lineEnd.content]
        position = lineEnd.next
        let sizeText = line.prefix { $0 != UInt8(ascii: ";") }.filter { $0 != UInt8(ascii: " ") && $0 != 0x09 }
        guard !sizeText.isEmpty, sizeText.count <= 15,
          let size = Int(String(decoding: sizeText, as: UTF8.self), radix: 16)
        else {
          fail(400, "malformed chunk size", into: &events)
          break loop
        }
        if size == 0 {
          state = .trailers
        } else if body.count + size > maxBodyBytes {
          fail(413, "request body exceeds the limit of \(maxBodyBytes) bytes", into: &events)
          break loop
        } else {
          state = .chunkData(remaining: size)
        }
      case .chunkData(let remaining):
        let available = min(remaining, buffer.count - position)
        if available == 0 { break loop }
        body.append(contentsOf: buffer[position..<(position + available)])
        position += available
        state = remaining - available == 0 ? .chunkDataEnd : .chunkData(remaining: remaining - available)
      case .chunkDataEnd:
        guard let lineEnd = buffer.httpLineEnd(from: position) else {
          if buffer.count - position >= 2 { fail(400, "chunk data not followed by CRLF", into: &events) }
          break loop
        }
        guard lineEnd.content == position else {
          fail(400, "chunk data longer than its size", into: &events)
          break loop
        }
        position = lineEnd.next
        state = .chunkSize
      case .trailers:
        guard let lineEnd = buffer.httpLineEnd(from: position) else {
          if buffer.count - position > maxHeadBytes { fail(431, "trailers too large", into: &events) }
          break loop
        }
        let empty = lineEnd.content == position
        position = lineEnd.next
        if empty { finishRequest(into: &events) }
      }
    }
    if position > 0 {
      buffer.removeFirst(min(position, buffer.count))
      scanned = max(0, scanned - position)
    }
    return events
  }

  private mutating func fail(_ status: Int, _ message: String, into events: inout [Event]) {
    state = .failed
    buffer = []
    events.append(.error(HTTPParseError(status: status, message: message)))
  }

  private mutating func finishRequest(into events: inout [Event]) {
    if var request = pending {
      request.body = body
      events.append(.request(request))
    }
    pending = nil
    body = []
    state = .head
  }

  enum BodyFraming {
    case none
    case length(Int)
    case chunked
  }

  private func parseHead(_ bytes: ArraySlice<UInt8>) -> Result<(HTTPRequest, BodyFraming, Bool), HTTPParseError> {
    var lines = bytes.split(separator: 0x0A, omittingEmptySubsequences: false).map { line in
      line.last == 0x0D ? line.dropLast() : line
    }
    while lines.first?.isEmpty == true { lines.removeFirst() }  // tolerate a stray CRLF before a request
    guard let requestLine = lines.first else { return .failure(HTTPParseError(status: 400, message: "empty request")) }
    let parts = requestLine.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: true)
    guard parts.count == 3 else { return .failure(HTTPParseError(status: 400, message: "malformed request line")) }
    let method = String(decoding: parts[0], as: UTF8.self)
    let target = String(decoding: parts[1], as: UTF8.self)
    let versionText = String(decoding: parts[2], as: UTF8.self)
    guard method.utf8.allSatisfy({ (65...90).contains($0) }), !method.isEmpty else {
      return .failure(HTTPParseError(status: 400, message: "malformed method"))
    }
    guard target.hasPrefix("/") || target == "*" else {
      return .failure(HTTPParseError(status: 400, message: "request target must be a path"))
    }
    let version: HTTPVersion
    switch versionText {
    case "HTTP/1.1": version = .http11
    case "HTTP/1.0": version = .http10
    default:
      if versionText.hasPrefix("HTTP/") {
        return .failure(HTTPParseError(status: 505, message: "\(versionText) is not supported"))
      }
      return .failure(HTTPParseError(status: 400, message: "malformed protocol version"))
    }
    var headers = HTTPHeaders()
    let headerLines = lines.dropFirst().filter { !$0.isEmpty }
    if headerLines.count > maxHeaders {
      return .failure(HTTPParseError(status: 431, message: "more than \(maxHeaders) header fields"))
    }
    for line in headerLines {
      guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > line.startIndex else {
        return .failure(HTTPParseError(status: 400, message: "malformed header line"))
      }
      let nameBytes = line[line.startIndex..<colon]
      if nameBytes.contains(where: { $0 == 0x20 || $0 == 0x09 }) {
        return .failure(HTTPParseError(status: 400, message: "whitespace in a header name"))
      }
      let valueBytes = line[line.index(after: colon)...].drop { $0 == 0x20 || $0 == 0x09 }
      var value = String(decoding: valueBytes, as: UTF8.self)
      while value.last == " " || value.last == "\t" { value.removeLast() }
      headers.append(name: String(decoding: nameBytes, as: UTF8.self), value: value)
    }
    let connection = (headers["connection"] ?? "").lowercased()
    let keepAlive =
      version == .http11 ? !connection.contains("close") : connection.contains("keep-alive")
    let transferEncoding = headers["transfer-encoding"]?.lowercased()
    let lengths = headers.values(for: "content-length")
    var framing = BodyFraming.none
    if let transferEncoding {
      guard lengths.isEmpty else {
        return .failure(HTTPParseError(status: 400, message: "both Transfer-Encoding and Content-Length"))
      }
      guard transferEncoding.trimmingSpaces() == "chunked" else {
        return .failure(HTTPParseError(status: 501, message: "transfer coding '\(transferEncoding)' is not supported"))
      }
      framing = .chunked
    } else if let first = lengths.first {
      guard lengths.allSatisfy({ $0 == first }), let length = Int(first), length >= 0 else {
        return .failure(HTTPParseError(status: 400, message: "invalid Content-Length"))
      }
      framing = .length(length)
    }
    let expectContinue = headers["expect"]?.lowercased() == "100-continue"
    let request = HTTPRequest(method: method, target: target, version: version, headers: headers, keepAlive: keepAlive)
    return .success((request, framing, expectContinue))
  }
}

extension String {
  func trimmingSpaces() -> String {
    var text = Substring(self)
    while text.first == " " || text.first == "\t" { text = text.dropFirst() }
    while text.last == " " || text.last == "\t" { text = text.dropLast() }
    return String(text)
  }
}
