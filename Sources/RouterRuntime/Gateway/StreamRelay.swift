import RouteSpec

/// Where a stream relay reads: the upstream body, chunk by chunk.
protocol StreamSource {
  /// The next chunk, nil at the end; throws when the transfer fails or `deadline` passes first.
  func next(deadline: MonotonicInstant?) async throws(UpstreamError) -> [UInt8]?
  /// Stops the transfer: the relay wants no more of it.
  func cancel()
}

extension UpstreamBody: StreamSource {}

/// Where a stream relay writes: the client's streamed response.
protocol StreamSink {
  func startStream(status: Int, headers: [(String, String)]) async throws(HTTPResponderError)
  func write(_ bytes: [UInt8]) async throws(HTTPResponderError)
  func finish() async throws(HTTPResponderError)
  /// Ends the response as a failure, without its terminating chunk.
  func abort()
}

extension HTTPResponder: StreamSink {}

/// What one upstream piece became in the client's form.
struct RelayPiece {
  /// Bytes for the client.
  var bytes: [UInt8] = []
  /// The answers `bytes` carries, each one event or array element.
  var answers: [RelayAnswer] = []
  /// The stream cannot go on after `bytes`: before the first answer reached the client this is the hop's
  /// failure, after it the in-band error that ends the stream.
  var failure: HopFailure?
}

/// One answer a relay piece carries, for the request record and a continuation.
enum RelayAnswer: Equatable {
  /// A Gemini answer (or, on the OpenAI front, the record's reading of an OpenAI chunk).
  case json(JSONValue)
  /// A text-only Gemini event, kept without its tree.
  case text(GeminiTextChunk)
  /// The last Gemini event of a stream without tool calls, kept without its tree.
  case final(GeminiFinalChunk)

  /// A text or final chunk kept as it is; nil for a general event.
  init?(compact output: GeminiStreamOutput) {
    switch output {
    case .text(let chunk): self = .text(chunk)
    case .final(let chunk): self = .final(chunk)
    case .event: return nil
    }
  }

  /// The answer as a tree (built for a text or final chunk).
  var json: JSONValue {
    switch self {
    case .json(let value): value
    case .text(let chunk): chunk.response
    case .final(let chunk): chunk.response
    }
  }
}

/// How upstream bytes become the client's stream: translated (OpenAI events → Gemini events) or
/// passthrough (Gemini events relayed byte for byte), each as SSE or one JSON array.
protocol StreamForm {
  /// The client's `content-type`.
  var contentType: String { get }
  /// Takes the next upstream chunk, or the upstream's end (nil).
  mutating func feed(_ chunk: [UInt8]?) -> RelayPiece
  /// The in-band error that follows what was written so far.
  mutating func errorBytes(_ error: GeminiError) -> [UInt8]
  /// What ends a stream that ended well.
  mutating func end() -> [UInt8]
  /// Upstream events skipped because they could not be read (counted in the request record).
  var skippedEvents: Int { get }
}

extension StreamForm {
  var skippedEvents: Int { 0 }
}

/// An OpenAI-compatible event stream translated into Gemini events.
struct TranslatedStreamForm: StreamForm {
  var parser = SSEParser()
  /// What the parser hands each event to: the translator, and the piece its outputs are written into.
  var events: TranslatedEvents

  init(backend: String, options: GeminiResponseOptions, sse: Bool, resume: StreamResume? = nil) {
    var writer = ClientStreamWriter(sse: sse)
    if resume != nil { writer.array = GeminiJSONArrayWriter(elementsWritten: 1) }
    events = TranslatedEvents(
      translator: OpenAIStreamTranslator(options: options),
      output: TranslatedOutput(backend: backend, writer: writer, resume: resume))
  }

  var contentType: String { events.output.writer.contentType }

  mutating func feed(_ chunk: [UInt8]?) -> RelayPiece {
    // Each event is translated as the parser completes it, and its outputs written straight into the piece: no
    // array of events, of outputs or of bytes per event. After an error the translator takes nothing more.
    if let chunk {
      parser.feed(chunk, into: &events)
    } else {
      parser.finish(into: &events)
      events.translator.translateEnd(into: &events.output)
    }
    return events.output.takePiece()
  }

