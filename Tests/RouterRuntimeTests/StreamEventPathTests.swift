import RouteSpec
import Testing

@testable import RouterRuntime

/// The translated stream's event path (the parser handing each event's data bytes to the translator, which writes
/// its outputs straight into the piece) against independent readings: the SSE parser against a byte-at-a-time
/// reference of its rules, and the translated form against the general path (events decoded to strings, chunks
/// read as trees, events written from trees), over generated hostile streams split at random byte boundaries.
@Suite struct StreamEventPathTests {
  /// One event as a sink sees it.
  struct RecordedEvent: Equatable {
    var event: String?
    var data: [UInt8]
    var id: String?
  }

  /// Records what the parser hands over.
  struct RecordingSink: SSEEventSink {
    var events: [RecordedEvent] = []

    mutating func take(event: String?, data: UnsafeBufferPointer<UInt8>, id: String?) {
      events.append(RecordedEvent(event: event, data: Array(data), id: id))
    }
  }

  /// The parser's rules read one byte at a time over the whole stream (WHATWG event-stream: CR, LF or CRLF line
  /// ends, a BOM before the first line, comments, `data`/`event`/`id` fields, the event dropped once its line and
  /// data pass `maxEventBytes`).
  static func referenceEvents(_ bytes: [UInt8], maxEventBytes: Int) -> (events: [RecordedEvent], dropped: Bool) {
    var events: [RecordedEvent] = []
    var line: [UInt8] = []
    var data: [UInt8] = []
    var hasData = false
    var event: String?
    var id: String?
    var pendingCR = false
    var firstLine = true
    var dropped = false
    func dispatch() {
      if hasData { events.append(RecordedEvent(event: event, data: data, id: id)) }
      (data, hasData, event) = ([], false, nil)
    }
    func endLine() {
      var whole = line[...]
      line = []
      if firstLine {
        firstLine = false
        if whole.starts(with: [0xEF, 0xBB, 0xBF]) { whole = whole.dropFirst(3) }
      }
      guard let first = whole.first else { return dispatch() }
      if first == UInt8(ascii: ":") { return }
      let colon = whole.firstIndex(of: UInt8(ascii: ":")) ?? whole.endIndex
      var value = colon < whole.endIndex ? whole[(colon + 1)...] : []
      if value.first == UInt8(ascii: " ") { value = value.dropFirst() }
      switch String(decoding: whole[..<colon], as: UTF8.self) {
      case "data":
        if hasData { data.append(0x0A) }
        data += value
        hasData = true
      case "event": event = String(decoding: value, as: UTF8.self)
      case "id": id = String(decoding: value, as: UTF8.self)
      default: break
      }
    }
    for byte in bytes {
      if pendingCR {
        pendingCR = false
        if byte == 0x0A { continue }
      }
      if byte == 0x0D || byte == 0x0A {
        pendingCR = byte == 0x0D
        endLine()
        continue
      }
      line.append(byte)
      if line.count + data.count > maxEventBytes {
        dropped = true
        line = []
        (data, hasData, event) = ([], false, nil)
      }
    }
    if !line.isEmpty { endLine() }
    dispatch()
    return (events, dropped)
  }

  /// The bytes cut at random places (sometimes not at all, sometimes at every byte).
  static func split(_ bytes: [UInt8], _ random: inout StreamBytesGenerator) -> [[UInt8]] {
    switch random.next(6) {
    case 0: return [bytes]
    case 1: return bytes.map { [$0] }
    default:
      var pieces: [[UInt8]] = []
      var start = 0
      while start < bytes.count {
        let end = min(bytes.count, start + 1 + random.next(random.next(2) == 0 ? 8 : 200))
        pieces.append(Array(bytes[start..<end]))
        // Now and then an empty piece, as a transfer may hand over.
        if random.next(20) == 0 { pieces.append([]) }
        start = end
      }
      return pieces
    }
  }

