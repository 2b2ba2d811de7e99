public import RouteSpec

/// One thing to send to a streaming Gemini client.
public enum GeminiStreamEvent: Sendable, Equatable {
  /// A `GenerateContentResponse` chunk.
  case response(JSONValue)
  /// A failure after HTTP 200: send it as an error event, then close.
  case error(GeminiError)

  /// The JSON to write (`{"error":…}` for errors).
  public var json: JSONValue {
    switch self {
    case .response(let value): value
    case .error(let error): error.json
    }
  }
}

/// A stream event that carries one text part and nothing else (nearly every event of a streamed answer), kept as
/// its few values so that it can be written straight to bytes without building and walking a ``JSONValue``.
public struct GeminiTextChunk: Sendable, Equatable {
  /// The part's text (never empty).
  public let text: String
  /// The candidate index.
  public let index: Int64
  /// The event's `modelVersion`.
  public let modelVersion: String
  /// The event's `responseId`.
  public let responseId: String
  /// The options the event was translated under (the tree form applies their enum spelling).
  let options: GeminiResponseOptions

  /// The event as the general path builds it: the reference that ``write(into:)`` must match byte for byte.
  public var response: JSONValue {
    OpenAIStreamTranslator.envelope(
      candidates: [
        .object(
          OpenAIToGemini.candidateObject(
            parts: [.object([JSONMember("text", .string(text))])], index: index, finishReason: nil))
      ], usage: nil, modelVersion: modelVersion, responseId: responseId, options: options)
  }

  /// Appends the compact JSON of ``response``: the same members in the same order (no enum among them, so the
  /// integer spelling changes nothing).
  public func write(into out: inout [UInt8]) {
    OpenAIToGemini.writeCandidate(
      text: text, index: index, finishReason: nil, integerEnums: false, first: true, into: &out)
    OpenAIStreamTranslator.writeEnvelopeEnd(usage: nil, modelVersion: modelVersion, responseId: responseId, into: &out)
  }
}

/// The last event of a stream that carried no tool call (nearly every stream's end): each candidate one empty
/// text part and its finish reason, then the usage; kept as these few values so that it can be written straight
/// to bytes without building and walking a ``JSONValue``.
public struct GeminiFinalChunk: Sendable, Equatable {
  /// One candidate of the event.
  public struct Candidate: Sendable, Equatable {
    /// The candidate index.
    public let index: Int64
    /// The Gemini name of the finish reason (``OpenAIToGemini/finishReason(fromOpenAI:)``).
    public let finishReason: String
  }

  /// By index (never empty).
  public let candidates: [Candidate]
  /// The counts of the stream's last `usage`, nil when it sent none.
  public let usage: GeminiUsageCounts?
  /// The event's `modelVersion`.
  public let modelVersion: String
  /// The event's `responseId`.
  public let responseId: String
  /// The options the event was translated under (the tree form applies their enum spelling).
  let options: GeminiResponseOptions

  /// The event as the general path builds it: the reference that ``write(into:)`` must match byte for byte.
  public var response: JSONValue {
    OpenAIStreamTranslator.envelope(
      candidates: candidates.map { candidate in
        .object(
          OpenAIToGemini.candidateObject(parts: [], index: candidate.index, finishReason: candidate.finishReason))
      }, usage: usage?.json, modelVersion: modelVersion, responseId: responseId, options: options)
  }

  /// Appends the compact JSON of ``response``: the same members in the same order, the finish reasons spelled as
  /// the options ask (the only enum among them).
  public func write(into out: inout [UInt8]) {
    // The translator always gives candidate 0; a chunk without candidates (the tree then has no `candidates`
    // member) is written from its tree rather than as broken JSON.
    guard !candidates.isEmpty else {
      JSONWriter.write(response, into: &out, pretty: false, depth: 0)
      return
    }
    for (position, candidate) in candidates.enumerated() {
      OpenAIToGemini.writeCandidate(
        text: "", index: candidate.index, finishReason: candidate.finishReason, integerEnums: options.integerEnums,
        first: position == 0, into: &out)
    }
    OpenAIStreamTranslator.writeEnvelopeEnd(
      usage: usage, modelVersion: modelVersion, responseId: responseId, into: &out)
  }
}

/// One output of ``OpenAIStreamTranslator/translate(_:)``: a text-only event in its compact form, or any event.
public enum GeminiStreamOutput: Sendable, Equatable {
  /// A text-only event, for the writers' fast path.
  case text(GeminiTextChunk)
  /// The last event of a stream without tool calls, for the writers' fast path.
  case final(GeminiFinalChunk)
  /// Any other event.
  case event(GeminiStreamEvent)

