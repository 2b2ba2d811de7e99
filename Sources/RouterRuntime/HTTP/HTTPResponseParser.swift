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
    case trailers
    case untilClose
    case done
    case failed
  }

  private var state = State.head
  private var buffer: [UInt8] = []
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
        guard let end = buffer.httpHeadEnd(from: position) else {
          if buffer.count - position > maxHeadBytes { fail("response head too large", &events) }
          break loop
        }
        let lines = buffer[position..<end.head].split(separator: 0x0A).map { $0.last == 0x0D ? $0.dropLast() : $0 }
        position = end.body
        guard let statusLine = lines.first else {
          fail("empty response head", &events)
          break loop
        }
        let parts = statusLine.split(separator: 0x20, maxSplits: 2)
        guard parts.count >= 2, parts[0].starts(with: Array("HTTP/1.".utf8)),
          let status = Int(String(decoding: parts[1], as: UTF8.self))
        else {
          fail("malformed status line", &events)
          break loop
        }
        if (100..<200).contains(status) { continue }  // 100 Continue and friends: the real head follows
        var headers: [UpstreamRequest.Header] = []
        var length: Int?
        var chunked = false
        var close = parts[0].elementsEqual(Array("HTTP/1.0".utf8))
        for line in lines.dropFirst() {
          guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { continue }
          let name = String(decoding: line[line.startIndex..<colon], as: UTF8.self)
          let value = String(decoding: line[line.index(after: colon)...], as: UTF8.self).trimmingSpaces()
          headers.append(.init(name: name, value: value))
          switch name.lowercased() {
          case "content-length": length = Int(value)
          case "transfer-encoding": chunked = value.lowercased().contains("chunked")
          case "connection":
            if value.lowercased().contains("close") { close = true }
            if value.lowercased().contains("keep-alive") { close = false }
          default: break
          }
        }
        let noBody = status == 204 || status == 304
        if !chunked, length == nil, !noBody { close = true }
        events.append(.head(status: status, headers: headers, keepAlive: !close))
        if noBody || length == 0 {
          state = .done
          events.append(.end)
        } else if chunked {
          state = .chunkSize
        } else if let length {
          state = .fixed(remaining: length)
        } else {
          state = .untilClose
        }
      case .fixed(let remaining):
        let available = min(remaining, buffer.count - position)
        if available == 0 { break loop }
        events.append(.body(Array(buffer[position..<(position + available)])))
        position += available
        if remaining == available {
          state = .done
          events.append(.end)
        } else {
          state = .fixed(remaining: remaining - available)
        }
      case .chunkSize:
        guard let line = buffer.httpLineEnd(from: position) else { break loop }
        let text = buffer[position..<line.content].prefix { $0 != UInt8(ascii: ";") }.filter { $0 != 0x20 }
        position = line.next
        guard let size = Int(String(decoding: text, as: UTF8.self), radix: 16), size >= 0 else {
          fail("malformed chunk size", &events)
          break loop
        }
        state = size == 0 ? .trailers : .chunkData(remaining: size)
      case .chunkData(let remaining):
        let available = min(remaining, buffer.count - position)
        if available == 0 { break loop }
        events.append(.body(Array(buffer[position..<(position + available)])))
        position += available
        state = remaining == available ? .chunkDataEnd : .chunkData(remaining: remaining - available)
      case .chunkDataEnd:
        guard let line = buffer.httpLineEnd(from: position) else { break loop }
        position = line.next
        state = .chunkSize
      case .trailers:
        guard let line = buffer.httpLineEnd(from: position) else { break loop }
        let empty = line.content == position
        position = line.next
        if empty {
          state = .done
          events.append(.end)
        }
      case .untilClose:
        if position < buffer.count { events.append(.body(Array(buffer[position...]))) }
        position = buffer.count
        break loop
      }
    }
    buffer.removeFirst(min(position, buffer.count))
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

  private mutating func fail(_ message: String, _ events: inout [Event]) {
    state = .failed
    events.append(.error(message))
  }
}
