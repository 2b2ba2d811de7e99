import RouteSpec

/// Cuts a relayed SSE byte stream at event boundaries, so that a passthrough forwards whole events only,
/// byte for byte, and can tell a stream cut inside an event from one that ended cleanly.
///
/// An event ends at a blank line (any of CRLF, LF, CR twice in a row, WHATWG rules); what follows the last
/// boundary is held until its event completes, at most ``maxEventBytes`` bytes.
struct SSEEventFramer {
  /// The whole events a piece completed, and the events read from them.
  struct Events {
    /// The bytes to relay: exactly the upstream's, from the previous boundary to the last new one.
    var bytes: [UInt8] = []
    /// The events in `bytes`, each with its `data` checked to be one JSON value.
    var events: [JSONValue] = []
  }

  /// Why the relayed stream cannot go on.
  enum Failure: Error, Equatable {
    /// An event's bytes are not UTF-8 or its data is not one JSON value.
    case notJSON(String)
    /// An event grew past ``maxEventBytes`` without ending.
    case oversized
  }

  private var pending: [UInt8] = []
  /// How far `pending` has been scanned for line ends.
  private var scanned = 0
  /// The byte before `scanned` ended a line (true at the start: a leading blank line ends nothing).
  private var atLineStart = true
  /// The byte before `scanned` was a CR: an LF right after it belongs to the same line end.
  private var afterCR = false
  private var parser = SSEParser()

  var maxEventBytes: Int { parser.maxEventBytes }

  /// True when bytes of an event that has not ended are held (line ends alone are no event).
  var holdsPartialEvent: Bool { pending.contains { $0 != 0x0D && $0 != 0x0A } }

  /// Takes the next piece of the upstream body; returns the events it completed.
  mutating func feed(_ piece: [UInt8]) throws(Failure) -> Events {
    pending += piece
    var boundary: Int?
    var index = scanned
    while index < pending.count {
      let byte = pending[index]
      if afterCR, byte == 0x0A {
        // The LF of a CRLF that ended a blank line is part of that boundary.
        afterCR = false
        if boundary == index { boundary = index + 1 }
        index += 1
        continue
      }
      afterCR = byte == 0x0D
      if byte == 0x0D || byte == 0x0A {
        if atLineStart { boundary = index + 1 }
        atLineStart = true
      } else {
        atLineStart = false
      }
      index += 1
    }
    scanned = pending.count
    guard let boundary else {
      if pending.count > maxEventBytes { throw .oversized }
      return Events()
    }
    let bytes = Array(pending[..<boundary])
    pending.removeFirst(boundary)
    scanned = pending.count
    if pending.count > maxEventBytes { throw .oversized }
    // SSE is UTF-8; the parser below would quietly replace what is not.
    guard String(validating: bytes, as: UTF8.self) != nil else { throw .notJSON("an event that is not UTF-8") }
    var events: [JSONValue] = []
    for event in parser.feed(bytes) {
      do {
        events.append(try JSONParser.parse(event.data))
      } catch {
        throw .notJSON("an event that is not JSON (\(error.description))")
      }
    }
    return Events(bytes: bytes, events: events)
  }
}

extension SSEEventFramer.Failure {
  /// What the backend sent, for the error message.
  var what: String {
    switch self {
    case .notJSON(let detail): detail
    case .oversized: "a stream event larger than louter accepts"
    }
  }
}
