public import RouteSpec

/// Per-request settings for translating OpenAI answers back to Gemini.
public struct GeminiResponseOptions: Sendable, Equatable {
  /// Forward reasoning text as `{text, thought:true}` parts.
  public var includeThoughts: Bool
  /// `modelVersion` when the upstream answer names no model.
  public var modelVersion: String
  /// `responseId` when the upstream answer has no id.
  public var responseId: String
  /// Backend name, for error details.
  public var backend: String
  /// Answer enums as protobuf numbers (the client sent `$alt=json;enum-encoding=int`; see ``GeminiAlt``).
  public var integerEnums: Bool

  /// Creates options.
  public init(
    includeThoughts: Bool = false, modelVersion: String, responseId: String, backend: String = "",
    integerEnums: Bool = false
  ) {
    self.includeThoughts = includeThoughts
    self.modelVersion = modelVersion
    self.responseId = responseId
    self.backend = backend
    self.integerEnums = integerEnums
  }

  /// A finished response in the enum spelling the client asked for.
  func encoded(_ response: JSONValue) -> JSONValue {
    integerEnums ? GeminiEnum.numbered(response: response) : response
  }
}

/// A translated non-streamed answer.
public struct GeminiTranslatedResponse: Sendable, Equatable {
  /// The `GenerateContentResponse` JSON.
  public var json: JSONValue
  /// Upstream content with no exact Gemini slot (e.g. `refusal`).
  public var warnings: TranslationWarnings

  /// Creates a translated response.
  public init(json: JSONValue, warnings: TranslationWarnings) {
    self.json = json
    self.warnings = warnings
  }
}

/// OpenAI chat-completion answers → Gemini `GenerateContentResponse` (protocols.md §7).
public enum OpenAIToGemini {
  /// Translates a non-streamed `chat.completion`.
  ///
  /// - Throws: 500 `INTERNAL` when the body is not a chat completion; an upstream `error` object in a 200 body
  ///   is mapped like an error event.
  public static func translate(_ response: JSONValue, options: GeminiResponseOptions) throws(GeminiError)
    -> GeminiTranslatedResponse
  {
    if response["error"] != nil || response["object"]?.stringValue == "error" {
      throw UpstreamErrorMapper.mapStreamError(response, backend: options.backend)
    }
    guard case .array(let choices) = response["choices"] ?? .null else {
      throw GeminiError.internal("upstream returned a response without choices")
    }
    var warnings = TranslationWarnings()
    var candidates: [(Int64, JSONValue)] = []
    for (position, choice) in choices.enumerated() {
      let index = choice["index"]?.clampedInteger(in: candidateIndexRange) ?? Int64(position)
      let message = choice["message"] ?? .object([])
      var parts: [JSONValue] = []
      if options.includeThoughts, let reasoning = reasoningText(message), !reasoning.isEmpty {
        parts.append(.object([JSONMember("text", .string(reasoning)), JSONMember("thought", true)]))
      }
      if let text = message["content"]?.stringValue, !text.isEmpty {
        parts.append(.object([JSONMember("text", .string(text))]))
      } else if case .array(let contentParts) = message["content"] ?? .null {
        // Some compat servers answer with a parts array.
        let text = contentParts.compactMap { $0["text"]?.stringValue }.joined()
        if !text.isEmpty { parts.append(.object([JSONMember("text", .string(text))])) }
      }
      if let refusal = message["refusal"]?.stringValue, !refusal.isEmpty {
        parts.append(.object([JSONMember("text", .string(refusal))]))
        warnings.approximate("refusal")
      }
      var slots: [ToolCallSlot] = []
      if case .array(let calls) = message["tool_calls"] ?? .null {
        for call in calls {
          let function = call["function"] ?? .object([])
          var arguments = ""
          switch function["arguments"] {
          case .some(.string(let text)): arguments = text
          case .some(let other) where other != .null: arguments = other.serialized()
          default: break
          }
          slots.append(
            ToolCallSlot(
              id: call["id"]?.stringValue ?? "", name: function["name"]?.stringValue ?? "", arguments: arguments))
        }
      }
      let outcome = ToolCallSlot.parts(for: slots)
      parts.append(contentsOf: outcome.parts)
      var finish = finishReason(fromOpenAI: choice["finish_reason"]?.stringValue)
      var finishMessage: String?
      if let malformed = outcome.malformed {
        parts.removeAll { $0["functionCall"] != nil }
        finish = "MALFORMED_FUNCTION_CALL"
        finishMessage = malformed
      }
      var candidate = candidateObject(parts: parts, index: index, finishReason: finish, finishMessage: finishMessage)
      if let logprobs = logprobsResult(choice["logprobs"]) {
        candidate.append(contentsOf: logprobs)
      }
      candidates.append((index, .object(candidate)))
    }
    candidates.sort { $0.0 < $1.0 }
    var body: [JSONMember] = []
    body.reserveCapacity(4)
    body.append(JSONMember("candidates", .array(candidates.map { $0.1 })))
    if let usage = usageMetadata(response["usage"]) { body.append(JSONMember("usageMetadata", usage)) }
    body.append(JSONMember("modelVersion", .string(response["model"]?.stringValue ?? options.modelVersion)))
    body.append(JSONMember("responseId", .string(response["id"]?.stringValue ?? options.responseId)))
    return GeminiTranslatedResponse(json: options.encoded(.object(body)), warnings: warnings)
  }