  mutating func errorBytes(_ error: GeminiError) -> [UInt8] { events.output.writer.bytes(.error(error)) }

  mutating func end() -> [UInt8] { events.output.writer.end() }

  var skippedEvents: Int { events.translator.skippedEvents }
}

/// The events of a translated stream as its parser completes them, each translated into the piece at once.
struct TranslatedEvents: SSEEventSink {
  var translator: OpenAIStreamTranslator
  var output: TranslatedOutput

  mutating func take(event: String?, data: UnsafeBufferPointer<UInt8>, id: String?) {
    translator.translate(bytes: data, into: &output)
  }
}

/// The piece a translated stream's outputs are written into.
struct TranslatedOutput: GeminiStreamOutputSink {
  let backend: String
  var writer: ClientStreamWriter
  /// When this stream continues an answer another backend began: the client's array is open, and usage
  /// counts the whole answer.
  let resume: StreamResume?
  /// What the outputs so far became; it ends at an error.
  private(set) var piece = RelayPiece()

  init(backend: String, writer: ClientStreamWriter, resume: StreamResume?) {
    self.backend = backend
    self.writer = writer
    self.resume = resume
  }

  /// The piece written so far; the next one starts empty.
  mutating func takePiece() -> RelayPiece {
    var taken = RelayPiece()
    swap(&taken, &piece)
    return taken
  }

  /// Adds one output's bytes and answer to the piece; an error ends it (nothing after it is added).
  mutating func take(_ output: GeminiStreamOutput) {
    guard piece.failure == nil else { return }
    // Without a continuation to patch the answer (its usage, or its array), the compact events' bytes are written
    // without a tree.
    if resume == nil, let answer = RelayAnswer(compact: output) {
      write(output)
      piece.answers.append(answer)
      return
    }
    switch output.event {
    case .response(let translated):
      let answer = resume?.patched(translated) ?? translated
      write(.event(.response(answer)))
      piece.answers.append(.json(answer))
    case .error(let error):
      // The backend's own error event, or louter's reading of a stream it could not translate.
      piece.failure = Exchange.failure(
        status: error.code, retryAfter: nil, error: error, backend: backend, outcome: "stream-error")
    }
  }
}

extension TranslatedOutput {
  /// Appends an output's bytes to the piece's.
  private mutating func write(_ output: GeminiStreamOutput) {
    // One allocation for a typical piece: its first event fits.
    if piece.bytes.capacity == 0 { piece.bytes.reserveCapacity(GeminiSSEWriter.eventCapacity) }
    writer.write(output, into: &piece.bytes)
  }
}

extension ClientStreamWriter {
  /// Appends what ``bytes(_:)-(GeminiStreamOutput)`` returns to `out`.
  mutating func write(_ output: GeminiStreamOutput, into out: inout [UInt8]) {
    if sse { GeminiSSEWriter.write(output, into: &out) } else { array.write(output, into: &out) }
  }
}

/// A Gemini backend's stream relayed as it comes, cut after whole SSE events or JSON-array elements.
struct PassthroughStreamForm: StreamForm {
  let backend: String
  let contentType: String
  var framer: PassthroughStreamFramer

  init(backend: String, contentType: String, sse: Bool) {
    self.backend = backend
    self.contentType = contentType
    self.framer = PassthroughStreamFramer(sse: sse)
  }

  mutating func feed(_ chunk: [UInt8]?) -> RelayPiece {
    var piece = RelayPiece()
    do {
      let framed = try framer.feed(chunk ?? [])
      piece.bytes = framed.bytes
      piece.answers = framed.events.map(RelayAnswer.json)
    } catch {
      piece.failure = Exchange.unreadable(error, backend: backend)
      return piece
    }
    if chunk == nil, !framer.endsCleanly {
      piece.failure = Exchange.badAnswer(
        .unavailable("backend '\(backend)' ended the stream inside an event"), backend: backend)
    }
    return piece
  }

  mutating func errorBytes(_ error: GeminiError) -> [UInt8] { framer.errorBytes(error) }

  // The backend's own end (the array's `]`) was relayed with its last element.
  mutating func end() -> [UInt8] { [] }
}

