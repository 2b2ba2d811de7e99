import RouteSpec

/// Cuts a relayed SSE byte stream at event boundaries, so that a passthrough forwards whole events only,
/// byte for byte (but for ``CandidateParts``), and can tell a stream cut inside an event from one that
/// ended cleanly.
///
/// An event ends at a blank line (any of CRLF, LF, CR twice in a row, WHATWG rules); what follows the last
/// boundary is held until its event completes, at most ``maxEventBytes`` bytes.
struct SSEEventFramer {
  /// The whole events a piece completed, and the events read from them.
  struct Events {
    /// The bytes to relay: the upstream's, from the previous boundary to the last new one, with only the
    /// events whose candidates lack `parts` rewritten (``CandidateParts``).
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
  /// OpenAI streams end with `data: [DONE]`, which is relayed but is no JSON event.
  let allowsDone: Bool
  /// True once a `[DONE]` event was relayed.
  private(set) var sawDone = false

  /// Creates a framer; `allowsDone` for an OpenAI stream.
  init(allowsDone: Bool = false) { self.allowsDone = allowsDone }

  var maxEventBytes: Int { parser.maxEventBytes }

  /// True when bytes of an event that has not ended are held (line ends alone are no event).
  var holdsPartialEvent: Bool { pending.contains { $0 != 0x0D && $0 != 0x0A } }

  /// Takes the next piece of the upstream body; returns the events it completed.
  mutating func feed(_ piece: [UInt8]) throws(Failure) -> Events {
    pending += piece
    var boundaries: [Int] = []
    var index = scanned
    while index < pending.count {
      let byte = pending[index]
      if afterCR, byte == 0x0A {
        // The LF of a CRLF that ended a blank line is part of that boundary, also when the CR ended the
        // previous piece (nothing is pending before it then): it is relayed, not held to the stream's end.
        afterCR = false
        if boundaries.last == index {
          boundaries[boundaries.count - 1] = index + 1
        } else if index == 0 {
          boundaries.append(1)
        }
        index += 1
        continue
      }
      afterCR = byte == 0x0D
      if byte == 0x0D || byte == 0x0A {
        if atLineStart { boundaries.append(index + 1) }
        atLineStart = true
      } else {
        atLineStart = false
      }
      index += 1
    }
    scanned = pending.count
    guard let boundary = boundaries.last else {
      if pending.count > maxEventBytes { throw .oversized }
      return Events()
    }
    let whole = Array(pending[..<boundary])
    pending.removeFirst(boundary)
    scanned = pending.count
    if pending.count > maxEventBytes { throw .oversized }
    // SSE is UTF-8; the parser below would quietly replace what is not.
    guard UTF8Text.validated(whole) != nil else { throw .notJSON("an event that is not UTF-8") }
    var result = Events()
    var start = 0
    // Each boundary ends at most one event; one whose candidates lack `parts` is the only one rewritten.
    for end in boundaries {
      let segment = whole[start..<end]
      start = end
      var rewritten: [UInt8]?
      for event in parser.feed(segment) {
        if allowsDone, event.data == "[DONE]" {
          sawDone = true
          continue
        }
        let json: JSONValue
        do {
          json = try JSONParser.parse(event.data)
        } catch {
          throw .notJSON("an event that is not JSON (\(error.description))")
        }
        result.events.append(json)
        if let patched = CandidateParts.patched(event.data.utf8, answer: json) {
          rewritten = Self.replacingData(of: segment, data: event.data.utf8, with: patched)
        }
      }
      if let rewritten { result.bytes += rewritten } else { result.bytes += segment }
    }
    return result
  }

