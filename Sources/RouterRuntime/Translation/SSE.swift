import Glibc
public import RouteSpec

/// One server-sent event as read from an upstream.
public struct SSEEvent: Sendable, Equatable {
  /// The `event:` type, if any.
  public var event: String?
  /// The `data:` lines joined with `\n`.
  public var data: String
  /// The `id:` value, if any.
  public var id: String?

  /// Creates an event.
  public init(event: String? = nil, data: String, id: String? = nil) {
    self.event = event
    self.data = data
    self.id = id
  }
}

/// Where ``SSEParser`` hands each event it completes.
protocol SSEEventSink {
  /// One event: its `event:` type, its `data:` lines joined with `\n` (as sent, valid only during the call), and
  /// its `id:`.
  mutating func take(event: String?, data: UnsafeBufferPointer<UInt8>, id: String?)
}

/// The events as ``SSEEvent`` values, their data decoded (invalid UTF-8 repaired).
private struct SSEEventList: SSEEventSink {
  var events: [SSEEvent] = []

  mutating func take(event: String?, data: UnsafeBufferPointer<UInt8>, id: String?) {
    events.append(SSEEvent(event: event, data: String(decoding: data, as: UTF8.self), id: id))
  }
}

/// An incremental, lenient SSE parser (WHATWG event-stream rules) fed raw body bytes in arbitrary pieces.
///
/// Accepts `data:` with or without the space, comments, `event:`/`id:`/`retry:` lines, CRLF/LF/CR line
/// ends and multi-line data; backends differ on all of these.
public struct SSEParser: Sendable {
  private var line: [UInt8] = []
  private var data: [UInt8] = []
  private var hasData = false
  private var event: String?
  private var id: String?
  /// A CR ended the previous piece; an LF starting the next one belongs to it.
  private var pendingCR = false
  private var sawFirstLine = false
  /// Bytes held for one event before it is dropped as oversized (guards memory against a runaway upstream).
  public let maxEventBytes: Int
  /// True once an event was dropped for exceeding ``maxEventBytes``.
  public private(set) var droppedOversizedEvent = false

  /// Creates a parser.
  public init(maxEventBytes: Int = 64 << 20) {
    self.maxEventBytes = maxEventBytes
  }

  /// Feeds bytes; returns the events completed by them.
  public mutating func feed(_ bytes: some Collection<UInt8>) -> [SSEEvent] {
    var events = SSEEventList()
    let fed: Void? = bytes.withContiguousStorageIfAvailable { feed($0, into: &events) }
    if fed == nil { Array(bytes).withUnsafeBufferPointer { feed($0, into: &events) } }
    return events.events
  }

  /// Feeds bytes like ``feed(_:)``, handing each completed event to `sink` as it completes, its data as bytes:
  /// no `String` and no array per event.
  mutating func feed(_ bytes: [UInt8], into sink: inout some SSEEventSink) {
    bytes.withUnsafeBufferPointer { feed($0, into: &sink) }
  }

  private mutating func feed(_ bytes: UnsafeBufferPointer<UInt8>, into events: inout some SSEEventSink) {
    var index = 0
    while index < bytes.count {
      let byte = bytes[index]
      if pendingCR {
        pendingCR = false
        if byte == 0x0A {
          index += 1
          continue
        }
      }
      if byte == 0x0D || byte == 0x0A {
        pendingCR = byte == 0x0D
        endLine(into: &events)
        index += 1
        continue
      }
      let end = Self.lineEnd(bytes, from: index)
      let runCount = end - index
      if end < bytes.count, line.isEmpty, data.count + runCount <= maxEventBytes {
        // A whole line inside this piece (the usual case): read where it lies, not copied into `line` first.
        take(UnsafeBufferPointer(rebasing: bytes[index..<end]), into: &events)
        pendingCR = bytes[end] == 0x0D
        index = end + 1
        continue
      }
      // The rest of the line in this piece goes in at once (a byte at a time cost about ten instructions
      // each); where it would pass the limit, a byte at a time, so the limit drops exactly what it did.
      let run = UnsafeBufferPointer(rebasing: bytes[index..<end])
      if line.count + data.count + runCount <= maxEventBytes {
        line.append(contentsOf: run)
      } else {
        for byte in run { appendLimited(byte) }
      }
      index = end
    }
  }