  @Test func theParserHandsOverWhatTheReferenceReads() {
    var random = StreamBytesGenerator(seed: 0x55E)
    var events = 0
    var drops = 0
    for _ in 0..<4000 {
      let stream = random.stream()
      let limit = random.next(4) == 0 ? 16 + random.next(300) : 64 << 20
      let expected = Self.referenceEvents(stream, maxEventBytes: limit)
      var parser = SSEParser(maxEventBytes: limit)
      var sink = RecordingSink()
      var viaArrays = SSEParser(maxEventBytes: limit)
      var decoded: [SSEEvent] = []
      for piece in Self.split(stream, &random) {
        parser.feed(piece, into: &sink)
        decoded += viaArrays.feed(piece)
      }
      parser.finish(into: &sink)
      decoded += viaArrays.finish()
      #expect(sink.events == expected.events, "\(String(decoding: stream, as: UTF8.self).debugDescription)")
      #expect(parser.droppedOversizedEvent == expected.dropped)
      // The array form is the same events, their data decoded.
      #expect(
        decoded
          == expected.events.map {
            SSEEvent(event: $0.event, data: String(decoding: $0.data, as: UTF8.self), id: $0.id)
          })
      #expect(viaArrays.droppedOversizedEvent == expected.dropped)
      events += expected.events.count
      if expected.dropped { drops += 1 }
    }
    // The comparison is of many events, some streams over their limit among them.
    #expect(events > 10000 && drops > 200, "\(events) events, \(drops) drops")
  }

  /// The general path a translated stream took before: each event's data decoded to a `String`, its chunk read as a
  /// tree, each output written from its tree into an array of its own.
  struct GeneralTranslatedForm {
    var parser = SSEParser()
    var translator: OpenAIStreamTranslator
    var writer: ClientStreamWriter
    let resume: StreamResume?

    init(options: GeminiResponseOptions, sse: Bool, resume: StreamResume?) {
      translator = OpenAIStreamTranslator(options: options)
      translator.readsChunkBytes = false
      writer = ClientStreamWriter(sse: sse)
      if resume != nil { writer.array = GeminiJSONArrayWriter(elementsWritten: 1) }
      self.resume = resume
    }

    mutating func feed(_ chunk: [UInt8]?) -> (bytes: [UInt8], answers: [JSONValue], error: GeminiError?) {
      var outputs: [GeminiStreamOutput] = []
      for event in chunk.map({ parser.feed($0) }) ?? parser.finish() { outputs += translator.translate(event.data) }
      if chunk == nil { outputs += translator.translateEnd() }
      var bytes: [UInt8] = []
      var answers: [JSONValue] = []
      for output in outputs {
        switch output.event {
        case .response(let value):
          let answer = resume?.patched(value) ?? value
          bytes += writer.bytes(.response(answer))
          answers.append(answer)
        case .error(let error): return (bytes, answers, error)
        }
      }
      return (bytes, answers, nil)
    }
  }

  @Test func translatedStreamsGiveTheGeneralPathsBytes() {
    var random = StreamBytesGenerator(seed: 0x7EA)
    var answers = 0
    var failures = 0
    for round in 0..<3000 {
      let options = GeminiResponseOptions(
        includeThoughts: random.next(2) == 0, modelVersion: "fallback-model", responseId: "fallback-id",
        backend: "b", integerEnums: random.next(3) == 0)
      let sse = random.next(2) == 0
      var resume: StreamResume?
      if round % 5 == 0 {
        var continued = StreamResume(
          sse: sse, openAI: false, text: "", outputTokens: 0,
          originalBreak: HopFailure(
            backend: "a", fault: .reset, error: .unavailable("broke"), outcome: "reset"))
        var facts = RelayFacts()
        facts.usage.output = 7
        continued.add(facts)
        resume = continued
      }
      var form = TranslatedStreamForm(backend: "b", options: options, sse: sse, resume: resume)
      var general = GeneralTranslatedForm(options: options, sse: sse, resume: resume)
      let stream = random.stream(translatable: true)
      for piece in Self.split(stream, &random).map(Optional.some) + [nil] {
        let got = form.feed(piece)
        let expected = general.feed(piece)
        #expect(got.bytes == expected.bytes, "\(String(decoding: stream, as: UTF8.self))")
        #expect(got.answers.map(\.json) == expected.answers)
        #expect(got.failure?.error == expected.error)
        answers += expected.answers.count
        if expected.error != nil {
          failures += 1
          break
        }
      }
      #expect(form.skippedEvents == general.translator.skippedEvents)
      #expect(form.end() == general.writer.end())
    }
    #expect(answers > 8000 && failures > 300, "\(answers) answers, \(failures) failures")
  }
}