  /// The output as a general event.
  public var event: GeminiStreamEvent {
    switch self {
    case .text(let chunk): .response(chunk.response)
    case .final(let chunk): .response(chunk.response)
    case .event(let event): event
    }
  }

  /// Appends the output's compact JSON: a text or final chunk straight from its values, any other event from
  /// its tree (the same bytes either way).
  public func write(into out: inout [UInt8]) {
    switch self {
    case .text(let chunk): chunk.write(into: &out)
    case .final(let chunk): chunk.write(into: &out)
    case .event(let event): JSONWriter.write(event.json, into: &out, pretty: false, depth: 0)
    }
  }
}

/// Where ``OpenAIStreamTranslator`` hands its outputs, in order, as it produces them.
protocol GeminiStreamOutputSink {
  mutating func take(_ output: GeminiStreamOutput)
}

/// The outputs gathered in an array.
private struct GeminiStreamOutputList: GeminiStreamOutputSink {
  var outputs: [GeminiStreamOutput] = []

  mutating func take(_ output: GeminiStreamOutput) { outputs.append(output) }
}

/// Turns an OpenAI `chat.completion.chunk` stream into Gemini stream events (protocols.md §7.2).
///
/// Feed each upstream SSE event's data with ``consume(_:)`` and call ``finish()`` at end of body.
/// Text is emitted as soon as it arrives; tool-call fragments, the finish reason and usage are held until
/// `[DONE]` (or a clean EOF after a finish) so that one final event carries them all.
public struct OpenAIStreamTranslator: Sendable {
  private let options: GeminiResponseOptions
  private var model: String?
  private var id: String?
  /// The most tool calls one stream may carry (all choices together); more is a stream error.
  public static let maxToolCalls = 128
  /// The most choices one stream may carry; more is a stream error.
  public static let maxChoices = 128
  /// The most tool-call argument bytes one stream may hold until its end (all calls together): they are
  /// kept until the last event, so a backend streaming fragments forever must not grow the process without
  /// bound. The same as the cap on a whole non-streamed answer.
  public static let maxToolCallArgumentBytes = 64 * 1024 * 1024

  /// Tool-call slots per choice index.
  private var toolCalls: [Int64: ToolCallSlots] = [:]
  /// Tool-call slots opened so far, over all choices.
  private var toolCallCount = 0
  /// Argument bytes held in the slots, over all choices.
  private var toolCallArgumentBytes = 0
  /// Finish reasons per choice index, as received.
  private var finishReasons: [Int64: String] = [:]
  /// Choice indices seen so far, in first-seen order.
  private var choiceOrder: [Int64] = []
  private var usage: JSONValue?
  /// An empty array whose buffer the next chunk's choices take (``OpenAIStreamChunk/init(bytes:includeThoughts:known:storage:)``).
  private var choiceStorage: [OpenAIStreamChunk.Choice] = []
  /// Whether a common chunk is read from its text without a tree (``OpenAIStreamChunk``); tests turn it off to
  /// compare with the tree's reading.
  var readsChunkBytes = true
  /// True once the final event or an error was produced; later input is ignored.
  public private(set) var isComplete = false
  /// Events that could not be parsed and were skipped.
  public private(set) var skippedEvents = 0

  /// Unparsable events one stream may skip: one garbled event among good ones is the upstream's glitch, and
  /// the answer goes on; more than this and the stream is broken, and ends with an in-band error.
  public static let maxSkippedEvents = 3

  /// Creates a translator for one request.
  public init(options: GeminiResponseOptions) {
    self.options = options
  }

  /// Consumes one upstream event's `data` (already de-framed by ``SSEParser``).
  public mutating func consume(_ data: String) -> [GeminiStreamEvent] { translate(data).map(\.event) }

  /// Consumes one upstream event's `data` like ``consume(_:)``, but hands text-only events over in their compact
  /// form, which the writers turn into bytes without a ``JSONValue`` tree.
  public mutating func translate(_ data: String) -> [GeminiStreamOutput] {
    var outputs = GeminiStreamOutputList()
    translate(data, readsChunk: readsChunkBytes, into: &outputs)
    return outputs.outputs
  }