  /// The client bytes of a non-streamed answer: exactly the compact serialisation of ``translate(_:options:)``'s
  /// `json`, with the counts its `usageMetadata` holds (for the request record) and warnings.
  ///
  /// A plain answer (see ``PlainOpenAIAnswer``) is written straight from `response`; anything else is translated
  /// to a tree and serialised.
  public static func translatedBytes(_ response: JSONValue, options: GeminiResponseOptions) throws(GeminiError)
    -> (bytes: [UInt8], usage: GeminiUsageCounts?, warnings: TranslationWarnings)
  {
    guard let plain = PlainOpenAIAnswer(response, options: options) else {
      let translated = try translate(response, options: options)
      // The counts its `usageMetadata` was written from.
      return (translated.json.serializedBytes(), GeminiUsageCounts(openAI: response["usage"]), translated.warnings)
    }
    return plain.translated(options: options)
  }

  /// ``translatedBytes(_:options:)`` from the answer's bytes: a plain answer is read and written without a tree;
  /// anything else (or anything the reader is not sure of) is parsed and goes the tree's way, so that what a
  /// client gets never depends on which path ran.
  ///
  /// - Throws: `JSONParseError` when `body` is not JSON; ``GeminiError`` as ``translate(_:options:)``.
  public static func translatedBytes(answer body: [UInt8], options: GeminiResponseOptions) throws
    -> (bytes: [UInt8], usage: GeminiUsageCounts?, warnings: TranslationWarnings)
  {
    if let translated = PlainOpenAIAnswer.translatedBytes(answer: body, options: options) { return translated }
    return try translatedBytes(JSONParser.parse(body), options: options)
  }

  /// The range of a candidate index (`int32` in the API); backend indices are clamped into it.
  static let candidateIndexRange: ClosedRange<Int64> = 0...Int64(Int32.max)

  /// `message.reasoning_content` (DeepSeek, old vLLM) or `message.reasoning` (OpenRouter, vLLM, Ollama).
  static func reasoningText(_ message: JSONValue) -> String? {
    message["reasoning_content"]?.stringValue ?? message["reasoning"]?.stringValue
  }

  /// The members of one candidate. A content always has `parts`: with nothing to say it is one empty text part,
  /// as in Google's own last stream chunk (clients such as the legacy SDK's `chunk.text` fail on a content
  /// without parts).
  static func candidateObject(parts: [JSONValue], index: Int64, finishReason: String?, finishMessage: String? = nil)
    -> [JSONMember]
  {
    let parts = parts.isEmpty ? [JSONValue.object([JSONMember("text", "")])] : parts
    let content: [JSONMember] = [JSONMember("role", "model"), JSONMember("parts", .array(parts))]
    // Room for every member up front: grown one append at a time, the array was reallocated once or twice.
    var candidate: [JSONMember] = []
    candidate.reserveCapacity(4)
    candidate.append(JSONMember("content", .object(content)))
    if let finishReason { candidate.append(JSONMember("finishReason", .string(finishReason))) }
    if let finishMessage { candidate.append(JSONMember("finishMessage", .string(finishMessage))) }
    candidate.append(JSONMember("index", .int(index)))
    return candidate
  }