/// SSE streams from a fixed seed: events of generated chunks (``ChunkGenerator``: hostile JSON among common
/// chunks) or of plain text chunks, `[DONE]`, empty and blank data, raw invalid UTF-8, data split over lines,
/// comments, `event:`/`id:`/`retry:` and unknown fields, `data:` with and without its space, CR, LF and CRLF line
/// ends, a BOM, and a last event without its blank line.
struct StreamBytesGenerator {
  /// The chunks, and the numbers that pick everything else.
  private var chunks: ChunkGenerator

  init(seed: UInt64) { chunks = ChunkGenerator(seed: seed) }

  mutating func next(_ bound: Int) -> Int { chunks.next(bound) }

  private mutating func lineEnd() -> [UInt8] {
    switch next(6) {
    case 0: [0x0D, 0x0A]
    case 1: [0x0D]
    default: [0x0A]
    }
  }

  /// One event's data: mostly a chunk.
  private mutating func data(translatable: Bool) -> [UInt8] {
    var bytes: [UInt8]
    // A translated stream mostly of plain chunks, so that most streams go on past their first hostile one.
    switch translatable ? next(40) : next(14) {
    case 0: bytes = Array("[DONE]".utf8)
    case 1: bytes = Array([" [DONE] ", "", "  ", "{}", "{", "null", "\u{e9}", "[DONE]x"][next(8)].utf8)
    case 2, 3, 4, 5, 6, 14..<40:
      let model = ["m", "m2", "m\u{e9}", "m\\u0032"][next(4)]
      let text = [" w", "Hello", "\u{1F600}", "a\\nb", "", "\\u00e9"][next(6)]
      let finish = next(8) == 0 ? #""stop""# : "null"
      bytes = Array(
        #"{"id":"c\#(next(2))","object":"chat.completion.chunk","created":0,"model":"\#(model)","choices":[{"index":0,"delta":{"content":"\#(text)"},"finish_reason":\#(finish)}]}"#
          .utf8)
    default: bytes = Array(chunks.chunk().utf8)
    }
    // Raw bytes that are not UTF-8, inside a string or not.
    if next(translatable ? 60 : 25) == 0 { bytes.insert([0x80, 0xC3, 0xFF, 0xED][next(4)], at: next(bytes.count + 1)) }
    return bytes
  }

  /// One stream; `translatable` keeps to what a translated stream meets (more and plainer chunks, fewer stray
  /// fields).
  mutating func stream(translatable: Bool = false) -> [UInt8] {
    var bytes: [UInt8] = []
    if next(12) == 0 { bytes += [0xEF, 0xBB, 0xBF] }
    for _ in 0..<next(translatable ? 14 : 8) {
      switch next(translatable ? 30 : 10) {
      case 0: bytes += Array(": keep-alive".utf8) + lineEnd()
      case 1:
        let field = ["event: message", "id: 7", "retry: 10", "event", "id:", "x: y", ":"][next(7)]
        bytes += Array(field.utf8) + lineEnd()
      case 2: bytes += lineEnd()
      default: break
      }
      let data = data(translatable: translatable)
      // Data over two lines now and then (joined again with an LF), else one.
      let cut = next(10) == 0 ? next(data.count + 1) : data.count
      for part in cut < data.count ? [data[..<cut], data[cut...]] : [data[...]] {
        bytes += Array((next(5) == 0 ? "data:" : "data: ").utf8) + part + lineEnd()
      }
      bytes += lineEnd()
    }
    // A last event without its blank line, now and then.
    if next(6) == 0 { bytes += Array("data: ".utf8) + data(translatable: translatable) }
    return bytes
  }
}