  /// The index of the first CR or LF at or after `index`, else the end: `memchr` for the LF, then for a CR
  /// before it (a line is usually ended by LF alone).
  private static func lineEnd(_ bytes: UnsafeBufferPointer<UInt8>, from index: Int) -> Int {
    guard let base = bytes.baseAddress, index < bytes.count else { return bytes.count }
    let start = UnsafeRawPointer(base + index)
    var length = bytes.count - index
    if let lineFeed = memchr(start, 0x0A, length) { length = start.distance(to: UnsafeRawPointer(lineFeed)) }
    if length > 0, let carriageReturn = memchr(start, 0x0D, length) {
      length = start.distance(to: UnsafeRawPointer(carriageReturn))
    }
    return index + length
  }

  /// Adds one byte of a line; past ``maxEventBytes`` the event so far is dropped.
  private mutating func appendLimited(_ byte: UInt8) {
    line.append(byte)
    if line.count + data.count > maxEventBytes {
      droppedOversizedEvent = true
      line.removeAll()
      resetEvent()
    }
  }

  /// Ends the stream: a last event without its blank line is still delivered.
  public mutating func finish() -> [SSEEvent] {
    var events = SSEEventList()
    finish(into: &events)
    return events.events
  }

  /// Ends the stream like ``finish()``, handing a last event to `sink`.
  mutating func finish(into events: inout some SSEEventSink) {
    if !line.isEmpty { endLine(into: &events) }
    dispatch(into: &events)
  }

  /// The line gathered in `line` has ended.
  private mutating func endLine(into events: inout some SSEEventSink) {
    // Taken out while it is read, so that reading it and changing the parser do not overlap.
    var ended: [UInt8] = []
    swap(&ended, &line)
    ended.withUnsafeBufferPointer { take($0, into: &events) }
    ended.removeAll(keepingCapacity: true)
    line = ended
  }

  /// One whole line, without its end.
  private mutating func take(_ whole: UnsafeBufferPointer<UInt8>, into events: inout some SSEEventSink) {
    var line = whole
    if !sawFirstLine {
      sawFirstLine = true
      // A UTF-8 BOM may precede the first line.
      if line.starts(with: [0xEF, 0xBB, 0xBF]) { line = UnsafeBufferPointer(rebasing: line[3...]) }
    }
    if line.isEmpty {
      dispatch(into: &events)
      return
    }
    if line[0] == UInt8(ascii: ":") { return }
    let colon = line.firstIndex(of: UInt8(ascii: ":")) ?? line.count
    var valueStart = min(colon + 1, line.count)
    if valueStart < line.count, line[valueStart] == UInt8(ascii: " ") { valueStart += 1 }
    // The field name compared as bytes: made a String, it cost a decoding per line. (A repaired invalid name
    // could never have spelled one of these.)
    if Self.field(of: line, endingAt: colon, is: "data") {
      if hasData { data.append(0x0A) }
      data.append(contentsOf: line[valueStart...])
      hasData = true
    } else if Self.field(of: line, endingAt: colon, is: "event") {
      event = String(decoding: line[valueStart...], as: UTF8.self)
    } else if Self.field(of: line, endingAt: colon, is: "id") {
      id = String(decoding: line[valueStart...], as: UTF8.self)
    }
  }

  /// Whether the field name of `line`, its bytes before `end`, is `name`.
  private static func field(of line: UnsafeBufferPointer<UInt8>, endingAt end: Int, is name: StaticString) -> Bool {
    UnsafeBufferPointer(rebasing: line[..<end]).holds(exactly: name)
  }

  private mutating func dispatch(into events: inout some SSEEventSink) {
    if hasData {
      data.withUnsafeBufferPointer { events.take(event: event, data: $0, id: id) }
    }
    resetEvent()
  }

  private mutating func resetEvent() {
    data.removeAll(keepingCapacity: true)
    hasData = false
    event = nil
  }
}

/// Writes Gemini `?alt=sse` events: exactly `data: <json>\r\n\r\n`, nothing else (no comments, no `event:`).
public enum GeminiSSEWriter {
  /// `text/event-stream`.
  public static let contentType = "text/event-stream"

  /// One event for a stream element.
  public static func event(_ value: JSONValue) -> [UInt8] {
    event { out in JSONWriter.write(value, into: &out, pretty: false, depth: 0) }
  }

  /// One event whose JSON `write` appends.
  private static func event(_ write: (inout [UInt8]) -> Void) -> [UInt8] {
    // One allocation for a typical event: grown from the prefix, the buffer was reallocated three or four times.
    var out: [UInt8] = []
    out.reserveCapacity(eventCapacity)
    append(write, to: &out)
    return out
  }