  /// Appends the compact JSON of ``candidateObject(parts:index:finishReason:finishMessage:)`` for one text part
  /// and no finish message, the finish reason spelled as ``GeminiResponseOptions/encoded(_:)`` spells it; the
  /// `first` candidate opens the response and its `candidates` (``OpenAIStreamTranslator/writeEnvelopeEnd`` closes
  /// them), the others follow a comma.
  static func writeCandidate(
    text: String, index: Int64, finishReason: String?, integerEnums: Bool, first: Bool, into out: inout [UInt8]
  ) {
    // Whole literals rather than their pieces: each append costs a call, and answers and chunks are many.
    if first {
      out.append(literal: #"{"candidates":[{"content":{"role":"model","parts":[{"text":"#)
    } else {
      out.append(literal: #",{"content":{"role":"model","parts":[{"text":"#)
    }
    JSONWriter.writeString(text, into: &out)
    if let finishReason {
      out.append(literal: #"}]},"finishReason":"#)
      // A name the table does not know stays a name, as in ``GeminiEnum/encode(_:asNumber:)``.
      if integerEnums, let number = GeminiEnum.finishReason.number(of: finishReason) {
        JSONWriter.writeInteger(number, into: &out)
      } else {
        JSONWriter.writeString(finishReason, into: &out)
      }
      out.append(literal: #","index":"#)
    } else {
      out.append(literal: #"}]},"index":"#)
    }
    JSONWriter.writeInteger(index, into: &out)
    out.append(UInt8(ascii: "}"))
  }

  /// OpenAI `finish_reason` → Gemini `finishReason` (protocols.md §7.3).
  public static func finishReason(fromOpenAI reason: String?) -> String {
    switch reason {
    case "stop", "tool_calls", "function_call": "STOP"
    case "length": "MAX_TOKENS"
    case "content_filter": "SAFETY"
    default: "OTHER"
    }
  }

  /// ``finishReason(fromOpenAI:)`` of a `finish_reason` read as a name: a plain ASCII one compared as bytes (for
  /// ASCII, what `String` equality is), any other as its text.
  static func finishReason(fromOpenAIName reason: JSONName?) -> String {
    guard let reason, reason.isPlain else { return finishReason(fromOpenAI: reason?.text) }
    switch reason {
    case "stop", "tool_calls", "function_call": return "STOP"
    case "length": return "MAX_TOKENS"
    case "content_filter": return "SAFETY"
    default: return "OTHER"
    }
  }

  /// The range of a Gemini token count (`int32` in the API); backend counts are clamped into it.
  public static let tokenCountRange: ClosedRange<Int64> = 0...Int64(Int32.max)

  /// OpenAI `usage` → Gemini `usageMetadata` (protocols.md §7.4); nil when absent (never invent zeros).
  public static func usageMetadata(_ usage: JSONValue?) -> JSONValue? { GeminiUsageCounts(openAI: usage)?.json }

  /// `choices[i].logprobs.content` → `logprobsResult` + `avgLogprobs` members.
  static func logprobsResult(_ logprobs: JSONValue?) -> [JSONMember]? {
    guard case .array(let tokens) = logprobs?["content"] ?? .null, !tokens.isEmpty else { return nil }
    var chosen: [JSONValue] = []
    var top: [JSONValue] = []
    var sum = 0.0
    for token in tokens {
      let logprob = token["logprob"]?.doubleValue ?? 0
      sum += logprob
      chosen.append(
        .object([
          JSONMember("token", .string(token["token"]?.stringValue ?? "")),
          JSONMember("logProbability", .double(logprob)),
        ]))
      let alternatives = (token["top_logprobs"]?.arrayValue ?? []).map { alternative -> JSONValue in
        .object([
          JSONMember("token", .string(alternative["token"]?.stringValue ?? "")),
          JSONMember("logProbability", .double(alternative["logprob"]?.doubleValue ?? 0)),
        ])
      }
      top.append(.object([JSONMember("candidates", .array(alternatives))]))
    }
    return [
      JSONMember("avgLogprobs", .double(sum / Double(tokens.count))),
      JSONMember(
        "logprobsResult",
        .object([JSONMember("topCandidates", .array(top)), JSONMember("chosenCandidates", .array(chosen))])),
    ]
  }
}

/// One accumulated tool call (protocols.md §7.2).
struct ToolCallSlot: Sendable, Equatable {
  var id: String
  var name: String
  var arguments: String

  /// `functionCall` parts for the slots, or a `finishMessage` when any call's arguments are not a JSON object.
  static func parts(for slots: [ToolCallSlot]) -> (parts: [JSONValue], malformed: String?) {
    var parts: [JSONValue] = []
    for (position, slot) in slots.enumerated() {
      let trimmed = slot.arguments.trimmingWhitespace()
      var args: JSONValue = .object([])
      if !trimmed.isEmpty {
        guard let parsed = try? JSONParser.parse(trimmed), case .object = parsed else {
          let excerpt = trimmed.count > 80 ? String(trimmed.prefix(80)) + "…" : trimmed
          return ([], "Malformed function call \"\(slot.name)\": arguments are not a JSON object: \(excerpt)")
        }
        args = parsed
      }
      // Always send args (even {}): the Python SDK skips calls whose args are absent.
      parts.append(
        .object([
          JSONMember(
            "functionCall",
            .object([
              JSONMember("id", .string(slot.id.isEmpty ? "call_\(position)" : slot.id)),
              JSONMember("name", .string(slot.name)), JSONMember("args", args),
            ]))
        ]))
    }
    return (parts, nil)
  }
}

/// The counts of Gemini's `usageMetadata` for an OpenAI `usage` (protocols.md §7.4): the one mapping, which
/// the tree's way takes as a tree (``json``) and a plain answer writes straight to the client (``write(into:)``).
///
/// Counts are clamped to ``OpenAIToGemini/tokenCountRange`` and summed without overflow: a backend may send
/// anything.
public struct GeminiUsageCounts: Equatable, Sendable {
  var promptTokenCount: Int64?
  /// Completion tokens less reasoning tokens, at least 0.
  var candidatesTokenCount: Int64?
  var totalTokenCount: Int64?
  /// A member only when above 0.
  var cachedContentTokenCount: Int64
  /// A member only when above 0.
  var thoughtsTokenCount: Int64

  /// The counts of `usage`; nil when it is not an object or has none of the three counts.
  init?(openAI usage: JSONValue?) {
    guard let usage, case .object = usage else { return nil }
    let range = OpenAIToGemini.tokenCountRange
    func count(_ value: JSONValue?) -> Int64? { value?.clampedInteger(in: range) }
    let prompt = count(usage["prompt_tokens"])
    let completion = count(usage["completion_tokens"])
    let reasoning = count(usage["completion_tokens_details"]?["reasoning_tokens"]) ?? 0
    let total = count(usage["total_tokens"]) ?? prompt.map { BoundedInteger.sum($0, completion ?? 0, in: range) }
    guard prompt != nil || completion != nil || total != nil else { return nil }
    promptTokenCount = prompt
    candidatesTokenCount = completion.map { max(0, $0 - reasoning) }
    totalTokenCount = total
    cachedContentTokenCount = count(usage["prompt_tokens_details"]?["cached_tokens"]) ?? 0
    thoughtsTokenCount = reasoning
  }

  /// The counts of the `usage` at `reader`, read without building its tree: what ``init(openAI:)`` makes of the
  /// same value (nil when it is not an object or has none of the three counts). A count member sent twice is
  /// refused (`JSONParseError`), for the caller to take the tree's way, which takes the first.
  static func read(openAI reader: inout JSONReader) throws(JSONParseError) -> GeminiUsageCounts? {
    guard reader.next == .object else {
      try reader.skipValue()
      return nil
    }
    let range = OpenAIToGemini.tokenCountRange
    var seen = MembersReadOnce()
    var prompt: Int64?
    var completion: Int64?
    var total: Int64?
    var reasoning: Int64?
    var cached: Int64?
    try reader.enterObject()
    while let key = try reader.nextMember() {
      switch key {
      case "prompt_tokens":
        try seen.first(0, in: reader)
        prompt = try reader.readInteger(clampedTo: range)
      case "completion_tokens":
        try seen.first(1, in: reader)
        completion = try reader.readInteger(clampedTo: range)
      case "total_tokens":
        try seen.first(2, in: reader)
        total = try reader.readInteger(clampedTo: range)
      case "completion_tokens_details":
        try seen.first(3, in: reader)
        reasoning = try readDetail(&reader, "reasoning_tokens")
      case "prompt_tokens_details":
        try seen.first(4, in: reader)
        cached = try readDetail(&reader, "cached_tokens")
      default: try reader.skipValue()
      }
    }
    let reasoningCount = reasoning ?? 0
    let totalCount = total ?? prompt.map { BoundedInteger.sum($0, completion ?? 0, in: range) }
    guard prompt != nil || completion != nil || totalCount != nil else { return nil }
    return GeminiUsageCounts(
      promptTokenCount: prompt, candidatesTokenCount: completion.map { max(0, $0 - reasoningCount) },
      totalTokenCount: totalCount, cachedContentTokenCount: cached ?? 0, thoughtsTokenCount: reasoningCount)
  }

  /// The count named `name` in the details object at `reader` (nil when it is not an object or lacks one).
  private static func readDetail(_ reader: inout JSONReader, _ name: StaticString) throws(JSONParseError) -> Int64? {
    guard reader.next == .object else {
      try reader.skipValue()
      return nil
    }
    var seen = MembersReadOnce()
    var count: Int64?
    try reader.enterObject()
    while let key = try reader.nextMember() {
      guard key == name else {
        try reader.skipValue()
        continue
      }
      try seen.first(0, in: reader)
      count = try reader.readInteger(clampedTo: OpenAIToGemini.tokenCountRange)
    }
    return count
  }

  private init(
    promptTokenCount: Int64?, candidatesTokenCount: Int64?, totalTokenCount: Int64?, cachedContentTokenCount: Int64,
    thoughtsTokenCount: Int64
  ) {
    self.promptTokenCount = promptTokenCount
    self.candidatesTokenCount = candidatesTokenCount
    self.totalTokenCount = totalTokenCount
    self.cachedContentTokenCount = cachedContentTokenCount
    self.thoughtsTokenCount = thoughtsTokenCount
  }

  /// Calls `body` with each member present, in `usageMetadata`'s order.
  private func forEachMember(_ body: (_ name: StaticString, _ count: Int64) -> Void) {
    if let promptTokenCount { body("promptTokenCount", promptTokenCount) }
    if let candidatesTokenCount { body("candidatesTokenCount", candidatesTokenCount) }
    if let totalTokenCount { body("totalTokenCount", totalTokenCount) }
    if cachedContentTokenCount > 0 { body("cachedContentTokenCount", cachedContentTokenCount) }
    if thoughtsTokenCount > 0 { body("thoughtsTokenCount", thoughtsTokenCount) }
  }

  /// `usageMetadata` as a tree.
  var json: JSONValue {
    var members: [JSONMember] = []
    members.reserveCapacity(5)
    forEachMember { members.append(JSONMember($0.description, .int($1))) }
    return .object(members)
  }

  /// `usageMetadata` as compact JSON: the bytes `JSONWriter` writes for ``json``.
  func write(into out: inout some ByteOutput) {
    out.append(UInt8(ascii: "{"))
    var first = true
    forEachMember { name, count in
      if !first { out.append(UInt8(ascii: ",")) }
      first = false
      out.append(UInt8(ascii: "\""))
      out.append(literal: name)
      out.append(literal: #"":"#)
      out.appendInteger(count)
    }
    out.append(UInt8(ascii: "}"))
  }
}