/// What a relay saw, for the request record.
struct RelayFacts: Equatable {
  /// When the head went to the client; nil when nothing was committed.
  var committedAt: MonotonicInstant?
  /// The status the client's answer ended with: 200, an in-band error's code, or 499 when the client went
  /// away; nil when nothing was sent.
  var status: Int?
  /// Token counts from the answers' `usageMetadata`.
  var usage = TokenUsage()
  /// Text bytes of the answers, for the estimate when no usage arrives.
  var textBytes = 0
  /// The upstream's stream ended as it should and every answer was relayed (the client may still have
  /// gone before the end was written).
  var complete = false
  /// Upstream events skipped as unreadable.
  var skippedEvents = 0
  /// The answer's text (thoughts left out), up to ``StreamResume/maxText``: the prefill if it breaks.
  var answerText = ""
  /// False once the answer holds what another backend cannot go on from: a part that is not text (a
  /// function call cannot be continued half-way), several candidates, or more text than a prefill carries.
  var continuable = true

  /// Notes one answer's text and whether it can still be continued.
  mutating func note(answer: JSONValue) {
    let candidates = answer["candidates"]?.arrayValue ?? []
    if candidates.count > 1 { continuable = false }
    for part in candidates.first?["content"]?["parts"]?.arrayValue ?? [] {
      if part["thought"]?.boolValue == true { continue }
      guard let text = part["text"]?.stringValue else {
        continuable = false
        continue
      }
      note(text: text)
    }
  }

  /// What ``note(answer:)`` reads from a final chunk's tree, whose parts are empty texts.
  mutating func note(final chunk: GeminiFinalChunk) {
    if chunk.candidates.count > 1 { continuable = false }
  }

  /// Keeps one text part of the answer's only candidate, unless the kept text would outgrow
  /// ``StreamResume/maxText``.
  mutating func note(text: String) {
    guard answerText.utf8.count + text.utf8.count <= StreamResume.maxText else {
      continuable = false
      return
    }
    answerText += text
  }
}

/// The one relay of a stream to the client, translated or passthrough, SSE or JSON array.
///
/// Its rules: the head is committed with the first answer (bytes before it, such as SSE comments, are held
/// with it); until then any failure, a missed first-token deadline or a stream with no answer is the hop's
/// failure and the chain goes on; after it ``FallbackPolicy`` answers in-band: the error goes after what was
/// written and the response ends without its terminating chunk. A client that went away ends the relay as
/// 499 with the upstream cancelled.
struct StreamRelay<Form: StreamForm> {
  var form: Form
  let backend: String
  let policy: FallbackPolicy
  /// The hop's first-byte deadline, which the first answer must meet.
  let firstAnswerDeadline: MonotonicInstant
  /// Headers of the committed head (`content-type` is the form's).
  let headers: [(String, String)]
  /// The client's response was committed by an earlier backend whose stream broke: this relay continues it
  /// (no head of its own; until its first answer, a failure is still only this hop's).
  let resuming: Bool
  /// Another backend could continue this stream if it broke (the route allows it and one follows).
  let continuation: Bool
  private(set) var facts = RelayFacts()
  private var held: [UInt8] = []
  /// True once an answer of this relay reached the client.
  private var answered = false

  init(
    form: Form, backend: String, policy: FallbackPolicy, firstAnswerDeadline: MonotonicInstant,
    headers: [(String, String)], resuming: Bool = false, continuation: Bool = false
  ) {
    self.form = form
    self.backend = backend
    self.policy = policy
    self.firstAnswerDeadline = firstAnswerDeadline
    self.headers = headers
    self.resuming = resuming
    self.continuation = continuation
  }

