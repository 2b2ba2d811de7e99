import RouteSpec

/// What a stream that broke after bytes reached the client leaves for the backend that continues it: the
/// text streamed so far (the prefill), the output it already cost, how the client's response is framed, and
/// the break itself, which stays the client's error if no backend can go on.
///
/// Owned by one request's ``Forwarding``; a value, copied into each continuing hop.
struct StreamResume {
  /// The client reads server-sent events (else one JSON array, already opened and holding an element).
  let sse: Bool
  /// The client speaks OpenAI: its stream is `chat.completion.chunk` events.
  let openAI: Bool
  /// The answer text the client has, in order, over every part so far.
  var text: String
  /// Output tokens of the parts so far: reported, or estimated from their text.
  var outputTokens: Int
  /// The first break: the in-band error the client gets if no backend can go on.
  let originalBreak: HopFailure
  /// Hops after the break that could not continue it.
  var later: [HopFailure] = []
  /// What the last relay that reached the client saw (for the request record when the response ends).
  var lastFacts = RelayFacts()

  /// The most answer text louter carries over as a prefill: beyond it the stream is not continued (the
  /// prefill would cost more than asking again, and it bounds what louter holds per request).
  static let maxText = 256 * 1024

  /// Records the part a relay streamed before it broke.
  mutating func add(_ facts: RelayFacts) {
    text += facts.answerText
    let part = facts.usage.output ?? (facts.textBytes + 3) / 4
    outputTokens = Int(BoundedInteger.sum(Int64(outputTokens), Int64(part), in: OpenAIToGemini.tokenCountRange))
  }

  /// The continuing backend's answer as the client should read it: its `usageMetadata` counts the whole
  /// answer's output (the parts before it and its own), and its prompt without the prefill it was given
  /// (which was this answer's own output, not the caller's input).
  func patched(_ answer: JSONValue) -> JSONValue { shiftingOutput(answer, .gemini) }

  /// The names one API counts usage under, for ``shiftingOutput(_:_:)``.
  struct UsageFields {
    let container: String
    let prompt: String
    let output: String
    let total: String
    /// Counted into the total beside prompt and output (Gemini's thoughts).
    let alsoInTotal: String?
    /// Whether a count the answer lacks is written (Gemini) or only existing ones are rewritten (OpenAI).
    let insertsMissing: Bool

    static let gemini = UsageFields(
      container: "usageMetadata", prompt: "promptTokenCount", output: "candidatesTokenCount",
      total: "totalTokenCount", alsoInTotal: "thoughtsTokenCount", insertsMissing: true)
    static let openAI = UsageFields(
      container: "usage", prompt: "prompt_tokens", output: "completion_tokens", total: "total_tokens",
      alsoInTotal: nil, insertsMissing: false)
  }

  /// The one usage rule of a continuation, in either API's names: output counts the parts before too, the
  /// prompt loses the prefill (which was this answer's own output), the total follows.
  func shiftingOutput(_ value: JSONValue, _ fields: UsageFields) -> JSONValue {
    guard case .object(var members) = value, let index = members.firstIndex(where: { $0.key == fields.container }),
      case .object(var usage) = members[index].value
    else { return value }
    let range = OpenAIToGemini.tokenCountRange
    let before = Int64(outputTokens)
    func count(_ key: String) -> Int64 { usage.first { $0.key == key }?.value.clampedInteger(in: range) ?? 0 }
    let prompt = max(count(fields.prompt) - before, 0)
    let output = BoundedInteger.sum(count(fields.output), before, in: range)
    let extra = fields.alsoInTotal.map(count) ?? 0
    let total = BoundedInteger.sum(BoundedInteger.sum(prompt, output, in: range), extra, in: range)
    for (key, count) in [(fields.prompt, prompt), (fields.output, output), (fields.total, total)] {
      if let at = usage.firstIndex(where: { $0.key == key }) {
        usage[at].value = .int(count)
      } else if fields.insertsMissing {
        usage.append(JSONMember(key, .int(count)))
      }
    }
    members[index].value = .object(usage)
    return .object(members)
  }

  /// The in-band error that ends the client's response when no backend could go on: the original break,
  /// never masked by a continuation's refusal, which is only appended.
  func finalError(after failures: [HopFailure]) -> GeminiError {
    var error = originalBreak.error
    let later = failures.map { "\($0.backend): \($0.error.message)" }
    if !later.isEmpty { error.message += " (continuing elsewhere failed: \(later.joined(separator: "; ")))" }
    return error
  }

  /// Bytes that end the client's response with `error`, in its framing.
  func errorBytes(_ error: GeminiError) -> [UInt8] {
    if openAI { return OpenAIWire.event(OpenAIWire.errorJSON(error)) }
    var writer = ClientStreamWriter(sse: sse)
    writer.array = GeminiJSONArrayWriter(elementsWritten: 1)
    return writer.bytes(.error(error))
  }

  // MARK: the continuing request

  /// A model turn carrying the text streamed so far, appended to the conversation.
  var prefillTurn: JSONValue {
    .object([JSONMember("role", "model"), JSONMember("parts", .array([.object([JSONMember("text", .string(text))])]))])
  }

  /// `contents` with the prefill turn appended (a single content object becomes a list first).
  func appendingPrefill(to contents: JSONValue?) -> JSONValue {
    switch contents {
    case .array(let list)?: .array(list + [prefillTurn])
    case let content? where content.objectValue != nil: .array([content, prefillTurn])
    default: .array([prefillTurn])
    }
  }