  /// Translates one upstream event's data, as sent (not yet decoded), like ``translate(_:)``, handing the outputs to
  /// `sink`: a common chunk is read from the bytes themselves, without a `String` or an array per event.
  mutating func translate(bytes data: UnsafeBufferPointer<UInt8>, into sink: inout some GeminiStreamOutputSink) {
    guard !isComplete else { return }
    let braced = Self.isBraced(data)
    if readsChunkBytes, braced,
      var chunk = OpenAIStreamChunk(
        bytes: data, includeThoughts: options.includeThoughts, known: (model, id), storage: &choiceStorage)
    {
      apply(chunk, into: &sink)
      // The choices' buffer kept for the next chunk (an array per event cost an allocation): held only here once the
      // chunk lets go of it, so emptying it keeps it.
      choiceStorage = chunk.choices ?? []
      chunk.choices = nil
      choiceStorage.removeAll(keepingCapacity: true)
      return
    }
    // Anything else as ``translate(_:)`` reads the text ``SSEParser/feed(_:)`` makes of it (invalid UTF-8 repaired).
    // A braced chunk the bytes' reading gave up on goes to its tree at once: the text's reading (of the same bytes,
    // or of their repair) would give up too, or read what the tree reads.
    translate(String(decoding: data, as: UTF8.self), readsChunk: readsChunkBytes && !braced, into: &sink)
  }

  /// ``translate(_:)`` handing its outputs to `sink`; `readsChunk` false goes to the tree without trying the bytes.
  private mutating func translate(_ data: String, readsChunk: Bool, into sink: inout some GeminiStreamOutputSink) {
    guard !isComplete else { return }
    let trimmed: String
    if Self.isBraced(data) {
      // Nothing to trim, and not `[DONE]`: no call to trim and no string comparison for nearly every chunk.
      trimmed = data
    } else {
      trimmed = data.trimmingWhitespace()
      if trimmed.isEmpty { return }
      if trimmed == "[DONE]" { return complete(into: &sink) }
    }
    let chunk: OpenAIStreamChunk
    if readsChunk,
      let common = OpenAIStreamChunk(text: trimmed, includeThoughts: options.includeThoughts, known: (model, id))
    {
      chunk = common
    } else {
      let tree: JSONValue
      do {
        tree = try JSONParser.parse(trimmed)
      } catch {
        skippedEvents += 1
        guard skippedEvents > Self.maxSkippedEvents else { return }
        isComplete = true
        return sink.take(
          .event(
            .error(
              .internal(
                "upstream sent \(skippedEvents) unparsable stream events (the last: \(error.description))"))))
      }
      if tree["error"] != nil || tree["object"]?.stringValue == "error" {
        isComplete = true
        return sink.take(.event(.error(UpstreamErrorMapper.mapStreamError(tree, backend: options.backend))))
      }
      chunk = OpenAIStreamChunk(tree, includeThoughts: options.includeThoughts)
    }
    apply(chunk, into: &sink)
  }

  /// Takes in one chunk's reading, handing its events to `sink`.
  private mutating func apply(_ chunk: OpenAIStreamChunk, into sink: inout some GeminiStreamOutputSink) {
    if let model = chunk.model, !model.isEmpty { self.model = model }
    if let id = chunk.id, !id.isEmpty { self.id = id }
    // Keep the last non-null usage: it may come on the finish chunk, on its own, cumulatively, or never.
    if let usage = chunk.usage, case .object = usage { self.usage = usage }

    guard let choices = chunk.choices else { return }
    for (position, choice) in choices.enumerated() {
      let index = choice.index ?? Int64(position)
      if !choiceOrder.contains(index) {
        guard choiceOrder.count < Self.maxChoices else {
          return fail("upstream stream has more than \(Self.maxChoices) choices", into: &sink)
        }
        choiceOrder.append(index)
      }
      let (reasoning, text, refusal) = (choice.reasoning, choice.text, choice.refusal)
      if let fragments = choice.toolCalls, let problem = accumulate(fragments, choice: index) {
        return fail(problem, into: &sink)
      }
      if let reason = choice.finishReason { finishReasons[index] = reason }
      if reasoning.isEmpty, refusal.isEmpty, !text.isEmpty {
        sink.take(
          .text(
            GeminiTextChunk(
              text: text, index: index, modelVersion: model ?? options.modelVersion,
              responseId: id ?? options.responseId, options: options)))
        continue
      }
      var parts: [JSONValue] = []
      if !reasoning.isEmpty {
        parts.append(.object([JSONMember("text", .string(reasoning)), JSONMember("thought", true)]))
      }
      if !text.isEmpty { parts.append(.object([JSONMember("text", .string(text))])) }
      if !refusal.isEmpty { parts.append(.object([JSONMember("text", .string(refusal))])) }
      if !parts.isEmpty {
        sink.take(
          .event(
            .response(
              envelope(
                candidates: [
                  .object(OpenAIToGemini.candidateObject(parts: parts, index: index, finishReason: nil))
                ],
                usage: nil))))
      }
    }
  }