  /// The event in `segment` with its data `data` replaced by `patched`: spliced in place when the data is
  /// one `data:` line at the event's start (as Gemini sends it), so the line ends stay the backend's;
  /// otherwise the event is written anew as one `data:` line.
  private static func replacingData(
    of segment: ArraySlice<UInt8>, data: String.UTF8View, with patched: [UInt8]
  ) -> [UInt8] {
    let field = Array("data:".utf8)
    if segment.starts(with: field) {
      var start = segment.startIndex + field.count
      if start < segment.endIndex, segment[start] == UInt8(ascii: " ") { start += 1 }
      let end = start + data.count
      if end < segment.endIndex, segment[start..<end].elementsEqual(data),
        segment[end] == 0x0D || segment[end] == 0x0A
      {
        return Array(segment[..<start]) + patched + Array(segment[end...])
      }
    }
    return Array("data: ".utf8) + patched + [0x0D, 0x0A, 0x0D, 0x0A]
  }
}

/// The rule that every candidate `content` has `parts`, applied to a relayed Gemini answer or stream
/// element: Google's streams carry `parts` in every chunk with content, and clients such as the legacy
/// SDK's `chunk.text` fail on a last chunk of `"content":{"role":"model"}`. Translated answers follow
/// the same rule in ``OpenAIToGemini/candidateObject(parts:index:finishReason:finishMessage:)``.
enum CandidateParts {
  /// What a content with nothing else carries: one empty text part.
  static let emptyText: JSONValue = [.object([JSONMember("text", "")])]

  /// The answer's bytes with `"parts":[{"text":""}]` added to every candidate `content` object whose
  /// `parts` is absent or null; nil when there is none, so that the bytes are relayed as they are.
  ///
  /// `answer` is `bytes` parsed. Only the `candidates` member is written anew; every other member keeps
  /// its bytes.
  static func patched(_ bytes: some Collection<UInt8>, answer: JSONValue) -> [UInt8]? {
    // Checked on the parsed value first: the bytes of the usual chunk are not even copied.
    let candidates = answer["candidates"]?.arrayValue ?? []
    guard candidates.contains(where: { lacksParts($0) }) else { return nil }
    let edit = JSONPatch.MemberEdit(keys: ["candidates"]) { value in
      guard case .array(let list) = value else { return value }
      return .array(list.map(withParts))
    }
    return try? JSONPatch.apply([edit], to: Array(bytes))
  }

  /// True when the candidate has a `content` object without `parts` (or with `"parts":null`).
  private static func lacksParts(_ candidate: JSONValue) -> Bool {
    guard case .object(let content)? = candidate["content"] else { return false }
    let parts = content.first { $0.key == "parts" }?.value
    return parts == nil || parts == .null
  }