  /// Appends one event whose JSON `write` appends.
  private static func append(_ write: (inout [UInt8]) -> Void, to out: inout [UInt8]) {
    out.append(literal: "data: ")
    write(&out)
    out.append(literal: "\r\n\r\n")
  }

  /// Appends the bytes ``event(_:)-(GeminiStreamOutput)`` returns to `out`: for a caller gathering several events
  /// in one buffer.
  static func write(_ output: GeminiStreamOutput, into out: inout [UInt8]) {
    append({ output.write(into: &$0) }, to: &out)
  }

  /// One event for a translator output.
  public static func event(_ event: GeminiStreamEvent) -> [UInt8] { self.event(event.json) }

  /// One event for a translator output; a text-only or final event is written without a tree, to the same bytes.
  public static func event(_ output: GeminiStreamOutput) -> [UInt8] { event { out in output.write(into: &out) } }

  /// The bytes reserved up front for one event or array element: a text chunk's event fits.
  static let eventCapacity = 256
}

/// Writes the Gemini JSON-array stream form (no `alt`, or `alt=json`): `[` obj `,\r\n` obj … `]`.
///
/// Errors after the array was opened become an in-band element: `,\r\n{"error":…}]`.
public struct GeminiJSONArrayWriter: Sendable {
  /// `application/json; charset=UTF-8`.
  public static let contentType = "application/json; charset=UTF-8"
  private var elements = 0
  /// True once ``end()`` or ``error(_:)`` closed the array.
  public private(set) var isClosed = false

  /// Creates a writer; `elementsWritten` counts elements that went out already (a relayed array that this
  /// writer continues), so that the next element starts with a separator.
  public init(elementsWritten: Int = 0) { elements = elementsWritten }

  /// Bytes for the next element (the first one also opens the array).
  public mutating func element(_ value: JSONValue) -> [UInt8] {
    element { out in JSONWriter.write(value, into: &out, pretty: false, depth: 0) }
  }

  /// Bytes for the next element, whose JSON `write` appends.
  private mutating func element(_ write: (inout [UInt8]) -> Void) -> [UInt8] {
    guard !isClosed else { return [] }
    var out: [UInt8] = []
    out.reserveCapacity(GeminiSSEWriter.eventCapacity)
    appendElement(write, to: &out)
    return out
  }

  /// Appends the next element, whose JSON `write` appends (nothing once the array is closed).
  private mutating func appendElement(_ write: (inout [UInt8]) -> Void, to out: inout [UInt8]) {
    guard !isClosed else { return }
    if elements == 0 {
      out.append(UInt8(ascii: "["))
    } else {
      out.append(literal: ",\r\n")
    }
    write(&out)
    elements += 1
  }

  /// Appends the bytes ``write(_:)-(GeminiStreamOutput)`` returns to `out`: for a caller gathering several
  /// elements in one buffer.
  mutating func write(_ output: GeminiStreamOutput, into out: inout [UInt8]) {
    switch output {
    case .text, .final: appendElement({ output.write(into: &$0) }, to: &out)
    case .event(.response(let value)):
      appendElement({ JSONWriter.write(value, into: &$0, pretty: false, depth: 0) }, to: &out)
    // An error element also closes the array.
    case .event(.error(let error)): out.append(contentsOf: self.error(error))
    }
  }

  /// Bytes for a translator output; an error element also closes the array.
  public mutating func write(_ event: GeminiStreamEvent) -> [UInt8] {
    switch event {
    case .response(let value): element(value)
    case .error(let error): self.error(error)
    }
  }

  /// Bytes for a translator output; a text-only or final event is written without a tree, to the same bytes.
  public mutating func write(_ output: GeminiStreamOutput) -> [UInt8] {
    switch output {
    case .text, .final: element { out in output.write(into: &out) }
    // An error element also closes the array.
    case .event(let event): write(event)
    }
  }

  /// The error element followed by `]`.
  public mutating func error(_ error: GeminiError) -> [UInt8] {
    guard !isClosed else { return [] }
    var out = element(error.json)
    out.append(UInt8(ascii: "]"))
    isClosed = true
    return out
  }

  /// Closes the array (`[]` when nothing was written).
  public mutating func end() -> [UInt8] {
    guard !isClosed else { return [] }
    isClosed = true
    return elements == 0 ? Array("[]".utf8) : [UInt8(ascii: "]")]
  }
}