  /// Whether `data`'s first byte is `{` and its last `}`: ASCII, not whitespace, so trimming keeps it whole, and a
  /// first character starting with `{` is not canonically equivalent to the `[` of `[DONE]`.
  private static func isBraced(_ data: String) -> Bool {
    data.utf8.withContiguousStorageIfAvailable(isBraced) ?? false
  }

  /// ``isBraced(_:)-(String)`` over the data's bytes.
  private static func isBraced(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
    bytes.first == UInt8(ascii: "{") && bytes.last == UInt8(ascii: "}")
  }

  /// Call at end of the upstream body (also after `[DONE]`; then it does nothing).
  public mutating func finish() -> [GeminiStreamEvent] { translateEnd().map(\.event) }

  /// Ends the stream like ``finish()``, but hands the final event of a stream without tool calls over in its
  /// compact form.
  public mutating func translateEnd() -> [GeminiStreamOutput] {
    var outputs = GeminiStreamOutputList()
    translateEnd(into: &outputs)
    return outputs.outputs
  }

  /// Ends the stream like ``translateEnd()``, handing the outputs to `sink`.
  mutating func translateEnd(into sink: inout some GeminiStreamOutputSink) {
    guard !isComplete else { return }
    if finishReasons.isEmpty {
      isComplete = true
      return sink.take(.event(.error(.unavailable("upstream stream ended before the response was complete"))))
    }
    complete(into: &sink)
  }

  /// Ends the stream with an error (after the events handed over so far).
  private mutating func fail(_ message: String, into sink: inout some GeminiStreamOutputSink) {
    isComplete = true
    sink.take(.event(.error(.internal(message))))
  }

  /// Tool-call accumulator: index reuse (Ollama), repeated ids/names, missing indices.
  ///
  /// Returns why the stream must end when it would exceed ``maxToolCalls`` or ``maxToolCallArgumentBytes``, else
  /// nil; the upstream index only keys a slot, it never sizes anything.
  private mutating func accumulate(_ fragments: [JSONValue], choice: Int64) -> String? {
    let tooMany = "upstream stream has more than \(Self.maxToolCalls) tool calls"
    var slots = toolCalls[choice] ?? ToolCallSlots()
    defer { toolCalls[choice] = slots }
    for (position, fragment) in fragments.enumerated() {
      let fragmentID = fragment["id"]?.stringValue ?? ""
      let function = fragment["function"] ?? .object([])
      // A negative index opens a new slot; a missing one is the fragment's position.
      let upstreamIndex = fragment["index"]?.clampedInteger(in: Int64.min...Int64.max) ?? Int64(position)
      var slot: Int
      if upstreamIndex >= 0, let used = slots.position[upstreamIndex] {
        slot = used
        // A different id at a used index means the backend reused the index (Ollama): open a new slot.
        if !fragmentID.isEmpty, !slots.slots[used].id.isEmpty, slots.slots[used].id != fragmentID {
          if let existing = slots.slots.firstIndex(where: { $0.id == fragmentID }) {
            slot = existing
          } else {
            guard toolCallCount < Self.maxToolCalls else { return tooMany }
            slot = slots.open(at: nil)
            slots.position[upstreamIndex] = slot
            toolCallCount += 1
          }
        }
      } else {
        guard toolCallCount < Self.maxToolCalls else { return tooMany }
        slot = slots.open(at: upstreamIndex >= 0 ? upstreamIndex : nil)
        toolCallCount += 1
      }
      if slots.slots[slot].id.isEmpty { slots.slots[slot].id = fragmentID }
      if let name = function["name"]?.stringValue, !name.isEmpty, slots.slots[slot].name.isEmpty {
        slots.slots[slot].name = name
      }
      let text: String
      switch function["arguments"] {
      case .some(.string(let fragmentText)): text = fragmentText
      case .some(.object(let members)): text = JSONValue.object(members).serialized()
      default: text = ""
      }
      toolCallArgumentBytes += text.utf8.count
      guard toolCallArgumentBytes <= Self.maxToolCallArgumentBytes else {
        return "upstream stream's tool-call arguments exceed \(Self.maxToolCallArgumentBytes) bytes"
      }
      slots.slots[slot].arguments += text
    }
    return nil
  }