  /// The candidate with an empty text part in a content that lacks parts; any other candidate as it is.
  private static func withParts(_ candidate: JSONValue) -> JSONValue {
    guard lacksParts(candidate), case .object(var members) = candidate,
      let index = members.firstIndex(where: { $0.key == "content" }),
      case .object(var content) = members[index].value
    else { return candidate }
    if let parts = content.firstIndex(where: { $0.key == "parts" }) {
      content[parts].value = emptyText
    } else {
      content.append(JSONMember("parts", emptyText))
    }
    members[index].value = .object(content)
    return .object(members)
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

/// Cuts a relayed Gemini JSON-array stream (`[` obj `,` obj … `]`) after whole elements, so that a
/// passthrough forwards only elements that parse, byte for byte (but for ``CandidateParts``), and can end
/// a broken stream with an in-band `{"error":…}` element.
struct JSONArrayFramer {
  private var pending: [UInt8] = []
  private var scanned = 0
  private var depth = 0
  private var inString = false
  private var escaped = false
  /// Where the element being read starts in `pending`.
  private var elementStart: Int?
  /// True once the array's closing `]` was read.
  private(set) var closed = false
  let maxElementBytes = SSEParser().maxEventBytes

  /// Takes the next piece of the upstream body; returns the elements it completed.
  mutating func feed(_ piece: [UInt8]) throws(SSEEventFramer.Failure) -> SSEEventFramer.Events {
    pending += piece
    var boundary: Int?
    var events: [JSONValue] = []
    var rewritten: [(range: Range<Int>, bytes: [UInt8])] = []
    var index = scanned
    while index < pending.count {
      let byte = pending[index]
      index += 1
      if inString {
        if escaped {
          escaped = false
        } else if byte == UInt8(ascii: "\\") {
          escaped = true
        } else if byte == UInt8(ascii: "\"") {
          inString = false
        }
        continue
      }
      switch byte {
      case UInt8(ascii: "{"), UInt8(ascii: "["):
        if closed || (depth == 0 && byte == UInt8(ascii: "{")) { throw .notJSON("a stream that is not a JSON array") }
        if depth == 1 { elementStart = index - 1 }
        depth += 1
      case UInt8(ascii: "}"), UInt8(ascii: "]"):
        if depth == 1, elementStart == nil, byte == UInt8(ascii: "]") {
          depth = 0
          closed = true
          boundary = index
          continue
        }
        guard depth > 1 else { throw .notJSON("a stream that is not a JSON array") }
        depth -= 1
        if depth == 1, let start = elementStart {
          let element: JSONValue
          do {
            element = try JSONParser.parse(pending[start..<index])
          } catch {
            throw .notJSON("a stream element that is not JSON (\(error.description))")
          }
          events.append(element)
          if let patched = CandidateParts.patched(pending[start..<index], answer: element) {
            rewritten.append((start..<index, patched))
          }
          elementStart = nil
          boundary = index
        }
      case UInt8(ascii: "\""):
        guard depth > 1 else { throw .notJSON("a stream element that is not an object") }
        inString = true
      case 0x20, 0x09, 0x0A, 0x0D:
        break
      case UInt8(ascii: ","):
        guard depth >= 1, !closed else { throw .notJSON("a stream that is not a JSON array") }
      default:
        // Numbers, literals, colons: only inside an element.
        guard depth > 1 else { throw .notJSON("a stream that is not a JSON array of objects") }
      }
    }
    scanned = pending.count
    var bytes: [UInt8] = []
    if let boundary {
      var from = 0
      for element in rewritten {
        bytes += pending[from..<element.range.lowerBound]
        bytes += element.bytes
        from = element.range.upperBound
      }
      bytes += pending[from..<boundary]
      pending.removeFirst(boundary)
      elementStart = elementStart.map { $0 - boundary }
      scanned = pending.count
    }
    if pending.count > maxElementBytes { throw .oversized }
    return SSEEventFramer.Events(bytes: bytes, events: events)
  }
}

/// The framer of a passthrough stream in the form the client asked for, and the in-band error in it.
enum PassthroughStreamFramer {
  case sse(SSEEventFramer)
  case array(JSONArrayFramer)

  init(sse: Bool) { self = sse ? .sse(SSEEventFramer()) : .array(JSONArrayFramer()) }

  mutating func feed(_ piece: [UInt8]) throws(SSEEventFramer.Failure) -> SSEEventFramer.Events {
    switch self {
    case .sse(var framer):
      defer { self = .sse(framer) }
      return try framer.feed(piece)
    case .array(var framer):
      defer { self = .array(framer) }
      return try framer.feed(piece)
    }
  }

  /// True when the stream ended where it may end: between SSE events, or after the array's `]`.
  var endsCleanly: Bool {
    switch self {
    case .sse(let framer): !framer.holdsPartialEvent
    case .array(let framer): framer.closed
    }
  }

  /// The in-band error after the whole events relayed so far: an SSE event, or a last array element and
  /// the `]` (nothing once the array was closed). Only written once something was relayed, so the array
  /// always has an element before it.
  func errorBytes(_ error: GeminiError) -> [UInt8] {
    switch self {
    case .sse: return GeminiSSEWriter.event(error.json)
    case .array(let framer):
      if framer.closed { return [] }
      // The relayed array has at least one element: continue it with the writer's own error element.
      var writer = GeminiJSONArrayWriter(elementsWritten: 1)
      return writer.error(error)
    }
  }
}