  /// Relays `body` to `client`; `now` stamps the commit.
  mutating func run(
    from body: some StreamSource, to client: some StreamSink,
    now: () -> MonotonicInstant = { MonotonicInstant.now }
  ) async -> HopResult {
    while true {
      let chunk: [UInt8]?
      var piece: RelayPiece
      do {
        chunk = try await body.next(deadline: answered ? nil : firstAnswerDeadline)
        piece = form.feed(chunk)
        facts.skippedEvents = form.skippedEvents
      } catch {
        chunk = nil
        piece = RelayPiece(failure: Exchange.failure(error, backend: backend, midStream: answered || resuming))
      }
      for answer in piece.answers {
        switch answer {
        case .json(let answer):
          facts.usage.note(answer["usageMetadata"])
          facts.textBytes += Exchange.textBytes(answer)
          // Only a stream another backend could continue needs its text kept.
          if continuation { facts.note(answer: answer) }
        case .text(let chunk):
          // What the `.json` case reads from this chunk's tree: no usage, one candidate, one text part.
          facts.textBytes += chunk.text.utf8.count
          if continuation { facts.note(text: chunk.text) }
        case .final(let chunk):
          // What the `.json` case reads from this chunk's tree: its usage, and empty text parts only.
          facts.usage.note(chunk.usage)
          if continuation { facts.note(final: chunk) }
        }
      }
      if !answered, !piece.answers.isEmpty {
        if !resuming {
          do {
            try await client.startStream(status: 200, headers: [("content-type", form.contentType)] + headers)
          } catch {
            return clientGone(body)
          }
          facts.committedAt = now()
        }
        answered = true
        facts.status = 200
      }
      if !answered {
        held += piece.bytes
      } else if !held.isEmpty || !piece.bytes.isEmpty {
        do {
          // Nearly always nothing is held: the piece's bytes go as they are, not copied into a new array.
          try await client.write(held.isEmpty ? piece.bytes : held + piece.bytes)
        } catch {
          return clientGone(body)
        }
        held = []
      }
      if let failure = piece.failure { return await fail(failure, body: body, client: client) }
      if chunk == nil { break }
    }
    guard answered else {
      return .failed(
        HopFailure(
          backend: backend, fault: .invalidAnswer,
          error: .unavailable("backend '\(backend)' ended the stream without any answer"), outcome: "empty"))
    }
    facts.complete = true
    do {
      let tail = form.end()
      if !tail.isEmpty { try await client.write(tail) }
      try await client.finish()
    } catch {
      facts.status = 499
    }
    return .served(healthy: true)
  }

  private mutating func fail(_ failure: HopFailure, body: some StreamSource, client: some StreamSink) async
    -> HopResult
  {
    body.cancel()
    guard answered else { return .failed(failure) }
    switch policy.decide(failure.fault, at: .afterFirstByte(canContinue: continuation && facts.continuable)) {
    case .fail(.clientGone):
      return clientGone(body)
    case .next:
      // Nothing is written: the next backend continues the response from where this one broke.
      return .broken(failure, facts)
    case .answer, .fail(.spent):
      _ = try? await client.write(form.errorBytes(failure.error))
      client.abort()
      facts.status = failure.error.code
      return .served(healthy: false)
    }
  }

  private mutating func clientGone(_ body: some StreamSource) -> HopResult {
    body.cancel()
    facts.status = 499
    return .served(healthy: nil)
  }
}

/// Token counts read from `usageMetadata`, clamped: the backend may send anything.
struct TokenUsage: Equatable {
  var input: Int?
  var output: Int?
  /// True once any usage arrived.
  var reported = false

  mutating func note(_ usage: JSONValue?) {
    guard let usage else { return }
    let range = OpenAIToGemini.tokenCountRange
    if let prompt = usage["promptTokenCount"]?.clampedInteger(in: range) { input = Int(prompt) }
    if let candidates = usage["candidatesTokenCount"]?.clampedInteger(in: range) {
      let thoughts = usage["thoughtsTokenCount"]?.clampedInteger(in: range) ?? 0
      output = Int(BoundedInteger.sum(candidates, thoughts, in: range))
    }
    reported = true
  }

  /// What ``note(_:)`` reads from `counts.json`, from the counts themselves.
  mutating func note(_ counts: GeminiUsageCounts?) {
    guard let counts else { return }
    if let prompt = counts.promptTokenCount { input = Int(prompt) }
    if let candidates = counts.candidatesTokenCount {
      output = Int(BoundedInteger.sum(candidates, counts.thoughtsTokenCount, in: OpenAIToGemini.tokenCountRange))
    }
    reported = true
  }
}