  private mutating func complete(into sink: inout some GeminiStreamOutputSink) {
    isComplete = true
    // Even a stream that carried no choice at all ends with a candidate, so clients see a finishReason. One choice
    // (nearly every stream) is already in order: no sorted copy.
    var indices = choiceOrder.isEmpty ? [0] : choiceOrder
    if indices.count > 1 { indices.sort() }
    let candidates = indices.map { index in
      GeminiFinalChunk.Candidate(
        index: index, finishReason: OpenAIToGemini.finishReason(fromOpenAI: finishReasons[index]))
    }
    // Slots that never got a name are noise (e.g. an empty fragment). Without a named one there is no call to put
    // in a part: every candidate is the empty text part and its finish reason.
    if toolCalls.values.allSatisfy({ $0.slots.allSatisfy(\.name.isEmpty) }) {
      return sink.take(
        .final(
          GeminiFinalChunk(
            candidates: candidates, usage: GeminiUsageCounts(openAI: usage),
            modelVersion: model ?? options.modelVersion,
            responseId: id ?? options.responseId, options: options)))
    }
    var objects: [JSONValue] = []
    for candidate in candidates {
      let slots = (toolCalls[candidate.index]?.ordered ?? []).filter { !$0.name.isEmpty }
      let outcome = ToolCallSlot.parts(for: slots)
      let finish = outcome.malformed == nil ? candidate.finishReason : "MALFORMED_FUNCTION_CALL"
      objects.append(
        .object(
          OpenAIToGemini.candidateObject(
            parts: outcome.parts, index: candidate.index, finishReason: finish, finishMessage: outcome.malformed)))
    }
    sink.take(.event(.response(envelope(candidates: objects, usage: OpenAIToGemini.usageMetadata(usage)))))
  }

  private func envelope(candidates: [JSONValue], usage: JSONValue?) -> JSONValue {
    Self.envelope(
      candidates: candidates, usage: usage, modelVersion: model ?? options.modelVersion,
      responseId: id ?? options.responseId, options: options)
  }

  /// One `GenerateContentResponse` event around `candidates`, in the enum spelling `options` ask for.
  static func envelope(
    candidates: [JSONValue], usage: JSONValue?, modelVersion: String, responseId: String,
    options: GeminiResponseOptions
  ) -> JSONValue {
    // One allocation: grown one append at a time, the array was reallocated twice per event.
    var members: [JSONMember] = []
    members.reserveCapacity(4)
    if !candidates.isEmpty { members.append(JSONMember("candidates", .array(candidates))) }
    if let usage { members.append(JSONMember("usageMetadata", usage)) }
    members.append(JSONMember("modelVersion", .string(modelVersion)))
    members.append(JSONMember("responseId", .string(responseId)))
    return options.encoded(.object(members))
  }

  /// Appends what ``envelope(candidates:usage:modelVersion:responseId:options:)`` writes after the last candidate
  /// (no enum among it): the `]` that closes `candidates`, `usageMetadata` when there is usage, `modelVersion`,
  /// `responseId`, and the closing brace.
  static func writeEnvelopeEnd(
    usage: GeminiUsageCounts?, modelVersion: String, responseId: String, into out: inout [UInt8]
  ) {
    if let usage {
      out.append(literal: #"],"usageMetadata":"#)
      usage.write(into: &out)
      out.append(literal: #","modelVersion":"#)
    } else {
      out.append(literal: #"],"modelVersion":"#)
    }
    JSONWriter.writeString(modelVersion, into: &out)
    out.append(literal: #","responseId":"#)
    JSONWriter.writeString(responseId, into: &out)
    out.append(UInt8(ascii: "}"))
  }
}

/// The tool-call slots of one choice, keyed sparsely by the upstream `index`.
struct ToolCallSlots: Sendable {
  /// Slots in the order they were opened.
  var slots: [ToolCallSlot] = []
  /// The order key of each slot: its upstream index, or (for a reused or missing index) one past the largest key
  /// so far, so it sorts after every call already seen.
  var keys: [Int64] = []
  /// Slot position by upstream index.
  var position: [Int64: Int] = [:]

  /// Opens an empty slot for `index` (nil: no usable index) and returns its position.
  mutating func open(at index: Int64?) -> Int {
    let next = keys.max().map { $0 == Int64.max ? $0 : $0 + 1 } ?? 0
    slots.append(ToolCallSlot(id: "", name: "", arguments: ""))
    keys.append(index ?? next)
    if let index { position[index] = slots.count - 1 }
    return slots.count - 1
  }

  /// The slots by upstream index (ties in opening order).
  var ordered: [ToolCallSlot] {
    slots.indices.sorted { (keys[$0], $0) < (keys[$1], $1) }.map { slots[$0] }
  }
}