  /// The request body (route actions already applied) with the prefill turn.
  func withPrefill(_ body: JSONValue) -> JSONValue {
    guard case .object(var members) = body else { return body }
    if let index = members.firstIndex(where: { $0.key == "contents" }) {
      members[index].value = appendingPrefill(to: members[index].value)
    } else {
      members.append(JSONMember("contents", appendingPrefill(to: nil)))
    }
    return .object(members)
  }

  /// An OpenAI chat body's bytes with the prefill as a trailing assistant message: only `messages` is
  /// written anew.
  func withAssistantPrefill(bytes: [UInt8]) throws(JSONParseError) -> [UInt8] {
    let message = JSONValue.object([JSONMember("role", "assistant"), JSONMember("content", .string(text))])
    let edit = JSONPatch.MemberEdit(keys: ["messages"]) { messages in .array((messages?.arrayValue ?? []) + [message]) }
    return try JSONPatch.apply([edit], to: bytes)
  }

  /// An OpenAI chunk's `usage` for the whole answer: completion tokens of both parts, the prompt without
  /// the prefill.
  func patchedOpenAIUsage(_ chunk: JSONValue) -> JSONValue { shiftingOutput(chunk, .openAI) }

  /// The passthrough bytes with the prefill turn: only `contents` is written anew.
  func withPrefill(bytes: [UInt8]) throws(JSONParseError) -> [UInt8] {
    let resume = self
    let edit = JSONPatch.MemberEdit(keys: ["contents"]) { contents in resume.appendingPrefill(to: contents) }
    return try JSONPatch.apply([edit], to: bytes)
  }
}

extension Forwarding {
  /// Whether a request's stream can be continued by another backend at all: not in JSON mode, where a
  /// partial document continued by another model is rarely the document the schema asked for.
  static func continuable(_ body: JSONValue) -> Bool {
    let config = body["generationConfig"] ?? body["generation_config"]
    let mime = (config?["responseMimeType"] ?? config?["response_mime_type"])?.stringValue ?? ""
    let schema = config?["responseSchema"] ?? config?["response_schema"] ?? config?["responseJsonSchema"]
    // The OpenAI front's body: `response_format` json_object or json_schema.
    let format = body["response_format"]?["type"]?.stringValue ?? "text"
    return !mime.lowercased().hasPrefix("application/json") && (schema == nil || schema == .null)
      && !format.hasPrefix("json")
  }
}

/// A Gemini backend's stream continuing an answer another backend began: its events are parsed and written
/// in the client's framing (the client's JSON array is already open), with the whole answer's usage.
struct ResumedPassthroughForm: StreamForm {
  let backend: String
  let resume: StreamResume
  var framer: PassthroughStreamFramer
  var writer: ClientStreamWriter

  init(backend: String, resume: StreamResume, upstreamSSE: Bool) {
    self.backend = backend
    self.resume = resume
    self.framer = PassthroughStreamFramer(sse: upstreamSSE)
    self.writer = ClientStreamWriter(sse: resume.sse)
    writer.array = GeminiJSONArrayWriter(elementsWritten: 1)
  }

  var contentType: String { writer.contentType }

  mutating func feed(_ chunk: [UInt8]?) -> RelayPiece {
    var piece = RelayPiece()
    let events: [JSONValue]
    do {
      events = try framer.feed(chunk ?? []).events
    } catch {
      piece.failure = Exchange.unreadable(error, backend: backend)
      return piece
    }
    for event in events {
      let answer = resume.patched(event)
      piece.bytes += writer.bytes(.response(answer))
      piece.answers.append(.json(answer))
    }
    if chunk == nil, !framer.endsCleanly {
      piece.failure = Exchange.badAnswer(
        .unavailable("backend '\(backend)' ended the stream inside an event"), backend: backend)
    }
    return piece
  }

  mutating func errorBytes(_ error: GeminiError) -> [UInt8] { writer.bytes(.error(error)) }

  mutating func end() -> [UInt8] { writer.end() }
}

/// An OpenAI backend's chat stream continuing, for an OpenAI client, an answer another backend began: its
/// chunks are written again (their usage counting the whole answer), and its `[DONE]` ends the response.
struct ResumedOpenAIPassthroughForm: StreamForm {
  let backend: String
  let resume: StreamResume
  var framer = SSEEventFramer(allowsDone: true)

  init(backend: String, resume: StreamResume) {
    self.backend = backend
    self.resume = resume
  }

  var contentType: String { "text/event-stream" }

  mutating func feed(_ chunk: [UInt8]?) -> RelayPiece {
    var piece = RelayPiece()
    let events: [JSONValue]
    do {
      events = try framer.feed(chunk ?? []).events
    } catch {
      piece.failure = Exchange.unreadable(error, backend: backend)
      return piece
    }
    for event in events {
      if event["error"] != nil {
        let error = UpstreamErrorMapper.mapStreamError(event, backend: backend)
        piece.failure = Exchange.failure(
          status: error.code, retryAfter: nil, error: error, backend: backend, outcome: "stream-error")
        return piece
      }
      let patched = resume.patchedOpenAIUsage(event)
      piece.bytes += OpenAIWire.event(patched)
      piece.answers.append(.json(OpenAIPassthroughStreamForm.recordAnswer(patched)))
    }
    if chunk == nil, framer.holdsPartialEvent || !framer.sawDone {
      piece.failure = Exchange.badAnswer(
        .unavailable("backend '\(backend)' ended the stream before [DONE]"), backend: backend)
    }
    return piece
  }

  mutating func errorBytes(_ error: GeminiError) -> [UInt8] { OpenAIWire.event(OpenAIWire.errorJSON(error)) }

  mutating func end() -> [UInt8] { OpenAIWire.done }
}
